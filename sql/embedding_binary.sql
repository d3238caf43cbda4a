-- Binary send/recv in pgvector's format (int16 dim, int16 zero, float4 each),
-- exercised through COPY BINARY, including payloads that lie about their length.
SET search_path = firstsight, public;

CREATE TABLE bin_t (e embedding);
-- a valid payload: one row, dim 2, [1, 2]
COPY bin_t FROM PROGRAM $$printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\14\0\2\0\0\77\200\0\0\100\0\0\0\377\377'$$ WITH (FORMAT binary);
SELECT * FROM bin_t;
-- declared dim 3 but only 2 elements follow
COPY bin_t FROM PROGRAM $$printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\14\0\3\0\0\77\200\0\0\100\0\0\0\377\377'$$ WITH (FORMAT binary);
-- declared dim 1 but 2 elements follow
COPY bin_t FROM PROGRAM $$printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\14\0\1\0\0\77\200\0\0\100\0\0\0\377\377'$$ WITH (FORMAT binary);
-- dim 0
COPY bin_t FROM PROGRAM $$printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\4\0\0\0\0\377\377'$$ WITH (FORMAT binary);
-- negative dim
COPY bin_t FROM PROGRAM $$printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\4\377\377\0\0\377\377'$$ WITH (FORMAT binary);
-- reserved field not zero
COPY bin_t FROM PROGRAM $$printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\10\0\1\0\1\77\200\0\0\377\377'$$ WITH (FORMAT binary);
-- a NaN element
COPY bin_t FROM PROGRAM $$printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\10\0\1\0\0\177\300\0\0\377\377'$$ WITH (FORMAT binary);
-- an infinite element
COPY bin_t FROM PROGRAM $$printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\10\0\1\0\0\177\200\0\0\377\377'$$ WITH (FORMAT binary);
-- truncated header
COPY bin_t FROM PROGRAM $$printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\2\0\1\377\377'$$ WITH (FORMAT binary);
-- more dimensions than the type allows (16001)
COPY bin_t FROM PROGRAM $$printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\4\76\201\0\0\377\377'$$ WITH (FORMAT binary);
-- nothing of the failed COPYs was kept
SELECT count(*) FROM bin_t;

-- binary out and back in: identical values
CREATE TABLE bin_src AS SELECT i, array_agg(((i * 7 + k) % 13 - 6) / 3.0)::embedding AS e
	FROM generate_series(1, 20) i, generate_series(1, 33) k GROUP BY i;
INSERT INTO bin_src VALUES (21, NULL);
CREATE TABLE bin_dst (LIKE bin_src);
COPY bin_src TO PROGRAM 'cat > embedding_binary.copy' WITH (FORMAT binary);
COPY bin_dst FROM PROGRAM 'cat embedding_binary.copy && rm embedding_binary.copy' WITH (FORMAT binary);
SELECT count(*) AS rows, count(*) FILTER (WHERE s.e IS NOT DISTINCT FROM d.e) AS identical
FROM bin_src s JOIN bin_dst d USING (i);
-- typmod is checked on binary input too
CREATE TABLE bin_typed (e embedding(3));
COPY bin_typed FROM PROGRAM $$printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\14\0\2\0\0\77\200\0\0\100\0\0\0\377\377'$$ WITH (FORMAT binary);
DROP TABLE bin_t, bin_src, bin_dst, bin_typed;
