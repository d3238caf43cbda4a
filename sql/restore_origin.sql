-- Rows that did not come from a camera: a restore, a replication apply or a
-- DBA's bulk load runs with session_replication_role = replica, and then no
-- firstsight trigger but the guards fires.  A camera can neither set it nor
-- forge a pre-matched capture, even if a superuser grants it the setting.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
\set VERBOSITY terse
SELECT setup_roles();
CREATE ROLE regress_fs_origin_cam IN ROLE firstsight_camera;
SELECT create_project('Origin', 'Asia/Shanghai', 4) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance');
SELECT grant_camera('regress_fs_origin_cam', :p);

-- every firstsight trigger and whether it fires under replica: only the
-- guards (enabled ALWAYS); ingestion, attribution, rollups, retention
-- dating, history and notification triggers are origin-only
SELECT c.relname, t.tgname, t.tgenabled
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = 'firstsight'::regnamespace AND NOT t.tgisinternal AND t.tgparentid = 0
ORDER BY t.tgenabled, c.relname, t.tgname;

-- the camera: cannot set the mode, cannot write what ingestion fills
SET ROLE regress_fs_origin_cam;
SET session_replication_role = replica;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, person_id, visit_id, match_distance)
VALUES (:p, 'gate', now(), '[1,0,0,0]', 0.8, 1, 1, 0);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked, photo)
VALUES (:p, 'gate', now(), '[1,0,0,0]', 0.8, false, NULL);
RESET ROLE;
-- the owner at origin: ingestion refuses pre-filled rows
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, person_id, visit_id, match_distance)
VALUES (:p, 'gate', now(), '[1,0,0,0]', 0.8, 1, 1, 0);

-- a superuser grants the camera the setting by mistake: the camera's
-- captures under replica are still refused (it may not write person_id)
GRANT SET ON PARAMETER session_replication_role TO regress_fs_origin_cam;
SET ROLE regress_fs_origin_cam;
SET session_replication_role = replica;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', now(), '[1,0,0,0]', 0.8, false);
RESET session_replication_role;
RESET ROLE;
REVOKE SET ON PARAMETER session_replication_role FROM regress_fs_origin_cam;
SELECT count(*) AS captures FROM capture WHERE project_id = :p;

-- the DBA's load under replica: rows kept as they are, nothing else happens
SELECT count(*) AS outbox_before FROM outbox WHERE project_id = :p \gset
SELECT count(*) AS history_before FROM change_log WHERE project_id = :p \gset
SET session_replication_role = replica;
INSERT INTO person (project_id, person_id, first_seen, last_seen, visits, captures)
VALUES (:p, 900001, '2024-03-01 10:00+08', '2024-03-01 10:00+08', 1, 1);
INSERT INTO visit (project_id, visit_id, person_id, started_at, ended_at, captures)
VALUES (:p, 900001, 900001, '2024-03-01 10:00+08', '2024-03-01 10:00+08', 1);
INSERT INTO capture (project_id, capture_id, camera_id, captured_at, face, quality, masked, person_id, visit_id,
                     match_distance, expires_at)
VALUES (:p, 900001, 'gate', '2024-03-01 10:00+08', '[0,1,0,0]', 0.8, false, 900001, 900001, 0.01, '2024-04-01');
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price)
VALUES (:p, 900001, 900001, '2024-03-10 10:00+08', 1000000);
RESET session_replication_role;
SELECT person_id, visit_id, match_distance, expires_at AT TIME ZONE 'UTC' AS expires_utc
FROM capture WHERE project_id = :p AND capture_id = 900001;
SELECT count(*) AS persons FROM person WHERE project_id = :p;
SELECT count(*) AS attributions FROM attribution WHERE project_id = :p;
SELECT count(*) - :outbox_before AS new_events FROM outbox WHERE project_id = :p;
SELECT count(*) - :history_before AS new_history FROM change_log WHERE project_id = :p;
SELECT count(*) AS rollup_rows_of_the_day FROM rollup_day WHERE project_id = :p AND day = '2024-03-01';

-- the audit records: no TRUNCATE, at origin or under replica, even by a superuser
SELECT record_consent(:p, 900001, true, 'kiosk', 'face', NULL) > 0 AS recorded;
TRUNCATE consent;
TRUNCATE erasure_log;
TRUNCATE retention_log;
TRUNCATE biometric_access_log;
SET session_replication_role = replica;
TRUNCATE consent;
DELETE FROM consent WHERE project_id = :p;
UPDATE consent SET method = 'forged' WHERE project_id = :p;
RESET session_replication_role;
SELECT count(*) AS consents FROM consent WHERE project_id = :p;

DROP ROLE regress_fs_origin_cam;
