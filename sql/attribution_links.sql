-- Attribution in a dispute: identity hashes link persons, they never merge
-- them.  Persons sharing a full phone hash or an ID-card hash are one buyer
-- when a deal is decided; a binding, a reception, a merge or a split that
-- links or unlinks persons decides again the deals of every person linked
-- (not only of the persons it names), flags late_change when money moves
-- and shows who made the change.  Filing verdicts, the deposit refusal and
-- erasure follow the links too.  Written as a careless consultant at the
-- subscription desk, a consultant entering a paper visitor log weeks late,
-- a manager correcting persons, and an agency filing on a second phone.
\set pname 'Links'
\i sql/attribution_setup.psql
-- a camera capture at a local time; its person, visit and capture
CREATE FUNCTION pg_temp.seen(at text, face text, OUT person bigint, OUT visit bigint, OUT capture bigint) LANGUAGE sql AS $$
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT max(project_id), 'gate', (at || '+08')::timestamptz, face::firstsight.embedding, 0.9, false FROM firstsight.project;
	SELECT c.person_id, c.visit_id, c.capture_id FROM firstsight.capture c
	WHERE c.project_id = (SELECT max(project_id) FROM firstsight.project) AND c.captured_at = (at || '+08')::timestamptz $$;
-- the persons' names for outputs (their ids come from a sequence)
CREATE TEMP TABLE who (id bigint, name text);
CREATE FUNCTION pg_temp.named(t text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT * FROM who ORDER BY length(id::text) DESC, id LOOP
		t := regexp_replace(t, '(persons? |into |and |"kept": |"merged": |"new_person": |"split_from": )' || r.id || '\M', '\1' || r.name, 'g');
	END LOOP;
	RETURN regexp_replace(regexp_replace(regexp_replace(t, '20[3-9]\d-\d\d-\d\d \d\d:\d\d|202[5-9]-\d\d-\d\d \d\d:\d\d', 'today', 'g'),
	                                     '(report|binding|visit) \d+', '\1 #', 'g'), '"\d+"', '"#"', 'g');
END $$;
CREATE FUNCTION pg_temp.explain(id bigint) RETURNS SETOF text LANGUAGE sql AS $$
	SELECT pg_temp.named(t) FROM firstsight.explain_attribution((SELECT max(project_id) FROM firstsight.project), id) t $$;
CREATE FUNCTION pg_temp.versions(id bigint) RETURNS TABLE (version int, reason text, channel text, commission numeric, flags text[]) LANGUAGE sql AS $$
	SELECT a.version, pg_temp.named(a.reason), c.name, a.commission, a.flags
	FROM firstsight.attribution a JOIN firstsight.channel c ON c.project_id = a.project_id AND c.channel_id = a.entitled_channel_id
	WHERE a.project_id = (SELECT max(project_id) FROM firstsight.project) AND a.deal_id = id ORDER BY a.version $$;

-- 1. A careless consultant binds customer A's ID card on customer B's
-- capture.  Nothing merges: both keep their own visits, gallery and deals,
-- and deleting the wrong binding undoes it completely (a merge could only be
-- undone by a manager splitting captures).
SELECT person AS a, visit AS a_visit, capture AS a_capture FROM pg_temp.seen('2024-02-01 10:00', '[1,1,0,0]') \gset
SELECT person AS b, visit AS b_visit, capture AS b_capture FROM pg_temp.seen('2024-02-03 10:00', '[0,0,1,1]') \gset
INSERT INTO who VALUES (:a, 'A'), (:b, 'B');
SELECT receive(:p, :a_visit, 1);
SELECT pg_temp.report(21, '13800000801', '2024-02-02 09:00');
SELECT receive(:p, :b_visit, 2, 21);
SELECT bind_identity(:p, :b_capture, NULL, '13800000801') = :b AS bound;
SELECT pg_temp.deal(1, :b, '2024-02-10 15:00', 11, 21, 2);
SELECT * FROM pg_temp.versions(1);
SELECT bind_identity(:p, :a_capture, '11010519491231002X', NULL) = :a AS bound_to_a;
SELECT bind_identity(:p, :b_capture, '11010519491231002X', NULL) = :b AS bound_to_b;
-- two persons still, each with its own visit; the deal still names B
SELECT count(*) FILTER (WHERE merged_into IS NULL) AS persons, count(*) FILTER (WHERE merged_into IS NOT NULL) AS merged
FROM person WHERE project_id = :p;
SELECT pg_temp.named('person ' || person_id) AS person, count(*) AS visits FROM visit WHERE project_id = :p GROUP BY person_id ORDER BY 1;
SELECT pg_temp.named('person ' || person_id) AS buyer FROM deal WHERE project_id = :p AND deal_id = 1;
-- the deal is one buyer's now: A came first, alone; B's deal is decided again (late change)
SELECT * FROM pg_temp.versions(1);
-- the wrong binding is deleted: decided again, Lianjia's as before
DELETE FROM identity WHERE project_id = :p AND person_id = :b AND id_card_hash IS NOT NULL;
SELECT * FROM pg_temp.versions(1);

-- 2. Weeks after the deal, a consultant enters C's phone from the paper
-- visitor log: C came alone on 03-01, D (a new face: C's had expired) came
-- with Lianjia on 03-05 and bought through Lianjia.  The binding is on C, the
-- deal names D: the deal is decided again all the same, flagged, and the
-- timeline says who linked them.
SELECT person AS c, visit AS c_visit, capture AS c_capture FROM pg_temp.seen('2024-03-01 10:00', '[1,0,0,0]') \gset
SELECT person AS d, visit AS d_visit, capture AS d_capture FROM pg_temp.seen('2024-03-05 10:00', '[0,1,0,0]') \gset
INSERT INTO who VALUES (:c, 'C'), (:d, 'D');
SELECT receive(:p, :c_visit, 1);
SELECT pg_temp.report(21, '13800000701', '2024-03-04 09:00');
SELECT receive(:p, :d_visit, 2, 21);
SELECT bind_identity(:p, :d_capture, NULL, '13800000701') = :d AS bound;
SELECT pg_temp.deal(2, :d, '2024-03-10 15:00', 11, 21, 2);
SELECT * FROM pg_temp.versions(2);
SET application_name = 'sales-app';
SET firstsight.actor = 'consultant Wang';
SELECT bind_identity(:p, :c_capture, NULL, '138 0000 0701') = :c AS bound_to_c;
RESET firstsight.actor;
RESET application_name;
SELECT * FROM pg_temp.versions(2);
SELECT c->>'reason' ~ '^binding \d+ changed$' AS reason, c->>'by' = session_user AS by_me, c->>'application' AS application,
       c->>'actor' AS actor, c->'from'->>'commission' AS from_commission, c->'to'->>'commission' AS to_commission
FROM attribution a, jsonb_array_elements(a.evidence->'late_changes') c
WHERE a.project_id = :p AND a.deal_id = 2 AND a.is_current;
SELECT * FROM pg_temp.explain(2);

-- 3. A reception of a linked person's visit is changed (C's first visit
-- now received by consultant 2): the deal naming D is decided again, and
-- consultant 2, who received the buyer first, is entitled
SELECT receive(:p, :c_visit, 2);
SELECT version, pg_temp.named(reason) AS reason, entitled_consultant_id FROM attribution
WHERE project_id = :p AND deal_id = 2 ORDER BY version;

-- 4. A manager's merge links a buyer.  F came with Lianjia on 04-05 under a
-- report and bought through Lianjia; G, who came on 04-07, gave F's phone;
-- E came alone on 04-01.  The manager merges E and G by hand (the camera
-- missed that they are one person): F's deal is decided again, natural.
SELECT person AS e, visit AS e_visit, capture AS e_capture FROM pg_temp.seen('2024-04-01 10:00', '[0,0,1,0]') \gset
SELECT person AS f, visit AS f_visit, capture AS f_capture FROM pg_temp.seen('2024-04-05 10:00', '[0,0,0,1]') \gset
SELECT person AS g, visit AS g_visit, capture AS g_capture FROM pg_temp.seen('2024-04-07 10:00', '[1,0,1,0]') \gset
INSERT INTO who VALUES (:e, 'E'), (:f, 'F'), (:g, 'G');
SELECT pg_temp.report(21, '13800000702', '2024-04-04 09:00');
SELECT receive(:p, :f_visit, 2, 21);
SELECT bind_identity(:p, :f_capture, NULL, '13800000702') = :f AS bound;
SELECT bind_identity(:p, :g_capture, NULL, '13800000702') = :g AS bound;
SELECT pg_temp.deal(3, :f, '2024-04-10 15:00', 11, 21, 2);
SELECT * FROM pg_temp.versions(3);
SELECT merge_person(:p, :e, :g) = :e AS kept_e;
SELECT * FROM pg_temp.versions(3);

-- 5. The manager then splits E's 04-01 capture off (someone else after
-- all): F's deal is decided again, Lianjia's again
SELECT split_person(:p, :e, ARRAY[:e_capture]::bigint[]) AS h \gset
INSERT INTO who VALUES (:h, 'H');
SELECT * FROM pg_temp.versions(3);
SELECT * FROM pg_temp.explain(3);

-- 6. An agency files on a second phone of a customer.  J came alone on 05-01
-- and gave two phones at two visits (one binding each); K, the same
-- customer's new face, paid a deposit.
SELECT pg_temp.person(901, '13800000901');
SELECT pg_temp.person(902, '13800000901');
INSERT INTO who VALUES (901, 'J'), (902, 'K');
INSERT INTO identity (project_id, person_id, phone_hash, phone_masked_hash)
VALUES (:p, 901, identity_hash('phone', '13800000902'), identity_hash('phone_masked', phone_mask('13800000902')));
SELECT pg_temp.visit(9001, 901, '2024-05-01 10:00', 1);
SELECT record_deposit(:p, 902, '2024-05-02 10:00+08');
-- the phone J gave second belongs to a buyer who paid a deposit: refused
\set VERBOSITY default
SELECT file_report(:p, 22, '13800000902');
-- L came alone (a natural visitor); M, linked to L by an ID card, gave another phone
SELECT pg_temp.person(903);
SELECT pg_temp.person(904, '13800000904');
INSERT INTO who VALUES (903, 'L'), (904, 'M');
INSERT INTO identity (project_id, person_id, id_card_hash)
VALUES (:p, 903, identity_hash('id_card', '110105198001010016')), (:p, 904, identity_hash('id_card', '110105198001010016'));
SELECT pg_temp.visit(9003, 903, '2024-05-03 10:00', 1);
-- a report on M's phone: the customer has already visited
SELECT report_id IS NOT NULL AS stored, verdict, reason FROM file_report_verdict(:p, 22, '13800000904');
\set VERBOSITY terse

-- 7. The privacy officer erases A at A's request: B, linked to A by an ID
-- card again, is the same human, and B's faces go too (the facts stay)
SELECT bind_identity(:p, :b_capture, '11010519491231002X', NULL) = :b AS bound_to_b;
SELECT captures_erased, faces_erased FROM erase_person(:p, :a, 'request 2024-031');
SELECT pg_temp.named('person ' || person_id) AS person, count(*) FILTER (WHERE face IS NOT NULL) AS faces_left, count(*) AS captures
FROM capture WHERE project_id = :p AND person_id IN (:a, :b) GROUP BY person_id ORDER BY 1;
SELECT count(*) AS gallery_rows FROM face WHERE project_id = :p AND person_id IN (:a, :b);
SELECT count(*) AS visits_kept FROM visit WHERE project_id = :p AND person_id IN (:a, :b);
