-- Objects, one row per (resource, cluster, namespace, name). `id` is the revision at
-- which the row was created; `revision` the last change. Text keys use the "C" collation
-- so ordering (and keyset paging) is byte-wise.
CREATE TABLE IF NOT EXISTS pedia_resources (
    id BIGINT PRIMARY KEY,
    grp VARCHAR(255) COLLATE "C" NOT NULL,
    version VARCHAR(255) COLLATE "C" NOT NULL,
    resource VARCHAR(255) COLLATE "C" NOT NULL,
    kind VARCHAR(255) COLLATE "C" NOT NULL,
    cluster VARCHAR(255) COLLATE "C" NOT NULL,
    namespace VARCHAR(255) COLLATE "C" NOT NULL,
    name VARCHAR(255) COLLATE "C" NOT NULL,
    uid VARCHAR(255) COLLATE "C" NOT NULL,
    owner_uid VARCHAR(255) COLLATE "C" NOT NULL,
    resource_version TEXT NOT NULL,
    rv_num BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    content_hash BIGINT NOT NULL,
    labels_hash BIGINT NOT NULL,
    object BYTEA NOT NULL,
    synced_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS pedia_resources_key ON pedia_resources (grp, version, resource, cluster, namespace, name);
CREATE INDEX IF NOT EXISTS pedia_resources_watch ON pedia_resources (grp, version, resource, revision);
CREATE INDEX IF NOT EXISTS pedia_resources_owner ON pedia_resources (cluster, owner_uid, uid);
CREATE INDEX IF NOT EXISTS pedia_resources_created ON pedia_resources (grp, version, resource, created_at);

CREATE TABLE IF NOT EXISTS pedia_labels (
    resource_id BIGINT NOT NULL,
    label_key VARCHAR(320) COLLATE "C" NOT NULL,
    label_value VARCHAR(255) COLLATE "C" NOT NULL,
    num_value BIGINT NULL,
    PRIMARY KEY (resource_id, label_key)
);
CREATE INDEX IF NOT EXISTS pedia_labels_key_value ON pedia_labels (label_key, label_value, resource_id);
CREATE INDEX IF NOT EXISTS pedia_labels_key_num ON pedia_labels (label_key, num_value, resource_id);

CREATE TABLE IF NOT EXISTS pedia_tombstones (
    revision BIGINT PRIMARY KEY,
    created_revision BIGINT NOT NULL,
    grp VARCHAR(255) COLLATE "C" NOT NULL,
    version VARCHAR(255) COLLATE "C" NOT NULL,
    resource VARCHAR(255) COLLATE "C" NOT NULL,
    cluster VARCHAR(255) COLLATE "C" NOT NULL,
    namespace VARCHAR(255) COLLATE "C" NOT NULL,
    name VARCHAR(255) COLLATE "C" NOT NULL,
    object BYTEA NOT NULL,
    deleted_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS pedia_tombstones_watch ON pedia_tombstones (grp, version, resource, revision);

CREATE TABLE IF NOT EXISTS pedia_meta (
    id BIGINT PRIMARY KEY,
    revision BIGINT NOT NULL,
    compacted_revision BIGINT NOT NULL
);
INSERT INTO pedia_meta (id, revision, compacted_revision) VALUES (1, 0, 0) ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS pedia_cluster_resources (
    cluster VARCHAR(255) COLLATE "C" NOT NULL,
    grp VARCHAR(255) COLLATE "C" NOT NULL,
    version VARCHAR(255) COLLATE "C" NOT NULL,
    resource VARCHAR(255) COLLATE "C" NOT NULL,
    kind VARCHAR(255) COLLATE "C" NOT NULL,
    namespaced BIGINT NOT NULL,
    PRIMARY KEY (cluster, grp, version, resource)
);
