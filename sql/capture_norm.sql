-- Faces that can never be matched (issue 14 #1): a zero vector, or one whose
-- squared norm exceeds the float4 range.  Such faces made a new person and a
-- visitor.new event each (70 captures of [3e38,...], 70 persons).  Now the
-- camera's statement is refused with a clear error that shows no value, and
-- nothing is stored: single-row INSERT, multi-row INSERT and COPY, as the camera.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
\set VERBOSITY default
-- a fixed project id, so messages naming it do not depend on other tests; the
-- sequence is put back at the end, so later files' project ids do not depend on this one
SELECT last_value AS seq_last, is_called AS seq_called FROM firstsight.project_id_seq \gset
SELECT setval('firstsight.project_id_seq', 950) IS NOT NULL AS ok;
SELECT setup_roles() IS NOT NULL AS roles;
CREATE ROLE regress_fs_norm_cam IN ROLE firstsight_camera;
SELECT create_project('Norms', dims => 4) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance');
SELECT grant_camera('regress_fs_norm_cam', :p) IS NOT NULL AS granted;
CREATE FUNCTION pg_temp.written() RETURNS text LANGUAGE sql AS $$
	SELECT format('captures %s, persons %s, visits %s, gallery %s, outbox %s',
		(SELECT count(*) FROM firstsight.capture WHERE project_id = 951),
		(SELECT count(*) FROM firstsight.person WHERE project_id = 951),
		(SELECT count(*) FROM firstsight.visit WHERE project_id = 951),
		(SELECT count(*) FROM firstsight.face WHERE project_id = 951),
		(SELECT count(*) FROM firstsight.outbox WHERE project_id = 951)) $$;
-- the events are written for a subscribed webhook
INSERT INTO webhook (project_id, url, secret, events)
	VALUES (:p, 'https://crm.example.com/hook', 'norm-secret-0123456789abcdef', '{visitor.new}');

SELECT face_norm_problem('[3e38,0,0,0]') AS big, face_norm_problem('[2e19,0,0,0]') AS just_over,
       face_norm_problem('[1.8e19,0,0,0]') AS just_under, face_norm_problem('[0,0,0,0]') AS zero,
       face_norm_problem('[1e-45,0,0,0]') AS denormal, face_norm_problem('[0.5,0.5,0.5,0.5]') AS unit;

-- the camera, one capture per statement, 70 times: 70 errors, nothing stored
SET SESSION AUTHORIZATION regress_fs_norm_cam;
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (951, 'gate', '2024-03-01 10:00+08', '[3e38,3e38,3e38,3e38]', 0.9, false);
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (951, 'gate', '2024-03-01 10:00+08', '[0,0,0,0]', 0.9, false);
RESET SESSION AUTHORIZATION;
\set VERBOSITY terse
SET SESSION AUTHORIZATION regress_fs_norm_cam;
DO $$
DECLARE
	refused int := 0;
BEGIN
	FOR i IN 1 .. 70 LOOP
		BEGIN
			EXECUTE format($q$INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
				VALUES (951, 'gate', '2024-03-01 10:00+08'::timestamptz + %s * interval '1 minute', '[3e38,%s,-3e38,1]', 0.9, false)$q$, i, i);
		EXCEPTION WHEN numeric_value_out_of_range THEN
			refused := refused + 1;
		END;
	END LOOP;
	RAISE NOTICE '% of 70 captures refused', refused;
END $$;
-- a multi-row INSERT with one such face among good ones: all refused
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(951, 'gate', '2024-03-01 11:00+08', '[1,0,0,0]', 0.9, false),
	(951, 'gate', '2024-03-01 11:01+08', '[0,0,0,0]', 0.9, false),
	(951, 'gate', '2024-03-01 11:02+08', '[0,1,0,0]', 0.9, false);
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(951, 'gate', '2024-03-01 11:00+08', '[1,0,0,0]', 0.9, false),
	(951, 'gate', '2024-03-01 11:02+08', '[-3e38,1,1,1]', 0.9, false);
RESET SESSION AUTHORIZATION;
SELECT pg_temp.written();

-- COPY, as the camera
\set VERBOSITY default
SET SESSION AUTHORIZATION regress_fs_norm_cam;
COPY firstsight.capture (project_id, camera_id, captured_at, face, quality, masked) FROM stdin;
951	gate	2024-03-01 12:00+08	[1,0,0,0]	0.9	f
951	gate	2024-03-01 12:01+08	[3e38,3e38,0,0]	0.9	f
\.
COPY firstsight.capture (project_id, camera_id, captured_at, face, quality, masked) FROM stdin;
951	gate	2024-03-01 12:00+08	[0,0,0,0]	0.9	f
951	gate	2024-03-01 12:01+08	[0,1,0,0]	0.9	f
\.
RESET SESSION AUTHORIZATION;
SELECT pg_temp.written();

-- faces of any ordinary size still go in: tiny, large but within range, denormal
SET SESSION AUTHORIZATION regress_fs_norm_cam;
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(951, 'gate', '2024-03-01 13:00+08', '[1e-45,0,0,0]', 0.9, false),
	(951, 'gate', '2024-03-01 13:01+08', '[9e18,9e18,0,0]', 0.9, false),
	(951, 'gate', '2024-03-01 13:02+08', '[0.5,0.5,0.5,0.5]', 0.9, false);
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (951, 'gate', '2024-03-01 13:03+08', '[0,0,0,1e-20]', 0.9, false);
RESET SESSION AUTHORIZATION;
SELECT pg_temp.written();

DELETE FROM webhook WHERE project_id = :p;
DROP ROLE regress_fs_norm_cam;
SELECT setval('firstsight.project_id_seq', :seq_last, :'seq_called'::boolean) IS NOT NULL AS ok;
