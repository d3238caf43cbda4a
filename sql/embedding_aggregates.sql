-- avg and sum of embeddings, including parallel aggregation.
SET search_path = firstsight, public;

SELECT avg(e), sum(e) FROM (VALUES ('[1,2,3]'::embedding), ('[3,4,5]'), (NULL)) v(e);
SELECT avg(e), sum(e) FROM (VALUES (NULL::embedding)) v(e);
SELECT avg(e) FROM (VALUES ('[1,2]'::embedding), ('[1,2,3]')) v(e);
SELECT sum(e) FROM (VALUES ('[1,2]'::embedding), ('[1,2,3]')) v(e);
SELECT avg(e) FROM (VALUES ('[3e38]'::embedding), ('[3e38]')) v(e);
SELECT p, avg(e) FROM (VALUES (1, '[1,1]'::embedding), (1, '[3,3]'), (2, '[5,7]')) v(p, e) GROUP BY p ORDER BY p;

-- a parallel plan (partial aggregate + combine) gives the serial answer
CREATE TABLE agg_t AS SELECT i, ARRAY[i % 7, i % 11, 1]::embedding AS e FROM generate_series(1, 200000) i;
ANALYZE agg_t;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(e), sum(e) FROM agg_t;
SELECT avg(e), sum(e) FROM agg_t;
SET max_parallel_workers_per_gather = 0;
SELECT avg(e), sum(e) FROM agg_t;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE agg_t;
