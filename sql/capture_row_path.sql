-- The camera's common case (issue 21): a single-row INSERT matched to a known
-- person is written by ingest_row_visit in single-row statements instead of
-- the batch's visit, follow-up and gallery statements.  It must write exactly
-- what the batch writes.  The same captures go, one statement each, to two
-- projects: through the single-row path (INSERT ... VALUES) in one, and
-- through the batch trigger (INSERT ... SELECT, not known to be one row) in
-- the other; every capture, visit, person, exemplar, outbox event and rollup
-- must come out the same.  8-d faces with the geometry of masked_pairs.sql
-- (dims <= 128: match_distance 0.07, masked_masked 0.03, low_confidence_margin
-- 0.006).  Fixed project ids: the other tests see the sequence untouched.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
SELECT create_project('Row path', dims => 8, time_zone => 'Asia/Shanghai', project_id => 2101) AS a \gset
SELECT create_project('Batch path', dims => 8, time_zone => 'Asia/Shanghai', project_id => 2102) AS b \gset
INSERT INTO camera SELECT p, c, z FROM unnest(ARRAY[:a, :b]) p, (VALUES ('gate', 'entrance'), ('desk', 'sign_in')) AS x(c, z);
INSERT INTO webhook (project_id, url, events)
SELECT p, 'https://sales.example.com/hook', '{visitor.new,visitor.returned}' FROM unnest(ARRAY[:a, :b]) p;
\i sql/masked_faces.psql
-- the captures, in the order the cameras send them
CREATE TEMP TABLE script (n integer PRIMARY KEY, camera text, at timestamptz, face embedding, quality real, masked boolean, what text);
INSERT INTO script VALUES
	(1, 'gate', '2024-06-01 10:00+08', pg_temp.face(1, false), 0.8, false, 'person 1, new'),
	(2, 'desk', '2024-06-01 10:01+08', pg_temp.face(1, false, 0.05), 0.7, false, 'extends the visit'),
	(3, 'gate', '2024-06-01 10:02+08', pg_temp.face(1, false, 0.02), 0.95, false, 'extends; a better unmasked exemplar'),
	(4, 'desk', '2024-06-01 09:58+08', pg_temp.face(1, false, 0.03), 0.8, false, 'earlier: the visit starts sooner, at the desk'),
	(5, 'gate', '2024-06-01 10:03+08', pg_temp.face(1, true), 0.8, true, 'masked, matched to the unmasked face'),
	(6, 'gate', '2024-06-01 10:04+08', pg_temp.face(2, false), 0.8, false, 'person 2, new'),
	(7, 'gate', '2024-06-01 16:30+08', pg_temp.face(1, false, 0.02), 0.8, false, 'after the gap: a second visit, a recent exemplar'),
	(8, 'gate', '2024-06-01 16:30:05+08', pg_temp.face(2, false, 0.01), 0.8, false, 'person 2 with person 1: a party'),
	(9, 'desk', '2024-06-01 13:00+08', pg_temp.face(1, false, 0.01), 0.8, false, 'a visit between two: the chain is redone'),
	(10, 'desk', '2024-06-01 16:35+08', pg_temp.face(1, false, 0.45), 0.8, false, 'near the threshold: low confidence'),
	(11, 'gate', '2024-06-01 18:00+08', pg_temp.face(3, true), 0.8, true, 'person 3, new, masked'),
	(12, 'desk', '2024-06-01 18:01+08', pg_temp.face(3, true, 0.05), 0.8, true, 'masked-masked: low (a masked-only person)'),
	(13, 'desk', '2024-06-01 18:02+08', pg_temp.face(3, true, 0.2), 0.9, false, 'unmasked on the masked face: the first unmasked exemplar'),
	(14, 'gate', '2024-06-02 09:00+08', pg_temp.face(2, false, 0.02), 0.8, false, 'the next day: the retention clock moves');
SELECT n, round((s.face <=> pg_temp.face(CASE WHEN n IN (11, 12, 13) THEN 3 WHEN n IN (6, 8, 14) THEN 2 ELSE 1 END,
                                         n IN (12, 13)))::numeric, 3) AS from_first_face, what
FROM script s ORDER BY n;

-- send(p, batch): the script's captures to project p, one statement each:
-- INSERT ... VALUES (the single-row path) or INSERT ... SELECT (the batch trigger)
CREATE FUNCTION pg_temp.send(p bigint, batch boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT * FROM script ORDER BY n LOOP
		IF batch THEN
			INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
			SELECT p, r.camera, r.at, r.face, r.quality, r.masked FROM generate_series(1, 1);
		ELSE
			INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
			VALUES (p, r.camera, r.at, r.face, r.quality, r.masked);
		END IF;
	END LOOP;
END $$;
-- calls of ingest_row_visit in this transaction since calls0 (read in the
-- transaction: pending statistics are flushed only outside one)
SET track_functions = 'pl';
BEGIN;
SELECT coalesce(pg_stat_get_xact_function_calls('firstsight.ingest_row_visit'::regproc), 0) AS calls0 \gset
SELECT pg_temp.send(:a, false);
-- the row path wrote the 11 captures matched to a known person
SELECT coalesce(pg_stat_get_xact_function_calls('firstsight.ingest_row_visit'::regproc), 0) - :calls0 AS row_path_calls;
COMMIT;
BEGIN;
SELECT coalesce(pg_stat_get_xact_function_calls('firstsight.ingest_row_visit'::regproc), 0) AS calls0 \gset
SELECT pg_temp.send(:b, true);
-- (none here)
SELECT coalesce(pg_stat_get_xact_function_calls('firstsight.ingest_row_visit'::regproc), 0) - :calls0 AS row_path_calls;
COMMIT;
RESET track_functions;

-- each project's rows with its own ids as ranks (persons, visits and
-- captures were made in the same order in both)
CREATE TEMP VIEW cap AS
	SELECT c.project_id, dense_rank() OVER (PARTITION BY c.project_id ORDER BY c.capture_id) AS n,
	       dense_rank() OVER (PARTITION BY c.project_id ORDER BY c.person_id) AS person,
	       dense_rank() OVER (PARTITION BY c.project_id ORDER BY c.visit_id) AS visit,
	       round(c.match_distance::numeric, 4) AS distance, c.match_kind AS kind, round(c.match_margin::numeric, 4) AS margin,
	       c.match_low_confidence AS low, to_char(c.expires_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS expires,
	       to_char(c.photo_expires_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS photo_expires
	FROM capture c WHERE c.project_id IN (:a, :b);
CREATE TEMP VIEW vis AS
	SELECT v.project_id, (SELECT count(*) FROM visit x WHERE x.project_id = v.project_id AND x.visit_id <= v.visit_id) AS visit,
	       (SELECT count(*) FROM person x WHERE x.project_id = v.project_id AND x.person_id <= v.person_id) AS person,
	       to_char(v.started_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI:SS') AS started,
	       to_char(v.ended_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI:SS') AS ended, v.captures, v.first_camera_id AS first_camera,
	       (SELECT count(*) FROM capture x WHERE x.project_id = v.project_id AND x.capture_id <= v.first_capture_id) AS first_capture,
	       v.seen_before, (SELECT count(*) FROM visit x WHERE x.project_id = v.project_id AND x.visit_id <= v.previous_visit_id) AS previous,
	       to_char(v.previous_visit_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI:SS') AS previous_at,
	       (SELECT count(*) FROM visit x WHERE x.project_id = v.project_id AND x.visit_id <= v.party_id) AS party
	FROM visit v WHERE v.project_id IN (:a, :b);
CREATE TEMP VIEW per AS
	SELECT p.project_id, (SELECT count(*) FROM person x WHERE x.project_id = p.project_id AND x.person_id <= p.person_id) AS person,
	       to_char(p.first_seen AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS first_seen,
	       to_char(p.last_seen AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS last_seen, p.captures, p.visits,
	       to_char(p.retention_day_end AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS retention_day_end
	FROM person p WHERE p.project_id IN (:a, :b);
CREATE TEMP VIEW gal AS
	SELECT f.project_id, (SELECT count(*) FROM person x WHERE x.project_id = f.project_id AND x.person_id <= f.person_id) AS person,
	       f.kind, (SELECT count(*) FROM capture x WHERE x.project_id = f.project_id AND x.capture_id <= f.capture_id) AS capture,
	       f.quality, f.masked, to_char(f.expires_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS expires
	FROM face f WHERE f.project_id IN (:a, :b);
CREATE TEMP VIEW evt AS
	SELECT o.project_id, o.event, count(*) AS events FROM outbox o WHERE o.project_id IN (:a, :b) GROUP BY 1, 2;

-- what the row path wrote
SELECT n, person, visit, distance, kind, margin, low, expires, photo_expires FROM cap WHERE project_id = :a ORDER BY n;
SELECT visit, person, started, ended, captures, first_camera, first_capture, seen_before, previous, previous_at, party
FROM vis WHERE project_id = :a ORDER BY visit;
SELECT person, first_seen, last_seen, captures, visits, retention_day_end FROM per WHERE project_id = :a ORDER BY person;
SELECT person, kind, capture, quality, masked, expires FROM gal WHERE project_id = :a ORDER BY person, kind;
SELECT event, events FROM evt WHERE project_id = :a ORDER BY event;

-- every row of both projects as one value per row, by kind
CREATE TEMP VIEW all_rows AS
	SELECT 'capture' AS rows, project_id, to_jsonb(x) - 'project_id' AS r FROM cap x
	UNION ALL SELECT 'visit', project_id, to_jsonb(x) - 'project_id' FROM vis x
	UNION ALL SELECT 'person', project_id, to_jsonb(x) - 'project_id' FROM per x
	UNION ALL SELECT 'face', project_id, to_jsonb(x) - 'project_id' FROM gal x
	UNION ALL SELECT 'outbox', project_id, to_jsonb(x) - 'project_id' FROM evt x;
SELECT rows, count(*) FILTER (WHERE project_id = :a) AS row_path, count(*) FILTER (WHERE project_id = :b) AS batch
FROM all_rows GROUP BY rows ORDER BY rows;
-- rows of either project the other one does not have (none)
SELECT d.rows, d.r FROM (
	(SELECT rows, r FROM all_rows WHERE project_id = :a EXCEPT ALL SELECT rows, r FROM all_rows WHERE project_id = :b)
	UNION ALL
	(SELECT rows, r FROM all_rows WHERE project_id = :b EXCEPT ALL SELECT rows, r FROM all_rows WHERE project_id = :a)) d
ORDER BY d.rows, d.r::text;
-- the BI rollups of both, against their facts (no rows: exact)
SELECT * FROM rollup_check(:a) UNION ALL SELECT * FROM rollup_check(:b);
