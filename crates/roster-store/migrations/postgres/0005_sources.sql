-- External ids may also come from SCIM provisioning and bulk imports.
ALTER TABLE users DROP CONSTRAINT users_source_check;
ALTER TABLE users ADD CONSTRAINT users_source_check
    CHECK (source IN ('RETEN', 'INTEGRATION', 'SCIM', 'IMPORT'));
ALTER TABLE contacts DROP CONSTRAINT contacts_source_check;
ALTER TABLE contacts ADD CONSTRAINT contacts_source_check
    CHECK (source IN ('RETEN', 'INTEGRATION', 'SCIM', 'IMPORT'));
