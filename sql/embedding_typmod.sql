-- embedding(N): dimensions fixed by the column, enforced on insert and cast.
SET search_path = firstsight, public;

SELECT '[1,2,3]'::embedding(3);
SELECT '[1,2]'::embedding(3);
SELECT '[1,2,3,4]'::embedding(3);
SELECT '[1,2,3]'::embedding::embedding(3);
SELECT '[1,2]'::embedding::embedding(3);
SELECT '[1]'::embedding(0);
SELECT '[1]'::embedding(16001);
SELECT '[1]'::embedding(2, 3);
SELECT '[1]'::embedding(16000);

CREATE TABLE typmod_t (id int, face embedding(3));
\d typmod_t
INSERT INTO typmod_t VALUES (1, '[1,2,3]');
INSERT INTO typmod_t VALUES (2, '[1,2]');
INSERT INTO typmod_t VALUES (3, '[1,2,3,4]');
INSERT INTO typmod_t VALUES (4, ARRAY[1,2,3]);
INSERT INTO typmod_t VALUES (5, ARRAY[1,2]::real[]);
UPDATE typmod_t SET face = '[1,2,3,4]' WHERE id = 1;
INSERT INTO typmod_t VALUES (6, NULL);
SELECT * FROM typmod_t ORDER BY id;
ALTER TABLE typmod_t ALTER COLUMN face TYPE embedding(4);
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'typmod_t'::regclass AND attname = 'face';
DROP TABLE typmod_t;
