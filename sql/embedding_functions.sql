-- Distance operators and functions, with pgvector's semantics.
SET search_path = firstsight, public;

CREATE TABLE fn_t (id int, e embedding(3));
INSERT INTO fn_t VALUES (1, '[1,1,1]'), (2, '[2,2,2]'), (3, '[1,1,50]'), (4, '[-1,-1,-1]'), (5, '[0,0,0]'), (6, NULL);

-- each operator against [1,2,3], in order, NULL last
SELECT id, e, round((e <-> '[1,2,3]')::numeric, 6) AS l2 FROM fn_t ORDER BY e <-> '[1,2,3]', id;
SELECT id, e, round((e <=> '[1,2,3]')::numeric, 6) AS cosine FROM fn_t ORDER BY e <=> '[1,2,3]', id;
SELECT id, e, e <#> '[1,2,3]' AS neg_ip FROM fn_t ORDER BY e <#> '[1,2,3]', id;
SELECT id, e, e <+> '[1,2,3]' AS l1 FROM fn_t ORDER BY e <+> '[1,2,3]', id;

-- functions equal their operators
SELECT bool_and(l2_distance(e, '[1,2,3]') = (e <-> '[1,2,3]')) AS l2,
       bool_and(cosine_distance(e, '[1,2,3]') IS NOT DISTINCT FROM (e <=> '[1,2,3]')) AS cosine,
       bool_and(-inner_product(e, '[1,2,3]') = (e <#> '[1,2,3]')) AS ip,
       bool_and(l1_distance(e, '[1,2,3]') = (e <+> '[1,2,3]')) AS l1
FROM fn_t WHERE e IS NOT NULL;

-- known values
SELECT l2_distance('[0,0]', '[3,4]'), inner_product('[1,2]', '[3,4]'), l1_distance('[0,0]', '[3,-4]');
SELECT cosine_distance('[1,0]', '[0,1]'), cosine_distance('[1,2]', '[2,4]'), cosine_distance('[1,2]', '[-1,-2]');
SELECT cosine_distance('[0,0]', '[1,2]') AS zero_vector_is_nan;
SELECT embedding_l2_squared_distance('[0,0]', '[3,4]');
-- identical vectors: cosine distance exactly 0 (similarity is clamped to [-1, 1])
SELECT cosine_distance(e, e) FROM (SELECT array_agg(sin(i)::real)::embedding e FROM generate_series(1, 513) i) s;

-- dims, norm, l2_normalize, subvector
SELECT dims('[1,2,3]'::embedding), norm('[3,4]'), norm('[0,0]');
SELECT l2_normalize('[3,4]'), l2_normalize('[0,0]'), l2_normalize('[0,-2]');
SELECT round(norm(l2_normalize(e))::numeric, 6) FROM (SELECT array_agg(i)::embedding e FROM generate_series(1, 700) i) s;
SELECT subvector('[1,2,3,4,5]', 2, 3), subvector('[1,2,3,4,5]', 4, 10), subvector('[1,2,3,4,5]', -1, 3);
SELECT subvector('[1,2,3,4,5]', 1, 0);
SELECT subvector('[1,2,3,4,5]', 6, 2);
SELECT subvector('[1,2,3,4,5]', 2147483647, 2147483647);

-- element-wise arithmetic
SELECT '[1,2,3]'::embedding + '[4,5,6]', '[1,2,3]'::embedding - '[4,5,6]', '[1,2,3]'::embedding * '[4,5,6]';
SELECT '[1,2]'::embedding || '[3]';
SELECT '[3e38]'::embedding + '[3e38]';
SELECT '[-3e38]'::embedding - '[3e38]';
SELECT '[3e38]'::embedding * '[10]';
SELECT '[1e-30]'::embedding * '[1e-30]';

-- operands of different dimensions
SELECT '[1,2]'::embedding <-> '[1,2,3]';
SELECT '[1,2]'::embedding <=> '[1,2,3]';
SELECT '[1,2]'::embedding <#> '[1,2,3]';
SELECT '[1,2]'::embedding <+> '[1,2,3]';
SELECT '[1,2]'::embedding + '[1,2,3]';
SELECT '[1,2]'::embedding - '[1,2,3]';
SELECT '[1,2]'::embedding * '[1,2,3]';
SELECT inner_product('[1,2]', '[1,2,3]');
SELECT ('[' || array_to_string(array_fill(1, ARRAY[9000]), ',') || ']')::embedding
	|| ('[' || array_to_string(array_fill(1, ARRAY[7001]), ',') || ']')::embedding;

-- every distance over many lengths (SIMD main loops and tails) against a
-- double-precision reference computed in SQL from the real[] casts
WITH v AS (
	SELECT n, array_agg(sin(n * 7 + i)::real ORDER BY i) AS a, array_agg(cos(n * 3 + i * 1.5)::real ORDER BY i) AS b
	FROM generate_series(1, 70) n, generate_series(1, n * 3) i GROUP BY n
), ref AS (
	SELECT n, a::embedding AS ea, b::embedding AS eb,
		(SELECT sum((x - y)::float8 ^ 2) FROM unnest(a, b) u(x, y)) AS l2sq,
		(SELECT sum(x::float8 * y) FROM unnest(a, b) u(x, y)) AS ip,
		(SELECT sum(abs(x::float8 * y)) FROM unnest(a, b) u(x, y)) AS ip_scale,
		(SELECT sum(abs(x::float8 - y)) FROM unnest(a, b) u(x, y)) AS l1,
		(SELECT sqrt(sum(x::float8 ^ 2)) FROM unnest(a) x) AS na,
		(SELECT sqrt(sum(y::float8 ^ 2)) FROM unnest(b) y) AS nb
	FROM v
)
SELECT count(*) AS lengths,
	bool_and(abs((ea <-> eb) - sqrt(l2sq)) <= 1e-5 * sqrt(l2sq)) AS l2_ok,
	bool_and(abs(inner_product(ea, eb) - ip) <= 1e-5 * ip_scale) AS ip_ok,
	bool_and(abs((ea <=> eb) - (1 - ip / (na * nb))) <= 1e-5 * ip_scale / (na * nb)) AS cosine_ok,
	bool_and(abs((ea <+> eb) - l1) <= 1e-5 * l1) AS l1_ok,
	bool_and(abs(norm(ea) - na) <= 1e-5 * na) AS norm_ok
FROM ref;

DROP TABLE fn_t;
