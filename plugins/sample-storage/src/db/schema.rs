//! The tables of each dialect: the same columns and keys, in each database's types.

pub(super) const SQLITE_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sample_meta (
        id INTEGER PRIMARY KEY,
        revision INTEGER NOT NULL,
        compacted INTEGER NOT NULL
    )",
    "INSERT INTO sample_meta (id, revision, compacted) VALUES (1, 0, 0)
        ON CONFLICT (id) DO NOTHING",
    "CREATE TABLE IF NOT EXISTS sample_objects (
        api_group TEXT NOT NULL,
        api_version TEXT NOT NULL,
        resource TEXT NOT NULL,
        kind TEXT NOT NULL,
        namespaced BOOLEAN NOT NULL,
        cluster TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        uid TEXT NOT NULL,
        owner_uid TEXT NOT NULL,
        resource_version TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        content_hash INTEGER NOT NULL,
        labels TEXT NOT NULL,
        object BLOB NOT NULL,
        PRIMARY KEY (api_group, api_version, resource, cluster, namespace, name)
    )",
    "CREATE INDEX IF NOT EXISTS sample_objects_uid ON sample_objects (cluster, uid)",
    "CREATE INDEX IF NOT EXISTS sample_objects_owner ON sample_objects (cluster, owner_uid)",
    "CREATE TABLE IF NOT EXISTS sample_events (
        revision INTEGER PRIMARY KEY,
        api_group TEXT NOT NULL,
        api_version TEXT NOT NULL,
        resource TEXT NOT NULL,
        cluster TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        event_type TEXT NOT NULL,
        object BLOB NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS sample_events_resource
        ON sample_events (api_group, api_version, resource, revision)",
    "CREATE TABLE IF NOT EXISTS sample_registrations (
        cluster TEXT NOT NULL,
        api_group TEXT NOT NULL,
        api_version TEXT NOT NULL,
        resource TEXT NOT NULL,
        kind TEXT NOT NULL,
        namespaced BOOLEAN NOT NULL,
        PRIMARY KEY (cluster, api_group, api_version, resource)
    )",
    // The writer fence: per cluster, the highest epoch that wrote it (kept when the
    // cluster is cleaned).
    "CREATE TABLE IF NOT EXISTS sample_writers (
        cluster TEXT PRIMARY KEY,
        epoch BIGINT NOT NULL
    )",
];

pub(super) const POSTGRES_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sample_meta (
        id INTEGER PRIMARY KEY,
        revision BIGINT NOT NULL,
        compacted BIGINT NOT NULL
    )",
    "INSERT INTO sample_meta (id, revision, compacted) VALUES (1, 0, 0)
        ON CONFLICT (id) DO NOTHING",
    "CREATE TABLE IF NOT EXISTS sample_objects (
        api_group TEXT NOT NULL,
        api_version TEXT NOT NULL,
        resource TEXT NOT NULL,
        kind TEXT NOT NULL,
        namespaced BOOLEAN NOT NULL,
        cluster TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        uid TEXT NOT NULL,
        owner_uid TEXT NOT NULL,
        resource_version TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        revision BIGINT NOT NULL,
        content_hash BIGINT NOT NULL,
        labels TEXT NOT NULL,
        object BYTEA NOT NULL,
        PRIMARY KEY (api_group, api_version, resource, cluster, namespace, name)
    )",
    "CREATE INDEX IF NOT EXISTS sample_objects_uid ON sample_objects (cluster, uid)",
    "CREATE INDEX IF NOT EXISTS sample_objects_owner ON sample_objects (cluster, owner_uid)",
    "CREATE TABLE IF NOT EXISTS sample_events (
        revision BIGINT PRIMARY KEY,
        api_group TEXT NOT NULL,
        api_version TEXT NOT NULL,
        resource TEXT NOT NULL,
        cluster TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        event_type TEXT NOT NULL,
        object BYTEA NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS sample_events_resource
        ON sample_events (api_group, api_version, resource, revision)",
    "CREATE TABLE IF NOT EXISTS sample_registrations (
        cluster TEXT NOT NULL,
        api_group TEXT NOT NULL,
        api_version TEXT NOT NULL,
        resource TEXT NOT NULL,
        kind TEXT NOT NULL,
        namespaced BOOLEAN NOT NULL,
        PRIMARY KEY (cluster, api_group, api_version, resource)
    )",
    // The writer fence: per cluster, the highest epoch that wrote it (kept when the
    // cluster is cleaned).
    "CREATE TABLE IF NOT EXISTS sample_writers (
        cluster TEXT PRIMARY KEY,
        epoch BIGINT NOT NULL
    )",
];

/// MySQL/MariaDB: key columns are ASCII with binary collation, so keys compare byte-wise
/// as on SQLite and the six-column primary key fits InnoDB's 3072-byte index limit
/// (Kubernetes names, groups and resources are ASCII); free text stays utf8mb4.
pub(super) const MYSQL_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sample_meta (
        id INTEGER PRIMARY KEY,
        revision BIGINT NOT NULL,
        compacted BIGINT NOT NULL
    ) ENGINE=InnoDB",
    "INSERT IGNORE INTO sample_meta (id, revision, compacted) VALUES (1, 0, 0)",
    "CREATE TABLE IF NOT EXISTS sample_objects (
        api_group VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        api_version VARCHAR(63) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        resource VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        kind TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        namespaced BOOLEAN NOT NULL,
        cluster VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        namespace VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        name VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        uid VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        owner_uid VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        resource_version TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        created_at BIGINT NOT NULL,
        revision BIGINT NOT NULL,
        content_hash BIGINT NOT NULL,
        labels MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        object LONGBLOB NOT NULL,
        PRIMARY KEY (api_group, api_version, resource, cluster, namespace, name),
        KEY sample_objects_uid (cluster, uid),
        KEY sample_objects_owner (cluster, owner_uid)
    ) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS sample_events (
        revision BIGINT PRIMARY KEY,
        api_group VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        api_version VARCHAR(63) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        resource VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        cluster VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        namespace VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        name VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        event_type VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        object LONGBLOB NOT NULL,
        KEY sample_events_resource (api_group, api_version, resource, revision)
    ) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS sample_registrations (
        cluster VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        api_group VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        api_version VARCHAR(63) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        resource VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        kind TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        namespaced BOOLEAN NOT NULL,
        PRIMARY KEY (cluster, api_group, api_version, resource)
    ) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS sample_writers (
        cluster VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
        epoch BIGINT NOT NULL
    ) ENGINE=InnoDB",
];
