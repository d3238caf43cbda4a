-- Referrals (老带新, issue 16): a referral deal names the referring owner, a
-- person who bought before; the ledger credits them the referral channel's
-- commission_rate of the price.  A referrer who never bought is refused.
\set pname 'Referrals'
\i sql/attribution_setup.psql
\set VERBOSITY terse
INSERT INTO channel (project_id, channel_id, kind, name, commission_rate, protection_days)
VALUES (:p, 14, 'referral', 'Old owners', 0.01, 0);
SELECT pg_temp.person(701);
SELECT pg_temp.person(702);
SELECT pg_temp.person(703);
SELECT pg_temp.person(704);
SELECT pg_temp.visit(7001, 701, '2024-01-05 10:00', 1);
SELECT pg_temp.visit(7002, 702, '2024-03-01 10:00', 2);
SELECT pg_temp.visit(7003, 703, '2024-03-02 10:00', 2);
SELECT pg_temp.visit(7004, 704, '2024-03-03 10:00', 1);
-- 701 bought in January
SELECT pg_temp.deal(71, 701, '2024-01-20 15:00', NULL, NULL, 1, price => 3000000);
-- 702 bought in March on 701's referral
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price, channel_id, consultant_id, referrer_person_id)
VALUES (:p, 72, 702, '2024-03-10 15:00+08', 2000000, 14, 2, 701);
-- the abuse: an agent's friend who never bought names himself as the referrer of 703
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price, channel_id, consultant_id, referrer_person_id)
VALUES (:p, 73, 703, '2024-03-11 15:00+08', 2500000, 14, 2, 704);
-- ... or a buyer who bought only later, or the buyer himself, or on a non-referral deal
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price, channel_id, consultant_id, referrer_person_id)
VALUES (:p, 73, 703, '2024-03-09 15:00+08', 2500000, 14, 2, 702);
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price, channel_id, consultant_id, referrer_person_id)
VALUES (:p, 73, 703, '2024-03-11 15:00+08', 2500000, 14, 2, 703);
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price, channel_id, consultant_id, referrer_person_id)
VALUES (:p, 73, 703, '2024-03-11 15:00+08', 2500000, 11, 2, 701);
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price, channel_id, consultant_id, referrer_person_id)
VALUES (:p, 73, 703, '2024-03-11 15:00+08', 2500000, 14, 2, 799);
-- a co-buyer of an earlier deal is an owner too: 702's deal, 703 referred by 702
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price, channel_id, consultant_id, referrer_person_id)
VALUES (:p, 73, 703, '2024-03-11 15:00+08', 2500000, 14, 2, 702);
-- nor can a deal be moved to a referrer later by UPDATE
UPDATE deal SET referrer_person_id = 704 WHERE project_id = :p AND deal_id = 71;
-- the ledger: commission rows as before, and a reward row per referring owner
SELECT month, channel, kind, entry, referrer_person_id, deals, revenue, commission
FROM commission_ledger WHERE project_id = :p ORDER BY month, entry, channel;
SELECT deal_id, referrer_person_id, channel, reward, flags FROM referral_rewards WHERE project_id = :p ORDER BY deal_id;
-- the referrer is kept in the deal's history
SELECT subject_id, action, new->>'referrer_person_id' AS referrer FROM change_log
WHERE project_id = :p AND subject = 'deal' AND subject_id IN ('72', '73') ORDER BY change_id;
-- a referrer given by a merged-away id is stored as the person they are now
SELECT pg_temp.person(705);
SELECT pg_temp.visit(7005, 705, '2024-03-12 10:00', 1);
SET session_replication_role = replica;
UPDATE person SET merged_into = 701, merged_at = now() WHERE project_id = :p AND person_id = 704;
SET session_replication_role = origin;
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price, channel_id, consultant_id, referrer_person_id)
VALUES (:p, 74, 705, '2024-03-20 15:00+08', 1000000, 14, 1, 704) RETURNING referrer_person_id;
