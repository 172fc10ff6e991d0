-- A listing filtered by store and role walks `store_roles`: the join of a
-- user's store access with their role names, kept by the triggers below
-- (so every write, the bulk ones too, keeps it), in number order. The walk
-- reads exactly a page of entries however rare the role is in the store;
-- probing each of a store's users for the role instead costs as many
-- lookups as the store has users before the page. The listing still checks
-- each entry against `user_stores` and `role_assignments` (concurrent
-- writes to a store and to a user's roles can leave an entry behind), so
-- this table only ever speeds a listing up, never changes what it answers.
-- The triggers run once per statement, on its transition table, so a
-- multi-row insert keeps the table in one statement more.
CREATE TABLE store_roles (
    tenant_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    role TEXT NOT NULL,
    user_number BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    CONSTRAINT store_roles_pkey PRIMARY KEY (tenant_id, store_id, role, user_number)
);
CREATE INDEX store_roles_user ON store_roles (tenant_id, user_id);

INSERT INTO store_roles (tenant_id, store_id, role, user_number, user_id)
SELECT s.tenant_id, s.store_id, r.role, s.user_number, s.user_id
FROM user_stores s JOIN role_assignments r ON r.tenant_id = s.tenant_id AND r.user_id = s.user_id
ON CONFLICT DO NOTHING;

CREATE FUNCTION store_roles_stores_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO store_roles (tenant_id, store_id, role, user_number, user_id)
    SELECT n.tenant_id, n.store_id, r.role, n.user_number, n.user_id
    FROM added n JOIN role_assignments r ON r.tenant_id = n.tenant_id AND r.user_id = n.user_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER store_roles_stores_added AFTER INSERT ON user_stores
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION store_roles_stores_added();

CREATE FUNCTION store_roles_stores_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM store_roles sr USING removed o
    WHERE sr.tenant_id = o.tenant_id AND sr.user_id = o.user_id AND sr.store_id = o.store_id;
    RETURN NULL;
END $$;
CREATE TRIGGER store_roles_stores_removed AFTER DELETE ON user_stores
REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION store_roles_stores_removed();

CREATE FUNCTION store_roles_roles_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO store_roles (tenant_id, store_id, role, user_number, user_id)
    SELECT n.tenant_id, s.store_id, n.role, s.user_number, n.user_id
    FROM added n JOIN user_stores s ON s.tenant_id = n.tenant_id AND s.user_id = n.user_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER store_roles_roles_added AFTER INSERT ON role_assignments
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION store_roles_roles_added();

-- A role name can be held twice (in two vocabularies, or at two scopes):
-- its entries go with the last.
CREATE FUNCTION store_roles_roles_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM store_roles sr USING removed o
    WHERE sr.tenant_id = o.tenant_id AND sr.user_id = o.user_id AND sr.role = o.role
      AND NOT EXISTS (SELECT 1 FROM role_assignments r
                      WHERE r.tenant_id = o.tenant_id AND r.user_id = o.user_id
                        AND r.role = o.role);
    RETURN NULL;
END $$;
CREATE TRIGGER store_roles_roles_removed AFTER DELETE ON role_assignments
REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION store_roles_roles_removed();
