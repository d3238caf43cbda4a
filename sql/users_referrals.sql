-- Referrals (老带新, issue 16): a referral deal names the referring owner, a
-- person who bought before; the ledger credits them the referral channel's
-- commission_rate of the price.  A referrer who never bought is refused.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
\set VERBOSITY terse
SET TimeZone = 'Asia/Shanghai';
-- (fixed channel ids: keep the natural channel's, from the sequence, clear of them)
SELECT setval('firstsight.channel_id_seq', greatest(last_value, 1000)) > 0 AS seq FROM firstsight.channel_id_seq \gset
SELECT create_project('Referrals', 'Asia/Shanghai', 4) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance');
INSERT INTO consultant (project_id, consultant_id, name) VALUES (:p, 1, 'Wang'), (:p, 2, 'Li');
INSERT INTO channel (project_id, channel_id, kind, name, commission_rate, protection_days)
VALUES (:p, 11, 'agency', 'Lianjia', 0.03, 90), (:p, 14, 'referral', 'Old owners', 0.01, 0);
INSERT INTO person (project_id, person_id, first_seen, last_seen, visits)
SELECT :p, id, at, at + interval '30 minutes', 1
FROM (VALUES (701, timestamptz '2024-01-05 10:00'), (702, '2024-03-01 10:00'), (703, '2024-03-02 10:00'),
             (704, '2024-03-03 10:00'), (705, '2024-03-12 10:00')) v(id, at);
INSERT INTO visit (project_id, visit_id, person_id, started_at, ended_at, captures, first_camera_id, consultant_id)
SELECT :p, 10 * person_id, person_id, first_seen, last_seen, 1, 'gate', CASE WHEN person_id IN (702, 703) THEN 2 ELSE 1 END
FROM person WHERE project_id = :p;
-- 701 bought in January
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price, consultant_id)
VALUES (:p, 71, 701, '2024-01-20 15:00+08', 3000000, 1);
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
SET session_replication_role = replica;
UPDATE person SET merged_into = 701, merged_at = now() WHERE project_id = :p AND person_id = 704;
SET session_replication_role = origin;
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price, channel_id, consultant_id, referrer_person_id)
VALUES (:p, 74, 705, '2024-03-20 15:00+08', 1000000, 14, 1, 704) RETURNING referrer_person_id;
