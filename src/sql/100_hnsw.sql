-- The embedding_hnsw index access method and its operator classes.

CREATE FUNCTION embedding_hnsw_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE ACCESS METHOD embedding_hnsw TYPE INDEX HANDLER embedding_hnsw_handler;
COMMENT ON ACCESS METHOD embedding_hnsw IS 'HNSW graph index for nearest-neighbour search over embeddings';

-- support function 1 is the distance the graph is ordered by
CREATE OPERATOR CLASS embedding_l2_ops
	DEFAULT FOR TYPE embedding USING embedding_hnsw AS
	OPERATOR 1 <-> (embedding, embedding) FOR ORDER BY float_ops,
	FUNCTION 1 embedding_l2_squared_distance(embedding, embedding);

CREATE OPERATOR CLASS embedding_ip_ops
	FOR TYPE embedding USING embedding_hnsw AS
	OPERATOR 1 <#> (embedding, embedding) FOR ORDER BY float_ops,
	FUNCTION 1 embedding_negative_inner_product(embedding, embedding);

CREATE OPERATOR CLASS embedding_cosine_ops
	FOR TYPE embedding USING embedding_hnsw AS
	OPERATOR 1 <=> (embedding, embedding) FOR ORDER BY float_ops,
	FUNCTION 1 cosine_distance(embedding, embedding);

CREATE FUNCTION index_check(index regclass) RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'hnsw_index_check' LANGUAGE C STRICT;
COMMENT ON FUNCTION index_check(regclass) IS
	'structural check of an embedding_hnsw index: one row per problem; no rows means sound';
-- it holds a ShareLock on the index (writes to the table wait): not for
-- every role; the superuser grants it to whoever runs checks
REVOKE ALL ON FUNCTION index_check(regclass) FROM PUBLIC;
