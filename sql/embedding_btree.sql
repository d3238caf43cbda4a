-- Comparison operators and the btree opclass: ORDER BY, DISTINCT, UNIQUE.
SET search_path = firstsight, public;

SELECT '[1,2]'::embedding < '[1,3]', '[1,2]'::embedding <= '[1,2]', '[1,2]'::embedding = '[1,2]',
       '[1,2]'::embedding <> '[1,2]', '[2]'::embedding >= '[1,9]', '[1,2]'::embedding > '[1,2,0]';
SELECT embedding_cmp('[1,2]', '[1,2,3]'), embedding_cmp('[1,2]', '[1,2]'), embedding_cmp('[2]', '[1,2]');

CREATE TABLE bt_t (e embedding);
INSERT INTO bt_t VALUES ('[1,2,3]'), ('[1,2]'), ('[0,9]'), ('[1,2,3]'), (NULL), ('[-1,5]'), ('[1,2]');
SELECT e FROM bt_t ORDER BY e;
SELECT e FROM bt_t ORDER BY e DESC;
SELECT DISTINCT e FROM bt_t ORDER BY e;
SELECT e, count(*) FROM bt_t GROUP BY e ORDER BY e;
CREATE UNIQUE INDEX ON bt_t (e);
DELETE FROM bt_t a USING bt_t b WHERE a.e = b.e AND a.ctid > b.ctid;
CREATE UNIQUE INDEX bt_t_e ON bt_t (e);
INSERT INTO bt_t VALUES ('[0,9]');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM bt_t WHERE e = '[1,2]';
SELECT * FROM bt_t WHERE e = '[1,2]';
SELECT * FROM bt_t WHERE e < '[1,2]' ORDER BY e;
RESET enable_seqscan;
DROP TABLE bt_t;
