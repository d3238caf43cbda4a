-- embedding_hnsw with every value the type accepts: distances that overflow
-- float4 (+inf), inner products that are inf - inf (NaN), zero vectors under
-- cosine, denormals.  Issue 14 #1: each of these crashed the server (signal
-- 11) in an insert, a build or a search.  The index gives them a defined
-- order, no error: a distance float4 cannot hold is taken in double and
-- kept in order (where the SQL operators say Infinity or NaN, all ties).
SET search_path = firstsight, public;

-- the attack, as a role that can only create tables
CREATE ROLE regress_fs_hx_plain;
GRANT CREATE, USAGE ON SCHEMA public TO regress_fs_hx_plain;
GRANT USAGE ON SCHEMA firstsight TO regress_fs_hx_plain;
SET ROLE regress_fs_hx_plain;
CREATE TABLE public.hx_attack (v firstsight.embedding(2));
INSERT INTO public.hx_attack VALUES ('[1,0]'), ('[0,1]');
CREATE INDEX ON public.hx_attack USING embedding_hnsw (v);
INSERT INTO public.hx_attack VALUES ('[3e38,0]');
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT v FROM public.hx_attack ORDER BY v OPERATOR(firstsight.<->) '[2e19,0]') s;
RESET enable_seqscan;
DROP TABLE public.hx_attack;
RESET ROLE;
REVOKE ALL ON SCHEMA public FROM regress_fs_hx_plain;
REVOKE ALL ON SCHEMA firstsight FROM regress_fs_hx_plain;
DROP ROLE regress_fs_hx_plain;

-- 81 two-dimensional vectors: every pair of nine extreme elements
CREATE TABLE hx_elem (x real);
INSERT INTO hx_elem VALUES (3e38), (-3e38), (2e19), (1), (-1), (1e-38), (1e-45), (-1e-45), (0);
CREATE TABLE hx (id serial, v embedding(2));
INSERT INTO hx (v) SELECT ARRAY[a.x, b.x]::embedding FROM hx_elem a, hx_elem b ORDER BY random();
INSERT INTO hx (v) VALUES (NULL);

-- the distance in double, from the elements (the SQL operators compute in
-- float4 and say Infinity or NaN where these overflow)
CREATE FUNCTION hx_ref(op text, a embedding, b embedding) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE op
		WHEN '<->' THEN sum((x::float8 - y::float8) ^ 2)
		WHEN '<#>' THEN -sum(x::float8 * y::float8)
		ELSE 1 - sum(x::float8 * y::float8) / nullif(sqrt(sum(x::float8 * x::float8) * sum(y::float8 * y::float8)), 0) END
	FROM unnest(a::real[], b::real[]) u(x, y)
$$;

-- every row of tbl as a query over the index: the fewest and most rows a
-- query returned, how many returned a row twice, and how many returned
-- their rows in order of the distance in double (to float4 precision);
-- under cosine a zero query has no direction and is not checked for order
CREATE FUNCTION hx_scan(tbl regclass, op text)
RETURNS TABLE (queries bigint, min_rows int, max_rows int, repeated bigint, in_order bigint)
LANGUAGE plpgsql AS $$
DECLARE
	q embedding;
	ids int[];
	ds float8[];
	n int;
	ok boolean;
BEGIN
	queries := 0; in_order := 0; repeated := 0;
	FOR q IN EXECUTE format('SELECT DISTINCT v FROM %s WHERE v IS NOT NULL', tbl) LOOP
		EXECUTE format('SELECT array_agg(id ORDER BY ord), array_agg(hx_ref(%L, v, $1) ORDER BY ord) FROM
			(SELECT id, v, row_number() OVER () AS ord FROM (SELECT id, v FROM %s ORDER BY v %s $1) s) s',
			op, tbl, op)
			INTO ids, ds USING q;
		n := coalesce(cardinality(ids), 0);
		queries := queries + 1;
		min_rows := least(min_rows, n);
		max_rows := greatest(max_rows, n);
		IF n <> (SELECT count(DISTINCT i) FROM unnest(ids) i) THEN repeated := repeated + 1; END IF;
		ok := true;
		IF op <> '<=>' OR norm(q) > 0 THEN
			FOR i IN 2 .. n LOOP
				IF ds[i] < ds[i - 1] - 1e-4 * abs(ds[i - 1]) - 1e-6 THEN ok := false; END IF;
			END LOOP;
		END IF;
		IF ok THEN in_order := in_order + 1; END IF;
	END LOOP;
	RETURN NEXT;
END $$;

SET enable_seqscan = off;
SET firstsight.hnsw_ef_search = 200;
SET client_min_messages = warning;	-- index_check's NOTICE on links outside the kept tree

-- serial build on half the rows, the other half inserted; every opclass
CREATE TABLE hx_l2 AS SELECT * FROM hx;
CREATE TABLE hx_ip AS SELECT * FROM hx;
CREATE TABLE hx_cos AS SELECT * FROM hx;
DELETE FROM hx_l2 WHERE id > 40;
DELETE FROM hx_ip WHERE id > 40;
DELETE FROM hx_cos WHERE id > 40;
CREATE INDEX hx_l2_idx ON hx_l2 USING embedding_hnsw (v embedding_l2_ops) WITH (m = 4, ef_construction = 8);
CREATE INDEX hx_ip_idx ON hx_ip USING embedding_hnsw (v embedding_ip_ops) WITH (m = 4, ef_construction = 8);
CREATE INDEX hx_cos_idx ON hx_cos USING embedding_hnsw (v embedding_cosine_ops) WITH (m = 4, ef_construction = 8);
INSERT INTO hx_l2 SELECT * FROM hx WHERE id > 40;
INSERT INTO hx_ip SELECT * FROM hx WHERE id > 40;
INSERT INTO hx_cos SELECT * FROM hx WHERE id > 40;
-- 81 queries each, each with its rows in order; at most 81 rows (cosine 80:
-- [0,0] has no direction and is not indexed, as in pgvector).  Not all of
-- them: these rows are near duplicates (the distance of [3e38,1e-45] and
-- [3e38,0] is 0 in float4), and the graph does not always hold every copy
-- of a duplicate within reach (issue 19)
SELECT queries, max_rows <= 81 AS at_most_81, repeated, in_order FROM hx_scan('hx_l2', '<->');
SELECT queries, max_rows <= 81 AS at_most_81, repeated, in_order FROM hx_scan('hx_ip', '<#>');
SELECT queries, max_rows <= 80 AS at_most_80, repeated, in_order FROM hx_scan('hx_cos', '<=>');
-- cosine: the nearest rows to [1,0] and to [5e-45,0] point that way (the
-- SQL operator says 1 for [3e38,0], so the direction is checked here)
SELECT count(*) FILTER (WHERE l2_normalize(v) <#> '[1,0]' < -0.999999) AS pointing_so
FROM (SELECT v FROM hx_cos ORDER BY v <=> '[1,0]' LIMIT 8) s;
SELECT count(*) FILTER (WHERE l2_normalize(v) <#> '[1,0]' < -0.999999) AS pointing_so
FROM (SELECT v FROM hx_cos ORDER BY v <=> '[5e-45,0]' LIMIT 8) s;
-- a zero query under cosine still returns rows
SELECT count(*) > 0 AS rows_returned FROM (SELECT id FROM hx_cos ORDER BY v <=> '[0,0]') s;
SELECT * FROM index_check('hx_l2_idx');
SELECT * FROM index_check('hx_ip_idx');
SELECT * FROM index_check('hx_cos_idx');

-- VACUUM after deleting the extreme rows, then more extremes
DELETE FROM hx_l2 WHERE abs((v::real[])[1]) > 1e30 OR abs((v::real[])[2]) > 1e30;
DELETE FROM hx_ip WHERE abs((v::real[])[1]) > 1e30 OR abs((v::real[])[2]) > 1e30;
DELETE FROM hx_cos WHERE abs((v::real[])[1]) > 1e30 OR abs((v::real[])[2]) > 1e30;
VACUUM hx_l2, hx_ip, hx_cos;
INSERT INTO hx_l2 SELECT * FROM hx WHERE abs((v::real[])[1]) > 1e30 OR abs((v::real[])[2]) > 1e30;
INSERT INTO hx_ip SELECT * FROM hx WHERE abs((v::real[])[1]) > 1e30 OR abs((v::real[])[2]) > 1e30;
INSERT INTO hx_cos SELECT * FROM hx WHERE abs((v::real[])[1]) > 1e30 OR abs((v::real[])[2]) > 1e30;
SELECT queries, max_rows <= 81 AS at_most_81, repeated, in_order FROM hx_scan('hx_l2', '<->');
SELECT queries, max_rows <= 81 AS at_most_81, repeated, in_order FROM hx_scan('hx_ip', '<#>');
SELECT queries, max_rows <= 80 AS at_most_80, repeated, in_order FROM hx_scan('hx_cos', '<=>');
SELECT * FROM index_check('hx_l2_idx');
SELECT * FROM index_check('hx_ip_idx');
SELECT * FROM index_check('hx_cos_idx');
-- every row deleted, VACUUM, the table filled again
DELETE FROM hx_ip;
VACUUM hx_ip;
INSERT INTO hx_ip SELECT * FROM hx;
SELECT queries, max_rows <= 81 AS at_most_81, repeated, in_order FROM hx_scan('hx_ip', '<#>');
SELECT * FROM index_check('hx_ip_idx');

-- the same rows on an empty index: every one an insert
TRUNCATE hx_l2;
INSERT INTO hx_l2 SELECT * FROM hx;
SELECT queries, max_rows <= 81 AS at_most_81, repeated, in_order FROM hx_scan('hx_l2', '<->');
SELECT * FROM index_check('hx_l2_idx');

-- distinct vectors whose distances overflow float4: every row, in order
CREATE TABLE hx_wide (id int, v embedding(2));
INSERT INTO hx_wide SELECT i, ARRAY[(i % 2 * 2 - 1) * i * 8e36, (i % 7 - 3.5) * 0.9e38]::real[]
	FROM generate_series(1, 40) i;
CREATE TABLE hx_wide_ip AS SELECT * FROM hx_wide;
CREATE TABLE hx_wide_cos AS SELECT * FROM hx_wide;
CREATE INDEX ON hx_wide USING embedding_hnsw (v embedding_l2_ops) WITH (m = 4, ef_construction = 8);
CREATE INDEX ON hx_wide_ip USING embedding_hnsw (v embedding_ip_ops) WITH (m = 4, ef_construction = 8);
CREATE INDEX ON hx_wide_cos USING embedding_hnsw (v embedding_cosine_ops) WITH (m = 4, ef_construction = 8);
INSERT INTO hx_wide SELECT i, ARRAY[(i % 2 * 2 - 1) * i * 8e36, (i % 5 - 2.5) * 1.3e38]::real[]
	FROM generate_series(41, 42) i;
SELECT * FROM hx_scan('hx_wide', '<->');
SELECT * FROM hx_scan('hx_wide_ip', '<#>');
SELECT * FROM hx_scan('hx_wide_cos', '<=>');
DROP TABLE hx_wide, hx_wide_ip, hx_wide_cos;

-- a build that no longer fits maintenance_work_mem (in memory, then on disk),
-- and a parallel build whose shared graph fills up (the statistics say 10 rows)
CREATE TABLE hx_big (id int, v embedding(64)) WITH (parallel_workers = 2);
INSERT INTO hx_big SELECT i, ARRAY(SELECT (SELECT x FROM hx_elem ORDER BY random() + i * 0 + j * 0 LIMIT 1)
	FROM generate_series(1, 64) j) FROM generate_series(1, 10) i;
ANALYZE hx_big;
INSERT INTO hx_big SELECT i, ARRAY(SELECT (SELECT x FROM hx_elem ORDER BY random() + i * 0 + j * 0 LIMIT 1)
	FROM generate_series(1, 64) j) FROM generate_series(11, 3000) i;
SET maintenance_work_mem = '1MB';
SET max_parallel_maintenance_workers = 0;
CREATE INDEX hx_big_l2 ON hx_big USING embedding_hnsw (v embedding_l2_ops);
CREATE INDEX hx_big_ip ON hx_big USING embedding_hnsw (v embedding_ip_ops);
CREATE INDEX hx_big_cos ON hx_big USING embedding_hnsw (v embedding_cosine_ops);
SELECT * FROM index_check('hx_big_l2');
SELECT * FROM index_check('hx_big_ip');
SELECT * FROM index_check('hx_big_cos');
DROP INDEX hx_big_l2, hx_big_ip, hx_big_cos;
RESET maintenance_work_mem;
SET max_parallel_maintenance_workers = 2;
CREATE INDEX hx_big_l2 ON hx_big USING embedding_hnsw (v embedding_l2_ops);
CREATE INDEX hx_big_ip ON hx_big USING embedding_hnsw (v embedding_ip_ops);
CREATE INDEX hx_big_cos ON hx_big USING embedding_hnsw (v embedding_cosine_ops);
RESET max_parallel_maintenance_workers;
SELECT * FROM index_check('hx_big_l2');
SELECT * FROM index_check('hx_big_ip');
SELECT * FROM index_check('hx_big_cos');
SELECT count(*) FROM (SELECT id FROM hx_big ORDER BY v <-> (SELECT v FROM hx_big WHERE id = 7) LIMIT 100) s;
SELECT count(*) FROM (SELECT id FROM hx_big ORDER BY v <#> (SELECT v FROM hx_big WHERE id = 7) LIMIT 100) s;
SELECT count(*) FROM (SELECT id FROM hx_big ORDER BY v <=> (SELECT v FROM hx_big WHERE id = 7) LIMIT 100) s;
-- the nearest row to itself is itself (distance 0 under l2)
SELECT (SELECT id FROM hx_big ORDER BY v <-> (SELECT v FROM hx_big WHERE id = 7) LIMIT 1) = 7 AS found_itself;

-- VACUUM links every element into the tree of kept links, even one whose
-- own links and search results are all outside it (its duplicates, left
-- out together: under cosine these 81 rows have 8 directions).  It used
-- to link nothing to such an element, an island no search entered: 1 of
-- about 100 rounds below (the CI failure of the check after VACUUM
-- above); and when VACUUM moved the entry point to an element with no kept
-- link, far from every group of duplicates, it never tried the entry point
-- itself and left most elements outside the tree (1 round in about 3,000).
-- 300 rounds, each its own random order; index_check's problems and its
-- NOTICE (elements outside the tree) are counted.
CREATE TABLE hx_rounds (round int, problems bigint);
CREATE TABLE hx_r ();
SET client_min_messages = notice;
\set ECHO none
SELECT s FROM generate_series(1, 300) r, LATERAL unnest(ARRAY[
	'DROP TABLE hx_r',
	'CREATE TABLE hx_r AS SELECT row_number() OVER () AS id, v FROM (SELECT v FROM hx ORDER BY random()) s',
	'DELETE FROM hx_r WHERE id > 40',
	'CREATE INDEX hx_r_idx ON hx_r USING embedding_hnsw (v embedding_cosine_ops) WITH (m = 4, ef_construction = 8)',
	'INSERT INTO hx_r SELECT row_number() OVER () + 40, v FROM hx WHERE id > 40',
	'DELETE FROM hx_r WHERE abs((v::real[])[1]) > 1e30 OR abs((v::real[])[2]) > 1e30',
	'VACUUM hx_r',
	format('INSERT INTO hx_rounds SELECT %s, count(*) FROM index_check(''hx_r_idx'')', r)]) s \gexec
\set ECHO all
SET client_min_messages = warning;
SELECT count(*) AS rounds, count(*) FILTER (WHERE problems > 0) AS with_problems FROM hx_rounds;
DROP TABLE hx_r, hx_rounds;

RESET firstsight.hnsw_ef_search;
RESET enable_seqscan;
RESET client_min_messages;
DROP FUNCTION hx_scan(regclass, text), hx_ref(text, embedding, embedding);
DROP TABLE hx, hx_elem, hx_l2, hx_ip, hx_cos, hx_big;

-- issue 19: norm accumulates in double, l2_normalize of a large value is a unit vector
SELECT norm('[3e37,4e37]')::real AS norm;
SELECT l2_normalize('[3e38]'), l2_normalize('[3e38,-3e38]'), l2_normalize('[1e-45,0]');
