-- Filtered queries: iterative scans return the rows asked for.
SET search_path = firstsight, public;

SELECT setseed(0.3) \gset
CREATE TABLE hnsw_iter (project_id int, id int, e embedding(8));
INSERT INTO hnsw_iter
	SELECT p, i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 8) WHERE p > 0 AND i > 0)::embedding
	FROM generate_series(1, 100) p, generate_series(1, 50) i;
CREATE INDEX hnsw_iter_idx ON hnsw_iter USING embedding_hnsw (e embedding_cosine_ops);
ANALYZE hnsw_iter;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
-- without iterative scan a 1% filter finds few of the 10 rows
SET firstsight.hnsw_iterative_scan = off;
SELECT count(*) < 10 AS short FROM (SELECT id FROM hnsw_iter WHERE project_id = 7 ORDER BY e <=> '[1,0,0,0,0,0,0,1]' LIMIT 10) s;
SET firstsight.hnsw_iterative_scan = relaxed_order;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_iter WHERE project_id = 7 ORDER BY e <=> '[1,0,0,0,0,0,0,1]' LIMIT 10;
SELECT count(*) AS rows, count(*) FILTER (WHERE project_id = 7) AS of_project_7
FROM (SELECT project_id, id FROM hnsw_iter WHERE project_id = 7 ORDER BY e <=> '[1,0,0,0,0,0,0,1]' LIMIT 10) s;
-- every project, every time
SELECT count(*) AS projects, min(n), max(n)
FROM (SELECT p, (SELECT count(*) FROM (SELECT 1 FROM hnsw_iter WHERE project_id = p ORDER BY e <=> '[0,1,0,1,0,1,0,1]' LIMIT 10) x) AS n
      FROM generate_series(1, 100) p) s;
-- the rows found are the project's true nearest (relaxed order: compare as sets)
SELECT (SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM hnsw_iter WHERE project_id = 42 ORDER BY e <=> '[1,1,1,1,0,0,0,0]' LIMIT 5) a)
     = (SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM hnsw_iter WHERE project_id = 42 ORDER BY (e <=> '[1,1,1,1,0,0,0,0]') + 0 LIMIT 5) b) AS same_rows;
-- max_scan_tuples bounds the work: a tiny budget returns fewer rows
SET firstsight.hnsw_max_scan_tuples = 50;
SELECT count(*) < 10 AS bounded FROM (SELECT id FROM hnsw_iter WHERE project_id = 7 ORDER BY e <=> '[1,0,0,0,0,0,0,1]' LIMIT 10) s;
RESET firstsight.hnsw_max_scan_tuples;
RESET firstsight.hnsw_iterative_scan;
-- Faces as cameras send them: identities with a few captures each, spread
-- over 100 projects.  The 10 nearest of one project lie among the ~1,000
-- nearest rows; the scan must go on until it has them (a search that
-- started over with twice the list each time used up max_scan_tuples
-- after ~640 rows and returned 3-9 of 10).
SELECT setseed(0.7) \gset
CREATE TABLE hnsw_iter_faces AS
	SELECT row_number() OVER () AS id, (random() * 99)::int + 1 AS project_id,
	       (SELECT array_agg(x + (random() - 0.5) * 0.3) FROM unnest(c) x WHERE k > 0)::embedding(32) AS face
	FROM (SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 32) WHERE i > 0) AS c
	      FROM generate_series(1, 4000) i) ident, generate_series(1, 5) k;
CREATE INDEX ON hnsw_iter_faces USING embedding_hnsw (face embedding_cosine_ops);
ANALYZE hnsw_iter_faces;
SET firstsight.hnsw_iterative_scan = relaxed_order;
-- 30 projects, each with its own query: every one returns 10 rows, and
-- they are (nearly all) the project's exact 10 nearest
SELECT count(*) AS queries, min(cardinality(got)) AS min_rows, sum(cardinality(got)) AS rows,
       sum((SELECT count(*) FROM unnest(got) g WHERE g = ANY (exact))) >= 290 AS recall_at_least_0_97
FROM (SELECT p,
             ARRAY(SELECT id FROM hnsw_iter_faces WHERE project_id = p
                   ORDER BY face <=> (SELECT face FROM hnsw_iter_faces WHERE id = p * 97) LIMIT 10) AS got,
             ARRAY(SELECT id FROM hnsw_iter_faces WHERE project_id = p
                   ORDER BY (face <=> (SELECT face FROM hnsw_iter_faces WHERE id = p * 97)) + 0 LIMIT 10) AS exact
      FROM generate_series(1, 30) p) s;
-- a filter nothing passes: the scan stops at max_scan_tuples, empty
SET firstsight.hnsw_max_scan_tuples = 2000;
SELECT count(*) FROM (SELECT id FROM hnsw_iter_faces WHERE project_id = 1000 ORDER BY face <=> (SELECT face FROM hnsw_iter_faces WHERE id = 1) LIMIT 10) s;
RESET firstsight.hnsw_max_scan_tuples;
RESET firstsight.hnsw_iterative_scan;
DROP TABLE hnsw_iter_faces;
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP TABLE hnsw_iter;
