-- The end-of-day review (归属确认): daily_worklist(project, local day) lists
-- what needs a decision, each item with its kind, ids, a description with
-- names and the call that resolves it.  Only roles granted the project may
-- read it; nothing biometric is in it.
-- the set-up's helpers work on the newest project (max(project_id)): make this one
-- the newest whatever ids earlier tests gave theirs
SELECT setval('firstsight.project_id_seq', greatest((SELECT max(project_id) FROM firstsight.project),
              (SELECT last_value FROM firstsight.project_id_seq))) IS NOT NULL AS newest;
\set pname 'Worklist'
\i sql/attribution_setup.psql

-- 920001: came on 2024-03-02 at 09:00, nobody received them
SELECT pg_temp.person(920001);
SELECT pg_temp.visit(9200001, 920001, '2024-03-02 09:00');
-- 920002: received by Wang on 03-01; back on 03-02, received by Li (Wang owns them),
-- and back again later that day with nobody receiving them
SELECT pg_temp.person(920002);
SELECT pg_temp.visit(9200002, 920002, '2024-03-01 10:00', 1);
SELECT pg_temp.visit(9200003, 920002, '2024-03-02 10:00', 2);
SELECT pg_temp.visit(9200004, 920002, '2024-03-02 16:00');
-- 920003: Lianjia Zhao came along with no report; 920004: Woai Qian, and no phone is bound
SELECT pg_temp.person(920003, '13800920003');
SELECT pg_temp.visit(9200005, 920003, '2024-03-02 11:00', 1, 21);
SELECT pg_temp.person(920004);
SELECT pg_temp.visit(9200006, 920004, '2024-03-02 11:30', 2, 22);
-- 920005: Lianjia Sun reported them and brought them in time: no item
SELECT pg_temp.person(920005, '13800920005');
SELECT pg_temp.report(23, '13800920005', '2024-03-02 08:00');
SELECT pg_temp.visit(9200007, 920005, '2024-03-02 12:00', 1, 23);
-- reports: one lapses on 03-03 with the customer never seen (an item), one lapses on
-- 03-03 but the customer came (no item), one lapses on 03-05 (not yet)
SELECT pg_temp.report(22, '13800920099', '2024-02-29 12:00');
SELECT pg_temp.person(920006, '13800920006');
SELECT pg_temp.report(22, '13800920006', '2024-02-29 13:00');
SELECT pg_temp.visit(9200008, 920006, '2024-03-01 09:00', 1, 22);
SELECT pg_temp.report(21, '13800920098', '2024-03-02 13:00');
-- a low-confidence match of that day, and one already confirmed (loaded as a restore would)
SET session_replication_role = replica;
INSERT INTO capture (project_id, camera_id, captured_at, quality, masked, person_id, visit_id,
                     match_distance, match_kind, match_margin, match_low_confidence, match_reviewed_at)
VALUES (:p, 'gate', '2024-03-02 09:00+08', 0.8, true, 920001, 9200001, 0.51, 'masked_unmasked', 0.02, true, NULL)
RETURNING capture_id AS c1 \gset
INSERT INTO capture (project_id, camera_id, captured_at, quality, masked, person_id, visit_id,
                     match_distance, match_kind, match_margin, match_low_confidence, match_reviewed_at)
VALUES (:p, 'sand', '2024-03-02 09:05+08', 0.8, true, 920001, 9200001, 0.50, 'masked_unmasked', 0.03, true, now());
RESET session_replication_role;
-- gallery faces: 920001 and 920007 look alike (a possible duplicate); 920008 looks
-- alike too, but a manager split it from 920001; 920009 is far
SELECT pg_temp.person(920007);
SELECT pg_temp.person(920008);
SELECT pg_temp.person(920009);
INSERT INTO person_distinct (project_id, person_id, other_person_id) VALUES (:p, 920001, 920008);
INSERT INTO face (project_id, person_id, kind, capture_id, captured_at, quality, masked, face)
VALUES (:p, 920001, 'unmasked', 1, '2024-03-02 09:00+08', 0.9, false, '[1,0,0,0]'),
       (:p, 920007, 'unmasked', 2, '2024-02-20 09:00+08', 0.9, false, '[1,0.3,0,0]'),
       (:p, 920008, 'unmasked', 3, '2024-02-21 09:00+08', 0.9, false, '[1,0.1,0,0]'),
       (:p, 920009, 'unmasked', 4, '2024-02-22 09:00+08', 0.9, false, '[0,0,1,0]');

-- the review of 2024-03-02 (times local; report and capture ids, drawn from
-- sequences other tests share, shown as N and C1)
SELECT kind, kind_label, to_char(at, 'MM-DD HH24:MI') AS at, person_id, visit_id,
       CASE WHEN kind IN ('report_lapsing', 'low_confidence_match') THEN NULL ELSE ref_id END AS ref_id,
       replace(regexp_replace(description, 'report \d+', 'report N'), :c1::text, 'C1') AS description,
       replace(replace(action, '(' || :p || ',', '(P,'), :c1::text, 'C1') AS action
FROM daily_worklist(:p, '2024-03-02') ORDER BY kind, at, person_id;
-- the day before (everything received and reported) and a quiet day: nothing to do
SELECT kind, count(*) FROM daily_worklist(:p, '2024-03-01') GROUP BY kind ORDER BY kind;
SELECT count(*) AS items_on_a_quiet_day FROM daily_worklist(:p, '2024-03-20');

-- the actions do what they say: receive as suggested, confirm the match
SELECT receive(:p, 9200001, 1);
SELECT receive(:p, 9200003, 1);
SELECT confirm_matches(:p, ARRAY[:c1::bigint]);
SELECT kind, count(*) FROM daily_worklist(:p, '2024-03-02') GROUP BY kind ORDER BY kind;

-- every kind has its label
SELECT k AS kind_without_label
FROM unnest(ARRAY['unreceived_visit', 'unreported_visit', 'returning_visitor', 'report_lapsing',
                  'low_confidence_match', 'possible_duplicate']) k
WHERE NOT EXISTS (SELECT 1 FROM label l WHERE l.kind = 'worklist' AND l.code = k);

-- first_visit mode: an accompanied visit counts without a report, so none is listed
SELECT configure(:p, 'attribution_mode', 'first_visit') IS NOT NULL AS configured;
SELECT count(*) AS unreported FROM daily_worklist(:p, '2024-03-02') WHERE kind = 'unreported_visit';
SELECT configure(:p, 'attribution_mode', 'report_protection') IS NOT NULL AS configured;

-- nothing biometric: no embedding or bytea column, no vector in any text
SELECT count(*) AS biometric_columns
FROM pg_proc p, unnest(p.proallargtypes, p.proargmodes) AS a(t, m)
WHERE p.oid = 'firstsight.daily_worklist(bigint, date)'::regprocedure AND a.m = 't'
  AND a.t IN ('firstsight.embedding'::regtype, 'bytea'::regtype);
SELECT count(*) AS vectors_in_text FROM daily_worklist(:p, '2024-03-02')
WHERE description ~ '\[[-0-9.e]+,' OR action ~ '\[[-0-9.e]+,';

-- bad calls
\set VERBOSITY sqlstate
SELECT * FROM daily_worklist(:p, NULL);
SELECT * FROM daily_worklist(-1, '2024-03-02');

-- who may read it: a manager of the project; a manager of another project, an
-- analyst granted no project: refused (SQLSTATE 42501, the project named only in
-- the message)
SELECT create_project('Worklist other', 'Asia/Shanghai', 4) AS other \gset
SELECT setup_roles();
CREATE ROLE regress_fs_wl_mgr;
CREATE ROLE regress_fs_wl_other;
CREATE ROLE regress_fs_wl_analyst IN ROLE firstsight_analyst;
SELECT grant_project('regress_fs_wl_mgr', :p), grant_project('regress_fs_wl_other', :other);
SET SESSION AUTHORIZATION regress_fs_wl_other;
SELECT count(*) FROM firstsight.daily_worklist(:p, '2024-03-02');
SELECT count(*) FROM firstsight.daily_worklist(:other, '2024-03-02');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_fs_wl_analyst;
SELECT count(*) FROM firstsight.daily_worklist(:p, '2024-03-02');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_fs_wl_mgr;
SELECT kind, count(*) FROM firstsight.daily_worklist(:p, '2024-03-02') GROUP BY kind ORDER BY kind;
RESET SESSION AUTHORIZATION;
\set VERBOSITY default
SELECT revoke_project('regress_fs_wl_mgr', :p), revoke_project('regress_fs_wl_other', :other);
DROP ROLE regress_fs_wl_mgr, regress_fs_wl_other, regress_fs_wl_analyst;
-- the captures and gallery faces were this test's own (their 2024 expiry would be overdue)
DELETE FROM capture WHERE project_id = :p;
DELETE FROM face WHERE project_id = :p;
