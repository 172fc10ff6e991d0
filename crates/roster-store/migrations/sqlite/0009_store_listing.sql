-- A listing filtered by store walks that store's users in number order
-- (`user_stores_walk`) and stops at a page's worth of matches, so its cost is
-- bounded by how far it must look in the store, never by the tenant's size.
-- The user's number is copied here for that order; it never changes once
-- given, and every insert carries it. (SQLite cannot add a NOT NULL column
-- without a default; PostgreSQL's copy of this migration makes it NOT NULL,
-- which the tests on both engines hold every insert to.)
ALTER TABLE user_stores ADD COLUMN user_number BIGINT;
UPDATE user_stores SET user_number = (
  SELECT users.number FROM users
  WHERE users.tenant_id = user_stores.tenant_id AND users.id = user_stores.user_id);
CREATE INDEX user_stores_walk ON user_stores (tenant_id, store_id, user_number);
-- Its leading columns serve every query the old index served.
DROP INDEX user_stores_store;
