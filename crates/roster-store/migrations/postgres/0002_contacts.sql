-- Contacts of users (seed 000). The database, not only the code, keeps at
-- most one active primary contact per type per user, and no two active
-- contacts of one type with the same value.

CREATE TABLE contacts (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    contact_type TEXT NOT NULL CHECK (contact_type IN ('EMAIL', 'PHONE', 'WHATSAPP', 'OTHER')),
    value TEXT NOT NULL,
    -- The value as compared: lowercase for EMAIL, as given otherwise.
    value_key TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('RETEN', 'INTEGRATION')),
    is_primary BOOLEAN NOT NULL,
    is_active BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT contacts_id_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT contacts_primary_is_active CHECK (is_active OR NOT is_primary),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX contacts_value_key_unique
    ON contacts (tenant_id, user_id, contact_type, value_key) WHERE is_active;
CREATE UNIQUE INDEX contacts_contact_type_primary_unique
    ON contacts (tenant_id, user_id, contact_type) WHERE is_primary AND is_active;
