-- VACUUM frees the slots of deleted elements and inserts reuse them:
-- deleting every row, VACUUM and inserting as many again leaves the index
-- about its size (pgvector's 011_hnsw_vacuum: at most 1.02x; it doubled
-- when slots were never reused).  An erased face's vector is not on any
-- index page, before or after its slot is reused (checked byte by byte
-- with pageinspect).
SET search_path = firstsight, public;
CREATE EXTENSION IF NOT EXISTS pageinspect;

CREATE TABLE hnsw_reuse (i int4, v embedding(3));
INSERT INTO hnsw_reuse SELECT i, ARRAY[i % 17, i % 301, i % 777] FROM generate_series(1, 10000) i;
CREATE INDEX hnsw_reuse_idx ON hnsw_reuse USING embedding_hnsw (v embedding_l2_ops);
-- 50 faces to erase, inserted after the build
INSERT INTO hnsw_reuse SELECT -i, ARRAY[1234.5 + i, -777.25, 31.125 * i] FROM generate_series(1, 50) i;
-- a vector's bytes as stored (float4, little-endian)
CREATE FUNCTION pg_temp.stored(e embedding) RETURNS bytea LANGUAGE sql AS $$
	SELECT string_agg(decode(substr(h, 7, 2) || substr(h, 5, 2) || substr(h, 3, 2) || substr(h, 1, 2), 'hex'), ''::bytea ORDER BY n)
	FROM unnest(e::real[]) WITH ORDINALITY AS x(f, n), encode(float4send(f), 'hex') AS h $$;
CREATE TEMP TABLE secret AS SELECT i, pg_temp.stored(v) AS bytes FROM hnsw_reuse WHERE i < 0;
CREATE FUNCTION pg_temp.secrets_on_pages() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM secret
	WHERE EXISTS (SELECT 1 FROM generate_series(1, (pg_relation_size('hnsw_reuse_idx') / 8192)::int - 1) b
	              WHERE position(bytes IN get_raw_page('hnsw_reuse_idx', b)) > 0) $$;
SELECT pg_temp.secrets_on_pages() AS secrets_before_delete;
SELECT pg_relation_size('hnsw_reuse_idx') AS size_before \gset

DELETE FROM hnsw_reuse;
VACUUM hnsw_reuse;
SELECT pg_temp.secrets_on_pages() AS secrets_after_vacuum;
INSERT INTO hnsw_reuse SELECT i, ARRAY[i % 17, i % 301, i % 777] FROM generate_series(1, 10050) i;
SELECT pg_relation_size('hnsw_reuse_idx') <= :size_before * 1.02 AS size_within_1_02,
       pg_relation_size('hnsw_reuse_idx') >= :size_before * 0.95 AS same_data_same_size;
SELECT pg_temp.secrets_on_pages() AS secrets_after_reuse;
SELECT * FROM index_check('hnsw_reuse_idx');
SET enable_seqscan = off;
SELECT v FROM hnsw_reuse ORDER BY v <-> '[5,5,5]' LIMIT 1;

-- again with half the rows: the slots of the deleted half take the new rows
DELETE FROM hnsw_reuse WHERE i % 2 = 0;
VACUUM hnsw_reuse;
INSERT INTO hnsw_reuse SELECT i, ARRAY[i % 17, i % 301, i % 777] FROM generate_series(2, 10050, 2) i;
SELECT pg_relation_size('hnsw_reuse_idx') <= :size_before * 1.02 AS size_within_1_02;
SELECT * FROM index_check('hnsw_reuse_idx');
SET firstsight.hnsw_ef_search = 100;
SELECT count(*) FILTER (WHERE (SELECT v FROM hnsw_reuse ORDER BY v <-> q.v LIMIT 1) = q.v) AS found_itself
FROM (SELECT v FROM hnsw_reuse WHERE i % 50 = 0) q;

-- all but one (pgvector's check): the one is found
DELETE FROM hnsw_reuse WHERE i != 123;
VACUUM hnsw_reuse;
SELECT i FROM hnsw_reuse ORDER BY v <-> '[0,0,0]' LIMIT 10;
SELECT * FROM index_check('hnsw_reuse_idx');
RESET firstsight.hnsw_ef_search;
RESET enable_seqscan;
DROP TABLE hnsw_reuse;
DROP EXTENSION pageinspect;
