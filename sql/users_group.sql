-- Groups (issue 16): set_group instead of UPDATE, kept in change_log; the
-- group dashboard across a group's projects, with cross-project buyers,
-- shown to roles that read every project of the group.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
\set VERBOSITY terse
SET TimeZone = 'Asia/Shanghai';

SELECT create_project('Group East', 'Asia/Shanghai', 4) AS e \gset
SELECT create_project('Group West', 'Asia/Shanghai', 4) AS w \gset
SELECT set_group(:e, '  Regress Group  ');
SELECT set_group(:w, 'Regress Group');
SELECT set_group(:w, 'Regress Group');	-- unchanged: nothing logged
SELECT set_group(-1, 'Regress Group');
SELECT name, group_name FROM project WHERE project_id IN (:e, :w) ORDER BY name;
SELECT project_id = :e AS east, subject, subject_id, action, old, new FROM change_log
WHERE project_id IN (:e, :w) AND subject_id = 'group_name' ORDER BY change_id;
INSERT INTO camera VALUES (:e, 'gate', 'entrance'), (:w, 'gate', 'entrance');
-- the same buyer (one ID card) visits East, then buys at West; a local buys at East
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:e, 'gate', '2024-09-01 10:00', '[1,0,0,0]', 0.9, false),
	(:e, 'gate', '2024-09-01 11:00', '[0,1,0,0]', 0.9, false),
	(:w, 'gate', '2024-09-03 10:00', '[0,0,1,0]', 0.9, false);
SELECT capture_id AS ce, person_id AS pe FROM capture WHERE project_id = :e AND captured_at = '2024-09-01 10:00' \gset
SELECT capture_id AS cl, person_id AS pl FROM capture WHERE project_id = :e AND captured_at = '2024-09-01 11:00' \gset
SELECT capture_id AS cw, person_id AS pw FROM capture WHERE project_id = :w \gset
SELECT bind_identity(:e, :ce, '440300198511114566', NULL) = :pe AS bound;
SELECT bind_identity(:w, :cw, '440300198511114566', NULL) = :pw AS bound;
SELECT bind_identity(:e, :cl, '440300197001010025', NULL) = :pl AS bound;
INSERT INTO deal (project_id, person_id, signed_at, price) VALUES
	(:w, :pw, '2024-09-20 15:00+08', 2000000), (:e, :pl, '2024-09-21 15:00+08', 1000000);
SELECT group_name, month, projects, visits, new_persons, deals, revenue, commission, referral_rewards,
       flagged_deals, cross_project_buyers
FROM group_dashboard WHERE group_name = 'Regress Group';
-- leaving the group: the dashboard follows
SELECT set_group(:e, NULL);
SELECT projects, visits, deals, cross_project_buyers FROM group_dashboard WHERE group_name = 'Regress Group';
SELECT set_group(:e, 'Regress Group');

-- a manager of one project of the group does not see the group; one of both does;
-- neither may set a group
SELECT setup_roles();
CREATE ROLE regress_fs_group_one;
CREATE ROLE regress_fs_group_both;
SELECT grant_project('regress_fs_group_one', :e);
SELECT grant_project('regress_fs_group_both', :e), grant_project('regress_fs_group_both', :w);
SET ROLE regress_fs_group_one;
SELECT count(*) AS group_rows FROM group_dashboard WHERE group_name = 'Regress Group';
SELECT set_group(:e, 'Mine');
UPDATE project SET group_name = 'Mine' WHERE project_id = :e;
RESET ROLE;
SET ROLE regress_fs_group_both;
SELECT projects, visits, deals, cross_project_buyers FROM group_dashboard WHERE group_name = 'Regress Group';
RESET ROLE;
DROP OWNED BY regress_fs_group_one, regress_fs_group_both;
DROP ROLE regress_fs_group_one, regress_fs_group_both;
