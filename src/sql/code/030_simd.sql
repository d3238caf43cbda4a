-- Which distance kernels run.

CREATE OR REPLACE FUNCTION simd_kernel() RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION simd_kernel() IS 'the active distance kernels: avx512, avx2, neon or scalar';

CREATE OR REPLACE FUNCTION simd_kernels_supported() RETURNS text[]
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION simd_kernels_supported() IS 'the kernels this CPU can run, fastest first';
