-- The firstsight demo: faces as embeddings, nearest neighbours.
\pset footer off
\echo
\echo '== firstsight demo: embeddings and nearest neighbours =='
CREATE EXTENSION firstsight;
SET search_path = firstsight, public;
SELECT firstsight.simd_kernel() AS "distance kernels in use";

-- 200 people, 5 captures each: a unit identity centre plus noise, 128 dims
SELECT setseed(0.42) \gset
CREATE TEMP TABLE centre AS
	SELECT p AS person, l2_normalize(array_agg(random() - 0.5)::embedding) AS c
	FROM generate_series(1, 200) p, generate_series(1, 128) k GROUP BY p;
CREATE TEMP TABLE capture_demo AS
	SELECT row_number() OVER (ORDER BY person, n) AS capture_id, person,
	       l2_normalize(c + (SELECT array_agg((random() - 0.5) * 0.08)::embedding FROM generate_series(1, 128) WHERE person > 0 AND n > 0)) AS face
	FROM centre, generate_series(1, 5) n;
SELECT count(*) AS captures, count(DISTINCT person) AS persons FROM capture_demo;

\echo
\echo 'The five nearest captures to capture 1 (cosine distance): its own person comes first'
SELECT capture_id, person, round((face <=> (SELECT face FROM capture_demo WHERE capture_id = 1))::numeric, 4) AS distance
FROM capture_demo ORDER BY face <=> (SELECT face FROM capture_demo WHERE capture_id = 1) LIMIT 5;

\echo
\echo 'Every pair of the first 20 captures within cosine distance 0.1 (OpenBLAS sgemm)'
SELECT p.i, p.j, round(p.distance::numeric, 4) AS distance,
       a.person AS person_i, b.person AS person_j
FROM similarity_pairs((SELECT array_agg(face ORDER BY capture_id) FROM capture_demo WHERE capture_id <= 20),
                      (SELECT array_agg(face ORDER BY capture_id) FROM capture_demo WHERE capture_id <= 20), 0.1) p
JOIN capture_demo a ON a.capture_id = p.i JOIN capture_demo b ON b.capture_id = p.j
WHERE p.i < p.j ORDER BY p.i, p.j;

-- ===================================================================
\echo
\echo '== A day at the Riverside sales office =='
-- 60 visitors with a 128-dimension face model; cameras at the entrance,
-- sign-in desk, sand table and model room.  Some come twice, some wear a
-- mask, some arrive together (one camera INSERT with several faces).
SELECT create_project('Riverside sales office', 'Asia/Shanghai', 128) AS office \gset
-- the day replayed is in March 2024 and its deals are entered today, as if
-- entered when signed: no back-dated deal check (docs/attribution.md)
SELECT configure(:office, 'deal_backdate_tolerance', '10 years') AS tolerance \gset
INSERT INTO camera (project_id, camera_id, zone) VALUES
	(:office, 'entrance-1', 'entrance'), (:office, 'desk-1', 'sign_in'),
	(:office, 'sand-1', 'sand_table'), (:office, 'model-1', 'model_room');
SELECT setseed(0.7) \gset
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

\echo
\echo 'Persons recognised (60 visitors walked in)'
SELECT count(*) AS persons, sum(visits) AS visits, sum(captures) AS captures FROM person WHERE project_id = :office;
\echo
\echo 'Visits of the day (first ten)'
SELECT v.visit_id, v.person_id, to_char(v.started_at AT TIME ZONE 'Asia/Shanghai', 'HH24:MI') AS started,
       to_char(v.ended_at AT TIME ZONE 'Asia/Shanghai', 'HH24:MI') AS ended, v.captures, v.first_camera_id, v.seen_before
FROM visit v WHERE v.project_id = :office ORDER BY v.started_at, v.visit_id LIMIT 10;
\echo
\echo 'Returning visitors: recognised at once, with their previous visit'
SELECT v.person_id, to_char(v.started_at AT TIME ZONE 'Asia/Shanghai', 'HH24:MI') AS back_at,
       to_char(v.previous_visit_at AT TIME ZONE 'Asia/Shanghai', 'HH24:MI') AS last_left_at,
       round(min(c.match_distance)::numeric, 4) AS match_distance
FROM visit v JOIN capture c ON c.project_id = v.project_id AND c.visit_id = v.visit_id
WHERE v.project_id = :office AND v.seen_before
GROUP BY v.visit_id, v.person_id, v.started_at, v.previous_visit_at ORDER BY v.started_at;
\echo
\echo 'Masked captures matched to their person'
SELECT count(*) AS masked_captures, count(DISTINCT person_id) AS persons FROM capture WHERE project_id = :office AND masked;
\echo
\echo 'Gallery: a few exemplars per person, never more than three'
SELECT kind, count(*) AS exemplars FROM face WHERE project_id = :office GROUP BY kind ORDER BY kind;
\echo
\echo 'Settings of the office (defaults for a 128-dimension face model)'
SELECT setting, value, is_default FROM project_settings WHERE project_id = :office ORDER BY setting;

-- ===================================================================
\echo
\echo '== Who brought them, and who gets paid =='
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
	FROM visitor v WHERE v.v IN (4, 7, 8, 10, 20, 30);
-- four buyers give their phone at the desk (only keyed hashes are kept)
SELECT count(bind_identity(:office, (SELECT max(c.capture_id) FROM capture c WHERE c.project_id = :office AND c.person_id = w.person_id),
                           NULL, ph)) AS phones_bound
FROM who w JOIN (VALUES (4, '139 0000 0004'), (7, '139 0000 0007'), (10, '139 0000 0010'), (20, '139 0000 0020'),
                       (30, '139 0000 0030')) p(v, ph) ON p.v = w.visitor;
-- agency reports (报备), full or masked, filed before the visits they claim:
-- Lianjia Zhao reports visitor 4 the evening before, Lianjia Sun reports visitor 20
-- by the masked number in the morning; Woai Qian reports visitor 10 at noon, after
-- the morning visit, and visitor 20 in the afternoon.  A report counts from when
-- firstsight received it (report.created_at), so this replay of a day in 2024
-- loads that day's reports as the office's records of it, dated as received
-- (session_replication_role = replica, as a restore does; file_report would date them today)
SET session_replication_role = replica;
INSERT INTO report (project_id, agent_id, phone_hash, phone_masked_hash, reported_at, created_at)
SELECT :office, ag, CASE WHEN ph LIKE '%*%' THEN NULL ELSE identity_hash('phone', normalize_phone(ph)) END,
       identity_hash('phone_masked', phone_mask(ph)), at::timestamptz, at::timestamptz
FROM (VALUES (21, '13900000004', '2024-03-01 20:00+08'), (22, '139****0020', '2024-03-02 08:00+08'),
             (23, '139 0000 0010', '2024-03-02 12:00+08'), (23, '13900000020', '2024-03-02 15:00+08')) r(ag, ph, at);
RESET session_replication_role;
SELECT count(*) AS reports FROM report WHERE project_id = :office;
-- the sign-in desk records who received each visit and which agent came along:
-- visitor 4 and (in the morning) 20 came with Lianjia, 10 and 20 came back in the
-- afternoon with Woai's agent; the others came on their own
SELECT count(receive(:office, v.visit_id,
                     CASE WHEN v.seen_before THEN 2 ELSE 1 + (v.person_id % 3)::int END,
                     CASE WHEN w.visitor = 4 THEN 21
                          WHEN w.visitor = 20 AND NOT v.seen_before THEN 22
                          WHEN w.visitor IN (10, 20) AND v.seen_before THEN 23 END)) AS receptions
FROM visit v LEFT JOIN who w ON w.person_id = v.person_id WHERE v.project_id = :office;
\echo
\echo 'The end-of-day review (归属确认) of 2024-03-02: each item with the call that resolves it'
SELECT kind, count(*) AS items FROM daily_worklist(:office, '2024-03-02') GROUP BY kind ORDER BY kind;
SELECT kind_label, to_char(at, 'HH24:MI') AS at, description, action
FROM (SELECT w.*, row_number() OVER (PARTITION BY w.kind ORDER BY w.at, w.person_id) AS n
      FROM daily_worklist(:office, '2024-03-02') w) w
WHERE n <= 3 ORDER BY kind DESC, n;
\echo
\echo 'At the door (截客): visitor 20 comes back at 16:20; who owns them (door_lookup, as of that moment)'
SELECT owner_channel, owner_agent, to_char(owner_until AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS protected_until,
       consultant, to_char(consultant_until AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS consultant_until,
       visits, to_char(first_seen_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS first_seen
FROM door_lookup(:office, (SELECT person_id FROM who WHERE visitor = 20), at => '2024-03-02 16:20+08');
-- two weeks later, five deals; the sales app enters each with the channel, agent and
-- consultant it claims (the attribution trigger decides each on INSERT)
INSERT INTO deal (project_id, deal_id, person_id, co_buyer_ids, signed_at, price, channel_id, agent_id, consultant_id)
SELECT :office, d.deal_id, b.person_id, coalesce((SELECT array_agg(c.person_id) FROM who c WHERE c.visitor = d.co), '{}'),
       '2024-03-16 15:00+08'::timestamptz + d.deal_id * interval '10 minutes', d.price, d.ch, d.ag,
       (SELECT v.consultant_id FROM visit v WHERE v.project_id = :office AND v.person_id = b.person_id AND NOT v.seen_before)
FROM (VALUES (1, 4, NULL, 3200000, 11, 21),	-- Lianjia's buyer, honestly claimed
             (2, 7, 8, 2800000, NULL, NULL),	-- a couple who came on their own
             (3, 10, NULL, 3500000, 12, 23),	-- came alone first; Woai claims them
             (4, 20, NULL, 2600000, 12, 23),	-- Lianjia's buyer; Woai brought them again and claims them
             (5, 30, NULL, 3000000, 12, 23)	-- came alone (twice); Woai claims them
     ) d(deal_id, buyer, co, price, ch, ag)
JOIN who b ON b.visitor = d.buyer;

\echo
\echo 'Attribution report (view attribution_report): claimed against entitled, commission, the deciding rule and flags'
SELECT deal_id AS deal, price, coalesce(claimed_channel, '-') AS claimed, coalesce(claimed_agent, '-') AS claimed_agent,
       entitled_channel AS entitled, coalesce(entitled_agent, '-') AS entitled_agent, entitled_consultant AS consultant,
       commission, rule_zh AS rule, coalesce(flags_zh, '-') AS flags
FROM attribution_report WHERE project_id = :office ORDER BY deal_id;
\echo
\echo 'Commission ledger (view commission_ledger)'
SELECT month, channel, commission_rate, deals, revenue, commission, flagged_deals, flagged_commission
FROM commission_ledger WHERE project_id = :office ORDER BY month, channel;
\echo
\echo 'Flagged deals (view flagged_deals): hold these commissions for the dispute meeting'
SELECT deal_id, signed_local, claimed_channel, claimed_agent_id, entitled_channel, entitled_agent_id, commission, rule, flags
FROM flagged_deals WHERE project_id = :office ORDER BY deal_id;
\echo
\echo 'Why: the timeline behind each flagged deal (firstsight.explain_attribution), times local'
SELECT format('SELECT line AS %I FROM explain_attribution(%s, %s) AS line', format('deal %s', deal_id), project_id, deal_id)
FROM flagged_deals WHERE project_id = :office ORDER BY deal_id \gexec

-- ===================================================================
\echo
\echo '== A dispute: Woai back-dates a report on a natural visitor (挂单) =='
-- Visitor 30 came alone on 03-02 and bought (deal 5); Woai claims them.  Weeks
-- later Woai Qian files a report claiming it was made the morning of the visit,
-- and a consultant, acting in the sales app, re-enters the visit's reception
-- with Woai's agent.
\echo
\echo 'The filing verdict, at once: the customer already came on their own'
SELECT v.verdict, v.reason
FROM file_report_verdict(:office, 23, '139 0000 0030', '2024-03-02 08:00+08') v;
SELECT (SELECT min(v.visit_id) FROM visit v JOIN who w ON w.person_id = v.person_id
        WHERE v.project_id = :office AND w.visitor = 30) AS disputed_visit \gset
SET application_name = 'sales-app';
SET firstsight.actor = 'consultant Li';
SELECT receive(:office, :disputed_visit, (SELECT consultant_id FROM visit WHERE project_id = :office AND visit_id = :disputed_visit), 23);
RESET firstsight.actor;
RESET application_name;
\echo
\echo 'The decision: decided again at once, still natural, nothing paid; the back-dated report is flagged'
SELECT a.deal_id AS deal, a.version, a.reason, ec.name AS entitled, a.commission, a.rule, array_to_string(a.flags, ', ') AS flags
FROM attribution a JOIN channel ec ON ec.project_id = a.project_id AND ec.channel_id = a.entitled_channel_id
WHERE a.project_id = :office AND a.deal_id = 5 ORDER BY a.version;
\echo
\echo 'The timeline that exposes it: the real filing time beside the claimed one, and who changed the reception'
SELECT line AS "deal 5" FROM explain_attribution(:office, 5) AS line;
\echo
\echo 'The history of changes (change_log), append-only, latest first'
SELECT subject, subject_id, action, changed_by, application, actor,
       to_char(changed_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS changed_at
FROM change_log WHERE project_id = :office AND subject IN ('report', 'reception') ORDER BY change_id DESC LIMIT 2;
