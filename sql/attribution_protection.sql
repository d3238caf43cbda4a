-- Attribution: agency protection windows.  Lianjia protects 90 days, Woai 30.
-- A window of N days starts on the local day of the agency's first visit (day 1)
-- and ends at local midnight of day N + 1, exclusive: a visit exactly at the
-- end is outside the window.  Every visit is reported in time here.
\set pname 'Protection'
\i sql/attribution_setup.psql

-- another agency inside the window: a conflict, ownership does not move
SELECT pg_temp.person(201, '13800000201');
SELECT pg_temp.report(21, '13800000201', '2024-03-01 09:00');
SELECT pg_temp.visit(2001, 201, '2024-03-01 10:00', 1, 21);
SELECT pg_temp.report(22, '13800000201', '2024-03-20 09:00');
SELECT pg_temp.visit(2002, 201, '2024-03-20 10:00', 1, 22);
SELECT pg_temp.deal(1, 201, '2024-03-25 15:00', 12, 22, 1);
SELECT * FROM pg_temp.decision(1);

-- two agencies on one day: the earlier visit wins, the later one is a conflict
SELECT pg_temp.person(202, '13800000202');
SELECT pg_temp.report(22, '13800000202', '2024-03-01 08:00');
SELECT pg_temp.report(21, '13800000202', '2024-03-01 08:30');
SELECT pg_temp.visit(2003, 202, '2024-03-01 11:00', 1, 22);
SELECT pg_temp.visit(2004, 202, '2024-03-01 16:00', 2, 21);
SELECT pg_temp.deal(2, 202, '2024-03-10 15:00', 12, 22, 1);
SELECT * FROM pg_temp.decision(2);

-- Woai's 30-day window from 2024-03-01 15:00 ends at 2024-03-31 00:00 Asia/Shanghai
-- (2024-03-30 16:00 UTC): 23:59 local is inside, 00:00 local is outside,
-- though both are on 2024-03-30 in UTC
SELECT local_days_end('2024-03-01 15:00+08', 30, 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai' AS woai_window_end;
SELECT pg_temp.person(203, '13800000203');
SELECT pg_temp.report(22, '13800000203', '2024-03-01 09:00');
SELECT pg_temp.visit(2005, 203, '2024-03-01 15:00', 1, 22);
SELECT pg_temp.report(21, '13800000203', '2024-03-30 20:00');
SELECT pg_temp.visit(2006, 203, '2024-03-30 23:59', 2, 21);
SELECT pg_temp.deal(3, 203, '2024-03-30 23:59:30', 11, 21, 2);
SELECT * FROM pg_temp.decision(3);
SELECT pg_temp.person(204, '13800000204');
SELECT pg_temp.report(22, '13800000204', '2024-03-01 09:00');
SELECT pg_temp.visit(2007, 204, '2024-03-01 15:00', 1, 22);
SELECT pg_temp.report(21, '13800000204', '2024-03-30 20:00');
SELECT pg_temp.visit(2008, 204, '2024-03-31 00:00', 2, 21);
SELECT pg_temp.deal(4, 204, '2024-04-02 10:00', 11, 21, 2);
SELECT * FROM pg_temp.decision(4);

-- protection ended and nobody brought the buyer again: natural, no commission
SELECT pg_temp.person(205, '13800000205');
SELECT pg_temp.report(22, '13800000205', '2024-03-01 09:00');
SELECT pg_temp.visit(2009, 205, '2024-03-01 15:00', 1, 22);
SELECT pg_temp.visit(2010, 205, '2024-03-20 15:00', 1);
SELECT pg_temp.deal(5, 205, '2024-03-31 00:00', 12, 22, 1);
SELECT * FROM pg_temp.decision(5);
-- one minute earlier the window still holds
SELECT pg_temp.person(206, '13800000206');
SELECT pg_temp.report(22, '13800000206', '2024-03-01 09:00');
SELECT pg_temp.visit(2011, 206, '2024-03-01 15:00', 1, 22);
SELECT pg_temp.deal(6, 206, '2024-03-30 23:59', 12, 22, 1);
SELECT * FROM pg_temp.decision(6);

-- the same agency coming back does not renew its window (protection runs from its first visit)
SELECT pg_temp.person(207, '13800000207');
SELECT pg_temp.report(22, '13800000207', '2024-03-01 09:00');
SELECT pg_temp.visit(2012, 207, '2024-03-01 15:00', 1, 22);
SELECT pg_temp.report(22, '13800000207', '2024-03-25 09:00');
SELECT pg_temp.visit(2013, 207, '2024-03-25 15:00', 1, 22);
SELECT pg_temp.deal(7, 207, '2024-04-05 10:00', 12, 22, 1);
SELECT * FROM pg_temp.decision(7);

-- a deal claimed by another agency inside the window, without that agency ever visiting
SELECT pg_temp.person(208, '13800000208');
SELECT pg_temp.report(21, '13800000208', '2024-03-01 09:00');
SELECT pg_temp.visit(2014, 208, '2024-03-01 15:00', 1, 21);
SELECT pg_temp.deal(8, 208, '2024-03-10 10:00', 13, 24, 1);
SELECT * FROM pg_temp.decision(8);
-- negative: the protected agency's own deal has no conflict
SELECT pg_temp.person(209, '13800000209');
SELECT pg_temp.report(21, '13800000209', '2024-03-01 09:00');
SELECT pg_temp.visit(2015, 209, '2024-03-01 15:00', 1, 21);
SELECT pg_temp.deal(9, 209, '2024-03-10 10:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(9);

-- a project in another time zone: the window ends at local midnight there
SELECT local_days_end('2024-03-01 23:30+00', 1, 'Europe/London') AT TIME ZONE 'UTC' AS london_end_utc,
       local_days_end('2024-03-01 23:30+00', 1, 'Asia/Shanghai') AT TIME ZONE 'UTC' AS shanghai_end_utc;

-- the evidence names the protection windows
SELECT jsonb_array_length(evidence->'protection_windows') AS windows,
       (evidence->'protection_windows'->0->>'channel_id') AS channel,
       to_char((evidence->'protection_windows'->0->>'until')::timestamptz AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS until
FROM attribution WHERE project_id = :p AND deal_id = 3 AND is_current;
