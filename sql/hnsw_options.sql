-- embedding_hnsw options, errors and the operator class check.
SET search_path = firstsight, public;

CREATE TABLE hnsw_opt (id int, e embedding(4), u embedding, big embedding(2001));
CREATE INDEX ON hnsw_opt USING embedding_hnsw (u);
CREATE INDEX ON hnsw_opt USING embedding_hnsw (big);
CREATE INDEX ON hnsw_opt USING embedding_hnsw (e) WITH (m = 1);
CREATE INDEX ON hnsw_opt USING embedding_hnsw (e) WITH (m = 101);
CREATE INDEX ON hnsw_opt USING embedding_hnsw (e) WITH (ef_construction = 3);
CREATE INDEX ON hnsw_opt USING embedding_hnsw (e) WITH (ef_construction = 1001);
CREATE INDEX ON hnsw_opt USING embedding_hnsw (e) WITH (m = 16, ef_construction = 20);
CREATE INDEX ON hnsw_opt USING embedding_hnsw (e) WITH (bogus = 1);
CREATE INDEX ON hnsw_opt USING embedding_hnsw (e, e);
CREATE INDEX hnsw_opt_ok ON hnsw_opt USING embedding_hnsw (e) WITH (m = 4, ef_construction = 8);
SELECT reloptions FROM pg_class WHERE relname = 'hnsw_opt_ok';
-- an expression cast gives the dimensions to an untyped column
CREATE INDEX hnsw_opt_expr ON hnsw_opt USING embedding_hnsw ((u::embedding(4)) embedding_cosine_ops);
INSERT INTO hnsw_opt (id, e, u) VALUES (1, '[1,0,0,0]', '[1,0,0,0]'), (2, '[0,0,0,0]', '[0,0,0,0]'), (3, NULL, NULL), (4, '[0,1,0,0]', '[0,1,0,0]');
INSERT INTO hnsw_opt (id, u) VALUES (5, '[1,2,3]');
SET enable_seqscan = off;
-- zero vectors are not indexed under cosine (no direction), and nothing breaks
SELECT id FROM hnsw_opt ORDER BY u::embedding(4) <=> '[1,0.1,0,0]' LIMIT 5;
SELECT id FROM hnsw_opt ORDER BY u::embedding(4) <=> '[0,0,0,0]' LIMIT 5;
SELECT * FROM index_check('hnsw_opt_ok');
SELECT * FROM index_check('hnsw_opt_expr');
SELECT * FROM index_check('hnsw_opt');
RESET enable_seqscan;
-- settings
SET firstsight.hnsw_ef_search = 0;
SET firstsight.hnsw_ef_search = 1001;
SET firstsight.hnsw_iterative_scan = strict;
-- index_check holds a ShareLock on the index: not granted to PUBLIC
CREATE ROLE hnsw_check_nobody;
GRANT USAGE ON SCHEMA firstsight TO hnsw_check_nobody;
GRANT SELECT ON hnsw_opt TO hnsw_check_nobody;
SET ROLE hnsw_check_nobody;
SELECT * FROM index_check('hnsw_opt_ok');
RESET ROLE;
REVOKE ALL ON SCHEMA firstsight FROM hnsw_check_nobody;
REVOKE ALL ON hnsw_opt FROM hnsw_check_nobody;
DROP ROLE hnsw_check_nobody;
-- the operator classes validate
SELECT opcname, amvalidate(oid) FROM pg_opclass WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'embedding_hnsw') ORDER BY opcname;
DROP TABLE hnsw_opt;
