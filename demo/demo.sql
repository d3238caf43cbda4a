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
