-- Indexed field values (see src/fields.rs): one row per object and indexed path that is
-- present and not null. `value` is the scalar's text, NULL for objects, lists and values
-- too long or with NUL; `num_value` the text as an integer. Existing objects are filled
-- in by the migrator after these statements.
CREATE TABLE IF NOT EXISTS pedia_fields (
    resource_id BIGINT NOT NULL,
    path VARCHAR(64) COLLATE "C" NOT NULL,
    value VARCHAR(1024) COLLATE "C" NULL,
    num_value BIGINT NULL,
    PRIMARY KEY (resource_id, path)
);
CREATE INDEX IF NOT EXISTS pedia_fields_path_value ON pedia_fields (path, value, resource_id);
-- Paths and values are strongly correlated (`Running` is a value of one path only); with
-- these statistics the planner estimates a (path, value) pair from its own frequency
-- instead of multiplying the two columns' ones.
CREATE STATISTICS IF NOT EXISTS pedia_fields_path_value_stats (mcv) ON path, value FROM pedia_fields;
