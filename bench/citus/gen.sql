-- bench/citus/gen.sql: a year of facts for many projects, written straight
-- into the fact tables (as bench/attribution/views.sql does: the views read
-- only these tables), at a plain PostgreSQL database; bi.sh copies them to
-- the Citus coordinator.  psql -v projects=20 -v per_day=60
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT setseed(0.42);
SELECT date_trunc('day', now() - interval '365 days') AS year_start \gset
CREATE TEMP TABLE yp AS
SELECT firstsight.create_project('year ' || i, 'Asia/Shanghai', 128, project_id => 1000 + i) AS project_id FROM generate_series(1, :projects) i;
UPDATE firstsight.project SET group_name = 'group ' || (project_id % 3) WHERE project_id IN (SELECT project_id FROM yp);
INSERT INTO firstsight.consultant (project_id, consultant_id, name)
SELECT project_id, 100000 + project_id * 10 + k, 'c' || k FROM yp, generate_series(1, 8) k;
INSERT INTO firstsight.channel (project_id, channel_id, kind, name, commission_rate, protection_days)
SELECT project_id, 100000 + project_id * 10 + k, 'agency', 'agency ' || k, 0.02, 90 FROM yp, generate_series(1, 4) k;
INSERT INTO firstsight.agent (project_id, agent_id, channel_id, name)
SELECT project_id, 100000 + project_id * 10 + k, 100000 + project_id * 10 + k, 'agent ' || k FROM yp, generate_series(1, 4) k;
SET session_replication_role = replica;
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
SELECT (SELECT count(*) FROM yp) AS projects, (SELECT count(*) FROM firstsight.visit) AS visits,
       (SELECT count(*) FROM firstsight.person) AS persons, (SELECT count(*) FROM firstsight.deal) AS deals;
