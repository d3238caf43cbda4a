-- The dispute meeting and the named report (issue 16): attribution_report
-- gives each deal's current decision with names (claimed against entitled
-- channel, agent and consultant, commission, rule and flags with Chinese and
-- English labels); explain_attribution speaks names, gives each flag its
-- reason, says who the buyers are, shows the first sighting's captures,
-- match distance and masks, and where else a buyer was seen.  Managers see
-- only their projects; nothing biometric.
-- a sister project of the same group (made first: the set-up's helpers work on the
-- newest project, max(project_id), made so whatever ids earlier tests gave theirs)
SELECT setval('firstsight.project_id_seq', greatest((SELECT max(project_id) FROM firstsight.project),
              (SELECT last_value FROM firstsight.project_id_seq))) IS NOT NULL AS newest;
SELECT firstsight.create_project('Report sister', 'Asia/Shanghai', 4) AS sister \gset
\set pname 'Report'
\i sql/attribution_setup.psql
-- 930002 was seen at the sister project before (a kept sighting)
UPDATE project SET group_name = 'Report group' WHERE project_id IN (:p, :sister);
INSERT INTO person (project_id, person_id, first_seen, last_seen) VALUES (:sister, 939001, '2024-02-10 11:00+08', '2024-02-10 12:00+08');
INSERT INTO sighting_elsewhere (project_id, person_id, other_project_id, other_person_id, found_by, other_first_seen)
VALUES (:p, 930002, :sister, 939001, 'id_card', '2024-02-10 11:00+08');

-- deal 1: Lianjia Zhao reported and brought 930001; Wang received them; claimed honestly
SELECT pg_temp.person(930001, '13800930001');
SELECT pg_temp.report(21, '13800930001', '2024-03-01 09:00');
SELECT pg_temp.visit(9300001, 930001, '2024-03-01 10:00', 1, 21);
SELECT pg_temp.deal(1, 930001, '2024-03-10 15:00', 11, 21, 1, price => 3000000);
-- deal 2: a couple who came alone (930003 first, received by Li; 930002 later, by Wang);
-- Woai claims them, with Wang as consultant
SELECT pg_temp.person(930002);
SELECT pg_temp.person(930003);
SELECT pg_temp.visit(9300002, 930003, '2024-03-02 10:00', 2);
SELECT pg_temp.visit(9300003, 930002, '2024-03-03 10:00', 1);
-- the first sighting's captures (loaded as a restore would: no matching): one masked
SET session_replication_role = replica;
INSERT INTO capture (project_id, camera_id, captured_at, quality, masked, person_id, visit_id, match_distance)
VALUES (:p, 'gate', '2024-03-02 10:00+08', 0.8, false, 930003, 9300002, NULL),
       (:p, 'sand', '2024-03-02 10:20+08', 0.8, true, 930003, 9300002, 0.4123);
RESET session_replication_role;
SELECT pg_temp.deal(2, 930002, '2024-03-12 15:00', 12, 22, 1, co => ARRAY[930003::bigint], price => 2000000);
-- a late change: deal 1's visit re-entered with Lianjia Sun, after signing
SET application_name = 'sales-app';
SELECT receive(:p, 9300001, 1, 23);
RESET application_name;

SELECT deal_id, project = 'Report' AS project_named, signed_local, price, buyer_person_id, co_buyer_ids,
       claimed_channel, claimed_agent, claimed_consultant, entitled_channel, entitled_channel_kind, entitled_agent,
       entitled_consultant, commission, rule, rule_zh, rule_en, flags, flags_zh, flags_en, version
FROM attribution_report WHERE project_id = :p ORDER BY deal_id;
-- the same figures as the tables (the report is a join, not a copy)
SELECT count(*) AS differing FROM attribution_report r
JOIN attribution a ON a.project_id = r.project_id AND a.deal_id = r.deal_id AND a.is_current
WHERE r.project_id = :p AND (r.commission, r.rule, r.flags, r.entitled_channel_id) IS DISTINCT FROM (a.commission, a.rule, a.flags, a.entitled_channel_id);

-- the dispute meeting (project and report ids shown as P and N: sequences other
-- tests share; times of today, when the late change was made, as NOW)
CREATE FUNCTION pg_temp.shown(line text) RETURNS text LANGUAGE sql AS $$
	SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(line,
		'(Report( sister)?) \(\d+\)', '\1 (P)', 'g'), 'report \d+', 'report N', 'g'),
		'project \d+ of group', 'project P of group', 'g'), '20(2[5-9]|[3-9]\d)-\d\d-\d\d \d\d:\d\d', 'NOW', 'g') $$;
-- (capture ids too: drawn from a sequence)
CREATE FUNCTION pg_temp.shown_c(line text) RETURNS text LANGUAGE sql AS $$
	SELECT regexp_replace(pg_temp.shown(line), 'captures \d+, \d+ ', 'captures C1, C2 ') $$;
SELECT pg_temp.shown_c(line) AS "deal 2" FROM explain_attribution(:p, 2) AS line;
SELECT pg_temp.shown(line) AS "deal 1" FROM explain_attribution(:p, 1) AS line;
-- names read at explain time: a renamed consultant is shown by the new name
UPDATE consultant SET name = 'Wang Fang' WHERE project_id = :p AND consultant_id = 1;
SELECT line FROM explain_attribution(:p, 2) AS line WHERE line LIKE '%consultant_conflict (%';
-- timeline_named: an id that names nobody stays, a '-' stays, other parentheses stay
SELECT timeline_named(:p, 'agent 99 (Nobody) and consultant 77, agent - -> 21, consultant 2 (late)') AS named;

-- nothing biometric: no embedding or bytea column in the view
SELECT count(*) AS biometric_columns FROM pg_attribute
WHERE attrelid = 'firstsight.attribution_report'::regclass AND attnum > 0
  AND atttypid IN ('firstsight.embedding'::regtype, 'bytea'::regtype);

-- managers see the deals of their projects only
SELECT setup_roles();
CREATE ROLE regress_fs_rep_mgr;
CREATE ROLE regress_fs_rep_other;
SELECT grant_project('regress_fs_rep_mgr', :p), grant_project('regress_fs_rep_other', :sister);
SET SESSION AUTHORIZATION regress_fs_rep_mgr;
SELECT project_id = :p AS own_project, count(*) FROM firstsight.attribution_report GROUP BY 1;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_fs_rep_other;
SELECT count(*) AS deals_of_another_project FROM firstsight.attribution_report WHERE project_id = :p;
SELECT count(*) AS all_visible FROM firstsight.attribution_report;
RESET SESSION AUTHORIZATION;
-- analysts are granted the view by setup_roles
SELECT has_table_privilege('firstsight_analyst', 'firstsight.attribution_report', 'SELECT') AS analyst_reads;
SELECT revoke_project('regress_fs_rep_mgr', :p), revoke_project('regress_fs_rep_other', :sister);
DROP ROLE regress_fs_rep_mgr, regress_fs_rep_other;
-- the captures were this test's own
DELETE FROM capture WHERE project_id = :p;
