-- Before a capture becomes a new person it is searched again with a much longer
-- HNSW candidate list (setting new_person_ef_search): a re-capture the index
-- missed is matched to its person instead of making a spurious one.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
-- a candidate list of 1 makes the first search miss often; the kept gallery
-- plan must be an index scan for that to show
SET firstsight.hnsw_ef_search = 1;
SET enable_seqscan = off;

SELECT create_project('Recheck', dims => 512) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance'), (:p, 'desk', 'sign_in');
SELECT setting, value, is_default FROM project_settings WHERE project_id = :p AND setting = 'new_person_ef_search';
-- batches here are searched by the index (a batch of 200 against this gallery
-- would otherwise be searched exactly, see exact_batch)
SELECT configure(:p, 'exact_search_faces', '0');

-- 1,000 persons: random directions, far apart, seen yesterday
SELECT setseed(0.25);
CREATE TEMP TABLE centre AS
	SELECT id, l2_normalize(array_agg(random() - 0.5 ORDER BY k)::real[]::embedding) AS face
	FROM generate_series(1, 1000) id, generate_series(1, 512) k GROUP BY id;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT :p, 'gate', now() - interval '1 day', face, 0.8, false FROM centre ORDER BY id;
CREATE TEMP TABLE owner AS
	SELECT row_number() OVER (ORDER BY capture_id) AS id, person_id FROM capture WHERE project_id = :p;
SELECT count(*) AS persons, count(DISTINCT person_id) AS distinct_owners
FROM person JOIN owner USING (person_id) WHERE project_id = :p;
-- a sparse graph (m 8) makes the first search, at ef_search 1, miss often
SELECT format('face_p%s_hnsw', :p) AS idx, format('face_p%s', :p) AS part \gset
DROP INDEX :"idx";
CREATE INDEX :"idx" ON :"part" USING embedding_hnsw ((face::embedding(512)) embedding_cosine_ops)
	WITH (m = 8, ef_construction = 16);

-- re-captures: each centre nudged by a little noise (cosine distance ~0.0004)
CREATE TEMP TABLE probe AS
	SELECT c.id, l2_normalize(c.face + (SELECT array_agg((random() - 0.5) * 0.01 ORDER BY k)::real[]::embedding
	                                    FROM generate_series(1, 512) k WHERE c.id > 0)) AS face
	FROM centre c WHERE c.id <= 400;
SELECT max(p.face <=> c.face) < 0.01 AS probes_are_near FROM probe p JOIN centre c USING (id);

-- without the wider search: the index at ef_search 1 misses some persons and
-- their re-captures become new persons (this is what the setting prevents)
SELECT configure(:p, 'new_person_ef_search', '0');
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT :p, 'gate', now() - interval '10 minutes', face, 0.8, false FROM probe WHERE id <= 200 ORDER BY id;
SELECT count(*) > 0 AS spurious_without_recheck FROM person WHERE project_id = :p AND person_id NOT IN (SELECT person_id FROM owner);

-- with it (1000 here: a search over most of this small gallery): every
-- re-capture is matched to its own person
SELECT configure(:p, 'new_person_ef_search', '1000');
CREATE TEMP TABLE before AS SELECT count(*) AS n FROM person WHERE project_id = :p;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT :p, 'desk', now() - interval '5 minutes', face, 0.8, false FROM probe WHERE id > 200 ORDER BY id;
SELECT (SELECT count(*) FROM person WHERE project_id = :p) - n AS new_persons_with_recheck FROM before;
SELECT count(*) AS captures, count(*) FILTER (WHERE x.person_id = o.person_id) AS own_person,
       max(x.match_distance) < 0.01 AS near
FROM (SELECT row_number() OVER (ORDER BY capture_id) + 200 AS id, person_id, match_distance
      FROM capture WHERE project_id = :p AND camera_id = 'desk') x
JOIN owner o USING (id);

-- the session's own candidate list is left as it was
SHOW firstsight.hnsw_ef_search;
-- gallery_nearest takes the wider list directly, too
SELECT count(*) FILTER (WHERE n.person_id = o.person_id) AS found_at_1000
FROM gallery_nearest(:p, (SELECT array_agg(face ORDER BY id) FROM probe WHERE id > 200), 1000) n
JOIN owner o ON o.id = n.ord + 200;
SHOW firstsight.hnsw_ef_search;

-- a bad value is refused
SELECT configure(:p, 'new_person_ef_search', '-1');
RESET enable_seqscan;
RESET firstsight.hnsw_ef_search;
