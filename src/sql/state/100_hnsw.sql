-- The embedding_hnsw index access method and its operator classes.

CREATE ACCESS METHOD embedding_hnsw TYPE INDEX HANDLER embedding_hnsw_handler;

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

CREATE OPERATOR CLASS embedding_l1_ops
	FOR TYPE embedding USING embedding_hnsw AS
	OPERATOR 1 <+> (embedding, embedding) FOR ORDER BY float_ops,
	FUNCTION 1 l1_distance(embedding, embedding);
