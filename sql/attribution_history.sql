-- Attribution in a dispute: every change to receptions, reports, bindings,
-- deals, persons and settings is kept in change_log (who: session_user,
-- application_name, firstsight.actor; when; old; new), which refuses UPDATE,
-- DELETE and TRUNCATE.  A deal update (price, claim, buyer, co-buyers,
-- signed_at) decides the deal again; a re-decision that moves money (entitled
-- channel, agent or commission) is flagged late_change, and explain_attribution
-- shows the change and who made it.  Written as a manager editing a decided
-- deal, and as a DBA trying to clean the history at 3 a.m.
\set pname 'History'
\i sql/attribution_setup.psql
-- timelines with the times of changes (today) masked; history without ids that depend on sequences
CREATE FUNCTION pg_temp.explain(id bigint) RETURNS SETOF text LANGUAGE sql AS $$
	SELECT regexp_replace(regexp_replace(t, '20[3-9]\d-\d\d-\d\d \d\d:\d\d|202[5-9]-\d\d-\d\d \d\d:\d\d', 'today', 'g'), 'report \d+', 'report #', 'g')
	FROM firstsight.explain_attribution((SELECT max(project_id) FROM firstsight.project), id) t $$;
CREATE FUNCTION pg_temp.history() RETURNS TABLE (subject text, subject_id text, action text, by_session_user boolean,
                                               application text, actor text, old jsonb, new jsonb) LANGUAGE sql AS $$
	SELECT h.subject, CASE WHEN h.subject IN ('binding', 'report') THEN '#' ELSE h.subject_id END, h.action,
	       h.changed_by = session_user, h.application, h.actor,
	       h.old - ARRAY['project_id', 'identity_id', 'report_id', 'created_at', 'received_at', 'reported_at', 'bound_at'],
	       h.new - ARRAY['project_id', 'identity_id', 'report_id', 'created_at', 'received_at', 'reported_at', 'bound_at']
	FROM firstsight.change_log h WHERE h.project_id = (SELECT max(project_id) FROM firstsight.project) ORDER BY h.change_id $$;

-- Lianjia brought the buyer under a report; the deal, 3.0 million, is Lianjia's
SELECT pg_temp.person(701, '13800000701');
SELECT pg_temp.report(21, '13800000701', '2024-03-01 09:00');
SELECT pg_temp.visit(7001, 701, '2024-03-01 10:00', 1, 21);
SELECT pg_temp.deal(1, 701, '2024-03-10 15:00', 11, 21, 1, price => 3000000);
SELECT * FROM pg_temp.decision(1);

-- the sales app (one shared login) names who acts; a manager doubles the price
-- and moves the claim to Woai
SET application_name = 'sales-app';
SET firstsight.actor = 'manager Zhou';
UPDATE deal SET price = 6000000, channel_id = 12, agent_id = 22 WHERE project_id = :p AND deal_id = 1;
-- decided again at once: the commission follows the price, the claim is flagged, the money moved
SELECT * FROM pg_temp.decision(1);
SELECT version, reason, commission, flags FROM attribution WHERE project_id = :p AND deal_id = 1 ORDER BY version;
-- the timeline shows the change and who made it
SELECT * FROM pg_temp.explain(1);
-- the ledger shows the new revenue with the new commission, flagged
SELECT channel, deals, revenue, commission, flagged_deals, flagged_commission FROM commission_ledger WHERE project_id = :p;
-- late_change stays on later versions that move no money
UPDATE deal SET consultant_id = 2 WHERE project_id = :p AND deal_id = 1;
SELECT version, reason, commission, flags FROM attribution WHERE project_id = :p AND deal_id = 1 ORDER BY version;
-- an update that changes nothing the rules read makes no version
UPDATE deal SET price = 6000000 WHERE project_id = :p AND deal_id = 1;
SELECT count(*) AS versions FROM attribution WHERE project_id = :p AND deal_id = 1;

-- a late reception and a setting change are recorded too
RESET firstsight.actor;
SELECT receive(:p, 7001, 2, 21);
SELECT configure(:p, 'report_validity', '48 hours');
UPDATE channel SET commission_rate = 0.04 WHERE project_id = :p AND channel_id = 11;
SELECT * FROM pg_temp.history();

-- the DBA at 3 a.m.: the history refuses to be changed or emptied
UPDATE change_log SET actor = 'nobody' WHERE project_id = :p;
DELETE FROM change_log WHERE project_id = :p;
TRUNCATE change_log;
-- a forged entry is stamped with the real session, time and actor
SET firstsight.actor = 'night shift';
INSERT INTO change_log (project_id, subject, subject_id, action, changed_at, changed_by, application, actor)
VALUES (:p, 'deal', '1', 'update', '2024-01-01', 'someone_else', 'forged', 'forged');
SELECT changed_at > '2025-01-01' AS stamped_now, changed_by = session_user AS real_user, application, actor
FROM change_log WHERE project_id = :p ORDER BY change_id DESC LIMIT 1;
RESET firstsight.actor;
RESET application_name;
-- a manager of the project reads the history of their projects and cannot write it
SELECT setup_roles();
CREATE ROLE attribution_history_manager LOGIN;
GRANT firstsight_manager TO attribution_history_manager;
SELECT grant_project('attribution_history_manager', :p);
SET ROLE attribution_history_manager;
SELECT count(*) > 0 AS reads_history FROM firstsight.change_log;
DELETE FROM firstsight.change_log;
INSERT INTO firstsight.change_log (project_id, subject, subject_id, action) VALUES (:p, 'deal', '1', 'delete');
RESET ROLE;
SELECT revoke_project('attribution_history_manager', :p);
DROP ROLE attribution_history_manager;
-- only keyed-hash kinds, never the hashes, in the history of bindings and reports
SELECT count(*) AS entries_with_hashes FROM change_log
WHERE project_id = :p AND (coalesce(old, '{}') || coalesce(new, '{}')) ?| ARRAY['phone_hash', 'phone_masked_hash', 'id_card_hash'];

-- the manager deletes the disputed deal and enters it again, to start from a
-- clean version 1: the decisions the delete takes with it (attribution rows
-- go with their deal) are kept in the history, and the new deal's timeline
-- says so
SELECT count(*) AS versions_before FROM attribution WHERE project_id = :p AND deal_id = 1;
DELETE FROM deal WHERE project_id = :p AND deal_id = 1;
SELECT count(*) AS versions_left FROM attribution WHERE project_id = :p AND deal_id = 1;
SELECT jsonb_array_length(old->'attributions') AS versions_kept, old->'attributions'->-1->>'commission' AS last_commission,
       old->'attributions'->-1->'flags' AS last_flags
FROM change_log WHERE project_id = :p AND subject = 'deal' AND action = 'delete';
SELECT pg_temp.deal(1, 701, '2024-03-10 15:00', 12, 22, 1, price => 6000000);
SELECT * FROM pg_temp.explain(1);
