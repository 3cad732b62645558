-- Ordering by creation time with keyset paging reads only this index and the labels, never
-- the wide rows: the tie-breakers (cluster, namespace, name) are in the index. One ALTER
-- (atomic in InnoDB) that drops and re-adds the same name, so running it again is safe.
ALTER TABLE pedia_resources DROP KEY pedia_resources_created, ADD KEY pedia_resources_created (grp, version, resource, created_at, cluster, namespace, name);
