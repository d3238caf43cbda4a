-- At the door (截客): door_lookup says who owns a visitor now (channel,
-- agent, consultant, until when) and when they were seen, by the same rules
-- as a deal's decision; visitor.returned carries the same fields.  Only the
-- roles granted the project may ask; nothing biometric comes back.
-- the set-up's helpers work on the newest project (max(project_id)): make this one
-- the newest whatever ids earlier tests gave theirs
SELECT setval('firstsight.project_id_seq', greatest((SELECT max(project_id) FROM firstsight.project),
              (SELECT last_value FROM firstsight.project_id_seq))) IS NOT NULL AS newest;
\set pname 'Door'
\i sql/attribution_setup.psql

-- Lianjia Zhao brings person 910001 under a report; Wang receives them
SELECT pg_temp.person(910001, '13800910001');
SELECT pg_temp.report(21, '13800910001', '2024-03-01 09:00');
SELECT pg_temp.visit(9100001, 910001, '2024-03-01 10:00', 1, 21);
-- came alone, received by Li
SELECT pg_temp.person(910002);
SELECT pg_temp.visit(9100002, 910002, '2024-03-01 11:00', 2);
-- Woai's agent came along without a report: a natural visitor
SELECT pg_temp.person(910003, '13800910003');
SELECT pg_temp.visit(9100003, 910003, '2024-03-01 12:00', 2, 22);

CREATE FUNCTION pg_temp.door(who bigint, at text) RETURNS TABLE (person bigint, visits bigint, seen_before boolean,
	first_seen text, previous text, owner text, channel text, agent text, owner_until text, rule text, rule_label text,
	consultant text, consultant_until text, bought boolean) LANGUAGE sql AS $$
	SELECT d.person_id_now, d.visits, d.seen_before, local_text(d.first_seen_at, 'Asia/Shanghai'),
	       local_text(d.previous_visit_at, 'Asia/Shanghai'), d.owner_kind, d.owner_channel, d.owner_agent,
	       local_text(d.owner_until, 'Asia/Shanghai'), d.owner_rule, d.owner_rule_label, d.consultant,
	       local_text(d.consultant_until, 'Asia/Shanghai'), d.bought
	FROM firstsight.door_lookup((SELECT max(project_id) FROM firstsight.project), who, at => (at || '+08')::timestamptz) d $$;

-- Lianjia holds 910001 for 90 days, Wang for 30; nobody before the first visit
SELECT * FROM pg_temp.door(910001, '2024-03-01 09:30');
SELECT * FROM pg_temp.door(910001, '2024-03-05 10:00');
-- back on 2024-04-10 with nobody: still Lianjia's, but Wang's 30 days are over
SELECT pg_temp.visit(9100004, 910001, '2024-04-10 10:00');
SELECT * FROM pg_temp.door(910001, '2024-04-10 10:05');
-- after the protection ends (2024-05-30 00:00 local) nobody holds them: the next visit decides
SELECT * FROM pg_temp.door(910001, '2024-05-30 00:00');
-- a natural visitor, and one Woai brought without a report
SELECT * FROM pg_temp.door(910002, '2024-03-02 10:00');
SELECT * FROM pg_temp.door(910003, '2024-03-02 10:00');
-- a buyer: bought is true
SELECT pg_temp.deal(91, 910002, '2024-03-10 15:00', NULL, NULL, 2);
SELECT person, bought FROM pg_temp.door(910002, '2024-03-11 10:00');

-- unknown person, unknown capture: refused, no row (SQLSTATE P0002)
\set VERBOSITY sqlstate
SELECT * FROM door_lookup(:p, 919999);
SELECT * FROM door_lookup(:p, capture_id => 919999);
\set VERBOSITY default

-- by capture, and visitor.returned: a camera sees a known face come back
-- (the door fields go into the events of a project with a webhook that
-- takes visitor.returned: an event reaches only the webhooks it had when written)
INSERT INTO webhook (project_id, url, events) VALUES (:p, 'https://sales.example.com/door', '{visitor.returned}');
SELECT pg_temp.visit(9100006, 910001, '2024-03-02 09:00', NULL, NULL);
INSERT INTO face (project_id, person_id, kind, capture_id, captured_at, quality, masked, face)
VALUES (:p, 910001, 'unmasked', 0, '2024-03-01 10:00+08', 0.9, false, '[1,0,0,0]');
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-03-03 10:00+08', '[1,0,0,0.01]', 0.9, false) RETURNING capture_id AS cap \gset
SELECT person_id = 910001 AS matched FROM capture WHERE project_id = :p AND capture_id = :cap;
SELECT person_id_now, owner_channel, owner_agent, local_text(owner_until, 'Asia/Shanghai') AS owner_until, consultant
FROM door_lookup(:p, capture_id => :cap, at => '2024-03-03 10:01+08');
-- the event: the same owner fields, and no key or value that carries a face
SELECT o.payload->>'person_id' AS person, o.payload->>'owner_kind' AS owner_kind, o.payload->>'owner_channel' AS owner_channel,
       o.payload->>'owner_agent' AS owner_agent, local_text((o.payload->>'owner_until')::timestamptz, 'Asia/Shanghai') AS owner_until,
       o.payload->>'owner_consultant' AS owner_consultant,
       local_text((o.payload->>'owner_consultant_until')::timestamptz, 'Asia/Shanghai') AS consultant_until,
       o.payload->>'bought' AS bought
FROM outbox o WHERE o.project_id = :p AND o.event = 'visitor.returned';
SELECT k AS payload_keys FROM outbox o, jsonb_object_keys(o.payload) k
WHERE o.project_id = :p AND o.event = 'visitor.returned' ORDER BY k;

-- nothing biometric in the result: no embedding or bytea column
SELECT count(*) AS biometric_columns
FROM pg_proc p, unnest(p.proallargtypes, p.proargmodes) AS a(t, m)
WHERE p.oid = 'firstsight.door_lookup(bigint, bigint, bigint, timestamptz)'::regprocedure AND a.m = 'o'
  AND a.t IN ('firstsight.embedding'::regtype, 'bytea'::regtype);

-- who may ask: the roles granted the project.  A manager of another project
-- (and a role with no grant: setup_roles took EXECUTE from PUBLIC) is refused,
-- and learns nothing about the person
SELECT create_project('Door other', 'Asia/Shanghai', 4) AS other \gset
SELECT setup_roles();
CREATE ROLE regress_fs_door_mgr;
CREATE ROLE regress_fs_door_other;
CREATE ROLE regress_fs_door_nobody;
SELECT grant_project('regress_fs_door_mgr', :p), grant_project('regress_fs_door_other', :other);
-- (messages name the project, whose id depends on the tests before: SQLSTATEs only)
\set VERBOSITY sqlstate
SET SESSION AUTHORIZATION regress_fs_door_other;
SELECT owner_channel FROM firstsight.door_lookup(:p, 910001);
SELECT owner_channel FROM firstsight.door_lookup(:p, 919999);
SELECT owner_channel FROM firstsight.door_lookup(:p, capture_id => :cap);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_fs_door_nobody;
SELECT owner_channel FROM firstsight.door_lookup(:p, 910001);
RESET SESSION AUTHORIZATION;
\set VERBOSITY default
SET SESSION AUTHORIZATION regress_fs_door_mgr;
SELECT owner_channel, owner_agent FROM firstsight.door_lookup(:p, 910001, at => '2024-03-05 10:00+08');
RESET SESSION AUTHORIZATION;
-- the sales app's role, when it exists, is granted door_lookup by setup_roles
SELECT to_regrole('firstsight_sales_app') IS NULL
    OR has_function_privilege('firstsight_sales_app', 'firstsight.door_lookup(bigint, bigint, bigint, timestamptz)', 'EXECUTE')
       AS sales_app_may_ask;
SELECT revoke_project('regress_fs_door_mgr', :p), revoke_project('regress_fs_door_other', :other);
DROP ROLE regress_fs_door_mgr, regress_fs_door_other, regress_fs_door_nobody;
-- the capture and gallery face were this test's own (their 2024 expiry would be overdue)
DELETE FROM capture WHERE project_id = :p;
DELETE FROM face WHERE project_id = :p;
