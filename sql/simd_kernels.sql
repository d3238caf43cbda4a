-- The kernel table: the same distances under every kernel this CPU supports,
-- compared with the scalar kernels (relative error at most 1e-5; for inner
-- product and cosine relative to the sum of |a_i * b_i|, which bounds the
-- rounding error of any summation order).
SET search_path = firstsight, public;

SHOW firstsight.simd;
SELECT simd_kernel() = (simd_kernels_supported())[1] AS auto_picks_fastest;
SELECT 'scalar' = ANY (simd_kernels_supported()) AS scalar_supported;
SET firstsight.simd = scalar;
SELECT simd_kernel();
SET firstsight.simd = bogus;
RESET firstsight.simd;
-- forcing a kernel the CPU lacks is an error (neon on x86-64, avx512 on aarch64)
DO $$
BEGIN
	IF 'neon' = ANY (firstsight.simd_kernels_supported()) THEN
		SET firstsight.simd = avx512;
	ELSE
		SET firstsight.simd = neon;
	END IF;
EXCEPTION WHEN feature_not_supported THEN
	RAISE NOTICE 'refused: %', regexp_replace(SQLERRM, '"[a-z0-9]+"', '"<kernel>"');
END $$;

CREATE TABLE kernel_pairs AS
	SELECT n, r, array_agg(((random() - 0.5) * 10)::real ORDER BY i)::embedding AS a,
	          array_agg(((random() - 0.5) * 10)::real ORDER BY i)::embedding AS b
	FROM generate_series(1, 130) n, generate_series(1, 3) r, generate_series(1, n * 7 + r) i
	GROUP BY n, r;
INSERT INTO kernel_pairs
	SELECT 0, r, array_agg((random() - 0.5)::real)::embedding, array_agg((random() - 0.5)::real)::embedding
	FROM generate_series(1, 2) r, generate_series(1, 16000) i GROUP BY r;

CREATE FUNCTION kernel_results() RETURNS TABLE (n int, r int, l2 float8, ip float8, cosine float8, l1 float8, nrm float8, scale float8)
LANGUAGE sql AS $$
	SELECT n, r, a <-> b, inner_product(a, b), a <=> b, a <+> b, norm(a),
	       (SELECT sum(abs(x::float8 * y)) FROM unnest(a::real[], b::real[]) u(x, y))
	FROM kernel_pairs
$$;

SET firstsight.simd = scalar;
CREATE TEMP TABLE scalar_results AS SELECT * FROM kernel_results();

CREATE TEMP TABLE kernel_check (kernel text, pairs int, max_rel_err float8);
DO $$
DECLARE
	k text;
BEGIN
	FOREACH k IN ARRAY firstsight.simd_kernels_supported() LOOP
		EXECUTE format('SET firstsight.simd = %I', k);
		INSERT INTO kernel_check
		SELECT k, count(*), max(greatest(
			abs(o.l2 - s.l2) / nullif(s.l2, 0),
			abs(o.ip - s.ip) / s.scale,
			abs(o.cosine - s.cosine) * norm_a_b / s.scale,
			abs(o.l1 - s.l1) / nullif(s.l1, 0),
			abs(o.nrm - s.nrm) / s.nrm))
		FROM firstsight.kernel_results() o
		JOIN scalar_results s USING (n, r)
		CROSS JOIN LATERAL (SELECT s.nrm * norm(kp.b) AS norm_a_b FROM firstsight.kernel_pairs kp WHERE kp.n = s.n AND kp.r = s.r) nb;
	END LOOP;
	RESET firstsight.simd;
END $$;
-- one row per kernel; every kernel within 1e-5 of scalar
SELECT count(*) = cardinality(simd_kernels_supported()) AS every_kernel_checked,
       bool_and(pairs = (SELECT count(*) FROM kernel_pairs)) AS all_pairs,
       bool_and(max_rel_err <= 1e-5) AS within_1e5
FROM kernel_check;
SELECT kernel FROM kernel_check WHERE max_rel_err > 1e-5 OR max_rel_err IS NULL;

DROP FUNCTION kernel_results();
DROP TABLE kernel_pairs;
