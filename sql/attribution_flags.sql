-- Attribution flags: flying_order, hanging_order_suspect, consultant_conflict,
-- abnormal_cycle, prior_visit_elsewhere (protection_conflict is in
-- attribution_protection), each positive and negative.
SET search_path = firstsight, public;
-- a sister project of the same group, seen first: one face and one ID card
SELECT create_project('Flags sister', 'Asia/Shanghai', 4) AS sister \gset
INSERT INTO camera VALUES (:sister, 'gate', 'entrance');
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:sister, 'gate', '2024-01-05 10:00+08', '[0,1,0,0]', 0.9, false),
       (:sister, 'gate', '2024-01-06 10:00+08', '[1,1,0,0]', 0.9, false),
       (:sister, 'gate', '2024-06-01 10:00+08', '[1,0,1,0]', 0.9, false);
SELECT bind_identity(:sister, c.capture_id, '11010519491231002X', NULL) IS NOT NULL AS bound
FROM capture c WHERE c.project_id = :sister AND c.captured_at = '2024-01-06 10:00+08';
\set pname 'Flags'
\i sql/attribution_setup.psql
UPDATE project SET group_name = 'Vanke South' WHERE project_id IN (:p, :sister);

-- flying order: came alone first, deal claimed by an agency
SELECT pg_temp.person(401);
SELECT pg_temp.visit(4001, 401, '2024-03-01 10:00', 1);
SELECT pg_temp.deal(1, 401, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(1);
-- negative: the same buyer's deal claimed by nobody
SELECT pg_temp.person(402);
SELECT pg_temp.visit(4002, 402, '2024-03-01 10:00', 1);
SELECT pg_temp.deal(2, 402, '2024-03-10 15:00', NULL, NULL, 1);
SELECT * FROM pg_temp.decision(2);

-- hanging order: the claiming agent was never seen with the buyer
SELECT pg_temp.person(403, '13800000403');
SELECT pg_temp.report(22, '13800000403', '2024-03-01 09:00');
SELECT pg_temp.visit(4003, 403, '2024-03-01 10:00', 1, 22);
-- (a colleague at Woai who never met the buyer; claiming another channel's agent is refused, attribution_claims)
INSERT INTO agent VALUES (:p, 25, 12, 'Woai Feng');
SELECT pg_temp.deal(3, 403, '2024-03-10 15:00', 12, 25, 1);
SELECT * FROM pg_temp.decision(3);
-- hanging order: the report came after a natural visit
SELECT pg_temp.person(404, '13800000404');
SELECT pg_temp.visit(4004, 404, '2024-03-01 10:00', 1);
SELECT pg_temp.report(21, '13800000404', '2024-03-02 09:00');
SELECT pg_temp.visit(4005, 404, '2024-03-02 10:00', 1, 21);
SELECT pg_temp.deal(4, 404, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(4);
-- negative: reported, accompanied and claimed by the same agent
SELECT pg_temp.person(405, '13800000405');
SELECT pg_temp.report(21, '13800000405', '2024-03-01 09:00');
SELECT pg_temp.visit(4006, 405, '2024-03-01 10:00', 1, 21);
SELECT pg_temp.deal(5, 405, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(5);

-- consultant conflict: Li closes a buyer Wang received 9 days earlier (Wang owns 30 days)
SELECT pg_temp.person(406);
SELECT pg_temp.visit(4007, 406, '2024-03-01 10:00', 1);
SELECT pg_temp.visit(4008, 406, '2024-03-08 10:00', 2);
SELECT pg_temp.deal(6, 406, '2024-03-10 15:00', NULL, NULL, 2);
SELECT * FROM pg_temp.decision(6);
-- negative: at the end of Wang's 30 days (2024-03-31 00:00 local) Li's deal is Li's
SELECT pg_temp.person(407);
SELECT pg_temp.visit(4009, 407, '2024-03-01 10:00', 1);
SELECT pg_temp.deal(7, 407, '2024-03-31 00:00', NULL, NULL, 2);
SELECT * FROM pg_temp.decision(7);
-- negative: one minute earlier it is still Wang's, flagged
SELECT pg_temp.person(408);
SELECT pg_temp.visit(4010, 408, '2024-03-01 10:00', 1);
SELECT pg_temp.deal(8, 408, '2024-03-30 23:59', NULL, NULL, 2);
SELECT * FROM pg_temp.decision(8);
-- after Wang's window lapsed, the next receiving consultant owns the buyer
SELECT pg_temp.person(409);
SELECT pg_temp.visit(4011, 409, '2024-01-01 10:00', 1);
SELECT pg_temp.visit(4012, 409, '2024-03-01 10:00', 2);
SELECT pg_temp.deal(9, 409, '2024-03-10 15:00', NULL, NULL, 1);
SELECT * FROM pg_temp.decision(9);

-- abnormal cycle: 20 Lianjia deals 8 to 12 days after the first visit, then outliers
DO $$
BEGIN
	FOR i IN 1 .. 20 LOOP
		PERFORM pg_temp.person(500 + i, '1390000' || lpad((500 + i)::text, 4, '0'));
		PERFORM pg_temp.report(21, '1390000' || lpad((500 + i)::text, 4, '0'), '2024-01-01 09:00');
		PERFORM pg_temp.visit(5000 + i, 500 + i, '2024-01-01 10:00', 1, 21);
		PERFORM pg_temp.deal(100 + i, 500 + i, to_char(timestamp '2024-01-01 10:00' + (8 + i % 5) * interval '1 day', 'YYYY-MM-DD HH24:MI'), 11, 21, 1);
	END LOOP;
END
$$;
SELECT count(*) AS earlier_deals, round(avg(cycle_days), 1) AS mean_days, round(stddev_samp(cycle_days), 2) AS sd_days
FROM attribution WHERE project_id = :p AND deal_id BETWEEN 101 AND 120;
SELECT count(*) FILTER (WHERE 'abnormal_cycle' = ANY (flags)) AS flagged_among_them
FROM attribution WHERE project_id = :p AND deal_id BETWEEN 101 AND 120;
-- 40 days: far outside mean 10 +- 2 x 1.45
SELECT pg_temp.person(531, '13900000531');
SELECT pg_temp.report(21, '13900000531', '2024-01-01 09:00');
SELECT pg_temp.visit(5031, 531, '2024-01-01 10:00', 1, 21);
SELECT pg_temp.deal(131, 531, '2024-02-10 10:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(131);
-- 11 days: normal
SELECT pg_temp.person(532, '13900000532');
SELECT pg_temp.report(21, '13900000532', '2024-01-02 09:00');
SELECT pg_temp.visit(5032, 532, '2024-01-02 10:00', 1, 21);
SELECT pg_temp.deal(132, 532, '2024-01-13 10:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(132);
-- with fewer than abnormal_cycle_min_deals earlier deals nothing is flagged
SELECT configure(:p, 'abnormal_cycle_min_deals', '50');
SELECT pg_temp.person(533, '13900000533');
SELECT pg_temp.report(21, '13900000533', '2024-01-01 09:00');
SELECT pg_temp.visit(5033, 533, '2024-01-01 10:00', 1, 21);
SELECT pg_temp.deal(133, 533, '2024-02-10 10:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(133);
SELECT reset_setting(:p, 'abnormal_cycle_min_deals');
-- the bound is a prediction interval: mean and standard deviation are estimated from
-- the channel's n earlier deals, so sigma = 2 becomes Student's t (n - 1 degrees of
-- freedom) widened by sqrt(1 + 1/n): 2.18 sd over these 21 deals, not 2
SELECT count(*) AS earlier_deals, round(avg(cycle_days), 2) AS mean_days, round(stddev_samp(cycle_days), 3) AS sd_days,
       round(abnormal_cycle_bound(2, count(*))::numeric, 3) AS bound_sd,
       round(avg(cycle_days) + 2 * stddev_samp(cycle_days), 2) AS two_sd_limit,
       round(avg(cycle_days) + abnormal_cycle_bound(2, count(*))::numeric * stddev_samp(cycle_days), 2) AS limit_days
FROM attribution WHERE project_id = :p AND entitled_channel_id = 11 AND is_current AND signed_at < '2024-01-20 18:00+08';
-- negative: 13.05 days is beyond mean + 2 sd (12.91) but inside the bound (13.17): not flagged
SELECT pg_temp.person(534, '13900000534');
SELECT pg_temp.report(21, '13900000534', '2024-01-07 15:48');
SELECT pg_temp.visit(5034, 534, '2024-01-07 16:48', 1, 21);
SELECT pg_temp.deal(134, 534, '2024-01-20 18:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(134);
-- positive: 13.3 days is beyond the bound: flagged, and the timeline states the bound
SELECT pg_temp.person(535, '13900000535');
SELECT pg_temp.report(21, '13900000535', '2024-01-07 09:48');
SELECT pg_temp.visit(5035, 535, '2024-01-07 10:48', 1, 21);
SELECT pg_temp.deal(135, 535, '2024-01-20 18:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(135);
SELECT e->>'event' AS abnormal_cycle_evidence FROM attribution a, jsonb_array_elements(a.evidence->'timeline') e
WHERE a.project_id = :p AND a.deal_id = 135 AND a.is_current AND e->>'event' LIKE 'first visit to deal%';
-- the bound tends to sigma as the history grows
SELECT n AS earlier_deals, round(abnormal_cycle_bound(2, n)::numeric, 3) AS bound_sd FROM unnest(ARRAY[20, 50, 200, 1000]) n;

-- prior visit elsewhere, by face: seen at the sister project on 2024-01-05
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-03-01 10:00+08', '[0,1,0,0.01]', 0.9, false),
       (:p, 'gate', '2024-03-01 11:00+08', '[0,0,0,1]', 0.9, false),
       (:p, 'gate', '2024-03-01 12:00+08', '[0,0,1,1]', 0.9, false),
       (:p, 'gate', '2024-03-01 13:00+08', '[1,0,1,0]', 0.9, false);
CREATE FUNCTION pg_temp.cam_person(at text) RETURNS bigint LANGUAGE sql AS $$
	SELECT c.person_id FROM firstsight.capture c WHERE c.project_id = (SELECT max(project_id) FROM firstsight.project)
	AND c.captured_at = (at || '+08')::timestamptz $$;
SELECT pg_temp.deal(141, pg_temp.cam_person('2024-03-01 10:00'), '2024-03-20 10:00');
SELECT * FROM pg_temp.decision(141);
SELECT e->>'by' AS seen_by, (e->>'project_id')::bigint = :sister AS at_sister
FROM attribution a, jsonb_array_elements(a.evidence->'seen_elsewhere') e WHERE a.project_id = :p AND a.deal_id = 141;
-- negative: a face the sister never saw
SELECT pg_temp.deal(142, pg_temp.cam_person('2024-03-01 11:00'), '2024-03-20 10:00');
SELECT * FROM pg_temp.decision(142);
-- by ID card: bound here at subscription, bound at the sister earlier
SELECT bind_identity(:p, c.capture_id, '110105 19491231 002x', NULL) IS NOT NULL AS bound
FROM capture c WHERE c.project_id = :p AND c.captured_at = '2024-03-01 12:00+08';
SELECT pg_temp.deal(143, pg_temp.cam_person('2024-03-01 12:00'), '2024-03-20 10:00');
SELECT * FROM pg_temp.decision(143);
SELECT e->>'by' AS seen_by FROM attribution a, jsonb_array_elements(a.evidence->'seen_elsewhere') e
WHERE a.project_id = :p AND a.deal_id = 143;
-- negative: the sister saw this face only later (2024-06-01)
SELECT pg_temp.deal(144, pg_temp.cam_person('2024-03-01 13:00'), '2024-03-20 10:00');
SELECT * FROM pg_temp.decision(144);
-- negative: another group
UPDATE project SET group_name = 'Other group' WHERE project_id = :sister;
SELECT pg_temp.deal(145, pg_temp.cam_person('2024-03-01 10:00'), '2024-03-21 10:00');
SELECT * FROM pg_temp.decision(145);
-- no embedding ever reaches the evidence
SELECT count(*) AS evidence_with_vectors FROM attribution
WHERE project_id = :p AND evidence::text ~ '\[[-0-9.e]+, [-0-9.e]+, [-0-9.e]+, [-0-9.e]+\]';
