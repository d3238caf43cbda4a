-- Merging and splitting persons.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
\set VERBOSITY default

-- fixed id ranges, so messages naming ids do not depend on other tests
SELECT setval('firstsight.project_id_seq', greatest(4000, (SELECT last_value FROM firstsight.project_id_seq))) IS NOT NULL AS ok,
       setval('firstsight.person_id_seq', greatest(4000, (SELECT last_value FROM firstsight.person_id_seq))) IS NOT NULL AS ok;
SELECT create_project('Merge', dims => 4) AS p \gset
SELECT configure(:p, 'match_distance', '0.01');
INSERT INTO camera VALUES (:p, 'gate', 'entrance');
CREATE FUNCTION pg_temp.cap(at text, f text) RETURNS bigint LANGUAGE sql AS $$
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT max(project_id), 'gate', (at || '+08')::timestamptz, f::firstsight.embedding, 0.8, false
	FROM firstsight.project WHERE name = 'Merge';
	SELECT max(capture_id) FROM firstsight.capture $$;
CREATE VIEW pg_temp.persons AS
	SELECT dense_rank() OVER (ORDER BY person_id) AS person, visits, captures, merged_into IS NOT NULL AS merged,
	       to_char(first_seen AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS first_seen
	FROM firstsight.person WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Merge');

-- a face seen twice, too different for the strict threshold: two persons
SELECT pg_temp.cap('2024-03-01 10:00', '[1,0,0,0]') AS c1 \gset
SELECT pg_temp.cap('2024-03-01 10:30', '[1,0.2,0,0]') AS c2 \gset
SELECT pg_temp.cap('2024-03-02 10:00', '[1,0.2,0,0]') AS c3 \gset
SELECT pg_temp.cap('2024-03-01 11:00', '[0,0,1,0]') AS c4 \gset
SELECT * FROM pg_temp.persons ORDER BY person;

-- merge_persons with a looser threshold finds them (OpenBLAS over the gallery) and merges
SELECT count(*) AS merges FROM merge_persons(:p, 0.05);
SELECT * FROM pg_temp.persons ORDER BY person;
-- the visits joined: 10:00 and 10:30 are one visit now; the next day returns
SELECT to_char(started_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS started, captures, seen_before
FROM visit WHERE project_id = :p AND person_id = (SELECT person_id FROM capture WHERE capture_id = :c1) ORDER BY started_at;
SELECT count(*) AS gallery_of_merged FROM face f JOIN person p USING (project_id, person_id)
WHERE f.project_id = :p AND p.merged_into IS NOT NULL;
-- nothing left to merge
SELECT count(*) AS merges FROM merge_persons(:p, 0.05);

-- split: the capture of 03-02 was someone else after all
SELECT split_person(:p, (SELECT person_id FROM capture WHERE capture_id = :c1), ARRAY[:c3]::bigint[]) IS NOT NULL AS split;
SELECT * FROM pg_temp.persons ORDER BY person;
SELECT count(*) AS inconsistent FROM person p
WHERE p.project_id = :p AND p.merged_into IS NULL
  AND (p.visits <> (SELECT count(*) FROM visit v WHERE v.project_id = p.project_id AND v.person_id = p.person_id)
    OR p.captures <> (SELECT count(*) FROM capture c WHERE c.project_id = p.project_id AND c.person_id = p.person_id));

-- manual merge keeps the person seen first
SELECT merge_person(:p, (SELECT person_id FROM capture WHERE capture_id = :c3), (SELECT person_id FROM capture WHERE capture_id = :c4))
	= (SELECT person_id FROM capture WHERE capture_id = :c4) AS kept_first_seen;
SELECT * FROM pg_temp.persons ORDER BY person;

-- refused
SELECT merge_person(:p, (SELECT person_id FROM capture WHERE capture_id = :c1), -5);
SELECT split_person(:p, (SELECT person_id FROM capture WHERE capture_id = :c1), ARRAY[:c4]::bigint[]);
SELECT merge_person(:p, (SELECT min(person_id) FROM person WHERE project_id = :p AND merged_into IS NOT NULL),
                        (SELECT person_id FROM capture WHERE capture_id = :c1));
