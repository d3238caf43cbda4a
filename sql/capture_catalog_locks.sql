-- issue 21: a camera's INSERT locks no role catalog.  Every capture used to
-- lock pg_authid and pg_db_role_setting (through pg_roles in the
-- camera-project check); the check now reads the role cache, and still
-- refuses a camera inserting into a project it was not granted.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
-- (fixed project ids; each capture is rolled back and the sequences are put
-- back at the end, so later files' ids do not depend on this one)
CREATE TEMP TABLE lk_seq AS
	SELECT format('%I.%I', schemaname, sequencename) AS seq, last_value FROM pg_sequences WHERE schemaname = 'firstsight';
SELECT setval('firstsight.project_id_seq', 960) IS NOT NULL AS ok;
SELECT setup_roles() IS NOT NULL AS roles;
CREATE ROLE regress_lk_cam LOGIN IN ROLE firstsight_camera;
SELECT create_project('locks', 'Asia/Shanghai', 4) AS p \gset
SELECT create_project('locks other', 'Asia/Shanghai', 4) AS q \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance'), (:q, 'gate', 'entrance');
SELECT grant_camera('regress_lk_cam', :p) AS granted;
-- the catalog tables (and their indexes) a transaction holds locks on
-- (system catalogs have OIDs below 16384; pg_locks is the query's own)
CREATE FUNCTION pg_temp.catalog_locks() RETURNS TABLE (relation text, mode text)
	LANGUAGE sql AS $$
	SELECT l.relation::regclass::text, l.mode FROM pg_locks l
	WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation'
	  AND l.relation < 16384 AND l.relation <> 'pg_catalog.pg_locks'::regclass
	ORDER BY 1, 2 $$;

-- the camera, one capture as it sends them (a new person; the same person
-- again), each in a transaction of its own: no catalog table locked
SET ROLE regress_lk_cam;
BEGIN;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality) VALUES (:p, 'gate', now() - interval '1 minute', '[1,0,0,0]', 0.9);
SELECT * FROM pg_temp.catalog_locks();
ROLLBACK;
BEGIN;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality) VALUES (:p, 'gate', now() - interval '1 minute', '[1,0,0,0]', 0.9);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality) VALUES (:p, 'gate', now(), '[1,0.01,0,0]', 0.9);
SELECT * FROM pg_temp.catalog_locks();
ROLLBACK;
-- ... and a batch
BEGIN;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality)
VALUES (:p, 'gate', now(), '[0,1,0,0]', 0.9), (:p, 'gate', now(), '[0,0,1,0]', 0.9);
SELECT * FROM pg_temp.catalog_locks();
ROLLBACK;
-- the camera into a project it was not granted: refused, one row or in a batch
INSERT INTO capture (project_id, camera_id, captured_at, face, quality) VALUES (:q, 'gate', now(), '[1,0,0,0]', 0.9);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality)
VALUES (:p, 'gate', now(), '[0,0,0,1]', 0.9), (:q, 'gate', now(), '[0,1,0,0]', 0.9);
RESET ROLE;
SELECT count(*) AS captures FROM capture WHERE project_id IN (:p, :q);
-- a superuser is no camera: not limited, and no catalog table locked either
BEGIN;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality) VALUES (:q, 'gate', now(), '[1,0,0,0]', 0.9);
SELECT * FROM pg_temp.catalog_locks();
ROLLBACK;
-- role_is_superuser itself
SELECT role_is_superuser('regress_lk_cam') AS camera, role_is_superuser(current_user) AS me,
       role_is_superuser('regress_lk_nobody') AS nobody;

-- put back what the other files could see (the projects stay, as in capture_norm)
DELETE FROM camera_access WHERE role_name = 'regress_lk_cam';
DROP ROLE regress_lk_cam;
SELECT count(setval(seq::regclass, coalesce(last_value, 1), last_value IS NOT NULL)) > 0 AS restored FROM lk_seq;
DROP TABLE lk_seq;
