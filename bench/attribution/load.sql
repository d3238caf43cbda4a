-- bench/attribution/load.sql: load a generated month through the camera path,
-- the sales apps' calls and deal inserts; report agreement, flags and timings.
-- psql -v dir=<generator output>
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS firstsight;
SELECT firstsight.create_project('bench month', 'Asia/Shanghai', 128) AS main \gset
SELECT firstsight.create_project('bench sister', 'Asia/Shanghai', 128) AS sister \gset
UPDATE firstsight.project SET group_name = 'bench group' WHERE project_id IN (:main, :sister);
INSERT INTO firstsight.camera SELECT p, c, z FROM unnest(ARRAY[:main, :sister]) p,
	(VALUES ('gate', 'entrance'), ('sign_in', 'sign_in'), ('sand', 'sand_table'), ('model', 'model_room')) AS v(c, z);
INSERT INTO firstsight.consultant (project_id, consultant_id, name) SELECT :main, i, 'consultant ' || i FROM generate_series(1, 8) i;
INSERT INTO firstsight.channel (project_id, channel_id, kind, name, commission_rate, protection_days)
SELECT :main, c, 'agency', 'agency ' || c, 0.01 * (c - 9), 90 FROM generate_series(11, 14) c;
INSERT INTO firstsight.agent (project_id, agent_id, channel_id, name)
SELECT :main, a, 11 + (a - 21) / 3, 'agent ' || a FROM generate_series(21, 32) a;

CREATE TABLE bench_capture (project text, camera_id text, captured_at timestamptz, face text, quality real, masked boolean);
CREATE TABLE bench_visit (tperson int, tvisit int, camera_id text, captured_at timestamptz, consultant_id bigint, agent_id bigint);
CREATE TABLE bench_person (tperson int, phone text, camera_id text, captured_at timestamptz);
CREATE TABLE bench_report (agent_id bigint, phone text, reported_at timestamptz);
CREATE TABLE bench_deal (deal_key int, tperson int, co_tperson int, signed_at timestamptz, price numeric, channel_id bigint,
	agent_id bigint, consultant_id bigint, expected_channel text, expected_agent bigint, expected_flags text[], kind text, scored boolean);
\set f :dir '/captures.csv'
COPY bench_capture FROM :'f' CSV;
\set f :dir '/visits.csv'
COPY bench_visit FROM :'f' CSV;
\set f :dir '/persons.csv'
COPY bench_person FROM :'f' CSV;
\set f :dir '/reports.csv'
COPY bench_report FROM :'f' CSV;
\set f :dir '/deals.csv'
COPY bench_deal FROM :'f' CSV;
SELECT count(*) AS captures, count(DISTINCT (captured_at AT TIME ZONE 'Asia/Shanghai')::date) AS days FROM bench_capture;

-- the cameras: one INSERT per project and local day, in time order, through the ingestion trigger
\timing on
DO $$
DECLARE
	d record;
	pid bigint;
BEGIN
	FOR d IN SELECT DISTINCT project, (captured_at AT TIME ZONE 'Asia/Shanghai')::date AS day FROM bench_capture ORDER BY 2, 1 LOOP
		SELECT project_id INTO pid FROM firstsight.project WHERE name = 'bench ' || CASE WHEN d.project = 'main' THEN 'month' ELSE 'sister' END;
		INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
		SELECT pid, camera_id, captured_at, face::firstsight.embedding, quality, masked FROM bench_capture
		WHERE project = d.project AND (captured_at AT TIME ZONE 'Asia/Shanghai')::date = d.day ORDER BY captured_at;
	END LOOP;
END
$$;
\timing off
SELECT count(*) AS persons, sum(visits) AS visits FROM firstsight.person WHERE project_id = :main AND merged_into IS NULL;

-- truth person -> database person (by the first capture of each truth visit)
CREATE TABLE bench_map AS
SELECT b.tperson, b.tvisit, c.person_id, c.visit_id, b.consultant_id, b.agent_id
FROM bench_visit b JOIN firstsight.capture c ON c.project_id = :main AND c.camera_id = b.camera_id AND c.captured_at = b.captured_at;
SELECT count(*) AS truth_visits, count(DISTINCT visit_id) AS db_visits,
       count(DISTINCT tperson) AS truth_persons, count(DISTINCT person_id) AS db_persons,
       (SELECT count(*) FROM (SELECT tperson FROM bench_map GROUP BY tperson HAVING count(DISTINCT person_id) > 1) s) AS split_persons,
       (SELECT count(*) FROM (SELECT person_id FROM bench_map GROUP BY person_id HAVING count(DISTINCT tperson) > 1) s) AS joined_persons
FROM bench_map;

-- the sales apps: phone binding at the subscription desk, reports, receptions
SELECT count(firstsight.bind_identity(:main, c.capture_id, NULL, b.phone)) AS bound
FROM bench_person b JOIN firstsight.capture c ON c.project_id = :main AND c.camera_id = b.camera_id AND c.captured_at = b.captured_at;
-- reports are the office's records of the month, dated as filed: a report counts
-- from when firstsight received it (file_report would date them today), so they
-- are loaded as a restore does (session_replication_role = replica)
SET session_replication_role = replica;
INSERT INTO firstsight.report (project_id, agent_id, phone_hash, phone_masked_hash, reported_at, created_at)
SELECT :main, agent_id, CASE WHEN phone LIKE '%*%' THEN NULL ELSE firstsight.identity_hash('phone', firstsight.normalize_phone(phone)) END,
       firstsight.identity_hash('phone_masked', firstsight.phone_mask(phone)), reported_at, reported_at
FROM bench_report;
RESET session_replication_role;
SELECT count(*) AS reports FROM firstsight.report WHERE project_id = :main;
SELECT count(*) AS received FROM (SELECT firstsight.receive(:main, m.visit_id, m.consultant_id, m.agent_id) FROM bench_map m) s;

-- the deals, in signing order, each timed (the attribution trigger runs inside the INSERT)
CREATE TABLE bench_deal_time (deal_key int, deal_id bigint, ms float8);
DO $$
DECLARE
	d record;
	t0 timestamptz;
	id bigint;
	pid bigint := (SELECT project_id FROM firstsight.project WHERE name = 'bench month');
BEGIN
	FOR d IN SELECT * FROM bench_deal ORDER BY signed_at LOOP
		t0 := clock_timestamp();
		INSERT INTO firstsight.deal (project_id, person_id, co_buyer_ids, signed_at, price, channel_id, agent_id, consultant_id)
		VALUES (pid, (SELECT person_id FROM bench_map WHERE tperson = d.tperson AND tvisit = 0),
		        CASE WHEN d.co_tperson IS NULL THEN '{}'::bigint[]
		             ELSE ARRAY[(SELECT person_id FROM bench_map WHERE tperson = d.co_tperson AND tvisit = 0)] END,
		        d.signed_at, d.price, d.channel_id, d.agent_id, d.consultant_id)
		RETURNING deal_id INTO id;
		INSERT INTO bench_deal_time VALUES (d.deal_key, id, extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
END
$$;

-- agreement with the truth, over the deals signed in the month (the warm-up's are history)
CREATE TABLE bench_result AS
SELECT b.*, a.entitled_channel_id, a.entitled_agent_id, a.flags, a.rule,
       (a.entitled_channel_id = CASE WHEN b.expected_channel = 'N' THEN (SELECT channel_id FROM firstsight.channel WHERE project_id = :main AND kind = 'natural')
                                     ELSE b.expected_channel::bigint END
        AND a.entitled_agent_id IS NOT DISTINCT FROM b.expected_agent) AS agrees
FROM bench_deal b JOIN bench_deal_time t USING (deal_key)
JOIN firstsight.attribution a ON a.project_id = :main AND a.deal_id = t.deal_id AND a.is_current
WHERE b.scored;
\echo RESULT attribution agreement
SELECT count(*) AS deals, count(*) FILTER (WHERE agrees) AS agree, round(avg(agrees::int), 4) AS agreement FROM bench_result;
SELECT kind, count(*) AS deals, count(*) FILTER (WHERE NOT agrees) AS disagree FROM bench_result GROUP BY kind ORDER BY kind;
\echo RESULT flags: precision and recall per flag
WITH f(flag) AS (VALUES ('flying_order'), ('hanging_order_suspect'), ('protection_conflict'), ('consultant_conflict'),
                        ('abnormal_cycle'), ('prior_visit_elsewhere')),
s AS (SELECT f.flag,
             count(*) FILTER (WHERE f.flag = ANY (r.flags) AND f.flag = ANY (r.expected_flags)) AS tp,
             count(*) FILTER (WHERE f.flag = ANY (r.flags) AND NOT f.flag = ANY (r.expected_flags)) AS fp,
             count(*) FILTER (WHERE NOT f.flag = ANY (r.flags) AND f.flag = ANY (r.expected_flags)) AS fn
      FROM f CROSS JOIN bench_result r GROUP BY f.flag)
SELECT flag, tp, fp, fn, round(tp::numeric / nullif(tp + fp, 0), 4) AS precision, round(tp::numeric / nullif(tp + fn, 0), 4) AS recall
FROM s UNION ALL
SELECT 'all flags', sum(tp), sum(fp), sum(fn), round(sum(tp) / nullif(sum(tp + fp), 0), 4), round(sum(tp) / nullif(sum(tp + fn), 0), 4) FROM s;
\echo RESULT deals flagged wrongly (first 10)
SELECT deal_key, kind, expected_flags, flags, rule FROM bench_result WHERE NOT (flags @> expected_flags AND flags <@ expected_flags) ORDER BY deal_key LIMIT 10;
\echo RESULT attribution time per deal (ms, INSERT with its trigger)
SELECT count(*) AS deals, round(avg(ms)::numeric, 2) AS mean_ms, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p50_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p95_ms, round(max(ms)::numeric, 2) AS max_ms
FROM bench_deal_time;
\echo RESULT reattribute of the whole month
\timing on
SELECT count(*) AS deals, count(*) FILTER (WHERE changed) AS changed FROM firstsight.reattribute(:main, '2024-01-01', '2025-01-01');
\timing off
