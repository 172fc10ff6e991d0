-- A listing by store and role reads a page of `store_roles` entries in
-- number order, and needs each entry's user id. As a rowid table, each
-- entry found in the primary-key index was then read from the table, one
-- random page per entry once the table outgrows the page cache. Kept
-- `WITHOUT ROWID`, the table is its primary key: a page of entries is one
-- range of adjacent pages. The triggers of migration 0010 are dropped and
-- made again unchanged, as the table they write is replaced.
DROP TRIGGER store_roles_store_added;
DROP TRIGGER store_roles_store_removed;
DROP TRIGGER store_roles_role_added;
DROP TRIGGER store_roles_role_removed;

CREATE TABLE store_roles_clustered (
    tenant_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    role TEXT NOT NULL,
    user_number BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    CONSTRAINT store_roles_pkey PRIMARY KEY (tenant_id, store_id, role, user_number)
) WITHOUT ROWID;
INSERT INTO store_roles_clustered (tenant_id, store_id, role, user_number, user_id)
SELECT tenant_id, store_id, role, user_number, user_id FROM store_roles;
DROP TABLE store_roles;
ALTER TABLE store_roles_clustered RENAME TO store_roles;
CREATE INDEX store_roles_user ON store_roles (tenant_id, user_id);

CREATE TRIGGER store_roles_store_added AFTER INSERT ON user_stores
WHEN NEW.user_number IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO store_roles (tenant_id, store_id, role, user_number, user_id)
    SELECT NEW.tenant_id, NEW.store_id, r.role, NEW.user_number, NEW.user_id
    FROM role_assignments r WHERE r.tenant_id = NEW.tenant_id AND r.user_id = NEW.user_id;
END;

CREATE TRIGGER store_roles_store_removed AFTER DELETE ON user_stores
BEGIN
    DELETE FROM store_roles
    WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND store_id = OLD.store_id;
END;

CREATE TRIGGER store_roles_role_added AFTER INSERT ON role_assignments
BEGIN
    INSERT OR IGNORE INTO store_roles (tenant_id, store_id, role, user_number, user_id)
    SELECT NEW.tenant_id, s.store_id, NEW.role, s.user_number, NEW.user_id
    FROM user_stores s
    WHERE s.tenant_id = NEW.tenant_id AND s.user_id = NEW.user_id AND s.user_number IS NOT NULL;
END;

-- A role name can be held twice (in two vocabularies, or at two scopes):
-- its entries go with the last.
CREATE TRIGGER store_roles_role_removed AFTER DELETE ON role_assignments
BEGIN
    DELETE FROM store_roles
    WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND role = OLD.role
      AND NOT EXISTS (SELECT 1 FROM role_assignments r
                      WHERE r.tenant_id = OLD.tenant_id AND r.user_id = OLD.user_id
                        AND r.role = OLD.role);
END;
