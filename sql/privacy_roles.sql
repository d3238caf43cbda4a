-- Least privilege: each role attempting every forbidden action gets
-- permission denied; a manager sees only their projects.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
SET IntervalStyle = postgres;
\set VERBOSITY terse

SELECT setup_roles();
SELECT setup_roles();	-- idempotent
SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolbypassrls FROM pg_roles
WHERE rolname LIKE 'firstsight\_%' ORDER BY 1;
CREATE ROLE regress_fs_cam IN ROLE firstsight_camera;
CREATE ROLE regress_fs_analyst IN ROLE firstsight_analyst;
CREATE ROLE regress_fs_mgr_a;
CREATE ROLE regress_fs_mgr_b;
CREATE ROLE regress_fs_officer IN ROLE firstsight_privacy_officer;

SELECT create_project('Roles A', 'Asia/Shanghai', 4) AS a \gset
SELECT create_project('Roles B', 'Asia/Shanghai', 4) AS b \gset
INSERT INTO camera VALUES (:a, 'gate', 'entrance'), (:b, 'gate', 'entrance');
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked, photo) VALUES
	(:a, 'gate', '2024-03-01 10:00+08', '[1,0,0,0]', 0.8, false, '\x01'),
	(:b, 'gate', '2024-03-01 10:00+08', '[0,1,0,0]', 0.8, false, '\x02'),
	(:b, 'gate', '2024-03-01 10:05+08', '[0,0,1,0]', 0.8, false, '\x03');
SELECT grant_project('regress_fs_mgr_a', :a);
SELECT grant_project('regress_fs_mgr_b', :b);
SELECT grant_project('regress_fs_mgr_b', :b);	-- already granted
SELECT grant_project('regress_fs_nobody', :a);
SELECT grant_project('firstsight_analyst', :a);
SELECT grant_analyst('regress_fs_analyst', :a);	-- analysts read their granted projects (issue 16)
SELECT grant_project('regress_fs_mgr_a', -1);
-- a grant to a role dropped since stays in project_access and must not break
-- row-level security for the other managers (the queries below run after it)
CREATE ROLE regress_fs_gone;
SELECT grant_project('regress_fs_gone', :b) IS NOT NULL AS granted;
DROP ROLE regress_fs_gone;
SELECT min(capture_id) AS cap_a FROM capture WHERE project_id = :a \gset
SELECT min(capture_id) AS cap_b FROM capture WHERE project_id = :b \gset
SELECT grant_camera('regress_fs_cam', :a);	-- cameras insert into their granted projects only

-- camera: inserts captures (ingestion runs with its own rights) and nothing else
SET SESSION AUTHORIZATION regress_fs_cam;
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, photo)
VALUES (:a, 'gate', '2024-03-01 11:00+08', '[1,0,0,0]', 0.8, false, '\x04');
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:a, 'gate', '2024-03-01 11:05+08', '[1,0,0,0]', 0.8, false) RETURNING capture_id;
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, person_id)
VALUES (:a, 'gate', '2024-03-01 11:05+08', '[1,0,0,0]', 0.8, false, 1);
INSERT INTO firstsight.capture (project_id, capture_id, camera_id, captured_at, face, quality, masked)
VALUES (:a, 999999, 'gate', '2024-03-01 11:05+08', '[1,0,0,0]', 0.8, false);
SELECT count(*) FROM firstsight.capture;
SELECT face FROM firstsight.capture;
UPDATE firstsight.capture SET quality = 1;
DELETE FROM firstsight.capture;
TRUNCATE firstsight.capture;
COPY firstsight.capture TO STDOUT;
SELECT count(*) FROM firstsight.face;
SELECT count(*) FROM firstsight.person;
SELECT count(*) FROM firstsight.visit;
SELECT count(*) FROM firstsight.hash_key;
SELECT count(*) FROM firstsight.project_settings;
SELECT firstsight.photo(:a, :cap_a, 'curious camera');
SELECT firstsight.face_embedding(:a, :cap_a, 'curious camera');
SELECT firstsight.erase_person(:a, 1, 'x');
SELECT firstsight.record_consent(:a, 1, true, 'x', 'face', NULL);
SELECT firstsight.merge_person(:a, 1, 2);
SELECT firstsight.bind_identity(:a, :cap_a, '110101199003071234', '13800138000');
SELECT * FROM firstsight.enforce_retention();
SELECT firstsight.setup_roles();
SELECT firstsight.grant_project('regress_fs_cam', :a);
RESET SESSION AUTHORIZATION;
SELECT count(*) AS captures_a FROM capture WHERE project_id = :a;
SELECT count(*) AS persons_a FROM person WHERE project_id = :a;

-- analyst: the installed BI views, nothing else
SET SESSION AUTHORIZATION regress_fs_analyst;
SELECT count(*) > 0 AS reads_views FROM firstsight.project_settings;
SELECT count(*) FROM firstsight.capture;
SELECT count(*) FROM firstsight.face;
SELECT count(*) FROM firstsight.person;
SELECT count(*) FROM firstsight.visit;
SELECT count(*) FROM firstsight.project;
SELECT count(*) FROM firstsight.hash_key;
SELECT count(*) FROM firstsight.consent;
SELECT count(*) FROM firstsight.biometric_access_log;
SELECT count(*) FROM firstsight.compliance;
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:a, 'gate', '2024-03-01 11:05+08', '[1,0,0,0]', 0.8, false);
SELECT firstsight.photo(:a, :cap_a, 'report');
SELECT firstsight.face_embedding(:a, :cap_a, 'report');
SELECT firstsight.erase_person(:a, 1, 'x');
SELECT firstsight.configure(:a, 'visit_gap', '1 hour');
RESET SESSION AUTHORIZATION;

-- manager of A: A's non-biometric rows, zero rows of B
SET SESSION AUTHORIZATION regress_fs_mgr_a;
SELECT name FROM firstsight.project ORDER BY 1;
SELECT count(*) AS captures, count(*) FILTER (WHERE project_id = :b) AS of_b
FROM (SELECT project_id, capture_id, captured_at, person_id, visit_id, expires_at FROM firstsight.capture_log) c;
SELECT count(*) FILTER (WHERE project_id = :a) AS persons_a, count(*) FILTER (WHERE project_id = :b) AS persons_b FROM firstsight.person;
SELECT count(*) FILTER (WHERE project_id = :b) AS visits_b FROM firstsight.visit;
SELECT count(*) FILTER (WHERE project_id = :b) AS cameras_b FROM firstsight.camera;
SELECT count(*) FILTER (WHERE project_id = :b) AS channels_b FROM firstsight.channel;
SELECT count(*) FILTER (WHERE project_id = :b) AS deals_b FROM firstsight.deal;
SELECT count(*) FROM firstsight.capture_log WHERE project_id = :b;
SELECT project_id = :a AS own FROM firstsight.project_access;
SELECT face FROM firstsight.capture;
SELECT photo FROM firstsight.capture;
SELECT * FROM firstsight.capture;
SELECT count(*) FROM firstsight.face;
SELECT count(*) FROM firstsight.identity;
SELECT count(*) FROM firstsight.hash_key;
SELECT count(*) FROM firstsight.consent;
UPDATE firstsight.person SET category = 'staff';
DELETE FROM firstsight.visit;
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:a, 'gate', '2024-03-01 11:05+08', '[1,0,0,0]', 0.8, false);
SELECT firstsight.photo(:b, :cap_b, 'dispute 7');
SELECT firstsight.face_embedding(:a, :cap_a, 'dispute 7');
SELECT firstsight.erase_person(:a, 1, 'x');
SELECT firstsight.grant_project('regress_fs_mgr_a', :b);
RESET SESSION AUTHORIZATION;
-- manager of B sees B only
SET SESSION AUTHORIZATION regress_fs_mgr_b;
SELECT name FROM firstsight.project ORDER BY 1;
SELECT count(*) FILTER (WHERE project_id = :a) AS captures_a, count(*) FILTER (WHERE project_id = :b) AS captures_b
FROM (SELECT project_id FROM firstsight.capture_log) c;
RESET SESSION AUTHORIZATION;
-- revoking a project hides it again
SELECT revoke_project('regress_fs_mgr_b', :b);
SET SESSION AUTHORIZATION regress_fs_mgr_b;
SELECT count(*) FROM firstsight.project;
RESET SESSION AUTHORIZATION;

-- privacy officer: consent, erasure, audit; never raw tables of biometric data
SET SESSION AUTHORIZATION regress_fs_officer;
SELECT count(*) >= 2 AS sees_projects FROM firstsight.project;
SELECT count(*) FROM firstsight.consent;
SELECT count(*) FROM firstsight.erasure_log;
SELECT count(*) FROM firstsight.biometric_access_log;
SELECT count(*) FROM firstsight.capture_log WHERE expires_at IS NOT NULL AND project_id = :a;
SELECT face FROM firstsight.capture;
SELECT photo FROM firstsight.capture;
SELECT count(*) FROM firstsight.face;
SELECT count(*) FROM firstsight.hash_key;
SELECT count(*) FROM firstsight.identity;
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:a, 'gate', '2024-03-01 11:05+08', '[1,0,0,0]', 0.8, false);
UPDATE firstsight.consent SET given = true;
DELETE FROM firstsight.erasure_log;
DELETE FROM firstsight.biometric_access_log;
INSERT INTO firstsight.erasure_log VALUES (DEFAULT, 1, 1, 'request', 'forged', DEFAULT, now(), now(), 0, 0, 0);
UPDATE firstsight.person SET category = 'staff';
SELECT firstsight.merge_person(:a, 1, 2);
SELECT firstsight.setup_roles();
SELECT firstsight.grant_project('regress_fs_officer', :a);
RESET SESSION AUTHORIZATION;

-- the HMAC secret: no firstsight role has any privilege on it; every SECURITY DEFINER function pins search_path
SELECT r.rolname, has_table_privilege(r.rolname, 'firstsight.hash_key', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') AS any
FROM pg_roles r WHERE r.rolname LIKE 'firstsight\_%' ORDER BY 1;
SELECT count(*) AS definer_without_search_path FROM pg_proc p
WHERE p.pronamespace = 'firstsight'::regnamespace AND p.prosecdef
  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
                  WHERE c LIKE 'search_path=%' AND c LIKE '%pg_temp' AND c NOT LIKE '%public%' AND c NOT LIKE '%$user%');
SELECT count(*) AS definer_callable_by_public FROM pg_proc p
WHERE p.pronamespace = 'firstsight'::regnamespace AND p.prosecdef AND has_function_privilege('public', p.oid, 'EXECUTE');
-- who may call each SECURITY DEFINER function
SELECT p.oid::regprocedure AS function,
       string_agg(substr(r.rolname, 12), ', ' ORDER BY r.rolname) AS callers
FROM pg_proc p JOIN pg_roles r ON r.rolname LIKE 'firstsight\_%' AND has_function_privilege(r.rolname, p.oid, 'EXECUTE')
WHERE p.pronamespace = 'firstsight'::regnamespace AND p.prosecdef
GROUP BY p.oid ORDER BY 1::text;

RESET SESSION AUTHORIZATION;
DROP ROLE regress_fs_cam, regress_fs_analyst, regress_fs_mgr_a, regress_fs_mgr_b, regress_fs_officer;
