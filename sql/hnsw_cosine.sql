-- embedding_hnsw with embedding_cosine_ops: results and order against exact search, NULLs
-- skipped, inserts after the build, and a structurally sound graph.
SET search_path = firstsight, public;

CREATE TABLE hnsw_cosine (id int, e embedding(3));
INSERT INTO hnsw_cosine VALUES (1, '[1,1,1]'), (2, '[2,2,2]'), (3, '[1,1,50]'), (4, '[-1,-1,-2]'), (5, '[0,0,0]'), (6, NULL);
CREATE INDEX hnsw_cosine_idx ON hnsw_cosine USING embedding_hnsw (e embedding_cosine_ops);
INSERT INTO hnsw_cosine VALUES (7, '[1,2,4]'), (8, NULL), (9, '[3,1,2]');

SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_cosine ORDER BY e <=> '[1,2,3]' LIMIT 5;
SELECT * FROM (SELECT id, round((e <=> '[1,2,3]')::numeric, 4) AS distance FROM hnsw_cosine ORDER BY e <=> '[1,2,3]' LIMIT 10) s
ORDER BY distance, id;	-- 1 and 2 are the same direction: a tie, in any order from the index
SELECT id FROM hnsw_cosine ORDER BY e <=> '[-3,0,1]' LIMIT 3;
SELECT count(*) FROM (SELECT id FROM hnsw_cosine ORDER BY e <=> NULL LIMIT 20) s;	-- a NULL query still returns rows
SELECT * FROM index_check('hnsw_cosine_idx');

-- 300 more rows: the index order equals the exact order (the search list covers the table)
INSERT INTO hnsw_cosine SELECT i, ARRAY[sin(i), cos(i * 1.3), (i % 17) - 8]::embedding FROM generate_series(10, 309) i;
SET firstsight.hnsw_ef_search = 400;
CREATE TEMP TABLE cosine_q AS SELECT q, ARRAY[cos(q), sin(q * 2), q % 5 - 2]::embedding AS v FROM generate_series(1, 20) q;
SELECT count(*) AS queries,
       count(*) FILTER (WHERE idx = exact) AS same_top5
FROM (SELECT q,
             ARRAY(SELECT id FROM hnsw_cosine ORDER BY e <=> v, id LIMIT 5) AS idx,
             ARRAY(SELECT id FROM (SELECT id, e <=> v AS d FROM hnsw_cosine WHERE e IS NOT NULL OFFSET 0) s ORDER BY d, id LIMIT 5) AS exact
      FROM cosine_q) s;
SELECT * FROM index_check('hnsw_cosine_idx');
-- wrong dimensions in the query
SELECT id FROM hnsw_cosine ORDER BY e <=> '[1,2]' LIMIT 1;
RESET firstsight.hnsw_ef_search;
RESET enable_seqscan;
DROP TABLE hnsw_cosine;
