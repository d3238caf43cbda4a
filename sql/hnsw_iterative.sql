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
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP TABLE hnsw_iter;
