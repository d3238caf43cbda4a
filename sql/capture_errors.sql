-- Bad camera input: a clear error and nothing written.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
\set VERBOSITY default

-- a fixed project id, so messages naming it do not depend on other tests
SELECT setval('firstsight.project_id_seq', 900) IS NOT NULL AS ok;
SELECT create_project('Errors', dims => 4) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance');
CREATE FUNCTION pg_temp.written() RETURNS text LANGUAGE sql AS $$
	SELECT format('captures %s, persons %s, visits %s, gallery %s',
		(SELECT count(*) FROM firstsight.capture WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Errors')),
		(SELECT count(*) FROM firstsight.person WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Errors')),
		(SELECT count(*) FROM firstsight.visit WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Errors')),
		(SELECT count(*) FROM firstsight.face WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Errors'))) $$;

-- unknown project
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (-7, 'gate', '2024-03-01 10:00+08', '[1,0,0,0]', 0.9, false);
-- unknown camera
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'lobby', '2024-03-01 10:00+08', '[1,0,0,0]', 0.9, false);
-- wrong dimensions
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 10:00+08', '[1,0,0,0,0,0,0,0]', 0.9, false);
-- no face
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 10:00+08', NULL, 0.9, false);
-- captured_at missing, or far in the future
INSERT INTO capture (project_id, camera_id, face, quality, masked)
	VALUES (:p, 'gate', '[1,0,0,0]', 0.9, false);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2999-01-01 10:00+08', '[1,0,0,0]', 0.9, false);
-- a clock a minute fast is tolerated (max_clock_skew, 5 minutes by default)
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', now() + interval '1 minute', '[0,0,0,1]', 0.9, false);
-- quality outside 0-1, or missing
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 10:00+08', '[1,0,0,0]', 1.5, false);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 10:00+08', '[1,0,0,0]', -0.1, false);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 10:00+08', '[1,0,0,0]', 'NaN', false);
INSERT INTO capture (project_id, camera_id, captured_at, face, masked)
	VALUES (:p, 'gate', '2024-03-01 10:00+08', '[1,0,0,0]', false);
-- masked must be true or false
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 10:00+08', '[1,0,0,0]', 0.5, NULL);
-- the matching columns belong to firstsight
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked, person_id)
	VALUES (:p, 'gate', '2024-03-01 10:00+08', '[1,0,0,0]', 0.5, false, 1);
SELECT pg_temp.written();

-- one bad row fails the whole multi-row INSERT
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'gate', '2024-03-01 10:00+08', '[1,0,0,0]', 0.9, false),
	(:p, 'gate', '2024-03-01 10:01+08', '[0,1,0,0]', 0.9, false),
	(:p, 'gate', '2024-03-01 10:02+08', '[0,0,1,0]', 7, false);
SELECT pg_temp.written();

-- and the whole COPY: no half-processed rows are left behind
ALTER TABLE capture ALTER COLUMN project_id SET DEFAULT :p;
COPY capture (camera_id, captured_at, face, quality, masked) FROM stdin;
gate	2024-03-01 11:00+08	[1,0,0,0]	0.9	f
gate	2024-03-01 11:01+08	[0,1,0,0]	0.9	f
gate	2024-03-01 11:02+08	[0,0,1]	0.9	f
\.
COPY capture (camera_id, captured_at, face, quality, masked) FROM stdin;
gate	2024-03-01 11:00+08	[1,0,0,0]	0.9	f
gate	2024-03-01 11:01+08	[0,1,0,0]	0.9	f
door	2024-03-01 11:02+08	[0,0,1,0]	0.9	f
\.
ALTER TABLE capture ALTER COLUMN project_id DROP DEFAULT;
SELECT pg_temp.written();

-- errors never show a face: no embedding text in any message above
-- (the error details name the camera and time only)
