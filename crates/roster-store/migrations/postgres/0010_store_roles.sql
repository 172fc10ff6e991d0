-- A listing filtered by store and role walks `store_roles`: the join of a
-- user's store access with their role names, kept by the triggers below
-- (so every write, the bulk ones too, keeps it), in number order. The walk
-- reads exactly a page of entries however rare the role is in the store;
-- probing each of a store's users for the role instead costs as many
-- lookups as the store has users before the page. The listing still checks
-- each entry against `user_stores` and `role_assignments` (concurrent
-- writes to a store and to a user's roles can leave an entry behind), so
-- this table only ever speeds a listing up, never changes what it answers.
-- The triggers run for each row, each statement a lookup by key (a
-- statement-level join on a transition table, whose size the planner does
-- not know, read the whole of `role_assignments` for every bulk insert).
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

CREATE FUNCTION store_roles_store_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO store_roles (tenant_id, store_id, role, user_number, user_id)
    SELECT NEW.tenant_id, NEW.store_id, r.role, NEW.user_number, NEW.user_id
    FROM role_assignments r WHERE r.tenant_id = NEW.tenant_id AND r.user_id = NEW.user_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER store_roles_store_added AFTER INSERT ON user_stores
FOR EACH ROW EXECUTE FUNCTION store_roles_store_added();

CREATE FUNCTION store_roles_store_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM store_roles
    WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND store_id = OLD.store_id;
    RETURN NULL;
END $$;
CREATE TRIGGER store_roles_store_removed AFTER DELETE ON user_stores
FOR EACH ROW EXECUTE FUNCTION store_roles_store_removed();

CREATE FUNCTION store_roles_role_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO store_roles (tenant_id, store_id, role, user_number, user_id)
    SELECT NEW.tenant_id, s.store_id, NEW.role, s.user_number, NEW.user_id
    FROM user_stores s WHERE s.tenant_id = NEW.tenant_id AND s.user_id = NEW.user_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER store_roles_role_added AFTER INSERT ON role_assignments
FOR EACH ROW EXECUTE FUNCTION store_roles_role_added();

-- A role name can be held twice (in two vocabularies, or at two scopes):
-- its entries go with the last.
CREATE FUNCTION store_roles_role_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM store_roles
    WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND role = OLD.role
      AND NOT EXISTS (SELECT 1 FROM role_assignments r
                      WHERE r.tenant_id = OLD.tenant_id AND r.user_id = OLD.user_id
                        AND r.role = OLD.role);
    RETURN NULL;
END $$;
CREATE TRIGGER store_roles_role_removed AFTER DELETE ON role_assignments
FOR EACH ROW EXECUTE FUNCTION store_roles_role_removed();
