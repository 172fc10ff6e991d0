-- A user's optional keys and references are indexed only where set: a
-- user without a user code, external id, account, company or parent (most
-- users lack some of them) adds no entry to those indexes, so creating a
-- user who names none writes three index entries rather than eight. What
-- the unique indexes refuse is unchanged (NULLs never conflicted), and
-- they keep their names, by which a conflict is reported.
ALTER TABLE users DROP CONSTRAINT users_email_key_unique;
CREATE UNIQUE INDEX users_email_key_unique ON users (tenant_id, email_key)
    WHERE email_key IS NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_user_code_unique;
CREATE UNIQUE INDEX users_user_code_unique ON users (tenant_id, user_code)
    WHERE user_code IS NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_external_id_unique;
CREATE UNIQUE INDEX users_external_id_unique ON users (tenant_id, source, external_id)
    WHERE external_id IS NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_account_id_unique;
CREATE UNIQUE INDEX users_account_id_unique ON users (tenant_id, account_id)
    WHERE account_id IS NOT NULL;
DROP INDEX users_company;
CREATE INDEX users_company ON users (tenant_id, company_id) WHERE company_id IS NOT NULL;
DROP INDEX users_parent;
CREATE INDEX users_parent ON users (tenant_id, parent_id) WHERE parent_id IS NOT NULL;
