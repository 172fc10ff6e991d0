-- Credentials of the POS surface (seed 003): devices, sessions behind access
-- and auth tokens, the keys that sign them, invitations, and sign-in throttles.

CREATE TABLE devices (
    tenant_id TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    store_id TEXT,
    token_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    CONSTRAINT devices_id_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT devices_token_hash_unique UNIQUE (token_hash),
    FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);

-- A session is what a signed token stands for: revoking it (logout, a
-- revoked device) rejects the token at once, in every process.
CREATE TABLE sessions (
    id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('auth', 'access')),
    tenant_id TEXT REFERENCES tenants (uid) ON DELETE CASCADE,
    user_id TEXT,
    account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    device_id TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    CONSTRAINT sessions_id_pkey PRIMARY KEY (id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_device ON sessions (tenant_id, device_id);

-- Ed25519 keys that sign tokens. The newest signs; a retired key stays
-- published until the tokens it signed have expired.
CREATE TABLE signing_keys (
    kid TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    public_x TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    retired_at TIMESTAMPTZ,
    CONSTRAINT signing_keys_pkey PRIMARY KEY (kid)
);

CREATE TABLE invitations (
    tenant_id TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    tenant_role TEXT NOT NULL CHECK (tenant_role IN ('ADMIN', 'BACKOFFICE', 'ACCESS', 'BLOCKED')),
    account_type TEXT NOT NULL CHECK (account_type IN ('FULL', 'REGULAR', 'SUPPORT', 'INTEGRATION')),
    token_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    CONSTRAINT invitations_id_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT invitations_token_hash_unique UNIQUE (token_hash)
);

-- Consecutive failed sign-ins per key (an attempted login name, or a client
-- address), shared by every process.
CREATE TABLE login_throttles (
    key TEXT NOT NULL,
    failures BIGINT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    locked_until TIMESTAMPTZ,
    CONSTRAINT login_throttles_pkey PRIMARY KEY (key)
);
