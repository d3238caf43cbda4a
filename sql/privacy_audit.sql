-- Audited access: photos and embeddings only through photo() and
-- face_embedding(), each read logged with who, when, which person and why.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
SET IntervalStyle = postgres;
\set VERBOSITY terse

SELECT setup_roles();
CREATE ROLE regress_fs_audit_mgr;
CREATE ROLE regress_fs_audit_officer IN ROLE firstsight_privacy_officer;
SELECT create_project('Audit A', 'Asia/Shanghai', 4) AS a \gset
SELECT create_project('Audit B', 'Asia/Shanghai', 4) AS b \gset
INSERT INTO camera VALUES (:a, 'gate', 'entrance'), (:b, 'gate', 'entrance');
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked, photo) VALUES
	(:a, 'gate', '2024-03-01 10:00+08', '[1,0,0,0]', 0.8, false, '\xcafe'),
	(:a, 'gate', '2024-03-01 10:01+08', '[0,1,0,0]', 0.8, false, '\xbeef'),
	(:b, 'gate', '2024-03-01 10:00+08', '[0,0,1,0]', 0.8, false, '\xf00d');
SELECT grant_project('regress_fs_audit_mgr', :a);
SELECT min(capture_id) AS c1, max(capture_id) AS c2 FROM capture WHERE project_id = :a \gset
SELECT min(capture_id) AS cb FROM capture WHERE project_id = :b \gset
CREATE VIEW pg_temp.log AS
	SELECT dense_rank() OVER (ORDER BY l.person_id) AS person, l.accessed_by, l.what, l.purpose, l.returned,
	       l.capture_id - (SELECT min(capture_id) FROM firstsight.capture) + 1 AS capture,
	       l.accessed_at <= clock_timestamp() AS timed, l.access_id
	FROM firstsight.biometric_access_log l
	WHERE l.project_id IN (SELECT project_id FROM firstsight.project WHERE name LIKE 'Audit %');

-- the manager reads a photo of their project for a dispute
SET SESSION AUTHORIZATION regress_fs_audit_mgr;
SELECT firstsight.photo(:a, :c1, 'dispute 2024-031: agency claims the first visit');
SELECT firstsight.photo(:b, :cb, 'dispute 2024-031');
SELECT firstsight.photo(:a, :c1, '');
SELECT firstsight.face_embedding(:a, :c1, 'curiosity');
RESET SESSION AUTHORIZATION;

-- the privacy officer reads an embedding and a photo, in any project
SET SESSION AUTHORIZATION regress_fs_audit_officer;
SELECT firstsight.face_embedding(:a, :c2, 'subject access request 12');
SELECT firstsight.photo(:b, :cb, 'subject access request 13');
SELECT firstsight.photo(:a, :c1, NULL);
-- a capture that does not exist: NULL, and still logged
SELECT firstsight.photo(:a, -1, 'typo check') IS NULL AS none;
-- the officer reads the log
SELECT count(*) AS log_rows FROM firstsight.biometric_access_log;
RESET SESSION AUTHORIZATION;

-- one log row per read: who, what, why, which person; refused reads return and log nothing
SELECT person, accessed_by, what, purpose, returned, timed FROM pg_temp.log ORDER BY access_id;

-- after erasure the functions return NULL, and the read is still logged
SELECT person_id AS p1 FROM capture WHERE project_id = :a AND capture_id = :c1 \gset
SELECT faces_erased FROM erase_person(:a, :p1, 'request 5');
SELECT photo(:a, :c1, 'check erasure 5') IS NULL AS photo_gone,
       face_embedding(:a, :c1, 'check erasure 5') IS NULL AS embedding_gone;
SELECT what, purpose, returned FROM pg_temp.log ORDER BY access_id DESC LIMIT 2;

-- the log holds no biometric data (no bytea or embedding column) and is append-only
SELECT count(*) AS biometric_columns FROM information_schema.columns
WHERE table_schema = 'firstsight' AND table_name IN ('biometric_access_log', 'erasure_log', 'consent', 'retention_log', 'compliance')
  AND (data_type = 'bytea' OR udt_name = 'embedding');
UPDATE biometric_access_log SET purpose = 'x';
DELETE FROM biometric_access_log;

DROP ROLE regress_fs_audit_mgr, regress_fs_audit_officer;
