-- embedding_hnsw with the smallest m and many identical vectors (a camera
-- that sends the same face again and again): every list near a newcomer
-- is half kept, and a newcomer still gets a kept link (down the tree of
-- kept links), so no insert leaves an element that searches cannot reach.
-- Before, 1,500 such inserts left 11 elements unreachable and about 1,400
-- outside the tree (index_check rows and a NOTICE).
SET search_path = firstsight, public;
CREATE TABLE small_m (id serial PRIMARY KEY, v embedding(3));
CREATE INDEX small_m_idx ON small_m USING embedding_hnsw (v embedding_l2_ops) WITH (m = 2, ef_construction = 4);
INSERT INTO small_m (v) SELECT ('[' || (i % 3) || ',1,1]')::embedding FROM generate_series(1, 1500) i;
SELECT count(*) AS problems FROM index_check('small_m_idx');
-- the same after deleting a third, VACUUM and as many inserts again
DELETE FROM small_m WHERE id % 3 = 0;
VACUUM small_m;
INSERT INTO small_m (v) SELECT ('[' || (i % 2) || ',1,1]')::embedding FROM generate_series(1, 1500) i;
SELECT count(*) AS problems FROM index_check('small_m_idx');
-- inner product, 3-d, m = 2
CREATE TABLE small_m_ip (id serial PRIMARY KEY, v embedding(3));
CREATE INDEX small_m_ip_idx ON small_m_ip USING embedding_hnsw (v embedding_ip_ops) WITH (m = 2, ef_construction = 4);
INSERT INTO small_m_ip (v) SELECT ('[' || (i % 5) || ',' || (i % 7) || ',1]')::embedding FROM generate_series(1, 1500) i;
SELECT count(*) AS problems FROM index_check('small_m_ip_idx');
DROP TABLE small_m, small_m_ip;
