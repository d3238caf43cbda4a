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
