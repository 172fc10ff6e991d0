-- Sign-ins to the admin console (/console). The browser holds a random
-- token in an HttpOnly cookie; only its SHA-256 is kept. A tenant user's
-- console sign-in is one of the user's access sessions (so deactivation,
-- revocation and deletion end it as they end the user's tokens); the
-- operator's names the SHA-256 of the admin token it signed in with, so a
-- changed admin token ends it.
CREATE TABLE console_sessions (
    token_hash TEXT NOT NULL,
    session_id TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    admin_hash TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT console_sessions_pkey PRIMARY KEY (token_hash),
    CONSTRAINT console_sessions_one_kind CHECK ((session_id IS NULL) <> (admin_hash IS NULL))
);
CREATE INDEX console_sessions_session ON console_sessions (session_id);
CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen_at);

-- A user's live sessions, for the console's sessions list.
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

-- A record's audit trail (the console's user page), newest first.
CREATE INDEX events_target ON events (tenant_id, target, id);
