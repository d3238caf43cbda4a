-- bench/attribution/rollup_capture_cost.sql: what the BI rollup triggers cost the
-- camera path.  The month load.sql loaded (table bench_capture) goes in again, one
-- INSERT per local day, into a new project inside a rolled-back transaction;
-- -v off=true disables the rollup triggers on visit and person first.  Prints CPU
-- (this backend's, /proc/self/stat) and wall ms per capture; run off=true and
-- off=false alternately.
--   psql -d bench_attribution -v off=true -f bench/attribution/rollup_capture_cost.sql
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
BEGIN;
CREATE FUNCTION pg_temp.cpu_ms() RETURNS float8 LANGUAGE sql VOLATILE AS $$
	SELECT ((f[14])::float8 + (f[15])::float8) * 10
	FROM (SELECT string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ') AS f0) s,
	     LATERAL (SELECT ARRAY['', ''] || f0 AS f) t $$;
SELECT firstsight.create_project('ab', 'Asia/Shanghai', 128) AS ab \gset
INSERT INTO firstsight.camera SELECT :ab, camera_id, zone FROM firstsight.camera WHERE project_id = (SELECT project_id FROM firstsight.project WHERE name = 'bench month');
\if :off
ALTER TABLE firstsight.visit DISABLE TRIGGER rollup_visit_insert;
ALTER TABLE firstsight.visit DISABLE TRIGGER rollup_visit_update;
ALTER TABLE firstsight.visit DISABLE TRIGGER rollup_visit_delete;
ALTER TABLE firstsight.person DISABLE TRIGGER rollup_person_insert;
ALTER TABLE firstsight.person DISABLE TRIGGER rollup_person_update;
\endif
SELECT pg_temp.cpu_ms() AS c0, clock_timestamp() AS t0 \gset
DO $$
DECLARE d date;
BEGIN
	FOR d IN SELECT DISTINCT (captured_at AT TIME ZONE 'Asia/Shanghai')::date FROM bench_capture WHERE project = 'main' ORDER BY 1 LOOP
		INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
		SELECT (SELECT project_id FROM firstsight.project WHERE name = 'ab'), camera_id, captured_at, face::firstsight.embedding, quality, masked
		FROM bench_capture WHERE project = 'main' AND (captured_at AT TIME ZONE 'Asia/Shanghai')::date = d ORDER BY captured_at;
	END LOOP;
END $$;
SELECT :'off' AS rollup_triggers_off, count(*) AS captures, round(((pg_temp.cpu_ms() - :c0) / count(*))::numeric, 3) AS cpu_ms_per_capture,
       round((extract(epoch FROM clock_timestamp() - :'t0') * 1000 / count(*))::numeric, 3) AS wall_ms_per_capture
FROM firstsight.capture WHERE project_id = :ab;
ROLLBACK;
