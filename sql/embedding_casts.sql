-- Casts from integer[], real[], double precision[], numeric[]; to real[].
SET search_path = firstsight, public;

SELECT ARRAY[1,2,3]::embedding;
SELECT ARRAY[1.5,2.5]::real[]::embedding;
SELECT ARRAY[1.5,2.5]::double precision[]::embedding;
SELECT ARRAY[1.5,2.5]::numeric[]::embedding;
SELECT ARRAY[1,2,3]::embedding(3);
SELECT ARRAY[1,2,3]::embedding(2);
SELECT '{}'::int[]::embedding;
SELECT ARRAY[1,NULL,3]::embedding;
SELECT ARRAY[[1,2],[3,4]]::embedding;
SELECT ARRAY['NaN']::double precision[]::embedding;
SELECT ARRAY['Infinity']::real[]::embedding;
SELECT ARRAY[1e300]::double precision[]::embedding;
SELECT ARRAY[1e300]::numeric[]::embedding;
SELECT ARRAY[1, 1e400]::numeric[]::embedding;
SELECT ARRAY[1e-300]::float8[]::embedding;
SELECT array_fill(1, ARRAY[16001])::embedding;
SELECT '[1,2,3]'::embedding::real[];
SELECT '[1.5,-2.25]'::embedding::real[] = ARRAY[1.5,-2.25]::real[] AS same;
-- assignment casts: an array column goes into an embedding column
CREATE TABLE cast_t (e embedding(2));
INSERT INTO cast_t VALUES (ARRAY[1,2]), (ARRAY[1.5,2.5]::float8[]), (ARRAY[3,4]::numeric[]);
SELECT e FROM cast_t ORDER BY e;
DROP TABLE cast_t;
-- real[] round trip keeps every bit
SELECT e::real[]::embedding = e AS round_trip
FROM (SELECT array_agg((i * 0.37)::real)::embedding e FROM generate_series(1, 300) i) s;
