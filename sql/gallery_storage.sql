-- Gallery partitions leave room on each page (fillfactor 60) so that an
-- update that does not touch the face, such as privacy's expires_at refresh
-- when a person returns, is a HOT update: no new HNSW index entry.
SET search_path = firstsight, public;
SELECT create_project('Storage', dims => 512) AS p \gset
SELECT format('face_p%s', :p) AS part \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance');
SELECT reloptions FROM pg_class WHERE oid = :'part'::regclass;
SELECT setseed(0.5);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT :p, 'gate', now() - interval '1 day', l2_normalize(array_agg(random() - 0.5 ORDER BY k)::real[]::embedding), 0.8, false
	FROM generate_series(1, 10) id, generate_series(1, 512) k GROUP BY id ORDER BY id;
-- two 2 kB rows per page instead of three
SELECT count(*) AS faces, count(DISTINCT (ctid::text::point)[0]) AS pages FROM face WHERE project_id = :p;
-- a returning person's expiry refresh, one row: HOT
BEGIN;
UPDATE face SET expires_at = expires_at + interval '1 day'
WHERE project_id = :p AND person_id = (SELECT min(person_id) FROM face WHERE project_id = :p);
SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relid = :'part'::regclass;
ROLLBACK;
