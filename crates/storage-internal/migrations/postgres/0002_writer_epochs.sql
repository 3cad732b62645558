-- The writer fence: per cluster, the highest leader epoch that wrote it. A batch of a
-- lower epoch (a manager that lost its lease) is refused. Kept when a cluster is cleaned.
CREATE TABLE IF NOT EXISTS pedia_writers (
    cluster VARCHAR(255) COLLATE "C" PRIMARY KEY,
    epoch BIGINT NOT NULL
);
