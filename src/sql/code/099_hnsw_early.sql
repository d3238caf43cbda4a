-- The embedding_hnsw index access method and its operator classes.
-- (functions the state of 100_hnsw.sql needs; created before it)

CREATE OR REPLACE FUNCTION embedding_hnsw_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;
