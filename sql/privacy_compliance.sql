-- The compliance view: biometric rows by project, category and age; overdue
-- expirations (zero after enforce_retention); erasure requests and how long
-- they took; persons with biometric data per operator against the threshold.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
SET IntervalStyle = postgres;
-- earlier tests' biometric data goes first, so the counts below are this file's own
SELECT count(*) >= 0 AS flushed FROM enforce_retention(1000000, '2100-01-01');

SELECT create_project('Compliance 1', 'Asia/Shanghai', 4) AS p1 \gset
SELECT create_project('Compliance 2', 'Asia/Shanghai', 4) AS p2 \gset
UPDATE project SET group_name = 'Compliance Group' WHERE project_id IN (:p1, :p2);
INSERT INTO camera VALUES (:p1, 'gate', 'entrance'), (:p2, 'gate', 'entrance');
-- two visitors long ago (overdue by now), one visitor today, one consented, one buyer
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked, photo) VALUES
	(:p1, 'gate', '2024-03-01 10:00+08', '[1,0,0,0]', 0.8, false, '\x01'),
	(:p1, 'gate', '2024-03-01 10:05+08', '[0,1,0,0]', 0.8, false, NULL),
	(:p2, 'gate', now() - interval '1 hour', '[0,0,1,0]', 0.8, false, '\x02'),
	(:p2, 'gate', now() - interval '2 days', '[0,0,0,1]', 0.8, false, NULL),
	(:p2, 'gate', now() - interval '40 days', '[1,1,0,0]', 0.8, false, NULL);
SELECT record_consent(:p2, (SELECT person_id FROM capture WHERE project_id = :p2 AND face = '[0,0,0,1]'),
                      true, 'kiosk', 'face', 'k1') > 0 AS ok;
INSERT INTO deal (project_id, person_id, signed_at, price)
SELECT :p2, person_id, now() - interval '30 days', 100 FROM capture WHERE project_id = :p2 AND face = '[1,1,0,0]';
CREATE VIEW pg_temp.c AS
	SELECT section, pr.name AS project, operator, category, age, embeddings, photos, gallery_faces, overdue, persons,
	       erasure_requests, longest_erasure < interval '1 minute' AS quick, warning
	FROM firstsight.compliance c LEFT JOIN firstsight.project pr USING (project_id)
	WHERE operator = 'Compliance Group';

SELECT * FROM pg_temp.c ORDER BY section, project, category, age;
-- enforce_retention leaves nothing overdue
SELECT captures_erased, photos_erased, faces_erased FROM enforce_retention();
SELECT * FROM pg_temp.c ORDER BY section, project, category, age;
SELECT coalesce(sum(overdue), 0) AS overdue_everywhere FROM compliance;
-- an erasure request and how long it took
SELECT faces_erased FROM erase_person(:p2, (SELECT person_id FROM capture WHERE project_id = :p2 AND captured_at > now() - interval '1 day'), 'request 9');
SELECT * FROM pg_temp.c WHERE section <> 'biometric data' ORDER BY section, project;

-- the filing threshold: a warning at 100,000 persons per operator (here lowered to 1 and 2)
SELECT configure(:p2, 'filing_threshold', '2');
SELECT section, persons, warning FROM pg_temp.c WHERE section = 'operator persons';
SELECT configure(:p2, 'filing_threshold', '1');
SELECT section, persons, warning FROM pg_temp.c WHERE section = 'operator persons';
SELECT reset_setting(:p2, 'filing_threshold');
SELECT section, persons, warning FROM pg_temp.c WHERE section = 'operator persons';
-- the view has no biometric column
SELECT count(*) AS biometric_columns FROM information_schema.columns
WHERE table_schema = 'firstsight' AND table_name = 'compliance' AND (data_type = 'bytea' OR udt_name = 'embedding');
