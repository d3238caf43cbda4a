-- Input errors name the position and the dimension count, never a value
-- (issue 14 #3): a rejected face must not reach the client's error text or
-- the server log through the message, detail or hint.  Each case below has a
-- distinctive element 0.7315926; no part of any error may contain 7315926.
SET search_path = firstsight, public;
CREATE FUNCTION pg_temp.leaks(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	m text; d text; h text;
BEGIN
	EXECUTE sql;
	RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
	RETURN CASE WHEN concat(m, d, h) LIKE '%7315926%' THEN 'LEAKS: ' ELSE '' END || m || ' / ' || d;
END $$;
-- text input: a trailing comma, a missing bracket, junk, an out-of-range
-- element, NaN, too many dimensions for the column
SELECT pg_temp.leaks($$SELECT '[0.7315926,0.25,]'::embedding$$);
SELECT pg_temp.leaks($$SELECT '[0.7315926,0.25'::embedding$$);
SELECT pg_temp.leaks($$SELECT '[0.7315926;0.25]'::embedding$$);
SELECT pg_temp.leaks($$SELECT '[0.7315926,0.25]x'::embedding$$);
SELECT pg_temp.leaks($$SELECT '[0.7315926,7315926e33]'::embedding$$);
SELECT pg_temp.leaks($$SELECT '[0.7315926,NaN]'::embedding$$);
SELECT pg_temp.leaks($$SELECT '[0.7315926,0.25,1]'::embedding(2)$$);
-- casts: from arrays and to a typmod
SELECT pg_temp.leaks($$SELECT ARRAY[0.7315926, 7315926e300]::float8[]::embedding$$);
SELECT pg_temp.leaks($$SELECT ARRAY[0.7315926, 'NaN']::float8[]::embedding$$);
SELECT pg_temp.leaks($$SELECT ARRAY[0.7315926, 1, 2]::real[]::embedding(2)$$);
SELECT pg_temp.leaks($$SELECT '[0.7315926,1,2]'::embedding::embedding(2)$$);
-- binary input (embedding_recv) through a binary COPY: a NaN element
CREATE TABLE eip_t (e embedding);
COPY eip_t FROM PROGRAM $$printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\14\0\2\0\0\77\73\100\300\177\300\0\0\377\377'$$ WITH (FORMAT binary);
DROP TABLE eip_t;
