-- Attribution: first touch decides; natural ownership lapse; first_visit mode;
-- the camera path end to end.
\set pname 'First touch'
\i sql/attribution_setup.psql

-- came alone first: natural, no commission, no flags
SELECT pg_temp.person(101);
SELECT pg_temp.visit(1001, 101, '2024-03-01 10:00', 1);
SELECT pg_temp.deal(1, 101, '2024-03-20 15:00', cons => 1);
SELECT * FROM pg_temp.decision(1);

-- brought by a reported agent first: the agency, 3% commission
SELECT pg_temp.person(102, '13812348000');
SELECT pg_temp.report(21, '13812348000', '2024-03-01 09:00');
SELECT pg_temp.visit(1002, 102, '2024-03-01 10:00', 1, 21);
SELECT pg_temp.visit(1003, 102, '2024-03-05 10:00', 2);
SELECT pg_temp.deal(2, 102, '2024-03-20 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(2);

-- brought by an agent without a report (report_protection mode): natural; the claim is a flying order
SELECT pg_temp.person(103, '13900001111');
SELECT pg_temp.visit(1004, 103, '2024-03-01 10:00', 1, 22);
SELECT pg_temp.deal(3, 103, '2024-03-20 15:00', 12, 22, 1);
SELECT * FROM pg_temp.decision(3);

-- first_visit mode (到访为王): the accompanied first visit decides, no report needed
SELECT configure(:p, 'attribution_mode', 'first_visit');
SELECT pg_temp.person(104);
SELECT pg_temp.visit(1005, 104, '2024-03-01 10:00', 1, 22);
SELECT pg_temp.deal(4, 104, '2024-03-20 15:00', 12, 22, 1);
SELECT * FROM pg_temp.decision(4);
-- and a later agency cannot take a natural first visitor, reports or not
SELECT pg_temp.person(105, '13700002222');
SELECT pg_temp.visit(1006, 105, '2024-03-01 10:00', 1);
SELECT pg_temp.report(21, '137****2222', '2024-03-02 09:00');
SELECT pg_temp.visit(1007, 105, '2024-03-02 10:00', 1, 21);
SELECT pg_temp.deal(5, 105, '2024-03-20 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(5);
SELECT reset_setting(:p, 'attribution_mode');

-- natural ownership lapses after 180 days without a visit (calendar days, Asia/Shanghai):
-- last natural visit 2024-01-01 10:00 -> owned up to 2024-06-28 23:59:59 local
SELECT pg_temp.person(106, '13600003333');
SELECT pg_temp.visit(1008, 106, '2024-01-01 10:00', 1);
SELECT pg_temp.report(21, '13600003333', '2024-06-28 20:00');
SELECT pg_temp.visit(1009, 106, '2024-06-28 23:59', 1, 21);		-- still natural: no change
SELECT pg_temp.deal(6, 106, '2024-07-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(6);
SELECT pg_temp.person(107, '13600004444');
SELECT pg_temp.visit(1010, 107, '2024-01-01 10:00', 1);
SELECT pg_temp.report(21, '13600004444', '2024-06-28 20:00');
SELECT pg_temp.visit(1011, 107, '2024-06-29 00:00', 2, 21);		-- day 181: the agency takes over
SELECT pg_temp.deal(7, 107, '2024-07-10 15:00', 11, 21, 2);
SELECT * FROM pg_temp.decision(7);
-- a natural visit renews natural ownership
SELECT pg_temp.person(108, '13600005555');
SELECT pg_temp.visit(1012, 108, '2024-01-01 10:00', 1);
SELECT pg_temp.visit(1013, 108, '2024-05-01 10:00', 1);
SELECT pg_temp.report(21, '13600005555', '2024-07-01 09:00');
SELECT pg_temp.visit(1014, 108, '2024-07-01 10:00', 2, 21);
SELECT pg_temp.deal(8, 108, '2024-07-10 15:00', 11, 21, 2);
SELECT * FROM pg_temp.decision(8);

-- a deal with no recorded visit: natural; a claimed agent never seen is a hanging-order suspect
SELECT pg_temp.person(109);
SELECT pg_temp.deal(9, 109, '2024-03-20 15:00', 11, 23);
SELECT * FROM pg_temp.decision(9);

-- the camera path: a capture makes the person and visit; receive() records the agent
SELECT pg_temp.report(23, '13500006666', '2024-04-01 08:00');
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-04-01 10:00+08', '[0,0,1,0]', 0.9, false),
       (:p, 'sand', '2024-04-01 10:20+08', '[0,0,1,0]', 0.9, false);
SELECT v.visit_id AS cam_visit, v.person_id AS cam_person, c.capture_id AS cam_capture
FROM visit v JOIN capture c ON c.project_id = v.project_id AND c.visit_id = v.visit_id
WHERE v.project_id = :p AND v.started_at = '2024-04-01 10:00+08' LIMIT 1 \gset
SELECT receive(:p, :cam_visit, 2, 23);
SELECT bind_identity(:p, :cam_capture, NULL, '135 0000 6666') = :cam_person AS bound;
SELECT pg_temp.deal(10, :cam_person, '2024-04-15 11:00', 11, 23, 2);
SELECT * FROM pg_temp.decision(10);
SELECT e->>'zone' AS first_zone, e->>'at' IS NOT NULL AS has_time FROM attribution a, jsonb_extract_path(a.evidence, 'first_sighting') e
WHERE a.project_id = :p AND a.deal_id = 10;

-- receive() errors (SQLSTATE only: the messages name the project)
\set VERBOSITY sqlstate
SELECT receive(:p, 999999, 1);
SELECT receive(:p, :cam_visit, 99);
SELECT receive(:p, :cam_visit, 1, 99);
\set VERBOSITY default
