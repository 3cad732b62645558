-- Objects, one row per (resource, cluster, namespace, name). `id` is the revision at
-- which the row was created; `revision` the last change. Keys are ASCII with a binary
-- collation so ordering (and keyset paging) is byte-wise. MySQL DDL is not transactional:
-- every statement here is safe to run again after a partial failure.
CREATE TABLE IF NOT EXISTS pedia_resources (
    id BIGINT PRIMARY KEY,
    grp VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    version VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    resource VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    cluster VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    namespace VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    uid VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    owner_uid VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    resource_version TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    rv_num BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    content_hash BIGINT NOT NULL,
    labels_hash BIGINT NOT NULL,
    object LONGBLOB NOT NULL,
    synced_at BIGINT NOT NULL,
    UNIQUE KEY pedia_resources_key (grp, version, resource, cluster, namespace, name),
    KEY pedia_resources_watch (grp, version, resource, revision),
    KEY pedia_resources_owner (cluster, owner_uid, uid),
    KEY pedia_resources_created (grp, version, resource, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS pedia_labels (
    resource_id BIGINT NOT NULL,
    label_key VARCHAR(320) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    label_value VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    num_value BIGINT NULL,
    PRIMARY KEY (resource_id, label_key),
    KEY pedia_labels_key_value (label_key, label_value, resource_id),
    KEY pedia_labels_key_num (label_key, num_value, resource_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS pedia_tombstones (
    revision BIGINT PRIMARY KEY,
    created_revision BIGINT NOT NULL,
    grp VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    version VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    resource VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    cluster VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    namespace VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    object LONGBLOB NOT NULL,
    deleted_at BIGINT NOT NULL,
    KEY pedia_tombstones_watch (grp, version, resource, revision)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS pedia_meta (
    id BIGINT PRIMARY KEY,
    revision BIGINT NOT NULL,
    compacted_revision BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT IGNORE INTO pedia_meta (id, revision, compacted_revision) VALUES (1, 0, 0);

CREATE TABLE IF NOT EXISTS pedia_cluster_resources (
    cluster VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    grp VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    version VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    resource VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    namespaced BIGINT NOT NULL,
    PRIMARY KEY (cluster, grp, version, resource)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
