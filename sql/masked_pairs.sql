-- Masked faces (issue 18): a threshold per kind of pair.  8-d faces built by
-- hand with the geometry of a real model (dims <= 128: match_distance 0.07,
-- masked_match_distance 0.09, masked_masked_match_distance 0.03): every face
-- leans on axis 1; person k's identity is axis k+1, 0.5 unmasked, 0.3 under a
-- mask, and every mask adds the same 0.3 on axis 8.  Two people's masked
-- faces are 0.076 apart (inside the 0.09 that used to accept any masked
-- pair), their unmasked faces 0.2; one person masked vs unmasked 0.053.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
SELECT create_project('Masks', dims => 8) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance'), (:p, 'desk', 'sign_in');
SELECT setting, value FROM project_settings
WHERE project_id = :p AND setting IN ('match_distance', 'masked_match_distance', 'masked_masked_match_distance', 'low_confidence_margin')
ORDER BY setting;
\i sql/masked_faces.psql
SELECT round((pg_temp.face(1, true) <=> pg_temp.face(2, true))::numeric, 3) AS masked_masked_different,
       round((pg_temp.face(1, false) <=> pg_temp.face(2, false))::numeric, 3) AS unmasked_different,
       round((pg_temp.face(1, true) <=> pg_temp.face(1, false))::numeric, 3) AS masked_unmasked_same,
       round((pg_temp.face(1, true) <=> pg_temp.face(2, false))::numeric, 3) AS masked_unmasked_different,
       round((pg_temp.face(1, true) <=> pg_temp.face(1, true, 0.2))::numeric, 3) AS masked_unmasked_same_close;

-- 1. two different people, both masked, one camera INSERT each: two persons
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-05-01 10:00+08', pg_temp.face(1, true), 0.8, true);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-05-01 10:05+08', pg_temp.face(2, true), 0.8, true);
SELECT count(DISTINCT person_id) AS persons, count(*) FILTER (WHERE match_distance IS NOT NULL) AS matched
FROM capture WHERE project_id = :p;
-- ... and in one batch (a multi-row INSERT: face_clusters) with a third person
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'desk', '2024-05-01 11:00+08', pg_temp.face(3, true), 0.8, true),
       (:p, 'desk', '2024-05-01 11:01+08', pg_temp.face(4, true), 0.8, true);
SELECT count(DISTINCT person_id) AS persons FROM capture WHERE project_id = :p;
-- merge_persons does not join them either
SELECT count(*) AS merged FROM merge_persons(:p);
-- the old single masked threshold would have: both forms join masked faces within 0.09
SELECT count(DISTINCT l) AS groups_0_1_0 FROM unnest(face_clusters(ARRAY[pg_temp.face(1, true), pg_temp.face(2, true)], ARRAY[true, true], 0.07, 0.09, 0.09)) l;
SELECT count(DISTINCT l) AS groups_by_kind FROM unnest(face_clusters(ARRAY[pg_temp.face(1, true), pg_temp.face(2, true)], ARRAY[true, true], 0.07, 0.09, 0.03)) l;

-- 2. one person, masked and unmasked, is one person
-- a masked face attracts an unmasked capture only within the masked-masked
-- threshold too: person 1 (first seen masked) comes back unmasked 0.053 from
-- the masked face (inside 0.09, not 0.03): a new person, whose unmasked face
-- would otherwise have joined person 1 on the strength of a mask
BEGIN;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'desk', '2024-05-02 14:00+08', pg_temp.face(1, false), 0.9, false);
SELECT count(DISTINCT person_id) AS persons FROM capture WHERE project_id = :p;
ROLLBACK;
-- an unmasked face 0.017 from the masked one (a thin mask): matched to the
-- masked face (masked-unmasked), low confidence (a masked-only person), and
-- the gallery gains the unmasked exemplar
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'desk', '2024-05-02 15:00+08', pg_temp.face(1, true, 0.2), 0.9, false);
SELECT c.person_id = (SELECT person_id FROM capture WHERE project_id = :p ORDER BY capture_id LIMIT 1) AS same_person,
       c.match_kind, round(c.match_distance::numeric, 3) AS distance, round(c.match_margin::numeric, 3) AS margin,
       c.match_low_confidence
FROM capture c WHERE c.project_id = :p ORDER BY c.capture_id DESC LIMIT 1;
SELECT f.kind, f.masked FROM face f
WHERE f.project_id = :p AND f.person_id = (SELECT person_id FROM capture WHERE project_id = :p ORDER BY capture_id LIMIT 1)
ORDER BY f.kind;
-- masked again the next day: matched to the masked face (masked-masked, far inside its
-- threshold: the best evidence), not low confidence now that the person has an unmasked face;
-- a match resting on a mask adds no exemplar
SELECT count(*) AS exemplars FROM face WHERE project_id = :p;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-05-03 09:00+08', pg_temp.face(1, true, 0.05), 0.8, true);
SELECT c.person_id = (SELECT person_id FROM capture WHERE project_id = :p ORDER BY capture_id LIMIT 1) AS same_person,
       c.match_kind, round(c.match_distance::numeric, 3) AS distance, c.match_low_confidence
FROM capture c WHERE c.project_id = :p ORDER BY c.capture_id DESC LIMIT 1;
SELECT count(*) AS exemplars FROM face WHERE project_id = :p;
-- person 5, unmasked then masked in one batch: one new person, the masked capture matched masked-unmasked
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-05-04 10:00+08', pg_temp.face(5, false), 0.9, false),
       (:p, 'desk', '2024-05-04 10:02+08', pg_temp.face(5, true), 0.8, true);
SELECT count(DISTINCT person_id) AS persons, array_agg(match_kind ORDER BY capture_id) AS kinds
FROM capture WHERE project_id = :p AND captured_at >= '2024-05-04';
-- person 2 masked again, very close to their masked face: masked-masked inside 0.03
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-05-05 10:00+08', pg_temp.face(2, true, 0.02), 0.8, true);
SELECT c.person_id = (SELECT person_id FROM capture WHERE project_id = :p ORDER BY capture_id OFFSET 1 LIMIT 1) AS same_person,
       c.match_kind, round(c.match_distance::numeric, 4) AS distance, c.match_low_confidence
FROM capture c WHERE c.project_id = :p ORDER BY c.capture_id DESC LIMIT 1;
SELECT count(DISTINCT person_id) AS persons FROM capture WHERE project_id = :p;

-- 3. the review: low-confidence matches, confirmed
SELECT capture_id - (SELECT min(capture_id) FROM capture WHERE project_id = :p) AS nth, match_kind,
       round(match_distance::numeric, 4) AS distance, threshold, round(match_margin::numeric, 4) AS margin
FROM match_review WHERE project_id = :p ORDER BY capture_id;
SELECT confirm_matches(:p, array_agg(capture_id)) AS confirmed FROM match_review WHERE project_id = :p;
SELECT count(*) AS left_to_review FROM match_review WHERE project_id = :p;
-- a camera cannot write what a match rests on: ingestion overwrites it
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked, match_kind, match_margin, match_low_confidence)
VALUES (:p, 'gate', '2024-05-06 10:00+08', pg_temp.face(5, false, 0.01), 0.9, false, 'unmasked', 1, false),
       (:p, 'gate', '2024-05-06 10:01+08', pg_temp.face(6, true), 0.9, true, 'unmasked', 1, false);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked, match_kind, match_margin, match_low_confidence)
VALUES (:p, 'gate', '2024-05-06 10:02+08', pg_temp.face(6, true, 0.01), 0.9, true, 'unmasked', 1, false);
SELECT match_kind, round(match_margin::numeric, 4) AS margin, match_low_confidence
FROM capture WHERE project_id = :p AND captured_at >= '2024-05-06' ORDER BY capture_id;

-- 4. explain_attribution: the first sighting of person 1 was masked
INSERT INTO channel (project_id, channel_id, kind, name, commission_rate, protection_days)
VALUES (:p, 11, 'agency', 'Lianjia', 0.03, 90);
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price, channel_id)
SELECT :p, 1, person_id, '2024-05-10 10:00+08', 1000000, 11
FROM capture WHERE project_id = :p ORDER BY capture_id LIMIT 1;
SELECT regexp_replace(l, '(visit|captures?|person) [0-9]+', '\1 N', 'g') AS line
FROM explain_attribution(:p, 1) l WHERE l ~ 'mask';

-- 5. who may confirm: the review is a manager's, per project
SELECT setup_roles();
CREATE ROLE regress_fs_masked_mgr;
SELECT create_project('Masks elsewhere', dims => 8) AS q \gset
SELECT grant_project('regress_fs_masked_mgr', :q);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-05-07 10:00+08', pg_temp.face(2, true, 0.01), 0.8, true);
SELECT max(capture_id) AS pending FROM capture WHERE project_id = :p \gset
SELECT count(*) AS pending_reviews FROM match_review WHERE project_id = :p;
-- the manager of another project sees none of this project's review and cannot confirm it
SET SESSION AUTHORIZATION regress_fs_masked_mgr;
SELECT count(*) AS seen FROM firstsight.match_review WHERE project_id = :p;
SELECT firstsight.confirm_matches(:p, ARRAY[:pending]::bigint[]);
UPDATE firstsight.capture SET match_reviewed_at = now() WHERE capture_id = :pending;
RESET SESSION AUTHORIZATION;
-- nor can a camera
SET ROLE firstsight_camera;
SELECT firstsight.confirm_matches(:p, ARRAY[:pending]::bigint[]);
RESET ROLE;
SELECT count(*) AS pending_reviews FROM match_review WHERE project_id = :p;
-- the project's own manager can
SELECT grant_project('regress_fs_masked_mgr', :p);
SET SESSION AUTHORIZATION regress_fs_masked_mgr;
SELECT count(*) AS seen FROM firstsight.match_review WHERE project_id = :p;
SELECT firstsight.confirm_matches(:p, ARRAY[:pending]::bigint[]) AS confirmed;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS pending_reviews FROM match_review WHERE project_id = :p;
SELECT revoke_project('regress_fs_masked_mgr', :p), revoke_project('regress_fs_masked_mgr', :q);
DROP ROLE regress_fs_masked_mgr;
