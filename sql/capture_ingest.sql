-- Camera ingestion: matching against the gallery, batches, masks, exemplars.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never

-- face k of 8 dimensions: unit vector on axis k, nudged towards axis (k % 8) + 1 by t
CREATE FUNCTION pg_temp.face(k integer, t float8 DEFAULT 0) RETURNS firstsight.embedding
	LANGUAGE sql IMMUTABLE
	AS $$ SELECT firstsight.l2_normalize(array_agg(CASE WHEN i = k THEN 1 WHEN i = k % 8 + 1 THEN t ELSE 0 END ORDER BY i)::real[]::firstsight.embedding)
	      FROM generate_series(1, 8) i $$;

SELECT create_project('Ingest', dims => 8) AS p \gset
SELECT configure(:p, 'match_distance', '0.05'), configure(:p, 'masked_match_distance', '0.15');
INSERT INTO camera VALUES (:p, 'gate', 'entrance'), (:p, 'desk', 'sign_in');

-- ids relative to this project, so the output does not depend on other tests
CREATE VIEW pg_temp.c AS
	SELECT dense_rank() OVER (ORDER BY capture_id) AS capture,
	       camera_id, to_char(captured_at AT TIME ZONE 'Asia/Shanghai', 'HH24:MI') AS at, masked, quality,
	       dense_rank() OVER (ORDER BY person_id) AS person,
	       dense_rank() OVER (ORDER BY visit_id) AS visit,
	       round(match_distance::numeric, 4) AS distance
	FROM firstsight.capture WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Ingest');

-- a new face makes a new person; the same face again matches it
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 10:00+08', pg_temp.face(1), 0.8, false);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'desk', '2024-03-01 10:05+08', pg_temp.face(1, 0.2), 0.7, false);
-- a different face is a different person
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 10:06+08', pg_temp.face(2), 0.9, false);
SELECT * FROM pg_temp.c ORDER BY capture;

-- filled in the same statement: RETURNING sees the trigger's work only after, so look right away
SELECT count(*) FILTER (WHERE person_id IS NULL OR visit_id IS NULL) AS unfilled FROM capture WHERE project_id = :p;

-- a multi-row INSERT is one batch: two captures of one new face become one person
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'gate', '2024-03-01 11:00+08', pg_temp.face(3), 0.6, false),
	(:p, 'desk', '2024-03-01 11:00+08', pg_temp.face(3, 0.15), 0.9, false),
	(:p, 'gate', '2024-03-01 11:01+08', pg_temp.face(4), 0.9, false),
	(:p, 'desk', '2024-03-01 11:02+08', pg_temp.face(1, 0.1), 0.8, false);
SELECT * FROM pg_temp.c WHERE capture > 3 ORDER BY capture;

-- masks: a distance between the two thresholds matches a masked capture only
-- (face(5, 0.4) is at cosine distance ~0.072 from face(5))
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 12:00+08', pg_temp.face(5), 0.9, false);
SELECT round((pg_temp.face(5) <=> pg_temp.face(5, 0.4))::numeric, 4) AS distance;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 12:01+08', pg_temp.face(5, 0.4), 0.9, true);
-- face(5, -0.4) is as far from face(5), and farther from the masked exemplar: unmasked, it is someone new
SELECT round((pg_temp.face(5) <=> pg_temp.face(5, -0.4))::numeric, 4) AS distance;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 12:02+08', pg_temp.face(5, -0.4), 0.9, false);
SELECT * FROM pg_temp.c WHERE capture > 7 ORDER BY capture;

-- COPY is matched the same way, as one batch (project_id from a column
-- default here only because COPY data cannot name psql variables)
ALTER TABLE capture ALTER COLUMN project_id SET DEFAULT :p;
COPY capture (camera_id, captured_at, face, quality, masked) FROM stdin;
gate	2024-03-01 13:00+08	[0,0,0,0,0,1,0,0]	0.7	f
desk	2024-03-01 13:00+08	[0,0,0,0,0,1,0.1,0]	0.8	f
gate	2024-03-01 13:01+08	[0,0,0,0,0,0,1,0]	0.5	t
gate	2024-03-01 13:02+08	[0.02,1,0,0,0,0,0,0]	0.95	f
\.
ALTER TABLE capture ALTER COLUMN project_id DROP DEFAULT;
SELECT * FROM pg_temp.c WHERE capture > 10 ORDER BY capture;

-- the gallery: at most one best unmasked, one best masked and one recent
-- exemplar per person; a clearly better capture replaces the best; a match
-- that rests on a mask adds none (person 5's masked capture of 12:01 is not
-- their masked exemplar: sql/masked_pairs.sql)
SELECT dense_rank() OVER (ORDER BY f.person_id) AS person, f.kind, f.quality, f.masked,
       c.capture AS from_capture
FROM face f JOIN pg_temp.c c ON c.capture = (SELECT count(*) FROM capture x WHERE x.project_id = :p AND x.capture_id <= f.capture_id)
WHERE f.project_id = :p ORDER BY person, kind;
SELECT max(n) AS max_exemplars_per_person FROM (SELECT count(*) AS n FROM face WHERE project_id = :p GROUP BY person_id) x;

-- a later visit adds a recent exemplar, replaced only once per visit gap
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-02 10:00+08', pg_temp.face(2, 0.1), 0.5, false);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-02 10:30+08', pg_temp.face(2, 0.12), 0.5, false);
SELECT f.kind, f.quality, to_char(f.captured_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS at
FROM face f WHERE f.project_id = :p
  AND f.person_id = (SELECT person_id FROM capture WHERE project_id = :p AND captured_at = '2024-03-01 10:06+08')
ORDER BY kind;

-- two projects with different face models in one statement
SELECT create_project('Ingest small', dims => 4) AS q \gset
INSERT INTO camera VALUES (:q, 'gate', 'entrance');
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'gate', '2024-03-03 10:00+08', pg_temp.face(8), 0.9, false),
	(:q, 'gate', '2024-03-03 10:00+08', '[1,0,0,0]', 0.9, false),
	(:q, 'gate', '2024-03-03 10:00+08', '[1,0.01,0,0]', 0.9, false);
SELECT project_id = :p AS first_project, count(*) AS captures, count(DISTINCT person_id) AS persons
FROM capture WHERE captured_at = '2024-03-03 10:00+08' GROUP BY project_id ORDER BY 1 DESC;
SELECT project_id = :p AS first_project, count(*) AS gallery_faces FROM face
WHERE project_id IN (:p, :q) GROUP BY project_id ORDER BY 1 DESC;

-- the gallery search is an ORDER BY ... <=> ... LIMIT query on the project's partition
SELECT count(*) AS nearest FROM gallery_nearest(:p, ARRAY[pg_temp.face(1), pg_temp.face(6)]) n WHERE n.distance < 0.01;

-- no biometric column in the settings view
SELECT count(*) AS embedding_columns FROM information_schema.columns
WHERE table_schema = 'firstsight' AND table_name = 'project_settings' AND udt_name IN ('embedding', 'bytea');
