-- Groups (SPEC §8), and companies' SCIM tokens: a tenant's or one company's named set of users carrying
-- role grants that every member holds. Also the SCIM Groups.
-- scope_key is the company id, or '' for a tenant-wide group, so that names
-- are unique (without case, name_key) per tenant and company alike.
CREATE TABLE groups (
    tenant_id TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    company_id TEXT,
    scope_key TEXT NOT NULL,
    external_id TEXT,
    tenant_role TEXT CHECK (tenant_role IN ('ADMIN', 'BACKOFFICE', 'ACCESS')),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT groups_id_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT groups_name_key_unique UNIQUE (tenant_id, scope_key, name_key),
    CONSTRAINT groups_external_id_unique UNIQUE (tenant_id, external_id),
    CONSTRAINT groups_scope_key_check CHECK (scope_key = COALESCE(company_id, '')),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id) ON DELETE CASCADE
);

-- A commerce role the group's members hold.
CREATE TABLE group_roles (
    tenant_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    role TEXT NOT NULL,
    CONSTRAINT group_roles_pkey PRIMARY KEY (tenant_id, group_id, role),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE
);

-- The stores a group's ACCESS role covers (none: every store).
CREATE TABLE group_stores (
    tenant_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    CONSTRAINT group_stores_pkey PRIMARY KEY (tenant_id, group_id, store_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE group_members (
    tenant_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    added_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT group_members_pkey PRIMARY KEY (tenant_id, group_id, user_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX group_members_user ON group_members (tenant_id, user_id);

-- A company's SCIM tokens: each provisions only that company's users and
-- groups at /scim/v2. Only the token's hash is kept.
CREATE TABLE scim_tokens (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT scim_tokens_id_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT scim_tokens_token_hash_unique UNIQUE (token_hash),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX scim_tokens_company ON scim_tokens (tenant_id, company_id);
