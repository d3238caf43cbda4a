-- A capture the first gallery search leaves unmatched is searched again at
-- new_person_ef_step (default 120) before the wider new_person_ef_search
-- (default 400): only the captures the step leaves unmatched pay for the
-- wider search.  The searches of a statement are counted as calls of
-- gallery_nearest_kind in its transaction (track_functions; the gallery here
-- has unmasked faces only, so one search of one kind per pass).
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
-- a candidate list of 1 makes the first search miss often; the kept gallery
-- plan must be an index scan for that to show
SET firstsight.hnsw_ef_search = 1;
SET enable_seqscan = off;
SET track_functions = 'all';

SELECT create_project('Step', dims => 512) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance'), (:p, 'desk', 'sign_in');
SELECT setting, value, is_default FROM project_settings
WHERE project_id = :p AND setting IN ('new_person_ef_search', 'new_person_ef_step') ORDER BY setting;
-- batches here are searched by the index, not exactly (see exact_batch)
SELECT configure(:p, 'exact_search_faces', '0');

-- 500 persons: random directions, far apart, seen yesterday; a sparse graph
SELECT setseed(0.75);
CREATE TEMP TABLE centre AS
	SELECT id, l2_normalize(array_agg(random() - 0.5 ORDER BY k)::real[]::embedding) AS face
	FROM generate_series(1, 501) id, generate_series(1, 512) k GROUP BY id;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT :p, 'gate', now() - interval '1 day', face, 0.8, false FROM centre WHERE id <= 500 ORDER BY id;
CREATE TEMP TABLE owner AS
	SELECT row_number() OVER (ORDER BY capture_id) AS id, person_id FROM capture WHERE project_id = :p;
SELECT format('face_p%s_hnsw', :p) AS idx, format('face_p%s', :p) AS part \gset
DROP INDEX :"idx";
CREATE INDEX :"idx" ON :"part" USING embedding_hnsw ((face::embedding(512)) embedding_cosine_ops)
	WITH (m = 8, ef_construction = 16);
CREATE TEMP TABLE probe AS
	SELECT c.id, l2_normalize(c.face + (SELECT array_agg((random() - 0.5) * 0.01 ORDER BY k)::real[]::embedding
	                                    FROM generate_series(1, 512) k WHERE c.id > 0)) AS face
	FROM centre c WHERE c.id <= 200;

-- searches of one statement: calls of gallery_nearest_kind in this transaction
-- (pending counts of the backend, so taken before and after the statement)
CREATE FUNCTION pg_temp.searches() RETURNS bigint LANGUAGE sql
	AS $$ SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions
	      WHERE schemaname = 'firstsight' AND funcname = 'gallery_nearest_kind' $$;

-- a face nobody has (identity 501): nothing finds it, so it passes every
-- stage: the first search, the step, the wider search (3 searches) ...
BEGIN;
SELECT pg_temp.searches() AS s0 \gset
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', now() - interval '3 hours', (SELECT face FROM centre WHERE id = 501), 0.8, false);
SELECT pg_temp.searches() - :s0 AS searches_with_step;
ROLLBACK;
-- ... without the step (0), 2 ...
SELECT configure(:p, 'new_person_ef_step', '0');
BEGIN;
SELECT pg_temp.searches() AS s0 \gset
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', now() - interval '3 hours', (SELECT face FROM centre WHERE id = 501), 0.8, false);
SELECT pg_temp.searches() - :s0 AS searches_without_step;
ROLLBACK;
-- ... and 2 when the step is not below new_person_ef_search
SELECT configure(:p, 'new_person_ef_step', '400');
BEGIN;
SELECT pg_temp.searches() AS s0 \gset
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', now() - interval '3 hours', (SELECT face FROM centre WHERE id = 501), 0.8, false);
SELECT pg_temp.searches() - :s0 AS searches_step_not_below;
ROLLBACK;
-- nor with new_person_ef_search 0 (no wider search at all): 1
SELECT configure(:p, 'new_person_ef_step', '120');
SELECT configure(:p, 'new_person_ef_search', '0');
BEGIN;
SELECT pg_temp.searches() AS s0 \gset
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', now() - interval '3 hours', (SELECT face FROM centre WHERE id = 501), 0.8, false);
SELECT pg_temp.searches() - :s0 AS searches_no_wider_search;
ROLLBACK;

-- re-captures of 200 persons, one statement: the first search (ef_search 1)
-- misses some; a step over the whole gallery (500) finds them all, so the
-- wider search (1000) is not run: 2 searches, every capture its own person
SELECT configure(:p, 'new_person_ef_search', '1000');
SELECT configure(:p, 'new_person_ef_step', '500');
BEGIN;
SELECT pg_temp.searches() AS s0 \gset
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT :p, 'desk', now() - interval '5 minutes', face, 0.8, false FROM probe ORDER BY id;
SELECT pg_temp.searches() - :s0 AS searches;
COMMIT;
SELECT count(*) AS persons FROM person WHERE project_id = :p;
SELECT count(*) AS captures, count(*) FILTER (WHERE x.person_id = o.person_id) AS own_person,
       max(x.match_distance) < 0.01 AS near
FROM (SELECT row_number() OVER (ORDER BY capture_id) AS id, person_id, match_distance
      FROM capture WHERE project_id = :p AND camera_id = 'desk') x
JOIN owner o USING (id);

-- the session's own candidate list is left as it was
SHOW firstsight.hnsw_ef_search;
-- a bad value is refused; reset_setting restores the default
SELECT configure(:p, 'new_person_ef_step', '-1');
SELECT reset_setting(:p, 'new_person_ef_step');
SELECT value, is_default FROM project_settings WHERE project_id = :p AND setting = 'new_person_ef_step';
RESET track_functions;
RESET enable_seqscan;
RESET firstsight.hnsw_ef_search;
