-- Attribution in a dispute: a deal's claim.  A claim that differs from the
-- entitlement always carries claim_mismatch (so the deal is in flagged_deals);
-- an inconsistent claim (an agent of another channel, an unknown co-buyer) is
-- refused with a clear error, on INSERT and on UPDATE.
\set pname 'Claims'
\i sql/attribution_setup.psql

-- Lianjia brought the buyer under a report
SELECT pg_temp.person(801, '13800000801');
SELECT pg_temp.report(21, '13800000801', '2024-03-01 09:00');
SELECT pg_temp.visit(8001, 801, '2024-03-01 10:00', 1, 21);
-- refused: a claim of Woai (12) with Lianjia's agent 21
SELECT pg_temp.deal(1, 801, '2024-03-10 15:00', 12, 21, 1);
-- refused: a co-buyer who is no person of the project
SELECT pg_temp.deal(1, 801, '2024-03-10 15:00', 11, 21, 1, co => '{999999}');
SELECT pg_temp.deal(1, 801, '2024-03-10 15:00', 11, 21, 1, co => '{NULL}');
SELECT count(*) AS deals FROM deal WHERE project_id = :p;
-- the consistent claim matching the entitlement: no flag
SELECT pg_temp.deal(1, 801, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(1);
-- an update to an inconsistent claim is refused too
UPDATE deal SET channel_id = 13 WHERE project_id = :p AND deal_id = 1;
UPDATE deal SET co_buyer_ids = '{888888}' WHERE project_id = :p AND deal_id = 1;
-- the claim through the agent alone (channel_id NULL) is the agent's channel
UPDATE deal SET channel_id = NULL WHERE project_id = :p AND deal_id = 1;
SELECT * FROM pg_temp.decision(1);

-- a colleague of the entitled agency claims: the channel is right, the agent is not
SELECT pg_temp.person(802, '13800000802');
SELECT pg_temp.report(21, '13800000802', '2024-03-01 09:00');
SELECT pg_temp.visit(8002, 802, '2024-03-01 10:00', 1, 21);
SELECT pg_temp.deal(2, 802, '2024-03-10 15:00', 11, 23, 1);
SELECT * FROM pg_temp.decision(2);
-- the deal claims nothing while an agency is entitled
SELECT pg_temp.person(803, '13800000803');
SELECT pg_temp.report(21, '13800000803', '2024-03-01 09:00');
SELECT pg_temp.visit(8003, 803, '2024-03-01 10:00', 1, 21);
SELECT pg_temp.deal(3, 803, '2024-03-10 15:00', NULL, NULL, 1);
SELECT * FROM pg_temp.decision(3);
-- a claim of an agency whose protection lapsed (Woai, 30 days): natural, and flagged
SELECT pg_temp.person(804, '13800000804');
SELECT pg_temp.report(22, '13800000804', '2024-03-01 09:00');
SELECT pg_temp.visit(8004, 804, '2024-03-01 10:00', 1, 22);
SELECT pg_temp.deal(4, 804, '2024-05-10 15:00', 12, 22, 1);
SELECT * FROM pg_temp.decision(4);
-- a natural deal claimed as natural: no flag
SELECT pg_temp.person(805);
SELECT pg_temp.visit(8005, 805, '2024-03-01 10:00', 1);
SELECT pg_temp.deal(5, 805, '2024-03-10 15:00', NULL, NULL, 1);
SELECT * FROM pg_temp.decision(5);
-- every claim that differs from the entitlement is in flagged_deals
SELECT deal_id, claimed_channel, entitled_channel, rule, flags FROM flagged_deals WHERE project_id = :p ORDER BY deal_id;
-- the timeline says how the claim differs
SELECT e->>'event' AS mismatch FROM attribution a, jsonb_array_elements(a.evidence->'timeline') e
WHERE a.project_id = :p AND a.is_current AND e->>'event' LIKE 'the claim%' ORDER BY a.deal_id;
