-- Identical vectors (a camera sends the same one again and again): an
-- ordered scan returns every row as near as its last one, so a LIMIT is
-- filled even with firstsight.hnsw_ef_search = 1, after a build and after
-- inserts (pgvector's 015_hnsw_vector_duplicates).
SET search_path = firstsight, public;

CREATE TABLE hnsw_dup (id serial, v embedding(3));
INSERT INTO hnsw_dup (v) SELECT '[1,1,1]' FROM generate_series(1, 20);
CREATE INDEX hnsw_dup_idx ON hnsw_dup USING embedding_hnsw (v embedding_l2_ops);
SET enable_seqscan = off;
SET firstsight.hnsw_ef_search = 1;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_dup ORDER BY v <-> '[1,1,1]' LIMIT 10;
SELECT count(*) FROM (SELECT id FROM hnsw_dup ORDER BY v <-> '[1,1,1]' LIMIT 10) t;
-- a query that is not one of them: the copies are still ties of each other
SELECT count(*) FROM (SELECT id FROM hnsw_dup ORDER BY v <-> '[1,1,2]' LIMIT 10) t;
-- no LIMIT: all 20, each once
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM hnsw_dup ORDER BY v <-> '[1,1,1]') t;

-- inserts into an empty index
TRUNCATE hnsw_dup;
INSERT INTO hnsw_dup (v) SELECT '[1,1,1]' FROM generate_series(1, 20);
SELECT count(*) FROM (SELECT id FROM hnsw_dup ORDER BY v <-> '[1,1,1]' LIMIT 10) t;
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM hnsw_dup ORDER BY v <-> '[1,1,1]') t;

-- among other vectors: the ties come first, then nothing farther (no iterative scan)
INSERT INTO hnsw_dup (v) SELECT ARRAY[i, i, i]::embedding FROM generate_series(2, 40) i;
SELECT count(*), max(v <-> '[1,1,1]') FROM (SELECT id, v FROM hnsw_dup ORDER BY v <-> '[1,1,1]' LIMIT 30) t;
SELECT * FROM index_check('hnsw_dup_idx');
RESET firstsight.hnsw_ef_search;
RESET enable_seqscan;
DROP TABLE hnsw_dup;
