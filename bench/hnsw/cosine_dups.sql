-- bench/hnsw/cosine_dups.sql: many rounds of a plain build and inserts (no
-- VACUUM) of many duplicates under cosine, m = 2 and 4, 1-d and 2-d, each
-- round its own random order; index_check's problem rows are counted
-- (issue 19: the 1-d cosine case once left an element unreachable until
-- the next VACUUM).  The 81 vectors are every pair of 9 extreme values
-- (±3e38, 2e19, ±1, 1e-38, ±1e-45, 0; under cosine 8
-- directions, 2 in 1-d where only the first of the pair is taken; zero
-- vectors are not indexed).  Each round builds the index on `build` of
-- them, then inserts all 81 `insmul` times.  In a database with firstsight:
--   psql -v build=40 -v insmul=2 -v rounds=500 -f bench/hnsw/cosine_dups.sql
-- Prints per (dims, m): rounds, rounds with problems, problem rows.
SET search_path = firstsight, public;
\set QUIET on
DROP TABLE IF EXISTS dup_rounds, dup_r, dup_elem;
CREATE TABLE dup_elem (x real);
INSERT INTO dup_elem VALUES (3e38), (-3e38), (2e19), (1), (-1), (1e-38), (1e-45), (-1e-45), (0);
CREATE TABLE dup_rounds (dims int, m int, round int, problems bigint);
SELECT format($f$
DROP TABLE IF EXISTS dup_r;
CREATE TABLE dup_r (id serial, v embedding(%1$s));
INSERT INTO dup_r (v) SELECT v FROM (SELECT CASE WHEN %1$s = 1 THEN ARRAY[a.x]::embedding ELSE ARRAY[a.x, b.x]::embedding END v FROM dup_elem a, dup_elem b, generate_series(1, 1) g ORDER BY random() LIMIT %4$s) s;
CREATE INDEX dup_r_idx ON dup_r USING embedding_hnsw (v embedding_cosine_ops) WITH (m = %2$s, ef_construction = 8);
INSERT INTO dup_r (v) SELECT CASE WHEN %1$s = 1 THEN ARRAY[a.x]::embedding ELSE ARRAY[a.x, b.x]::embedding END FROM dup_elem a, dup_elem b, generate_series(1, %5$s) g ORDER BY random();
INSERT INTO dup_rounds SELECT %1$s, %2$s, %3$s, count(*) FROM index_check('dup_r_idx');
$f$, d, m, r, :build, :insmul) FROM generate_series(1, 2) d, (VALUES (2), (4)) mm(m), generate_series(1, :rounds) r \gexec
SELECT dims, m, count(*) AS rounds, count(*) FILTER (WHERE problems > 0) AS with_problems, sum(problems) AS problem_rows FROM dup_rounds GROUP BY 1, 2 ORDER BY 1, 2;
DROP TABLE dup_rounds, dup_r, dup_elem;
