-- Indexed field values (see src/fields.rs): one row per object and indexed path that is
-- present and not null. `value` is the scalar's text, NULL for objects, lists and values
-- too long or with NUL; `num_value` the text as an integer. Existing objects are filled
-- in by the migrator after these statements.
CREATE TABLE IF NOT EXISTS pedia_fields (
    resource_id BIGINT NOT NULL,
    path VARCHAR(64) NOT NULL,
    value VARCHAR(1024) NULL,
    num_value BIGINT NULL,
    PRIMARY KEY (resource_id, path)
);
CREATE INDEX IF NOT EXISTS pedia_fields_path_value ON pedia_fields (path, value, resource_id);
