-- The planner and embedding_hnsw: the graph scan serves ORDER BY distance
-- LIMIT k, and filters that keep most rows, but not selective filters,
-- where a sequential scan, another index or a partial index serves better
-- (the scan would walk much of the graph to find k rows that pass).
-- pgvector's 017_hnsw_filtering, as a regression test.
SET search_path = firstsight, public;

SELECT setseed(0.4) \gset
CREATE TABLE hnsw_cost (i int4, v embedding(3), c int4, t text);
CREATE TABLE hnsw_cost_cat (i int4 PRIMARY KEY, t text, b boolean);
INSERT INTO hnsw_cost SELECT i, ARRAY[random(), random(), random()], i % 50, 'test ' || i FROM generate_series(1, 10000) i;
INSERT INTO hnsw_cost_cat SELECT i, 'cat ' || i, i % 5 = 0 FROM generate_series(1, 50) i;
CREATE INDEX hnsw_cost_idx ON hnsw_cost USING embedding_hnsw (v embedding_l2_ops);
ANALYZE hnsw_cost;
ANALYZE hnsw_cost_cat;

-- no filter, and filters that keep most rows: the graph
EXPLAIN (COSTS OFF) SELECT i FROM hnsw_cost ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 20;
EXPLAIN (COSTS OFF) SELECT i FROM hnsw_cost WHERE c != 7 ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 20;
EXPLAIN (COSTS OFF) SELECT i FROM hnsw_cost WHERE c >= 1 ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 20;
EXPLAIN (COSTS OFF) SELECT i FROM hnsw_cost WHERE t LIKE '%test%' ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 20;
EXPLAIN (COSTS OFF) SELECT hnsw_cost_cat.t FROM hnsw_cost_cat JOIN hnsw_cost ON hnsw_cost_cat.i = hnsw_cost.c
	ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 20;
-- selective filters (1 row in 50, none): not the graph
EXPLAIN (COSTS OFF) SELECT i FROM hnsw_cost WHERE c = 7 ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 20;
EXPLAIN (COSTS OFF) SELECT i FROM hnsw_cost WHERE c < 1 ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 20;
EXPLAIN (COSTS OFF) SELECT i FROM hnsw_cost WHERE t LIKE '%other%' ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 20;
-- without LIMIT, or without ORDER BY: not the graph
EXPLAIN (COSTS OFF) SELECT i FROM hnsw_cost WHERE v <-> '[0.5,0.5,0.5]' < 0.1 ORDER BY v <-> '[0.5,0.5,0.5]';
EXPLAIN (COSTS OFF) SELECT i FROM hnsw_cost WHERE v <-> '[0.5,0.5,0.5]' < 0.1;
-- an index on the filter column serves the selective filter
CREATE INDEX hnsw_cost_c ON hnsw_cost (c);
EXPLAIN (COSTS OFF) SELECT i FROM hnsw_cost WHERE c = 7 ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 20;
-- and a partial graph for that filter value serves it better still
CREATE INDEX hnsw_cost_partial ON hnsw_cost USING embedding_hnsw (v embedding_l2_ops) WHERE c = 7;
EXPLAIN (COSTS OFF) SELECT i FROM hnsw_cost WHERE c = 7 ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 20;
SELECT count(*) FROM (SELECT i FROM hnsw_cost WHERE c = 7 ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 20) s;
DROP TABLE hnsw_cost, hnsw_cost_cat;
