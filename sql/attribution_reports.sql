-- Attribution: reports (报备).  A report protects only when filed before the
-- visit it claims and still valid at it (72 hours, exclusive; or a channel's
-- daily cut-off); a masked report (138****8000) matches the bound phone's
-- first three and last four digits, a full report the full number; a
-- customer who paid a deposit cannot be reported.  Raw numbers are never stored.
\set pname 'Reports'
\i sql/attribution_setup.psql

-- valid: 71 hours before the visit
SELECT pg_temp.person(301, '13800000301');
SELECT pg_temp.report(21, '13800000301', '2024-03-01 11:00');
SELECT pg_temp.visit(3001, 301, '2024-03-04 10:00', 1, 21);
SELECT pg_temp.deal(1, 301, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(1);
-- expired: exactly 72 hours before the visit (the validity end is exclusive)
SELECT pg_temp.person(302, '13800000302');
SELECT pg_temp.report(21, '13800000302', '2024-03-01 10:00');
SELECT pg_temp.visit(3002, 302, '2024-03-04 10:00', 1, 21);
SELECT pg_temp.deal(2, 302, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(2);
-- a report after the visit it claims protects nothing (and looks like a hanging order)
SELECT pg_temp.person(303, '13800000303');
SELECT pg_temp.visit(3003, 303, '2024-03-04 10:00', 1, 21);
SELECT pg_temp.report(21, '13800000303', '2024-03-04 10:30');
SELECT pg_temp.deal(3, 303, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(3);
-- a report by another channel does not cover this agency's visit
SELECT pg_temp.person(304, '13800000304');
SELECT pg_temp.report(22, '13800000304', '2024-03-04 09:00');
SELECT pg_temp.visit(3004, 304, '2024-03-04 10:00', 1, 21);
SELECT pg_temp.deal(4, 304, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(4);
-- a colleague's report of the same agency covers the visit
SELECT pg_temp.person(305, '13800000305');
SELECT pg_temp.report(23, '13800000305', '2024-03-04 09:00');
SELECT pg_temp.visit(3005, 305, '2024-03-04 10:00', 1, 21);
SELECT pg_temp.deal(5, 305, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(5);

-- masked reports match the first three and last four digits of the bound phone
SELECT pg_temp.person(306, '13912345678');
SELECT pg_temp.report(21, '139****5678', '2024-03-04 09:00');
SELECT pg_temp.visit(3006, 306, '2024-03-04 10:00', 1, 21);
SELECT pg_temp.deal(6, 306, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(6);
SELECT evidence->'reports'->0->>'masked' AS masked FROM attribution WHERE project_id = :p AND deal_id = 6;
-- a full report with other middle digits does not match, though the masked digits agree
SELECT pg_temp.person(307, '13912345679');
SELECT pg_temp.report(21, '13900005679', '2024-03-04 09:00');
SELECT pg_temp.visit(3007, 307, '2024-03-04 10:00', 1, 21);
SELECT pg_temp.deal(7, 307, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(7);
-- a masked report with other digits does not match
SELECT pg_temp.person(308, '13912340000');
SELECT pg_temp.report(21, '138****0000', '2024-03-04 09:00');
SELECT pg_temp.visit(3008, 308, '2024-03-04 10:00', 1, 21);
SELECT pg_temp.deal(8, 308, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(8);
-- phone formats: +86, spaces and dashes normalise to the same hash
SELECT pg_temp.person(309, '13712341234');
SELECT pg_temp.report(21, '+86 137-1234-1234', '2024-03-04 09:00');
SELECT pg_temp.visit(3009, 309, '2024-03-04 10:00', 1, 21);
SELECT pg_temp.deal(9, 309, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(9);
-- only hashes are stored
SELECT count(*) AS reports, count(phone_hash) AS full_reports, count(*) FILTER (WHERE length(phone_masked_hash) = 32) AS hashed
FROM report WHERE project_id = :p;

-- a daily cut-off for Fang (platform, 60-day protection): reports valid until the next 18:00 local
UPDATE channel SET report_cutoff = '18:00' WHERE project_id = :p AND channel_id = 13;
SELECT to_char(report_expiry('2024-03-04 10:00+08', '18:00', '72 hours', 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS before_cutoff,
       to_char(report_expiry('2024-03-04 19:00+08', '18:00', '72 hours', 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS after_cutoff;
SELECT pg_temp.person(310, '13800000310');
SELECT pg_temp.report(24, '13800000310', '2024-03-04 10:00');
SELECT pg_temp.visit(3010, 310, '2024-03-04 17:59', 1, 24);		-- before the cut-off: valid
SELECT pg_temp.deal(10, 310, '2024-03-10 15:00', 13, 24, 1);
SELECT * FROM pg_temp.decision(10);
SELECT pg_temp.person(311, '13800000311');
SELECT pg_temp.report(24, '13800000311', '2024-03-04 10:00');
SELECT pg_temp.visit(3011, 311, '2024-03-04 18:00', 1, 24);		-- at the cut-off: expired
SELECT pg_temp.deal(11, 311, '2024-03-10 15:00', 13, 24, 1);
SELECT * FROM pg_temp.decision(11);
SELECT pg_temp.person(312, '13800000312');
SELECT pg_temp.report(24, '13800000312', '2024-03-04 19:00');
SELECT pg_temp.visit(3012, 312, '2024-03-05 17:00', 1, 24);		-- filed after the cut-off: valid until the next day's
SELECT pg_temp.deal(12, 312, '2024-03-10 15:00', 13, 24, 1);
SELECT * FROM pg_temp.decision(12);

-- a shorter report_validity setting applies
SELECT configure(:p, 'report_validity', '2 hours');
SELECT pg_temp.person(313, '13800000313');
SELECT pg_temp.report(21, '13800000313', '2024-03-04 07:00');
SELECT pg_temp.visit(3013, 313, '2024-03-04 10:00', 1, 21);
SELECT pg_temp.deal(13, 313, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(13);
SELECT reset_setting(:p, 'report_validity');

-- deposits: a customer who paid one cannot be reported, masked or full
SELECT pg_temp.person(314, '13800000314');
SELECT record_deposit(:p, 314, '2024-03-05 12:00+08');
\set VERBOSITY sqlstate
SELECT pg_temp.report(22, '13800000314', '2024-03-06 09:00');
SELECT pg_temp.report(22, '138****0314', '2024-03-06 09:00');
\set VERBOSITY default
SELECT file_report(:p, 22, '13800000314', '2024-03-06 09:00+08');
-- a report claiming a time before the deposit is refused too: it counts from when it is filed
SELECT pg_temp.report(22, '13800000314', '2024-03-05 11:00');
-- bad input
\set VERBOSITY sqlstate
SELECT file_report(:p, 99, '13800000314');
SELECT file_report(:p, 21, 'not a phone');
SELECT file_report(:p, 21, NULL);
\set VERBOSITY default
SELECT file_report(:p, 21, '12');
