-- Many-to-many cosine similarity with OpenBLAS.

CREATE OR REPLACE FUNCTION similarity_pairs(a embedding[], b embedding[], max_distance float8)
	RETURNS TABLE (i integer, j integer, distance float8)
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 100;
COMMENT ON FUNCTION similarity_pairs(embedding[], embedding[], float8) IS
	'every pair (1-based positions) whose cosine distance is at most max_distance, computed with cblas_sgemm';
