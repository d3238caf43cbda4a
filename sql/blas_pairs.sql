-- similarity_pairs: every pair within a cosine distance, through OpenBLAS.
SET search_path = firstsight, public;

SELECT i, j, round(distance::numeric, 6) AS distance FROM similarity_pairs(ARRAY['[1,0]', '[0,1]', '[1,1]']::embedding[],
                               ARRAY['[1,0.1]', '[-1,0]', '[0,2]']::embedding[], 0.2) ORDER BY i, j;
-- distances agree with <=> ; NULLs and zero vectors never match
SELECT i, j, round(distance::numeric, 6) AS distance
FROM similarity_pairs(ARRAY['[1,2,3]', NULL, '[0,0,0]', '[3,2,1]']::embedding[],
                      ARRAY['[1,2,3.5]', '[0,0,0]', '[-3,-2,-1]']::embedding[], 2) ORDER BY i, j;
SELECT round(('[1,2,3]'::embedding <=> '[1,2,3.5]')::numeric, 6) AS check_1_1,
       round(('[3,2,1]'::embedding <=> '[-3,-2,-1]')::numeric, 6) AS check_4_3;
SELECT * FROM similarity_pairs(ARRAY[]::embedding[], ARRAY['[1]']::embedding[], 1);
SELECT * FROM similarity_pairs(ARRAY[NULL]::embedding[], ARRAY[NULL]::embedding[], 1);
SELECT * FROM similarity_pairs(ARRAY['[1,2]']::embedding[], ARRAY['[1,2,3]']::embedding[], 1);
SELECT * FROM similarity_pairs(ARRAY['[1,2]']::embedding[], ARRAY['[1,2]']::embedding[], 'NaN');
SELECT * FROM similarity_pairs(ARRAY[ARRAY['[1,2]'::embedding]], ARRAY['[1,2]']::embedding[], 1);

-- agrees with a cross join over <=> on random data, across block boundaries
SELECT setseed(0.5) \gset
CREATE TABLE pairs_t AS
	SELECT g, n, array_agg((random() - 0.5)::real ORDER BY k)::embedding AS e
	FROM generate_series(1, 2) g, generate_series(1, 300) n, generate_series(1, 64) k GROUP BY g, n;
SET work_mem = 64;		-- 64 kB: forces many row blocks
WITH a AS (SELECT array_agg(e ORDER BY n) AS arr FROM pairs_t WHERE g = 1),
     b AS (SELECT array_agg(e ORDER BY n) AS arr FROM pairs_t WHERE g = 2),
     blas AS (SELECT p.* FROM a, b, similarity_pairs(a.arr, b.arr, 0.85) p),
     exact AS (SELECT x.n AS i, y.n AS j, x.e <=> y.e AS distance
               FROM pairs_t x, pairs_t y WHERE x.g = 1 AND y.g = 2)
-- a pair within 1e-5 of the threshold may fall either side with float rounding
SELECT (SELECT count(*) FROM exact WHERE distance <= 0.85) > 1000 AS many_pairs,
       (SELECT count(*) FROM exact e LEFT JOIN blas b USING (i, j)
        WHERE (b.i IS NULL) = (e.distance <= 0.85) AND abs(e.distance - 0.85) > 1e-5) AS membership_mismatches,
       (SELECT count(*) FROM exact e JOIN blas b USING (i, j)
        WHERE abs(e.distance - b.distance) > 1e-5) AS distance_mismatches;
RESET work_mem;
DROP TABLE pairs_t;
