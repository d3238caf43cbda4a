-- The single-row path: a statement that inserts exactly one capture (INSERT
-- ... VALUES of one row) is matched before the row is written; every other
-- INSERT and COPY is matched by the statement trigger as one batch.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never

SELECT create_project('Single row', dims => 4) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance'), (:p, 'desk', 'sign_in');
-- row versions written by updates of capture in this transaction (0: each capture written once)
CREATE FUNCTION pg_temp.updated() RETURNS bigint LANGUAGE sql AS
	$$ SELECT pg_stat_get_xact_tuples_updated('firstsight.capture'::regclass) $$;
CREATE VIEW pg_temp.c AS
	SELECT dense_rank() OVER (ORDER BY capture_id) AS capture, camera_id,
	       to_char(captured_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS at,
	       dense_rank() OVER (ORDER BY person_id) AS person, dense_rank() OVER (ORDER BY visit_id) AS visit,
	       round(match_distance::numeric, 4) AS distance,
	       to_char(expires_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS expires
	FROM firstsight.capture WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Single row');

BEGIN;
-- a new face: RETURNING already sees its person, visit and expiry, and the
-- row was never updated
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 10:00+08', '[1,0,0,0]', 0.8, false)
	RETURNING person_id IS NOT NULL AS person, visit_id IS NOT NULL AS visit, match_distance,
	          to_char(expires_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS expires;
SELECT pg_temp.updated();
-- the same face again: the same person and visit, and its distance
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'desk', '2024-03-01 10:05+08', '[1,0.05,0,0]', 0.7, false)
	RETURNING person_id = (SELECT min(person_id) FROM person WHERE project_id = :p) AS same_person,
	          round(match_distance::numeric, 4) AS distance;
SELECT pg_temp.updated();
-- a prepared one-row INSERT (as a camera's driver sends it) takes the same path
PREPARE cam(bigint, text, timestamptz, embedding) AS
	INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES ($1, $2, $3, $4, 0.9, false) RETURNING person_id IS NOT NULL AS filled;
EXECUTE cam(:p, 'gate', '2024-03-01 10:10+08', '[0,1,0,0]');
SELECT pg_temp.updated();
-- an INSERT ... SELECT from a table or function is not known to be one row
-- before it runs: the statement trigger matches it and then updates the row
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT :p, 'gate', '2024-03-01 10:15+08', '[0,1,0.05,0]'::embedding, 0.9, false FROM generate_series(1, 1)
	RETURNING person_id IS NOT NULL AS filled_at_once;
SELECT pg_temp.updated();
-- a multi-row INSERT is one batch: two captures of one new face become one
-- person, the earlier one first (distance null)
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'desk', '2024-03-01 10:21+08', '[0,0,1,0.05]', 0.6, false),
	(:p, 'gate', '2024-03-01 10:20+08', '[0,0,1,0]', 0.9, false)
	RETURNING person_id IS NOT NULL AS filled_at_once;
SELECT pg_temp.updated();
-- a SELECT without FROM is one row too (the row path); one that inserts
-- nothing leaves nothing behind for the next statement
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT :p, 'gate', '2024-03-01 10:30+08', '[0,0,0,1]'::embedding, 0.9, false WHERE false;
-- (project_id from a column default: COPY data cannot name psql variables)
ALTER TABLE capture ALTER COLUMN project_id SET DEFAULT :p;
COPY capture (camera_id, captured_at, face, quality, masked) FROM STDIN;
gate	2024-03-01 10:31+08	[0,0,0,1]	0.9	f
desk	2024-03-01 10:30+08	[0.05,0,0,1]	0.6	f
\.
ALTER TABLE capture ALTER COLUMN project_id DROP DEFAULT;
SELECT pg_temp.updated();
COMMIT;
SELECT * FROM pg_temp.c ORDER BY capture;
SELECT count(*) AS persons, sum(captures) AS captures, sum(visits) AS visits FROM person WHERE project_id = :p;
SELECT count(*) AS visits, sum(captures) AS captures FROM visit WHERE project_id = :p;

-- one-row INSERTs from a function, one statement each: each takes the path
CREATE FUNCTION pg_temp.cam(p bigint, at text, f text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	id bigint;
BEGIN
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (p, 'gate', at::timestamptz, f::firstsight.embedding, 0.8, false) RETURNING person_id INTO id;
	RETURN id;
END $$;
-- the counts of earlier transactions go to the statistics first (they are
-- kept pending up to a second, and updated() would count them again)
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT pg_temp.cam(:p, '2024-03-01 14:00+08', '[1,0,0,0.05]') = pg_temp.cam(:p, '2024-03-01 14:01+08', '[1,0,0.05,0]') AS same_person;
SELECT pg_temp.updated();
COMMIT;
-- four hours later: a new visit of a returning person
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 18:00+08', '[1,0,0,0]', 0.8, false);
SELECT dense_rank() OVER (ORDER BY visit_id) AS visit, captures, seen_before, previous_visit_id IS NOT NULL AS has_previous
FROM visit WHERE project_id = :p AND person_id = (SELECT min(person_id) FROM person WHERE project_id = :p) ORDER BY visit_id;

-- bad rows: the same errors as the batch, nothing written
SELECT count(*) AS captures_before FROM capture WHERE project_id = :p;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'roof', '2024-03-01 18:00+08', '[1,0,0,0]', 0.8, false);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT :p, 'roof', '2024-03-01 18:00+08', '[1,0,0,0]'::embedding, 0.8, false FROM generate_series(1, 1);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 18:00+08', '[1,0,0]', 0.8, false);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 18:00+08', NULL, 0.8, false);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 18:00+08', '[1,0,0,0]', 1.5, false);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked, person_id)
	VALUES (:p, 'gate', '2024-03-01 18:00+08', '[1,0,0,0]', 0.8, false, 1);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (-1, 'gate', '2024-03-01 18:00+08', '[1,0,0,0]', 0.8, false);
SELECT count(*) AS captures_after FROM capture WHERE project_id = :p;
-- an error inside a savepoint leaves no note behind: the next multi-row statement is one batch
-- the counts of earlier transactions go to the statistics first (they are
-- kept pending up to a second, and updated() would count them again)
SELECT pg_stat_force_next_flush();
BEGIN;
SAVEPOINT s;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'roof', '2024-03-01 19:00+08', '[0,0,1,1]', 0.8, false);
ROLLBACK TO SAVEPOINT s;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'gate', '2024-03-01 19:01+08', '[0,0,1,1]', 0.8, false),
	(:p, 'gate', '2024-03-01 19:00+08', '[0,0.05,1,1]', 0.8, false);
SELECT pg_temp.updated();
COMMIT;
SELECT * FROM pg_temp.c WHERE at >= '03-01 19:00' ORDER BY capture;

-- only the row trigger (running as the owner) may say the row is done:
-- anyone who could would make the next statement skip its batch
SELECT has_function_privilege('public', 'firstsight.ingest_row_done()', 'EXECUTE') AS public_may_mark_done;
