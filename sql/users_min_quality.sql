-- Poor captures (issue 16): below min_quality a capture is stored and
-- matched but never makes a person or a gallery exemplar; one that matches
-- nobody stays unidentified (no person, no visit) and is counted in traffic.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
\set VERBOSITY terse
SET TimeZone = 'Asia/Shanghai';

SELECT create_project('Quality', 'Asia/Shanghai', 4) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance'), (:p, 'sand', 'sand_table');
SELECT configure(:p, 'min_quality', '1.5');
SELECT configure(:p, 'min_quality', 'blurry');
SELECT configure(:p, 'min_quality', '0.4');
SELECT value, is_default FROM project_settings WHERE project_id = :p AND setting = 'min_quality';
SELECT setup_roles();
CREATE ROLE regress_fs_quality_cam IN ROLE firstsight_camera;
SELECT grant_camera('regress_fs_quality_cam', :p);
SET ROLE regress_fs_quality_cam;
-- the careless camera: a helmet (0.1) through the gate, as a single row and in
-- a batch with a good capture of someone else, and a blurred back of a head
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, photo)
VALUES (:p, 'gate', '2024-07-01 10:00', '[1,0,0,0]', 0.1, false, '\x01');
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'gate', '2024-07-01 10:01', '[0,1,0,0]', 0.2, false),
	(:p, 'gate', '2024-07-01 10:02', '[0,0,1,0]', 0.9, false);
RESET ROLE;
SELECT to_char(captured_at, 'HH24:MI') AS at, quality, person_id IS NOT NULL AS person, visit_id IS NOT NULL AS visit,
       to_char(expires_at, 'YYYY-MM-DD HH24:MI') AS expires, to_char(photo_expires_at, 'YYYY-MM-DD HH24:MI') AS photo_expires
FROM capture WHERE project_id = :p ORDER BY captured_at;
SELECT count(*) AS persons FROM person WHERE project_id = :p;
SELECT count(*) AS gallery FROM face WHERE project_id = :p;
-- poor captures in one batch with a good one of the same face: the good one
-- makes the person, the poor ones join it, only the good one is an exemplar
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'gate', '2024-07-01 11:00', '[0,0,0,1]', 0.1, false),
	(:p, 'sand', '2024-07-01 11:05', '[0,0,0.01,1]', 0.8, false),
	(:p, 'sand', '2024-07-01 11:06', '[0,0,0,1]', 0.2, false);
SELECT to_char(captured_at, 'HH24:MI') AS at, quality, person_id IS NOT NULL AS person, visit_id IS NOT NULL AS visit
FROM capture WHERE project_id = :p AND captured_at >= '2024-07-01 11:00' ORDER BY captured_at;
SELECT count(DISTINCT person_id) AS persons, count(DISTINCT visit_id) AS visits
FROM capture WHERE project_id = :p AND captured_at >= '2024-07-01 11:00';
SELECT f.quality FROM face f JOIN capture c ON c.project_id = f.project_id AND c.capture_id = f.capture_id
WHERE f.project_id = :p AND c.captured_at >= '2024-07-01 11:00' ORDER BY 1;
-- a poor capture of a known person is theirs as usual (a new visit), and adds no exemplar
SELECT count(*) AS gallery_before FROM face WHERE project_id = :p \gset
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-07-01 15:00', '[0,0,1,0]', 0.1, false);
SELECT c.person_id = k.person_id AS same_person, c.visit_id <> k.visit_id AS new_visit
FROM capture c, capture k
WHERE c.project_id = :p AND c.captured_at = '2024-07-01 15:00' AND k.project_id = :p AND k.captured_at = '2024-07-01 10:02';
SELECT count(*) - :gallery_before AS new_exemplars FROM face WHERE project_id = :p;
-- traffic: 3 visits (2 persons) and 2 unidentified captures that day
SELECT day, visits, unique_persons, new_persons, unidentified_captures FROM daily_traffic WHERE project_id = :p;
-- default 0: every capture may make a person
SELECT reset_setting(:p, 'min_quality');
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-07-02 10:00', '[0.6,0.8,0,0]', 0.05, false);
SELECT person_id IS NOT NULL AS person FROM capture WHERE project_id = :p AND captured_at = '2024-07-02 10:00';
DROP OWNED BY regress_fs_quality_cam;
DROP ROLE regress_fs_quality_cam;
