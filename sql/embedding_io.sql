-- Text input and output of embedding, and every malformed text we reject.
SET search_path = firstsight, public;

SELECT '[1,2,3]'::embedding;
SELECT '[-1.5, 2e-3 ,  3.25e10 ]'::embedding;
SELECT ' [1] '::embedding;
SELECT E'[\t1,\n2]'::embedding;
SELECT '[0.1,0.2,0.3]'::embedding;            -- shortest exact decimals round-trip
SELECT '[1e-45]'::embedding;                  -- subnormal floats are kept
SELECT '[1e-50]'::embedding;                  -- underflow to zero is allowed
SELECT '[-0]'::embedding;
SELECT '[3.4028235e38,-3.4028235e38]'::embedding;
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::embedding = array_fill(1, ARRAY[16000])::embedding AS max_dims_ok;
SELECT dims(('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::embedding);

-- output of a round trip equals the input
SELECT e::text::embedding = e AS round_trip
FROM (SELECT array_agg(random()::real)::embedding AS e FROM generate_series(1, 512)) s;

-- bad input: each is a clear error
SELECT '[NaN]'::embedding;
SELECT '[1,nan,3]'::embedding;
SELECT '[Infinity]'::embedding;
SELECT '[-inf]'::embedding;
SELECT '[4e38]'::embedding;
SELECT '[-1e39]'::embedding;
SELECT '[]'::embedding;
SELECT '[ ]'::embedding;
SELECT ''::embedding;
SELECT ' '::embedding;
SELECT '['::embedding;
SELECT ']'::embedding;
SELECT '[1'::embedding;
SELECT '[1,'::embedding;
SELECT '1,2]'::embedding;
SELECT '[1,,2]'::embedding;
SELECT '[,1]'::embedding;
SELECT '[1,]'::embedding;
SELECT '[1 2]'::embedding;
SELECT '[1;2]'::embedding;
SELECT '[1,2]x'::embedding;
SELECT '[1,2] [3]'::embedding;
SELECT '[[1,2]]'::embedding;
SELECT '{1,2}'::embedding;
SELECT '(1,2)'::embedding;
SELECT '[a]'::embedding;
SELECT '[1a]'::embedding;
SELECT '[0x10]'::embedding;
SELECT '[1e]'::embedding;
SELECT '[--1]'::embedding;
SELECT '[+-1]'::embedding;
SELECT '[1.2.3]'::embedding;
SELECT '[ 1 , 2 , ]'::embedding;
SELECT E'[1,\\0]'::embedding;
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::embedding;

-- nothing is half-written: a failing multi-row insert leaves the table empty
CREATE TABLE io_t (id int, e embedding);
INSERT INTO io_t VALUES (1, '[1,2]'), (2, '[1,NaN]');
INSERT INTO io_t VALUES (1, '[1,2]'), (2, NULL), (3, '[3,4,5]');
SELECT * FROM io_t ORDER BY id;
DROP TABLE io_t;
