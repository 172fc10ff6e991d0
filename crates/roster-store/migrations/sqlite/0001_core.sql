-- Roster's core schema (SQLite: timestamps as RFC 3339 text, booleans as 0/1). Every tenant-owned table is keyed by tenant_id first,
-- so that tenants can later be sharded on a distributed PostgreSQL.
-- Unique constraints are named <table>_<columns>_... so that a violation maps
-- to a clear message (roster-store's conflict table) on both engines.

CREATE TABLE tenants (
    uid TEXT NOT NULL,
    name TEXT NOT NULL,
    next_store_number BIGINT NOT NULL DEFAULT 1,
    next_company_number BIGINT NOT NULL DEFAULT 1,
    next_user_number BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT tenants_uid_pkey PRIMARY KEY (uid)
);

CREATE TABLE stores (
    tenant_id TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    number BIGINT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT stores_id_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT stores_number_unique UNIQUE (tenant_id, number),
    CONSTRAINT stores_code_unique UNIQUE (tenant_id, code)
);

CREATE TABLE companies (
    tenant_id TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    number BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('COMMERCE', 'SUPPLIER', 'RETAILER')),
    name TEXT NOT NULL,
    external_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'INACTIVE')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT companies_id_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT companies_number_unique UNIQUE (tenant_id, number),
    CONSTRAINT companies_external_id_unique UNIQUE (tenant_id, external_id)
);

CREATE TABLE accounts (
    id TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    global_roles TEXT NOT NULL DEFAULT '',
    default_tenant_uid TEXT REFERENCES tenants (uid) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT accounts_id_pkey PRIMARY KEY (id),
    CONSTRAINT accounts_email_key_unique UNIQUE (email_key)
);

CREATE TABLE users (
    tenant_id TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    number BIGINT NOT NULL,
    company_id TEXT,
    parent_id TEXT,
    name TEXT,
    first_name TEXT,
    middle_name TEXT,
    last_name TEXT,
    display_name TEXT,
    email TEXT,
    email_key TEXT,
    login TEXT,
    user_code TEXT,
    mobile TEXT,
    country_code TEXT,
    telephone TEXT,
    job_title TEXT,
    language_code TEXT,
    external_id TEXT,
    source TEXT CHECK (source IN ('RETEN', 'INTEGRATION')),
    status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'INACTIVE')),
    account_type TEXT NOT NULL CHECK (account_type IN ('FULL', 'REGULAR', 'SUPPORT', 'INTEGRATION')),
    default_store_id TEXT,
    account_id TEXT REFERENCES accounts (id),
    password_hash TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_accessed_at TEXT,
    CONSTRAINT users_id_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT users_number_unique UNIQUE (tenant_id, number),
    CONSTRAINT users_email_key_unique UNIQUE (tenant_id, email_key),
    CONSTRAINT users_user_code_unique UNIQUE (tenant_id, user_code),
    CONSTRAINT users_external_id_unique UNIQUE (tenant_id, source, external_id),
    CONSTRAINT users_account_id_unique UNIQUE (tenant_id, account_id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, default_store_id) REFERENCES stores (tenant_id, id)
);
CREATE INDEX users_company ON users (tenant_id, company_id);
CREATE INDEX users_parent ON users (tenant_id, parent_id);

-- A role a user holds: vocabulary tenant | partner | commerce | org, at the
-- tenant (scope_id ''), one store or one company.
CREATE TABLE role_assignments (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    vocabulary TEXT NOT NULL CHECK (vocabulary IN ('tenant', 'partner', 'commerce', 'org')),
    role TEXT NOT NULL,
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('tenant', 'store', 'company')),
    scope_id TEXT NOT NULL DEFAULT '',
    CONSTRAINT role_assignments_pkey PRIMARY KEY (tenant_id, user_id, vocabulary, role, scope_kind, scope_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX role_assignments_role ON role_assignments (tenant_id, role);

CREATE TABLE user_stores (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    CONSTRAINT user_stores_pkey PRIMARY KEY (tenant_id, user_id, store_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_stores_store ON user_stores (tenant_id, store_id);

CREATE TABLE api_keys (
    tenant_id TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    permissions TEXT NOT NULL DEFAULT '',
    user_id TEXT,
    created_at TEXT NOT NULL,
    CONSTRAINT api_keys_id_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT api_keys_token_hash_unique UNIQUE (token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- Quotes and orders keep owner_user_id without a foreign key: they outlive
-- their owner (seed 002's deletion rules).
CREATE TABLE quotes (
    tenant_id TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    owner_user_id TEXT NOT NULL,
    reference TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('OPEN', 'CLOSED')),
    locked INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT quotes_id_pkey PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id)
);
CREATE INDEX quotes_owner ON quotes (tenant_id, owner_user_id);

CREATE TABLE orders (
    tenant_id TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    owner_user_id TEXT NOT NULL,
    reference TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT orders_id_pkey PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id)
);
CREATE INDEX orders_owner ON orders (tenant_id, owner_user_id);

CREATE TABLE events (
    tenant_id TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    summary TEXT NOT NULL,
    at TEXT NOT NULL,
    CONSTRAINT events_tenant_id UNIQUE (tenant_id, id)
);
