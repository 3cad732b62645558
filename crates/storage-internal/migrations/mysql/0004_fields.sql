-- Indexed field values (see src/fields.rs): one row per object and indexed path that is
-- present and not null. `value` is the scalar's UTF-8 text compared byte-wise, NULL for
-- objects, lists and values too long or with NUL; `num_value` the text as an integer.
-- Existing objects are filled in by the migrator after this statement (it empties the
-- table first, so a rerun after a partial failure is safe).
CREATE TABLE IF NOT EXISTS pedia_fields (
    resource_id BIGINT NOT NULL,
    path VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    value VARBINARY(1024) NULL,
    num_value BIGINT NULL,
    PRIMARY KEY (resource_id, path),
    KEY pedia_fields_path_value (path, value, resource_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
