-- The retention clock per person: a capture gets its expiry as ingestion
-- writes it; the person's older rows are re-dated only when the local day of
-- last_seen moves (and on category, consent, deal, policy changes and merges),
-- never by a capture later on the same day.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never

SELECT create_project('Clock', 'Asia/Shanghai', 4) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance');
CREATE FUNCTION pg_temp.pid(n integer) RETURNS bigint LANGUAGE sql AS $$
	SELECT person_id FROM firstsight.person
	WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Clock')
	ORDER BY person_id OFFSET n - 1 LIMIT 1 $$;
-- every biometric row of the project, with its row version (xmin) as a number
-- relative to the first capture's, so a rewrite shows as a changed version
CREATE TABLE pg_temp.seen (what text, id bigint, version xid);
CREATE VIEW pg_temp.b AS
	SELECT dense_rank() OVER (ORDER BY c.person_id) AS person, 'capture ' || dense_rank() OVER (ORDER BY c.capture_id) AS what,
	       to_char(c.captured_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS captured,
	       to_char(c.expires_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS expires,
	       to_char(c.photo_expires_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS photo_expires,
	       c.xmin = s.version AS unchanged
	FROM firstsight.capture c LEFT JOIN pg_temp.seen s ON s.what = 'capture' AND s.id = c.capture_id
	WHERE c.project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Clock')
	UNION ALL
	SELECT dense_rank() OVER (ORDER BY f.person_id), 'face ' || f.kind,
	       to_char(f.captured_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI'),
	       to_char(f.expires_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), NULL,
	       f.xmin = s.version
	FROM firstsight.face f LEFT JOIN pg_temp.seen s ON s.what = 'face' AND s.id = f.face_id
	WHERE f.project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Clock');
-- remember the current row versions
CREATE FUNCTION pg_temp.mark() RETURNS void LANGUAGE sql AS $$
	DELETE FROM pg_temp.seen;
	INSERT INTO pg_temp.seen SELECT 'capture', capture_id, xmin FROM firstsight.capture
	WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Clock');
	INSERT INTO pg_temp.seen SELECT 'face', face_id, xmin FROM firstsight.face
	WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Clock') $$;
CREATE VIEW pg_temp.clock AS
	SELECT dense_rank() OVER (ORDER BY person_id) AS person,
	       to_char(last_seen AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS last_seen,
	       to_char(retention_day_end AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS day_end
	FROM firstsight.person
	WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Clock') AND merged_into IS NULL;

-- a visitor's first capture (with a photo): 30 days after the end of its day, the photo 24 hours
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked, photo)
	VALUES (:p, 'gate', '2024-03-01 10:00+08', '[1,0,0,0]', 0.8, false, '\x01');
SELECT * FROM pg_temp.clock;
SELECT pg_temp.mark();
-- later on the same day, by both paths (one row; a batch of two): the new
-- captures are dated as written, the older rows are not rewritten
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 15:00+08', '[1,0,0,0]', 0.8, false);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'gate', '2024-03-01 20:00+08', '[1,0,0,0]', 0.8, false),
	(:p, 'gate', '2024-03-01 23:59+08', '[1,0,0,0]', 0.8, false);
SELECT * FROM pg_temp.b ORDER BY person, what;
SELECT * FROM pg_temp.clock;

-- the next local day moves the clock: every row of the person is re-dated
SELECT pg_temp.mark();
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-02 00:01+08', '[1,0,0,0]', 0.8, false);
SELECT * FROM pg_temp.b ORDER BY person, what;
SELECT * FROM pg_temp.clock;
-- and by the batch path too (a late-arriving earlier capture in the same statement moves nothing back)
SELECT pg_temp.mark();
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'gate', '2024-03-05 09:00+08', '[1,0,0,0]', 0.8, false),
	(:p, 'gate', '2024-02-28 09:00+08', '[1,0,0,0]', 0.8, false);
SELECT * FROM pg_temp.b ORDER BY person, what;
SELECT * FROM pg_temp.clock;

-- a second person, consented (90 days), then merged with a later visitor:
-- the moved captures take the kept person's expiry
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 09:00+08', '[0,1,0,0]', 0.8, false);
SELECT record_consent(:p, pg_temp.pid(2), true, 'kiosk', 'face', 'form 1') > 0 AS recorded;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-01 11:00+08', '[0,0,1,0]', 0.8, false);
SELECT pg_temp.mark();
SELECT merge_person(:p, pg_temp.pid(2), pg_temp.pid(3)) = pg_temp.pid(2) AS kept_the_first;
SELECT person, what, captured, expires FROM pg_temp.b WHERE person = 2 ORDER BY what;

-- consent mode: an unconsented face is kept to the end of its own day, so a
-- new day re-dates nothing but still counts the new capture's own day
SELECT configure(:p, 'consent_mode', 'consent');
SELECT pg_temp.mark();
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (:p, 'gate', '2024-03-06 10:00+08', '[1,0,0,0]', 0.8, false);
SELECT person, what, captured, expires, unchanged FROM pg_temp.b WHERE person = 1 ORDER BY what;
SELECT reset_setting(:p, 'consent_mode');

-- enforcement sees the clock: nothing of person 1 is due before its last day + 30 days
SELECT count(*) FILTER (WHERE expires_at <= '2024-04-05 00:00+08') AS due_on_apr_5,
       count(*) FILTER (WHERE expires_at <= '2024-04-06 00:00+08') AS due_on_apr_6
FROM capture WHERE project_id = :p AND person_id = pg_temp.pid(1);
