-- embedding_hnsw with embedding_l1_ops (<+>, taxicab distance; pgvector's
-- vector_l1_ops): the index serves the ORDER BY, returns no NULL rows, and
-- its order equals the exact one.
SET search_path = firstsight, public;

CREATE TABLE hnsw_l1 (id int, e embedding(3));
INSERT INTO hnsw_l1 VALUES (1, '[1,1,1]'), (2, '[2,2,2]'), (3, '[1,1,50]'), (4, '[-1,-1,-2]'), (5, '[0,0,0]'), (6, NULL);
CREATE INDEX hnsw_l1_idx ON hnsw_l1 USING embedding_hnsw (e embedding_l1_ops);
INSERT INTO hnsw_l1 VALUES (7, '[1,2,4]'), (8, NULL), (9, '[3,1,2]');

SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_l1 ORDER BY e <+> '[1,2,3]' LIMIT 5;
-- every row but the two NULLs, nearest first
SELECT id, e <+> '[1,2,3]' AS distance FROM hnsw_l1 ORDER BY e <+> '[1,2,3]';
SELECT * FROM index_check('hnsw_l1_idx');

-- 300 more rows: the index order equals the exact order (the search list covers the table)
INSERT INTO hnsw_l1 SELECT i, ARRAY[sin(i), cos(i * 1.3), (i % 17) - 8]::embedding FROM generate_series(10, 309) i;
SET firstsight.hnsw_ef_search = 400;
CREATE TEMP TABLE l1_q AS SELECT q, ARRAY[cos(q), sin(q * 2), q % 5 - 2]::embedding AS v FROM generate_series(1, 20) q;
SELECT count(*) AS queries,
       count(*) FILTER (WHERE idx = exact) AS same_top5
FROM (SELECT q,
             ARRAY(SELECT id FROM hnsw_l1 ORDER BY e <+> v, id LIMIT 5) AS idx,
             ARRAY(SELECT id FROM (SELECT id, e <+> v AS d FROM hnsw_l1 WHERE e IS NOT NULL OFFSET 0) s ORDER BY d, id LIMIT 5) AS exact
      FROM l1_q) s;
SELECT * FROM index_check('hnsw_l1_idx');
RESET firstsight.hnsw_ef_search;
RESET enable_seqscan;
DROP TABLE hnsw_l1;
