-- Events out (SPEC §8): the outbox every audited change writes its
-- CloudEvent to in the same transaction, the webhooks a tenant subscribes,
-- and each webhook's deliveries and their attempts. Dispatchers in any
-- number of processes claim rows with FOR UPDATE SKIP LOCKED and a lease
-- (`*_claimed_until`): a process that dies mid-delivery leaves its lease to
-- expire, and another process (or it, restarted) delivers again.

CREATE TABLE outbox (
    tenant_id TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    -- The audit event's id (the CloudEvent's `auditid`), in commit order.
    id BIGINT NOT NULL,
    -- The CloudEvent's `id`: a UUIDv7, unique across tenants and databases
    -- (so receivers and JetStream de-duplicate on it safely).
    uid TEXT NOT NULL,
    type TEXT NOT NULL,
    -- The CloudEvent, structured JSON, as it is sent.
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    -- Fanned out to the tenant's webhooks.
    dispatch_claimed_until TIMESTAMPTZ,
    dispatched_at TIMESTAMPTZ,
    -- Published to NATS JetStream (only where ROSTER_NATS_URL is set).
    publish_claimed_until TIMESTAMPTZ,
    published_at TIMESTAMPTZ,
    CONSTRAINT outbox_pkey PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbox_undispatched ON outbox (id) WHERE dispatched_at IS NULL;
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE webhooks (
    tenant_id TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT,
    -- Comma-separated event type filters; empty: every event.
    event_types TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    -- The signing secret, sealed with ROSTER_KEY_ENCRYPTION_KEY when set.
    secret TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT webhooks_pkey PRIMARY KEY (tenant_id, id)
);

-- One event to one webhook: pending until a 2xx, or failed when the retry
-- schedule is exhausted.
CREATE TABLE webhook_deliveries (
    tenant_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    next_at TIMESTAMPTZ NOT NULL,
    claimed_until TIMESTAMPTZ,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (tenant_id, webhook_id, event_id),
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, event_id) REFERENCES outbox (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'pending';

CREATE TABLE webhook_attempts (
    tenant_id TEXT NOT NULL,
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    webhook_id TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    -- The CloudEvent's `id`, as the receiver saw it in `webhook-id`.
    event_uid TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'retrying', 'failed')),
    at TIMESTAMPTZ NOT NULL,
    CONSTRAINT webhook_attempts_pkey PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_webhook ON webhook_attempts (tenant_id, webhook_id, id);
