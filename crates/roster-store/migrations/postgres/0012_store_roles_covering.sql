-- A listing by store and role reads a page of `store_roles` entries in
-- number order, and needs each entry's user id: with the id in the
-- primary-key index (`INCLUDE`), the walk reads the index alone where the
-- table's pages are all visible, rather than one heap page per entry.
ALTER TABLE store_roles
    DROP CONSTRAINT store_roles_pkey,
    ADD CONSTRAINT store_roles_pkey PRIMARY KEY (tenant_id, store_id, role, user_number)
        INCLUDE (user_id);
