-- The embedding_hnsw index access method and its operator classes.

COMMENT ON ACCESS METHOD embedding_hnsw IS 'HNSW graph index for nearest-neighbour search over embeddings';

CREATE OR REPLACE FUNCTION index_check(index regclass) RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'hnsw_index_check' LANGUAGE C STRICT;
COMMENT ON FUNCTION index_check(regclass) IS
	'structural check of an embedding_hnsw index: one row per problem; no rows means sound';
-- it holds a ShareLock on the index (writes to the table wait): not for
-- every role; the superuser grants it to whoever runs checks
REVOKE ALL ON FUNCTION index_check(regclass) FROM PUBLIC;
