-- BI views: local days and months, documented columns, no biometric column,
-- same numbers after biometric data is erased.
\set pname 'BI'
\i sql/attribution_setup.psql
-- two visitors through the camera path on each side of local midnight
-- (2024-03-01 23:59 and 2024-03-02 00:00 Asia/Shanghai are both 2024-03-01 in UTC)
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-03-01 23:59+08', '[1,0,0,0]', 0.9, false),
       (:p, 'gate', '2024-03-02 00:00+08', '[0,1,0,0]', 0.9, false),
       (:p, 'gate', '2024-03-05 10:00+08', '[1,0,0,0]', 0.9, false);
SELECT pg_temp.person(801, '13800000801');
SELECT pg_temp.report(21, '13800000801', '2024-03-02 09:00');
SELECT pg_temp.visit(8001, 801, '2024-03-02 10:00', 1, 21);
SELECT pg_temp.visit(8002, 801, '2024-03-20 10:00', 1);
SELECT pg_temp.person(802);
SELECT pg_temp.visit(8003, 802, '2024-03-02 11:00', 2);
SELECT pg_temp.visit(8004, 802, '2024-03-03 11:00', 1);
SELECT pg_temp.person(803);
SELECT pg_temp.visit(8005, 803, '2024-03-31 23:30', 2, 22);
SELECT pg_temp.deal(1, 801, '2024-03-25 15:00', 11, 21, 1, price => 2000000);
SELECT pg_temp.deal(2, 802, '2024-03-31 23:59', 11, 21, 2, price => 1500000);
SELECT pg_temp.deal(3, 803, '2024-04-01 00:00', 12, 22, 2, price => 1000000);

SELECT day, visits, unique_persons, new_persons, returning_persons, accompanied_visits, received_visits
FROM daily_traffic WHERE project_id = :p ORDER BY day;
SELECT month, channel, kind, visits, visit_share, deals, deal_share, revenue
FROM channel_share WHERE project_id = :p ORDER BY month, channel;
SELECT month, channel, first_visits, returned, bought, conversion_rate
FROM conversion_funnel WHERE project_id = :p ORDER BY month, channel;
SELECT deal_id, signed_local, claimed_channel, entitled_channel, commission, rule, flags, version
FROM flagged_deals WHERE project_id = :p ORDER BY deal_id;
SELECT month, channel, commission_rate, deals, revenue, commission, flagged_deals, flagged_commission
FROM commission_ledger WHERE project_id = :p ORDER BY month, channel;
SELECT month, consultant, receptions, persons_received, new_persons_received, deals, revenue, conflicts
FROM consultant_board WHERE project_id = :p ORDER BY month, consultant;

-- protection windows still running (relative to now).  A report counts from
-- when the database received it (report.created_at), as in the decision; the
-- time the agency claims is shown, never used.  Woai reports person 804,
-- claiming the report was made a month ago, and brings them after filing:
-- the report covers that visit (its window from the filing time), and the
-- protection runs 30 days from the visit
SELECT pg_temp.person(804, '13800000804');
SELECT file_report(:p, 22, '13800000804', now() - interval '30 days') IS NOT NULL AS reported;
INSERT INTO visit (project_id, visit_id, person_id, started_at, ended_at, agent_id)
VALUES (:p, 8006, 804, clock_timestamp(), clock_timestamp() + interval '30 minutes', 22);
-- and one unreported agency visit, which protects nothing
SELECT pg_temp.person(805, '13800000805');
INSERT INTO visit (project_id, visit_id, person_id, started_at, ended_at, agent_id)
VALUES (:p, 8007, 805, now() - interval '1 day', now() - interval '23 hours', 22);
-- the agency back-dates: Woai's agent brought person 807 yesterday with no
-- report; today the agency files one claiming an hour before that visit.  It
-- came after the visit, so it protects nothing (the view used to count the
-- claimed time and showed 807 protected, while the decision pays nothing)
SELECT pg_temp.person(807, '13800000807');
INSERT INTO visit (project_id, visit_id, person_id, started_at, ended_at, agent_id)
VALUES (:p, 8008, 807, now() - interval '1 day', now() - interval '23 hours', 22);
SELECT verdict FROM file_report_verdict(:p, 22, '13800000807', now() - interval '1 day 1 hour');
SELECT person_id, channel, agent_id, days_left BETWEEN 29 AND 30 AS about_30_days_left,
       protected_from > now() - interval '1 minute' AS from_the_visit_after_filing
FROM protection_expiring WHERE project_id = :p ORDER BY protected_until;
-- the view and the decision agree: a deal of 807 signed now pays Woai nothing
SELECT pg_temp.deal(6, 807, to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), 12, 22, 2, price => 900000);
SELECT channel, commission, rule, flags FROM pg_temp.decision(6);
DELETE FROM deal WHERE project_id = :p AND deal_id = 6;
SELECT configure(:p, 'attribution_mode', 'first_visit');
SELECT person_id, channel FROM protection_expiring WHERE project_id = :p ORDER BY person_id;
-- a person a deal names only as co-buyer has bought: no window to watch any more
SELECT pg_temp.deal(4, 802, to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), co => ARRAY[804]::bigint[]);
SELECT person_id, channel FROM protection_expiring WHERE project_id = :p ORDER BY person_id;
-- nor one whose co-buyer identity was merged into them (merge_person moves the main
-- buyer of a deal, not the co-buyers: the view follows merged_into)
SELECT pg_temp.person(806);
SELECT pg_temp.deal(5, 801, to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), co => ARRAY[806]::bigint[]);
SELECT person_id, channel FROM protection_expiring WHERE project_id = :p ORDER BY person_id;
UPDATE person SET merged_into = 805, merged_at = now() WHERE project_id = :p AND person_id = 806;
SELECT person_id, channel FROM protection_expiring WHERE project_id = :p ORDER BY person_id;
SELECT reset_setting(:p, 'attribution_mode');

-- no view has a biometric column (embedding or bytea), and every column is documented
SELECT c.table_name, c.column_name, c.udt_name FROM information_schema.columns c
WHERE c.table_schema = 'firstsight'
  AND c.table_name IN ('daily_traffic', 'channel_share', 'conversion_funnel', 'flagged_deals',
                       'commission_ledger', 'consultant_board', 'protection_expiring')
  AND c.udt_name IN ('embedding', 'bytea');
SELECT v AS view_without_comment FROM unnest(ARRAY['daily_traffic', 'channel_share', 'conversion_funnel', 'flagged_deals',
                       'commission_ledger', 'consultant_board', 'protection_expiring']) v
WHERE obj_description(format('firstsight.%I', v)::regclass, 'pg_class') IS NULL;
SELECT a.attrelid::regclass AS view, a.attname AS column_without_comment
FROM pg_attribute a JOIN pg_class k ON k.oid = a.attrelid
WHERE k.relnamespace = 'firstsight'::regnamespace
  AND k.relname IN ('daily_traffic', 'channel_share', 'conversion_funnel', 'flagged_deals',
                    'commission_ledger', 'consultant_board', 'protection_expiring')
  AND a.attnum > 0 AND col_description(a.attrelid, a.attnum) IS NULL
ORDER BY 1, 2;

-- erase every biometric datum of the project: the views do not change
CREATE TEMP TABLE before AS
SELECT 'daily_traffic' AS v, md5(string_agg(t::text, ',' ORDER BY t::text)) AS h FROM daily_traffic t WHERE project_id = :p
UNION ALL SELECT 'channel_share', md5(string_agg(t::text, ',' ORDER BY t::text)) FROM channel_share t WHERE project_id = :p
UNION ALL SELECT 'conversion_funnel', md5(string_agg(t::text, ',' ORDER BY t::text)) FROM conversion_funnel t WHERE project_id = :p
UNION ALL SELECT 'flagged_deals', md5(string_agg((t.deal_id, t.flags, t.commission)::text, ',' ORDER BY t.deal_id)) FROM flagged_deals t WHERE project_id = :p
UNION ALL SELECT 'commission_ledger', md5(string_agg(t::text, ',' ORDER BY t::text)) FROM commission_ledger t WHERE project_id = :p
UNION ALL SELECT 'consultant_board', md5(string_agg(t::text, ',' ORDER BY t::text)) FROM consultant_board t WHERE project_id = :p;
UPDATE capture SET face = NULL, photo = NULL WHERE project_id = :p;
DELETE FROM face WHERE project_id = :p;
CREATE TEMP TABLE after AS
SELECT 'daily_traffic' AS v, md5(string_agg(t::text, ',' ORDER BY t::text)) AS h FROM daily_traffic t WHERE project_id = :p
UNION ALL SELECT 'channel_share', md5(string_agg(t::text, ',' ORDER BY t::text)) FROM channel_share t WHERE project_id = :p
UNION ALL SELECT 'conversion_funnel', md5(string_agg(t::text, ',' ORDER BY t::text)) FROM conversion_funnel t WHERE project_id = :p
UNION ALL SELECT 'flagged_deals', md5(string_agg((t.deal_id, t.flags, t.commission)::text, ',' ORDER BY t.deal_id)) FROM flagged_deals t WHERE project_id = :p
UNION ALL SELECT 'commission_ledger', md5(string_agg(t::text, ',' ORDER BY t::text)) FROM commission_ledger t WHERE project_id = :p
UNION ALL SELECT 'consultant_board', md5(string_agg(t::text, ',' ORDER BY t::text)) FROM consultant_board t WHERE project_id = :p;
SELECT b.v, b.h = a.h AS unchanged FROM before b JOIN after a USING (v) ORDER BY b.v;
-- and reattribution after erasure decides the same
SELECT count(*) FILTER (WHERE changed) AS changed_after_erasure FROM reattribute(:p, '2024-01-01 00:00+08', '2025-01-01 00:00+08');
