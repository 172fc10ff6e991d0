-- Import jobs started over HTTP (POST /v1/tenants/{t}/imports): their
-- progress, outcome and the problems of each refused line.
CREATE TABLE imports (
    tenant_id TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('RUNNING', 'DONE', 'FAILED')),
    dry_run INTEGER NOT NULL,
    lines BIGINT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    failure TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT,
    CONSTRAINT imports_id_pkey PRIMARY KEY (tenant_id, id)
);
CREATE INDEX imports_status ON imports (status);

CREATE TABLE import_errors (
    tenant_id TEXT NOT NULL,
    import_id TEXT NOT NULL,
    line BIGINT NOT NULL,
    field TEXT NOT NULL,
    reason TEXT NOT NULL,
    FOREIGN KEY (tenant_id, import_id) REFERENCES imports (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX import_errors_import ON import_errors (tenant_id, import_id, line);
