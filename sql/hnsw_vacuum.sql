-- VACUUM removes deleted rows from the graph, repairs links and erases vectors.
SET search_path = firstsight, public;

CREATE TABLE hnsw_vac (id int, e embedding(4));
INSERT INTO hnsw_vac SELECT i, ARRAY[sin(i), cos(i), sin(i * 0.7), cos(i * 1.9)] FROM generate_series(1, 1000) i;
CREATE INDEX hnsw_vac_idx ON hnsw_vac USING embedding_hnsw (e embedding_l2_ops) WITH (m = 4, ef_construction = 16);
SET enable_seqscan = off;
SET firstsight.hnsw_ef_search = 100;
DELETE FROM hnsw_vac WHERE id % 3 <> 0;
VACUUM hnsw_vac;
SELECT * FROM index_check('hnsw_vac_idx');
-- no deleted row comes back, and the searches still find the nearest rows
SELECT count(*) FILTER (WHERE id % 3 <> 0) AS deleted_returned, count(*) AS returned
FROM (SELECT (SELECT id FROM hnsw_vac ORDER BY e <-> ARRAY[sin(q), cos(q), 0, 0]::embedding LIMIT 1) AS id FROM generate_series(1, 200) q) s;
SELECT count(*) FILTER (WHERE idx = exact) >= 190 AS recall_at_1_ge_95
FROM (SELECT (SELECT id FROM hnsw_vac ORDER BY e <-> v LIMIT 1) AS idx,
             (SELECT id FROM (SELECT id, e <-> v AS d FROM hnsw_vac OFFSET 0) s ORDER BY d, id LIMIT 1) AS exact
      FROM (SELECT ARRAY[sin(q * 1.1), cos(q), sin(q * 0.3), 0]::embedding AS v FROM generate_series(1, 200) q) qs) s;
-- new rows after the vacuum are found too
INSERT INTO hnsw_vac SELECT i, ARRAY[i, 0, 0, 0] FROM generate_series(2001, 2050) i;
SELECT id FROM hnsw_vac ORDER BY e <-> '[2025.2,0,0,0]' LIMIT 3;
-- delete everything: an empty graph, still sound, still usable
DELETE FROM hnsw_vac;
VACUUM hnsw_vac;
SELECT * FROM index_check('hnsw_vac_idx');
SELECT count(*) FROM (SELECT id FROM hnsw_vac ORDER BY e <-> '[1,0,0,0]' LIMIT 3) s;
INSERT INTO hnsw_vac VALUES (1, '[1,0,0,0]'), (2, '[0,1,0,0]');
SELECT id FROM hnsw_vac ORDER BY e <-> '[0.9,0,0,0]' LIMIT 3;
SELECT * FROM index_check('hnsw_vac_idx');
RESET firstsight.hnsw_ef_search;
RESET enable_seqscan;
DROP TABLE hnsw_vac;
