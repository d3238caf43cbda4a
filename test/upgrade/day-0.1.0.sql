-- test/upgrade/day-0.1.0.sql: a day at a sales office written against the
-- 0.1.0 API (frozen with it: never change it to use later functions).  Run
-- by TAP 060 on a 0.1.0 catalog with the current shared library, before
-- ALTER EXTENSION firstsight UPDATE.  Needs :office unset; sets it.
SET search_path = firstsight, public;
SELECT setseed(0.7);
SELECT create_project('Riverside sales office', 'Asia/Shanghai', 128) AS office \gset
INSERT INTO camera (project_id, camera_id, zone) VALUES
	(:office, 'entrance-1', 'entrance'), (:office, 'desk-1', 'sign_in'),
	(:office, 'sand-1', 'sand_table'), (:office, 'model-1', 'model_room');
CREATE TEMP TABLE visitor AS
	SELECT v, l2_normalize(array_agg(random() - 0.5)::embedding) AS face,
	       v % 7 = 0 AS masked, v % 5 = 0 AS comes_back, (v - 1) / 3 AS party
	FROM generate_series(1, 60) v, generate_series(1, 128) k GROUP BY v;
-- a capture of a visitor: their face plus camera noise (cosine distance ~0.01)
CREATE FUNCTION pg_temp.seen(f embedding) RETURNS embedding LANGUAGE sql VOLATILE
	AS $$ SELECT l2_normalize(f + (SELECT array_agg((random() - 0.5) * 0.04)::embedding FROM generate_series(1, 128) WHERE f IS NOT NULL)) $$;

-- morning: parties of up to three walk in together; each camera sends one
-- INSERT per party, matched as one batch
DO $$
DECLARE
	p record;
	office bigint := (SELECT max(project_id) FROM firstsight.project WHERE name = 'Riverside sales office');
BEGIN
	FOR p IN SELECT party, min(v) AS first FROM visitor GROUP BY party ORDER BY party LOOP
		INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
		SELECT office, cam, '2024-03-02 09:00+08'::timestamptz + p.party * interval '7 minutes' + o * interval '4 minutes',
		       pg_temp.seen(v.face), 0.6 + 0.3 * random(), v.masked
		FROM visitor v, unnest(ARRAY['entrance-1', 'desk-1', 'sand-1']) WITH ORDINALITY AS c(cam, o)
		WHERE v.party = p.party;
	END LOOP;
END $$;
-- afternoon: every fifth visitor comes back (a new visit: more than two hours later)
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
SELECT :office, 'entrance-1', '2024-03-02 16:00+08'::timestamptz + v * interval '1 minute', pg_temp.seen(face), 0.8, masked
FROM visitor WHERE comes_back;
-- two visitors sign up for a flat at the desk: their ID cards are bound (only keyed hashes are kept)
SELECT bind_identity(:office, (SELECT max(capture_id) FROM capture WHERE project_id = :office AND camera_id = 'desk-1'),
                     '11010519491231002X', '138 1234 8000') IS NOT NULL AS bound;

-- ===================================================================
-- the sales team and two agencies with their protection periods
INSERT INTO consultant (project_id, consultant_id, name) VALUES (:office, 1, 'Wang'), (:office, 2, 'Li'), (:office, 3, 'Zhang');
INSERT INTO channel (project_id, channel_id, kind, name, commission_rate, protection_days)
VALUES (:office, 11, 'agency', 'Lianjia', 0.03, 90), (:office, 12, 'agency', 'Woai', 0.02, 30);
INSERT INTO agent (project_id, agent_id, channel_id, name)
VALUES (:office, 21, 11, 'Lianjia Zhao'), (:office, 22, 11, 'Lianjia Sun'), (:office, 23, 12, 'Woai Qian');
-- the person the cameras made of a visitor: the one of the capture nearest to their face
CREATE TEMP TABLE who AS
	SELECT v.v AS visitor, (SELECT c.person_id FROM capture c WHERE c.project_id = :office
	                        ORDER BY c.face <=> v.face LIMIT 1) AS person_id
	FROM visitor v WHERE v.v IN (4, 7, 8, 10, 20);
-- four buyers give their phone at the desk (only keyed hashes are kept)
SELECT count(bind_identity(:office, (SELECT max(c.capture_id) FROM capture c WHERE c.project_id = :office AND c.person_id = w.person_id),
                           NULL, ph)) AS phones_bound
FROM who w JOIN (VALUES (4, '139 0000 0004'), (7, '139 0000 0007'), (10, '139 0000 0010'), (20, '139 0000 0020')) p(v, ph) ON p.v = w.visitor;
-- agency reports (报备), full or masked, filed before the visits they claim:
-- Lianjia Zhao reports visitor 4 the evening before, Lianjia Sun reports visitor 20
-- by the masked number in the morning; Woai Qian reports visitor 10 at noon, after
-- the morning visit, and visitor 20 in the afternoon
SELECT count(file_report(:office, ag, ph, at::timestamptz)) AS reports FROM (VALUES
	(21, '13900000004', '2024-03-01 20:00+08'), (22, '139****0020', '2024-03-02 08:00+08'),
	(23, '139 0000 0010', '2024-03-02 12:00+08'), (23, '13900000020', '2024-03-02 15:00+08')) r(ag, ph, at);
-- the sign-in desk records who received each visit and which agent came along:
-- visitor 4 and (in the morning) 20 came with Lianjia, 10 and 20 came back in the
-- afternoon with Woai's agent; the others came on their own
SELECT count(receive(:office, v.visit_id,
                     CASE WHEN v.seen_before THEN 2 ELSE 1 + (v.person_id % 3)::int END,
                     CASE WHEN w.visitor = 4 THEN 21
                          WHEN w.visitor = 20 AND NOT v.seen_before THEN 22
                          WHEN w.visitor IN (10, 20) AND v.seen_before THEN 23 END)) AS receptions
FROM visit v LEFT JOIN who w ON w.person_id = v.person_id WHERE v.project_id = :office;
-- two weeks later, four deals; the sales app enters each with the channel, agent and
-- consultant it claims (the attribution trigger decides each on INSERT)
INSERT INTO deal (project_id, deal_id, person_id, co_buyer_ids, signed_at, price, channel_id, agent_id, consultant_id)
SELECT :office, d.deal_id, b.person_id, coalesce((SELECT array_agg(c.person_id) FROM who c WHERE c.visitor = d.co), '{}'),
       '2024-03-16 15:00+08'::timestamptz + d.deal_id * interval '10 minutes', d.price, d.ch, d.ag,
       (SELECT v.consultant_id FROM visit v WHERE v.project_id = :office AND v.person_id = b.person_id AND NOT v.seen_before)
FROM (VALUES (1, 4, NULL, 3200000, 11, 21),	-- Lianjia's buyer, honestly claimed
             (2, 7, 8, 2800000, NULL, NULL),	-- a couple who came on their own
             (3, 10, NULL, 3500000, 12, 23),	-- came alone first; Woai claims them
             (4, 20, NULL, 2600000, 12, 23)	-- Lianjia's buyer; Woai brought them again and claims them
     ) d(deal_id, buyer, co, price, ch, ag)
JOIN who b ON b.visitor = d.buyer;


-- an endpoint (the worker is not running: events stay queued), consent and an erasure
INSERT INTO webhook (project_id, url) VALUES (:office, 'https://sales-app.example/hooks');
SELECT emit_event(:office, 'visitor.new', 'person:1', '{"note": "upgrade test"}') IS NOT NULL AS emitted;
SELECT record_consent(:office, (SELECT person_id FROM who WHERE visitor = 4), true, 'paper', 'face', 'form 17') IS NOT NULL AS consented;
SELECT (erase_person(:office, (SELECT max(person_id) FROM person WHERE project_id = :office
                                 AND person_id NOT IN (SELECT person_id FROM who)), 'subject request')).erasure_id IS NOT NULL AS erased;
-- keep the visitors' faces for the checks after the upgrade
CREATE TABLE public.upgrade_visitor AS SELECT v.v, v.face, w.person_id FROM visitor v LEFT JOIN who w ON w.visitor = v.v;
