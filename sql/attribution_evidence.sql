-- Attribution in a dispute: evidence outlives biometric retention.  Persons
-- sharing a full phone hash or an ID-card hash are the same buyer for the
-- decision (masked-phone hashes never link; nobody is merged); a sighting at
-- a sister project, once found, is a stored fact; one unmasked gallery
-- exemplar is held while an ownership or protection window is open, so a
-- returning visitor is still recognised after the retention of their other
-- faces; settings that would erase faces the windows need are warned about.
SET search_path = firstsight, public;
-- a sister project of the group saw a face on 2024-01-05
SELECT create_project('Evidence sister', 'Asia/Shanghai', 4) AS sister \gset
INSERT INTO camera VALUES (:sister, 'gate', 'entrance');
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:sister, 'gate', '2024-01-05 10:00+08', '[0,1,0,0]', 0.9, false);
\set pname 'Evidence'
\i sql/attribution_setup.psql
UPDATE project SET group_name = 'Evidence group' WHERE project_id IN (:p, :sister);
CREATE FUNCTION pg_temp.cam(at text) RETURNS bigint LANGUAGE sql AS $$
	SELECT c.person_id FROM firstsight.capture c WHERE c.project_id = (SELECT max(project_id) FROM firstsight.project)
	AND c.captured_at = (at || '+08')::timestamptz $$;

-- the issue's case: a natural visitor left a phone; their face expired; weeks later
-- they came with Lianjia (under a report), became a new person, and bound the same phone
SELECT pg_temp.person(901, '13800000901');
SELECT pg_temp.visit(9001, 901, '2024-01-10 10:00', 1);
SELECT pg_temp.person(902, '13800000901');
SELECT pg_temp.report(21, '13800000901', '2024-03-05 09:00');
SELECT pg_temp.visit(9002, 902, '2024-03-05 10:00', 2, 21);
SELECT pg_temp.deal(1, 902, '2024-03-10 15:00', 11, 21, 2);
-- the same buyer for the decision: the natural first visit decides, nothing is paid
SELECT * FROM pg_temp.decision(1);
SELECT evidence->'linked_by_identity' AS linked, evidence->'first_sighting'->>'person_id' AS first_seen_as
FROM attribution WHERE project_id = :p AND deal_id = 1 AND is_current;
SELECT e->>'event' AS link FROM attribution a, jsonb_array_elements(a.evidence->'timeline') e
WHERE a.project_id = :p AND a.deal_id = 1 AND a.is_current AND e->>'event' LIKE '%same buyer%';
-- no merge from a hash alone
SELECT person_id, merged_into FROM person WHERE project_id = :p AND person_id IN (901, 902) ORDER BY person_id;

-- masked-phone hashes never link: 139****5678 is shared by thousands
SELECT pg_temp.person(903, '13912345678');
SELECT pg_temp.visit(9003, 903, '2024-01-10 10:00', 1);
SELECT pg_temp.person(904, '13900005678');
SELECT pg_temp.report(21, '13900005678', '2024-03-05 09:00');
SELECT pg_temp.visit(9004, 904, '2024-03-05 10:00', 2, 21);
SELECT pg_temp.deal(2, 904, '2024-03-10 15:00', 11, 21, 2);
SELECT * FROM pg_temp.decision(2);

-- an ID card links too (bound at subscription to the new person, earlier to the old one)
SELECT pg_temp.person(905);
SELECT pg_temp.visit(9005, 905, '2024-01-10 10:00', 1);
SELECT pg_temp.person(906);
SELECT pg_temp.visit(9006, 906, '2024-03-05 10:00', 2, 22);
INSERT INTO identity (project_id, person_id, id_card_hash)
VALUES (:p, 905, identity_hash('id_card', normalize_id_card('11010519491231002X'))),
       (:p, 906, identity_hash('id_card', normalize_id_card('110105 19491231 002x')));
SELECT pg_temp.deal(3, 906, '2024-03-10 15:00', NULL, 22, 2);
SELECT * FROM pg_temp.decision(3);

-- a binding made after the deal decides it again (late_change: the money moved)
SELECT pg_temp.person(907, '13800000907');
SELECT pg_temp.visit(9007, 907, '2024-01-10 10:00', 1);
SELECT pg_temp.person(908);
SELECT pg_temp.report(21, '13800000908', '2024-03-05 09:00');
SELECT pg_temp.visit(9008, 908, '2024-03-05 10:00', 2, 21);
INSERT INTO identity (project_id, person_id, phone_hash, phone_masked_hash)
VALUES (:p, 908, identity_hash('phone', '13800000908'), identity_hash('phone_masked', '1380908'));
SELECT pg_temp.deal(4, 908, '2024-03-10 15:00', 11, 21, 2);
SELECT * FROM pg_temp.decision(4);
INSERT INTO identity (project_id, person_id, phone_hash, phone_masked_hash)
VALUES (:p, 908, identity_hash('phone', '13800000907'), identity_hash('phone_masked', '1380907'));
SELECT * FROM pg_temp.decision(4);

-- a sighting at the sister project is kept as a fact: the sister's faces expire, the flag stays
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-03-01 10:00+08', '[0,1,0,0.01]', 0.9, false);
SELECT pg_temp.deal(5, pg_temp.cam('2024-03-01 10:00'), '2024-03-20 10:00');
SELECT * FROM pg_temp.decision(5);
SELECT count(*) AS kept_sightings FROM sighting_elsewhere WHERE project_id = :p AND other_project_id = :sister;
BEGIN;	-- (rolled back: erasure records are counted by later tests)
SELECT (erase_person(:sister, c.person_id, 'retention test')).faces_erased FROM capture c WHERE c.project_id = :sister;
SELECT count(*) AS sister_faces FROM face WHERE project_id = :sister;
SELECT deal_id, version, changed FROM reattribute(:p, '2024-03-20 00:00+08', '2024-03-21 00:00+08');
SELECT * FROM pg_temp.decision(5);
ROLLBACK;

-- one unmasked exemplar is held while an ownership or protection window is open:
-- a visitor's captures expire 30 days after their last day, their exemplar after
-- natural ownership (180 days); a visitor 60 days ago
SELECT now() - interval '60 days' AS seen60 \gset
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', :'seen60', '[0,0,1,0]', 0.9, false),
       (:p, 'gate', :'seen60'::timestamptz + interval '30 minutes', '[0,0,1,0.02]', 0.7, false);
SELECT person_id AS v FROM capture WHERE project_id = :p AND captured_at = :'seen60' \gset
SELECT kind, expires_at = held_until AS expires_when_held,
       held_until = local_days_end(:'seen60'::timestamptz + interval '30 minutes', 180, 'Asia/Shanghai') AS held_for_natural_ownership
FROM face WHERE project_id = :p AND person_id = :v ORDER BY kind;
SELECT count(*) FILTER (WHERE expires_at < now()) AS captures_past_retention FROM capture WHERE project_id = :p AND person_id = :v;
-- the compliance view shows the hold and its purpose
SELECT section, gallery_faces, persons, warning FROM compliance WHERE project_id = :p AND section = 'attribution hold';
BEGIN;
-- retention erases every other face of theirs ...
SELECT captures_erased >= 2 AS captures_erased FROM enforce_retention(100000, now());
SELECT count(*) FILTER (WHERE face IS NOT NULL) AS captures_with_face FROM capture WHERE project_id = :p AND person_id = :v;
SELECT kind FROM face WHERE project_id = :p AND person_id = :v;
-- ... and the visitor who comes back with an agency is still the same person
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', now() - interval '1 hour', '[0,0,1,0.01]', 0.9, false);
SELECT person_id = :v AS same_person FROM capture WHERE project_id = :p AND captured_at = now() - interval '1 hour';
ROLLBACK;
-- staff (a category of its own) get no hold: no window depends on recognising them
UPDATE person SET category = 'staff' WHERE project_id = :p AND person_id = :v;
SELECT set_retention(:p, 'staff', '7 days');
SELECT kind, held_until IS NOT NULL AS held FROM face WHERE project_id = :p AND person_id = :v ORDER BY kind;

-- settings that erase faces the windows need are warned about, with the consequence
SELECT configure(:p, 'exemplar_hold', 'off');
SELECT set_retention(:p, 'visitor', '180 days');
SELECT set_retention(:p, 'consented', '180 days');
SELECT configure(:p, 'natural_ownership_days', '200');
SELECT section, warning FROM compliance WHERE project_id = :p AND section = 'attribution hold';
SELECT reset_setting(:p, 'natural_ownership_days');
SELECT reset_setting(:p, 'exemplar_hold');

-- no embedding reaches the evidence or the history
SELECT count(*) AS with_vectors FROM attribution WHERE project_id = :p AND evidence::text ~ '\[0,|0\.01\]';
SELECT count(*) AS with_vectors FROM change_log WHERE project_id = :p AND (coalesce(old, '{}') || coalesce(new, '{}'))::text ~ 'face';
