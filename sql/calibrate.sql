-- Threshold calibration from ID-card-verified captures.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
\set VERBOSITY default

SELECT create_project('Calibrate', dims => 8) AS p \gset
SELECT configure(:p, 'match_distance', '0.02'), configure(:p, 'masked_match_distance', '0.02');
INSERT INTO camera VALUES (:p, 'desk', 'sign_in');
-- nothing verified yet
SELECT pair_kind, proposed_distance, same_pairs, different_pairs, note FROM calibrate(:p);

-- four people, four captures each (one masked, farther from the rest); each binds an ID card
-- person k: axis k plus a shared 0.6 on axis 8, nudged by i * 0.05 towards axis k+3; the masked capture by 0.3
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
SELECT :p, 'desk', '2024-03-01 10:00+08'::timestamptz + k * interval '1 day' + i * interval '1 minute',
       firstsight.l2_normalize(array_agg(CASE WHEN d = k THEN 1 WHEN d = k + 3 THEN (CASE WHEN i = 4 THEN 0.3 ELSE i * 0.05 END) WHEN d = 8 THEN 0.6 ELSE 0 END ORDER BY d)::real[]::firstsight.embedding),
       0.9, i = 4
FROM generate_series(1, 4) k, generate_series(1, 4) i, generate_series(1, 8) d
GROUP BY k, i ORDER BY k, i;
SELECT count(DISTINCT person_id) AS persons FROM capture WHERE project_id = :p;
-- bind the first capture of each person with their card: calibrate labels captures by the card (persons the threshold split stay two persons, one card)
SELECT count(DISTINCT bind_identity(:p, c.capture_id, card, NULL)) AS verified_persons
FROM (SELECT DISTINCT ON (person_id) capture_id, person_id FROM capture WHERE project_id = :p ORDER BY person_id, capture_id) c
JOIN (SELECT c2.person_id, (ARRAY['11010519491231002X','110105198001010016','440304199002020035','310101198511110043'])[
        dense_rank() OVER (ORDER BY date_trunc('day', min(c2.captured_at)))::integer] AS card
      FROM capture c2 WHERE c2.project_id = :p GROUP BY c2.person_id) k USING (person_id);
SELECT count(DISTINCT person_id) AS persons_now FROM capture WHERE project_id = :p;

-- 16 captures: too few pairs of any kind under the default min_pairs (30)
SELECT pair_kind, proposed_distance, same_pairs, different_pairs, note FROM calibrate(:p);
-- with min_pairs 1 it proposes from what there is; an overlapping kind still
-- needs 1 / target_false_match_rate different-person pairs
SELECT pair_kind, setting, current_distance, proposed_distance, same_pairs, different_pairs,
       round(true_match_rate::numeric, 3) AS true_match_rate, round(false_match_rate::numeric, 3) AS false_match_rate,
       round(current_true_match_rate::numeric, 3) AS current_tmr, round(current_false_match_rate::numeric, 3) AS current_fmr,
       round(same_max::numeric, 4) AS same_max, round(different_min::numeric, 4) AS different_min, note
FROM calibrate(:p, min_pairs => 1);

-- refused
SELECT * FROM calibrate(-1);
SELECT * FROM calibrate(:p, 1.5);
SELECT * FROM calibrate(:p, min_pairs => 0);
