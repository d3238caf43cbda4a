-- bench/attribution/views.sql: each BI view over a year of facts for many projects.
-- The year-scale facts are generated directly into person, visit, deal and
-- attribution (not through the camera path or the deal trigger: that would take
-- hours on a shared machine); the views read only these tables, so their cost is
-- the same.  The year ends today, so protection_expiring has running windows.
-- Each view is timed as a BI tool reads it: every column of every row (a
-- whole-row reference, so no aggregate is left out of the plan).
-- psql -v projects=50 -v per_day=60
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS firstsight;
SELECT setseed(0.42);
SELECT date_trunc('day', now() - interval '365 days') AS year_start \gset
CREATE TEMP TABLE yp AS
SELECT firstsight.create_project('year ' || i, 'Asia/Shanghai', 128) AS project_id FROM generate_series(1, :projects) i;
INSERT INTO firstsight.consultant (project_id, consultant_id, name)
SELECT project_id, 100000 + project_id * 10 + k, 'c' || k FROM yp, generate_series(1, 8) k;
INSERT INTO firstsight.channel (project_id, channel_id, kind, name, commission_rate, protection_days)
SELECT project_id, 100000 + project_id * 10 + k, 'agency', 'agency ' || k, 0.02, 90 FROM yp, generate_series(1, 4) k;
INSERT INTO firstsight.agent (project_id, agent_id, channel_id, name)
SELECT project_id, 100000 + project_id * 10 + k, 100000 + project_id * 10 + k, 'agent ' || k FROM yp, generate_series(1, 4) k;
-- persons: per_day / 2 new persons a day, 1 to 3 visits each; rebuild_rollups after.  No triggers (attribution,
-- other layers' bookkeeping) and no FK checks for these synthetic rows
SET session_replication_role = replica;
\timing on
INSERT INTO firstsight.person (project_id, person_id, first_seen, last_seen, visits)
SELECT yp.project_id, (yp.project_id * 1000000 + d * 1000 + k),
       :'year_start'::timestamptz + interval '9 hours' + d * interval '1 day' + random() * interval '10 hours',
       :'year_start'::timestamptz + interval '9 hours' + d * interval '1 day', 1 + (k % 3)
FROM yp, generate_series(0, 364) d, generate_series(1, :per_day / 2) k;
INSERT INTO firstsight.visit (project_id, person_id, started_at, ended_at, captures, seen_before, consultant_id, agent_id)
SELECT p.project_id, p.person_id, p.first_seen + n * interval '3 days', p.first_seen + n * interval '3 days' + interval '40 minutes', 3,
       n > 0, 100000 + p.project_id * 10 + 1 + (p.person_id % 8),
       CASE WHEN n = 0 AND p.person_id % 5 < 2 THEN 100000 + p.project_id * 10 + 1 + (p.person_id % 4) END
FROM firstsight.person p JOIN yp USING (project_id), generate_series(0, 2) n
WHERE n < p.visits;
-- deals: one person in 15
INSERT INTO firstsight.deal (project_id, person_id, signed_at, price, channel_id, agent_id, consultant_id)
SELECT p.project_id, p.person_id, p.first_seen + interval '8 days', 1500000 + (p.person_id % 100) * 10000,
       CASE WHEN p.person_id % 5 < 2 THEN 100000 + p.project_id * 10 + 1 + (p.person_id % 4) END,
       CASE WHEN p.person_id % 5 < 2 THEN 100000 + p.project_id * 10 + 1 + (p.person_id % 4) END,
       100000 + p.project_id * 10 + 1 + (p.person_id % 8)
FROM firstsight.person p JOIN yp USING (project_id) WHERE p.person_id % 15 = 0;
INSERT INTO firstsight.attribution (project_id, deal_id, version, entitled_channel_id, entitled_agent_id, entitled_consultant_id,
	commission, rule, evidence, flags, signed_at, first_visit_at, cycle_days)
SELECT x.project_id, x.deal_id, 1, coalesce(x.channel_id, n.channel_id), x.agent_id, x.consultant_id,
       CASE WHEN x.channel_id IS NULL THEN 0 ELSE x.price * 0.02 END,
       CASE WHEN x.channel_id IS NULL THEN 'first_touch_natural' ELSE 'first_touch_agency' END, '{}',
       CASE WHEN x.deal_id % 17 = 0 THEN '{flying_order}'::text[] ELSE '{}' END, x.signed_at, x.signed_at - interval '8 days', 8
FROM firstsight.deal x JOIN yp USING (project_id)
JOIN firstsight.channel n ON n.project_id = x.project_id AND n.kind = 'natural';
RESET session_replication_role;
-- the rollups behind the views (kept by triggers, which the load above bypassed)
SELECT firstsight.rebuild_rollups();
\timing off
-- first_visit mode: every accompanied first visit of the last 90 days opens a
-- window, so protection_expiring has rows to find (no reports are generated)
SELECT count(firstsight.configure(project_id, 'attribution_mode', 'first_visit')) AS first_visit_projects FROM yp;
ANALYZE;
SELECT (SELECT count(*) FROM yp) AS projects, (SELECT count(*) FROM firstsight.visit v JOIN yp USING (project_id)) AS visits,
       (SELECT count(*) FROM firstsight.person p JOIN yp USING (project_id)) AS persons,
       (SELECT count(*) FROM firstsight.deal x JOIN yp USING (project_id)) AS deals;
SELECT max(project_id) AS one FROM yp \gset
-- time each view: one project's year (what a BI dashboard asks), then all projects
CREATE TEMP TABLE view_time (view text, scope text, rows bigint, ms float8);
DO $$
DECLARE
	v text;
	t0 timestamptz;
	n bigint;
	one bigint := (SELECT max(project_id) FROM yp);
BEGIN
	FOREACH v IN ARRAY ARRAY['daily_traffic', 'channel_share', 'conversion_funnel', 'flagged_deals',
	                         'commission_ledger', 'consultant_board', 'protection_expiring'] LOOP
		t0 := clock_timestamp();
		EXECUTE format('SELECT count(*) FROM firstsight.%I x WHERE project_id = $1 AND x::text IS NOT NULL', v) INTO n USING one;
		INSERT INTO view_time VALUES (v, 'one project, a year', n, extract(epoch FROM clock_timestamp() - t0) * 1000);
		t0 := clock_timestamp();
		EXECUTE format('SELECT count(*) FROM firstsight.%I x WHERE x::text IS NOT NULL', v) INTO n;
		INSERT INTO view_time VALUES (v, 'all projects, a year', n, extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
END
$$;
\echo RESULT view timings
SELECT view, scope, rows, round(ms::numeric, 1) AS ms FROM view_time ORDER BY view, scope DESC;
