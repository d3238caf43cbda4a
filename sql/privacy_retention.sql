-- Retention: expires_at on every biometric row for every category and consent
-- change, photo retention, and enforce_retention in batches.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
SET IntervalStyle = postgres;
-- earlier tests' biometric data goes first, so the counts below are this file's own
SELECT count(*) >= 0 AS flushed FROM enforce_retention(1000000, '2100-01-01');

SELECT create_project('Retention', 'Asia/Shanghai', 4) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance');
SELECT category, keep FROM retention_policy WHERE project_id = :p ORDER BY category;
CREATE FUNCTION pg_temp.cap(at text, f text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, photo)
	SELECT max(project_id), 'gate', (at || '+08')::timestamptz, f::firstsight.embedding, 0.8, false, '\x0102'::bytea
	FROM firstsight.project WHERE name = 'Retention' $$;
-- every biometric row of the project, times in the project's zone
CREATE VIEW pg_temp.b AS
	SELECT dense_rank() OVER (ORDER BY c.person_id) AS person, p.category, 'capture' AS what,
	       to_char(c.captured_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS captured,
	       to_char(c.expires_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS expires,
	       to_char(c.photo_expires_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS photo_expires
	FROM firstsight.capture c JOIN firstsight.person p USING (project_id, person_id)
	WHERE c.project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Retention')
	UNION ALL
	SELECT dense_rank() OVER (ORDER BY f.person_id), p.category, 'face ' || f.kind,
	       to_char(f.captured_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI'),
	       to_char(f.expires_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), NULL
	FROM firstsight.face f JOIN firstsight.person p USING (project_id, person_id)
	WHERE f.project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Retention');
CREATE FUNCTION pg_temp.pid(n integer) RETURNS bigint LANGUAGE sql AS $$
	SELECT person_id FROM firstsight.person
	WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Retention')
	ORDER BY person_id OFFSET n - 1 LIMIT 1 $$;

-- an unconsented visitor: 30 days after the end of the last visit's day; photos 24 hours
SELECT pg_temp.cap('2024-03-01 10:00', '[1,0,0,0]');
SELECT pg_temp.cap('2024-03-01 10:30', '[1,0,0,0]');
SELECT * FROM pg_temp.b ORDER BY person, what, captured;
-- a second visit moves every row of the person
SELECT pg_temp.cap('2024-03-05 09:00', '[1,0,0,0]');
SELECT * FROM pg_temp.b ORDER BY person, what, captured;

-- consent for faces: 90 days; photos still 24 hours
SELECT record_consent(:p, pg_temp.pid(1), true, 'kiosk', 'face', 'form 1') > 0 AS recorded;
SELECT * FROM pg_temp.b ORDER BY person, what, captured;
-- consent for faces and photos: photos follow the faces
SELECT record_consent(:p, pg_temp.pid(1), true, 'kiosk', 'face,photo', 'form 2') > 0 AS recorded;
SELECT * FROM pg_temp.b ORDER BY person, what, captured;

-- a deal makes a buyer: 180 days after the later of the deal and the last visit's day
INSERT INTO deal (project_id, person_id, signed_at, price) VALUES (:p, pg_temp.pid(1), '2024-04-10 15:00+08', 1000000);
SELECT * FROM pg_temp.b ORDER BY person, what, captured;
-- a later deal moves it on; deleting the deals makes them consented again
INSERT INTO deal (project_id, person_id, signed_at, price) VALUES (:p, pg_temp.pid(1), '2024-05-20 15:00+08', 1000000);
SELECT DISTINCT category, expires FROM pg_temp.b WHERE person = 1 AND what = 'capture';
DELETE FROM deal WHERE project_id = :p;
SELECT DISTINCT category, expires FROM pg_temp.b WHERE person = 1 AND what = 'capture';

-- a co-buyer is a buyer too
SELECT pg_temp.cap('2024-03-05 09:10', '[0,1,0,0]');
INSERT INTO deal (project_id, person_id, co_buyer_ids, signed_at, price)
VALUES (:p, pg_temp.pid(1), ARRAY[pg_temp.pid(2)], '2024-04-10 15:00+08', 1000000);
SELECT DISTINCT person, category, expires FROM pg_temp.b WHERE what = 'capture' ORDER BY person;
DELETE FROM deal WHERE project_id = :p;

-- a category of one's own with its own policy (staff: 7 days)
SELECT set_retention(:p, 'staff', '7 days');
UPDATE person SET category = 'staff' WHERE project_id = :p AND person_id = pg_temp.pid(2);
SELECT DISTINCT person, category, what, expires FROM pg_temp.b WHERE person = 2 ORDER BY what;
-- changing a policy applies to stored rows at once
SELECT set_retention(:p, 'staff', '14 days');
SELECT DISTINCT person, category, what, expires FROM pg_temp.b WHERE person = 2 ORDER BY what;
UPDATE person SET category = 'visitor' WHERE project_id = :p AND person_id = pg_temp.pid(2);
SELECT DISTINCT person, category, what, expires FROM pg_temp.b WHERE person = 2 ORDER BY what;
SELECT set_retention(:p, 'visitor', '60 days');
SELECT DISTINCT person, category, what, expires FROM pg_temp.b WHERE person = 2 ORDER BY what;
SELECT set_retention(:p, 'visitor', '30 days');
-- photo_retention is a setting
SELECT configure(:p, 'photo_retention', '2 hours');
SELECT DISTINCT person, captured, photo_expires FROM pg_temp.b WHERE person = 2 AND what = 'capture';
SELECT reset_setting(:p, 'photo_retention');
SELECT DISTINCT person, captured, photo_expires FROM pg_temp.b WHERE person = 2 AND what = 'capture';

-- consent mode: an unconsented face is kept until the end of its day (Asia/Shanghai), photos too
SELECT configure(:p, 'consent_mode', 'consent');
SELECT * FROM pg_temp.b ORDER BY person, what, captured;
-- late evening capture: the photo goes at midnight, before its 24 hours
SELECT pg_temp.cap('2024-03-05 23:30', '[0,1,0,0]');
SELECT * FROM pg_temp.b WHERE person = 2 ORDER BY what, captured;
SELECT configure(:p, 'consent_mode', 'notice');

-- invalid policies
SELECT set_retention(:p, 'visitor', '0 days');
SELECT set_retention(:p, 'visitor', NULL);
SELECT set_retention(:p, 'Bad Name', '1 day');
SELECT set_retention(-1, 'visitor', '1 day');

-- enforce_retention: nothing due before the earliest expiry
SELECT * FROM enforce_retention(10, '2024-03-05 00:00+08');
-- photos of person 2 are due a day after capture; embeddings stay
SELECT * FROM enforce_retention(10, '2024-03-07 00:00+08');
SELECT person, what, captured, expires, photo_expires FROM pg_temp.b ORDER BY person, what, captured;
SELECT count(*) FILTER (WHERE photo IS NOT NULL) AS photos, count(*) FILTER (WHERE face IS NOT NULL) AS faces
FROM capture WHERE project_id = :p;
-- person 2 expires in April: bounded batches of 2, with more until done
SELECT * FROM enforce_retention(2, '2024-05-01 00:00+08');
SELECT * FROM enforce_retention(2, '2024-05-01 00:00+08');
SELECT * FROM enforce_retention(2, '2024-05-01 00:00+08');
SELECT person, what, captured, expires FROM pg_temp.b ORDER BY person, what, captured;
-- the capture rows, visits and persons stay: only the biometric columns are gone
SELECT count(*) AS captures, count(face) AS with_face, count(photo) AS with_photo, count(erased_at) AS erased
FROM capture WHERE project_id = :p;
SELECT count(*) AS visits FROM visit WHERE project_id = :p;
SELECT count(*) AS persons FROM person WHERE project_id = :p;
-- everything by the end of 2024
SELECT * FROM enforce_retention(10000, '2025-01-01 00:00+08');
SELECT count(*) FROM pg_temp.b WHERE expires IS NOT NULL;
SELECT count(face) AS faces, count(photo) AS photos FROM capture WHERE project_id = :p;
SELECT count(*) FROM face WHERE project_id = :p;
-- a log row per call that erased something, with counts per project and no biometric content
SELECT captures_erased, photos_erased, faces_erased, by_project ? :'p' AS has_project FROM retention_log WHERE by_project ? :'p' ORDER BY run_id;
-- the counts per project name only what was erased
SELECT by_project -> :'p' AS erased FROM retention_log WHERE by_project ? :'p' ORDER BY run_id;
SELECT enforce_retention(0);
-- enforce_retention_all is paced by elapsed time: the share of the time spent erasing, the time of a call
CALL enforce_retention_all(share => 0);
CALL enforce_retention_all(share => 1.5);
CALL enforce_retention_all(batch_time => '0');
CALL enforce_retention_all(pause => '-1 s');
-- as a pg_cron job calls it, without firstsight on the search_path: the same check
SET search_path = public;
CALL firstsight.enforce_retention_all(share => 0);
SET search_path = firstsight, public;
-- retention_pace, the pacing of enforce_retention_all and of the worker: the next call sized to batch_time
-- (by x2 at most and x1/2 at least a step, within 1 .. batch_size), the pause took x (1 - share) / share,
-- or with half the share while vacuum works on capture or face (autovacuum may, so both are accepted here)
SELECT next_size, round(pause::numeric, 4) IN (0.2917, 0.7083) AS pause_0_3
FROM retention_pace(1000, 0.125, 10000, 0.3, '500 ms');
SELECT next_size, round(pause::numeric, 4) IN (0.4, 1.2) AS pause_0_5 FROM retention_pace(1000, 0.4, 10000, 0.5, '500 ms');
SELECT next_size, pause FROM retention_pace(1000, 5, 10000, 1, '500 ms');
SELECT next_size FROM retention_pace(8000, 0.1, 10000, 0.3, '500 ms');
SELECT next_size FROM retention_pace(1, 10, 10000, 0.3, '500 ms');
SELECT * FROM retention_pace(1000, 0.1, 10000, 0, '500 ms');
SELECT * FROM retention_pace(1000, 0.1, 10000, 0.3, '0');
-- the records cannot be changed or deleted while younger than 3 years
UPDATE retention_log SET captures_erased = 0;
DELETE FROM retention_log;
