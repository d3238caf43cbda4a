-- Erasure on request: biometric data goes at once, non-biometric facts stay,
-- so visit and person counts (and the BI views that exist) are unchanged.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
SET IntervalStyle = postgres;

SELECT create_project('Erasure', 'Asia/Shanghai', 4) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance'), (:p, 'sand', 'sand_table');
CREATE FUNCTION pg_temp.cap(cam text, at text, f text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, photo)
	SELECT max(project_id), cam, (at || '+08')::timestamptz, f::firstsight.embedding, 0.8, false, '\x0102'::bytea
	FROM firstsight.project WHERE name = 'Erasure' $$;
CREATE FUNCTION pg_temp.pid(n integer) RETURNS bigint LANGUAGE sql AS $$
	SELECT person_id FROM firstsight.person
	WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Erasure')
	ORDER BY person_id OFFSET n - 1 LIMIT 1 $$;
-- every non-biometric fact a BI view could count, as one row
CREATE VIEW pg_temp.facts AS
	SELECT (SELECT count(*) FROM firstsight.person x WHERE x.project_id = p.project_id) AS persons,
	       (SELECT count(*) FROM firstsight.visit x WHERE x.project_id = p.project_id) AS visits,
	       (SELECT count(*) FILTER (WHERE seen_before) FROM firstsight.visit x WHERE x.project_id = p.project_id) AS returning,
	       (SELECT count(*) FROM firstsight.capture x WHERE x.project_id = p.project_id) AS captures,
	       (SELECT count(*) FROM firstsight.deal x WHERE x.project_id = p.project_id) AS deals,
	       (SELECT sum(price) FROM firstsight.deal x WHERE x.project_id = p.project_id) AS sales,
	       (SELECT string_agg(to_char(started_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') || ' ' || first_camera_id, ', '
	                          ORDER BY started_at) FROM firstsight.visit x WHERE x.project_id = p.project_id) AS visit_times
	FROM firstsight.project p WHERE p.name = 'Erasure';
CREATE VIEW pg_temp.bio AS
	SELECT dense_rank() OVER (ORDER BY p.person_id) AS person, count(c.face) AS faces, count(c.photo) AS photos,
	       (SELECT count(*) FROM firstsight.face f WHERE f.project_id = p.project_id AND f.person_id = p.person_id) AS gallery
	FROM firstsight.person p LEFT JOIN firstsight.capture c USING (project_id, person_id)
	WHERE p.project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Erasure')
	GROUP BY p.project_id, p.person_id;

SELECT pg_temp.cap('gate', '2024-03-01 10:00', '[1,0,0,0]');
SELECT pg_temp.cap('sand', '2024-03-01 10:20', '[1,0,0,0]');
SELECT pg_temp.cap('gate', '2024-03-01 10:05', '[0,1,0,0]');
SELECT pg_temp.cap('gate', '2024-03-04 11:00', '[1,0,0,0]');
SELECT pg_temp.cap('gate', '2024-03-04 11:30', '[0,0,1,0]');
INSERT INTO deal (project_id, person_id, signed_at, price) VALUES (:p, pg_temp.pid(1), '2024-03-04 12:00+08', 2500000);
SELECT * FROM pg_temp.bio ORDER BY person;
CREATE TEMP TABLE before_facts AS SELECT * FROM pg_temp.facts;
CREATE TEMP TABLE before_views AS SELECT 0 AS none;
-- snapshot of every BI view of issue 5 that is installed (none is fine)
DO $$
DECLARE v text;
BEGIN
	FOR v IN SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'firstsight'::regnamespace AND c.relkind = 'v'
	         AND c.relname IN ('daily_traffic', 'channel_share', 'conversion_funnel', 'flagged_deals',
	                           'commission_ledger', 'consultant_board', 'protection_expiring') ORDER BY 1 LOOP
		EXECUTE format('CREATE TEMP TABLE %I AS SELECT * FROM firstsight.%I', 'before_' || v, v);
	END LOOP;
END $$;

-- the buyer asks to be erased: embeddings, photos and gallery rows go now
SELECT kind, reason, captures_erased, photos_erased, faces_erased, completed_at >= requested_at AS timed
FROM erase_person(:p, pg_temp.pid(1), 'request 2024-017 by email');
SELECT * FROM pg_temp.bio ORDER BY person;
-- the facts are the same
SELECT * FROM pg_temp.facts;
SELECT (SELECT row(f.*)::text FROM pg_temp.facts f) = (SELECT row(b.*)::text FROM before_facts b) AS facts_unchanged;
-- every view saved in a before_ table gives the same rows now (raises, naming the view, if not)
CREATE FUNCTION pg_temp.views_unchanged(cause text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE v text; n bigint;
BEGIN
	FOR v IN SELECT substr(c.relname, 8) FROM pg_class c WHERE c.relname LIKE 'before\_%' AND c.relpersistence = 't'
	         AND c.relname NOT IN ('before_facts', 'before_views') ORDER BY 1 LOOP
		EXECUTE format('SELECT count(*) FROM ((SELECT * FROM firstsight.%I EXCEPT ALL SELECT * FROM %I)
		                UNION ALL (SELECT * FROM %I EXCEPT ALL SELECT * FROM firstsight.%I)) d',
		               v, 'before_' || v, 'before_' || v, v) INTO n;
		IF n <> 0 THEN
			RAISE EXCEPTION 'view % changed by %', v, cause;
		END IF;
	END LOOP;
END $$;
SELECT pg_temp.views_unchanged('erasure');
-- retention then erases everything else that is biometric, in small batches: the facts and views are still the same
-- (batch_size 1: at most one row a pass, so at most 2 embeddings, 2 photos and 1 gallery row a call)
SELECT sum(captures_erased + photos_erased + faces_erased) > 0 AS erased,
       bool_and(captures_erased <= 2 AND photos_erased <= 2 AND faces_erased <= 1) AS bounded
FROM generate_series(1, 10) i, LATERAL enforce_retention(1 + 0 * i, '2100-01-01') r;
SELECT more FROM enforce_retention(1000000, '2100-01-01');
SELECT * FROM pg_temp.bio ORDER BY person;
SELECT (SELECT row(f.*)::text FROM pg_temp.facts f) = (SELECT row(b.*)::text FROM before_facts b) AS facts_unchanged;
SELECT count(*) AS views_compared FROM pg_class c WHERE c.relname LIKE 'before\_%' AND c.relpersistence = 't'
AND c.relname NOT IN ('before_facts', 'before_views');
SELECT pg_temp.views_unchanged('enforce_retention');
-- the erased person is no longer recognised: a new capture makes a new person
SELECT pg_temp.cap('gate', '2024-03-06 10:00', '[1,0,0,0]');
SELECT count(*) AS persons FROM person WHERE project_id = :p;
-- erasing twice is harmless and logged with zero counts
SELECT captures_erased, photos_erased, faces_erased FROM erase_person(:p, pg_temp.pid(1), 'repeat request');
-- the erasure log names the person by id only, with who, when and why
SELECT dense_rank() OVER (ORDER BY person_id) AS n, kind, reason, requested_by = session_user AS by_me,
       captures_erased, photos_erased, faces_erased
FROM erasure_log WHERE project_id = :p ORDER BY erasure_id;
SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) AS erasure_log_columns
FROM information_schema.columns WHERE table_schema = 'firstsight' AND table_name = 'erasure_log';
-- bad requests
SELECT erase_person(:p, pg_temp.pid(2), '');
SELECT erase_person(:p, pg_temp.pid(2), NULL);
SELECT erase_person(-1, 1, 'x');
UPDATE erasure_log SET reason = 'x';
DELETE FROM erasure_log;
