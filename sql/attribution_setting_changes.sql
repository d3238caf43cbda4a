-- Attribution in a dispute: settings the decisions read are changes like any
-- other.  A manager who moves an agent to another channel, raises a
-- channel's commission rate, shortens a report's validity or changes the
-- project's time zone after deals were decided moves money: the change is
-- kept in change_log with who made it, the decided deals are decided again
-- at once (late_change where money moved, naming the change), instead of
-- waiting for the next reattribute to move the money in someone else's name.
\set pname 'Setting changes'
\i sql/attribution_setup.psql
CREATE FUNCTION pg_temp.versions(id bigint) RETURNS TABLE (version int, reason text, channel text, agent bigint, commission numeric, flags text[]) LANGUAGE sql AS $$
	SELECT a.version, a.reason, c.name, a.entitled_agent_id, a.commission, a.flags
	FROM firstsight.attribution a JOIN firstsight.channel c ON c.project_id = a.project_id AND c.channel_id = a.entitled_channel_id
	WHERE a.project_id = (SELECT max(project_id) FROM firstsight.project) AND a.deal_id = id ORDER BY a.version $$;
CREATE FUNCTION pg_temp.explain(id bigint) RETURNS SETOF text LANGUAGE sql AS $$
	SELECT regexp_replace(regexp_replace(t, '20[3-9]\d-\d\d-\d\d \d\d:\d\d|202[5-9]-\d\d-\d\d \d\d:\d\d', 'today', 'g'), 'report \d+', 'report #', 'g')
	FROM firstsight.explain_attribution((SELECT max(project_id) FROM firstsight.project), id) t
	WHERE t ~ 'late change|^deal|^flags' $$;

-- Lianjia Sun (agent 23) brought buyer 701 under a report, 3.0 million: Lianjia's, 3 %
SELECT pg_temp.person(701, '13800000701');
SELECT pg_temp.report(23, '13800000701', '2024-03-01 09:00');
SELECT pg_temp.visit(7001, 701, '2024-03-01 10:00', 1, 23);
SELECT pg_temp.deal(1, 701, '2024-03-10 15:00', 11, 23, 1, price => 3000000);
-- buyer 702 came with Woai's agent the day after Woai's report, and bought 2.0 million through Woai
SELECT pg_temp.person(702, '13800000702');
SELECT pg_temp.report(22, '13800000702', '2024-03-02 09:00');
SELECT pg_temp.visit(7002, 702, '2024-03-03 08:00', 2, 22);
SELECT pg_temp.deal(2, 702, '2024-03-12 15:00', 12, 22, 2, price => 2000000);
SELECT * FROM pg_temp.versions(1);
SELECT * FROM pg_temp.versions(2);

SET application_name = 'admin-console';
SET firstsight.actor = 'manager Zhou';
-- 1. the manager moves agent 23 to Woai: the deal's entitlement moves with
-- the agent's channel; decided again now, in the manager's name
UPDATE agent SET channel_id = 12 WHERE project_id = :p AND agent_id = 23;
SELECT * FROM pg_temp.versions(1);
-- 2. the manager raises Woai's commission rate: every Woai deal is re-priced now
UPDATE channel SET commission_rate = 0.05 WHERE project_id = :p AND channel_id = 12;
SELECT * FROM pg_temp.versions(1);
SELECT * FROM pg_temp.versions(2);
-- 3. the manager shortens report validity to 12 hours: Woai's report of
-- 03-02 09:00 no longer covers the visit of 03-03 08:00; deal 2 is natural now
SELECT configure(:p, 'report_validity', '12 hours');
SELECT * FROM pg_temp.versions(2);
-- a setting no decision reads changes nothing
SELECT configure(:p, 'visit_gap', '3 hours');
SELECT count(*) AS versions FROM attribution WHERE project_id = :p;
RESET firstsight.actor;
RESET application_name;
-- the timeline names each change and who made it
SELECT * FROM pg_temp.explain(2);
-- and the history keeps them
SELECT subject, subject_id, action, changed_by = session_user AS by_me, application, actor,
       old->>'channel_id' AS old_channel, new->>'channel_id' AS new_channel,
       old->>'commission_rate' AS old_rate, new->>'commission_rate' AS new_rate, new->>'value' AS value
FROM change_log WHERE project_id = :p AND subject = 'setting' ORDER BY change_id;
