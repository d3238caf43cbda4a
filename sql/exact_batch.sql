-- A large batch (COPY, multi-row INSERT) is matched by one exact OpenBLAS
-- search of the whole gallery instead of an index search per capture
-- (setting exact_search_faces); a capture close to the gallery face it
-- matched does not become the recent exemplar (setting recent_min_distance).
SET search_path = firstsight, public;
\set SHOW_CONTEXT never

SELECT create_project('Exact', dims => 512) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance'), (:p, 'desk', 'sign_in'), (:p, 'exit', 'entrance'), (:p, 'lift', 'entrance');
SELECT setting, value, is_default FROM project_settings
WHERE project_id = :p AND setting IN ('exact_search_faces', 'recent_min_distance') ORDER BY setting;
-- (512 dimensions: by default a re-capture within 0.35 of its gallery face is
-- no recent exemplar; below, every re-capture first may be one)
SELECT configure(:p, 'recent_min_distance', '0.00001');

-- 600 persons: random directions, far apart, seen yesterday
SELECT setseed(0.75);
CREATE TEMP TABLE centre AS
	SELECT id, l2_normalize(array_agg(random() - 0.5 ORDER BY k)::real[]::embedding) AS face
	FROM generate_series(1, 700) id, generate_series(1, 512) k GROUP BY id;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT :p, 'gate', now() - interval '1 day', face, 0.8, false FROM centre WHERE id <= 600 ORDER BY id;
CREATE TEMP TABLE owner AS
	SELECT row_number() OVER (ORDER BY capture_id) AS id, person_id FROM capture WHERE project_id = :p;
SELECT count(*) AS persons FROM person WHERE project_id = :p;
-- a sparse graph searched with a candidate list of 1 misses often (see
-- new_person_recheck); the exact search must not
SELECT format('face_p%s_hnsw', :p) AS idx, format('face_p%s', :p) AS part \gset
DROP INDEX :"idx";
CREATE INDEX :"idx" ON :"part" USING embedding_hnsw ((face::embedding(512)) embedding_cosine_ops)
	WITH (m = 8, ef_construction = 16);
ANALYZE :"part";
SET firstsight.hnsw_ef_search = 1;
SET enable_seqscan = off;
SELECT configure(:p, 'new_person_ef_search', '0');

-- re-captures (cosine distance ~0.0004 from their centre) and new faces
CREATE TEMP TABLE probe AS
	SELECT c.id, l2_normalize(c.face + (SELECT array_agg((random() - 0.5) * 0.01 ORDER BY k)::real[]::embedding
	                                    FROM generate_series(1, 512) k WHERE c.id > 0)) AS face
	FROM centre c;

-- gallery_nearest_exact agrees with a plain exact search
SET enable_seqscan = on;
SET enable_indexscan = off;
SELECT count(*) AS faces,
       count(*) FILTER (WHERE e.person_id = b.person_id) AS same_person,
       max(abs(e.distance - b.distance)) < 1e-5 AS same_distance
FROM gallery_nearest_exact(:p, (SELECT array_agg(face ORDER BY id) FROM probe WHERE id % 7 = 0)) e
JOIN (SELECT row_number() OVER (ORDER BY pr.id) AS ord, g.person_id, g.distance
      FROM probe pr
      CROSS JOIN LATERAL (SELECT f.person_id, f.face <=> pr.face AS distance
                          FROM face f WHERE f.project_id = :p ORDER BY f.face <=> pr.face LIMIT 1) g
      WHERE pr.id % 7 = 0) b ON b.ord = e.ord;
RESET enable_indexscan;
SET enable_seqscan = off;
-- an empty gallery: every face unmatched
SELECT create_project('Exact empty', dims => 512) AS q \gset
SELECT count(*) AS faces, count(person_id) AS matched
FROM gallery_nearest_exact(:q, (SELECT array_agg(face) FROM probe WHERE id <= 3));

-- index search for every batch: the index misses some re-captures, and they
-- become spurious persons
SELECT configure(:p, 'exact_search_faces', '0');
CREATE TEMP TABLE before AS SELECT count(*) AS n FROM person WHERE project_id = :p;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT :p, 'gate', now() - interval '30 minutes', face, 0.8, false FROM probe WHERE id <= 100 ORDER BY id;
SELECT (SELECT count(*) FROM person WHERE project_id = :p) - n > 0 AS spurious_with_index FROM before;

-- default (100 gallery faces per capture): a batch of 100 re-captures and 50
-- new faces (each twice, so 100 rows) is searched exactly: every re-capture
-- finds its person, each new face becomes one person
SELECT reset_setting(:p, 'exact_search_faces');
TRUNCATE before;
INSERT INTO before SELECT count(*) FROM person WHERE project_id = :p;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT :p, 'desk', now() - interval '20 minutes', face, 0.8, false
	FROM (SELECT id, face FROM probe WHERE id BETWEEN 101 AND 200
	      UNION ALL SELECT id, face FROM probe WHERE id > 650
	      UNION ALL SELECT id, face FROM centre WHERE id > 650) x ORDER BY id;
SELECT (SELECT count(*) FROM person WHERE project_id = :p) - n AS new_persons FROM before;
SELECT count(*) AS recaptures, count(*) FILTER (WHERE x.person_id = o.person_id) AS own_person,
       max(x.match_distance) < 0.01 AS near
FROM (SELECT row_number() OVER (ORDER BY capture_id) + 100 AS id, person_id, match_distance
      FROM capture WHERE project_id = :p AND camera_id = 'desk' AND capture_id IN
           (SELECT capture_id FROM capture WHERE project_id = :p AND camera_id = 'desk' ORDER BY capture_id LIMIT 100)) x
JOIN owner o USING (id);
SELECT count(DISTINCT person_id) AS persons_of_new_faces, count(*) AS captures
FROM capture WHERE project_id = :p AND camera_id = 'desk' AND person_id NOT IN (SELECT person_id FROM owner);

-- the recent exemplar: the re-captures above matched at ~0.0004; with
-- recent_min_distance 0.00001 each got one (first capture of a visit) ...
SELECT count(*) AS recent_of_recaptured
FROM face f JOIN owner o USING (person_id)
WHERE f.project_id = :p AND f.kind = 'recent' AND o.id BETWEEN 101 AND 200;
-- ... with recent_min_distance above that distance none does
SELECT configure(:p, 'recent_min_distance', '0.055');
SELECT reset_setting(:p, 'new_person_ef_search');
RESET firstsight.hnsw_ef_search;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT :p, 'exit', now() - interval '2 minutes', face, 0.8, false FROM probe WHERE id BETWEEN 211 AND 230;
SELECT count(*) AS captures, count(*) FILTER (WHERE o.id BETWEEN 211 AND 230) AS own_persons
FROM capture x LEFT JOIN owner o USING (person_id) WHERE x.project_id = :p AND x.camera_id = 'exit';
SELECT count(*) AS recent_rows FROM face f JOIN owner o USING (person_id)
WHERE f.project_id = :p AND f.kind = 'recent' AND o.id BETWEEN 211 AND 230;
-- ... and with a threshold below that distance a re-capture in a new visit
-- (these persons were last seen yesterday) becomes one, one per person
SELECT configure(:p, 'recent_min_distance', '0.00001');
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT :p, 'lift', now() - interval '5 minutes', face, 0.8, false FROM probe WHERE id BETWEEN 201 AND 210;
SELECT count(*) AS recent_rows, count(DISTINCT f.person_id) AS persons,
       bool_and(f.capture_id IN (SELECT capture_id FROM capture WHERE project_id = :p AND camera_id = 'lift')) AS from_new_captures
FROM face f JOIN owner o USING (person_id)
WHERE f.project_id = :p AND f.kind = 'recent' AND o.id BETWEEN 201 AND 210;

-- bad values are refused
SELECT configure(:p, 'exact_search_faces', '-1');
SELECT configure(:p, 'recent_min_distance', '0');
RESET enable_seqscan;
RESET firstsight.hnsw_ef_search;
