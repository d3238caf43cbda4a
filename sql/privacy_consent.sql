-- Consent: given and withdrawn, with method, scope and evidence; withdrawal
-- erases at once; consent mode keeps unconsented faces until the end of the day.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
SET IntervalStyle = postgres;
-- earlier tests' biometric data goes first, so the counts below are this file's own
SELECT count(*) >= 0 AS flushed FROM enforce_retention(1000000, '2100-01-01');

SELECT create_project('Consent', 'Asia/Shanghai', 4) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance');
SELECT configure(:p, 'consent_mode', 'consent');
CREATE FUNCTION pg_temp.cap(at text, f text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, photo)
	SELECT max(project_id), 'gate', (at || '+08')::timestamptz, f::firstsight.embedding, 0.8, false, '\x0102'::bytea
	FROM firstsight.project WHERE name = 'Consent' $$;
CREATE FUNCTION pg_temp.pid(n integer) RETURNS bigint LANGUAGE sql AS $$
	SELECT person_id FROM firstsight.person
	WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Consent') AND merged_into IS NULL
	ORDER BY person_id OFFSET n - 1 LIMIT 1 $$;
CREATE VIEW pg_temp.s AS
	SELECT dense_rank() OVER (ORDER BY p.person_id) AS person, p.category, p.consent_given, p.consent_scope,
	       count(c.face) AS faces, count(c.photo) AS photos,
	       (SELECT count(*) FROM firstsight.face f WHERE f.project_id = p.project_id AND f.person_id = p.person_id) AS gallery,
	       to_char(max(c.expires_at) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS expires,
	       to_char(max(c.photo_expires_at) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS photo_expires
	FROM firstsight.person p LEFT JOIN firstsight.capture c USING (project_id, person_id)
	WHERE p.project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Consent')
	GROUP BY p.project_id, p.person_id;

-- three visitors on one day, unconsented: kept to the end of the day (midnight in Shanghai)
SELECT pg_temp.cap('2024-03-01 10:00', '[1,0,0,0]');
SELECT pg_temp.cap('2024-03-01 10:05', '[0,1,0,0]');
SELECT pg_temp.cap('2024-03-01 10:10', '[0,0,1,0]');
SELECT * FROM pg_temp.s ORDER BY person;
-- an unconsented face is still matched during its day: the same person again
SELECT pg_temp.cap('2024-03-01 15:00', '[1,0,0,0]');
SELECT count(*) AS persons FROM person WHERE project_id = :p;

-- person 1 consents to face only, person 2 to face and photo
SELECT record_consent(:p, pg_temp.pid(1), true, 'kiosk', 'face', 'kiosk receipt 0001') > 0 AS ok;
SELECT record_consent(:p, pg_temp.pid(2), true, 'paper form', 'face,photo', 'form 2024-03-01/17') > 0 AS ok;
SELECT * FROM pg_temp.s ORDER BY person;
-- the next day only consented persons keep biometric data
SELECT * FROM enforce_retention(10000, '2024-03-02 00:00+08');
SELECT * FROM pg_temp.s ORDER BY person;
-- the unconsented person's visit and capture rows stay
SELECT count(*) AS captures, count(face) AS with_face FROM capture WHERE project_id = :p;
SELECT count(*) AS visits FROM visit WHERE project_id = :p;

-- withdrawal erases at once (embedding, photo, gallery), and is logged
SELECT record_consent(:p, pg_temp.pid(2), false, 'email', 'face,photo', 'ticket 42') > 0 AS ok;
SELECT * FROM pg_temp.s ORDER BY person;
SELECT dense_rank() OVER (ORDER BY person_id) AS n, kind, reason ~ '^consent \d+ withdrawn$' AS reason_ok,
       captures_erased, photos_erased, faces_erased, completed_at >= requested_at AS timed
FROM erasure_log WHERE project_id = :p ORDER BY erasure_id;
-- consent records: the processing record, newest last
SELECT dense_rank() OVER (ORDER BY person_id) AS n, given, method, scope, evidence, recorded_by = session_user AS by_me
FROM consent WHERE project_id = :p ORDER BY consent_id;
-- withdrawing person 1's consent in notice mode too
SELECT configure(:p, 'consent_mode', 'notice');
SELECT record_consent(:p, pg_temp.pid(1), false, 'app', 'face', NULL) > 0 AS ok;
SELECT * FROM pg_temp.s ORDER BY person;

-- consent for a merged person goes to the person they were merged into
SELECT pg_temp.cap('2024-03-03 10:00', '[0,0,0,1]');
SELECT pg_temp.cap('2024-03-03 10:01', '[0,0,0.7,0.7]');
SELECT pg_temp.pid(4) AS kept, pg_temp.pid(5) AS gone \gset
SELECT merge_person(:p, :kept, :gone) = :kept AS merged;
SELECT record_consent(:p, :gone, true, 'kiosk', 'face', 'r9') > 0 AS ok;
SELECT person_id = :kept AS to_survivor FROM consent WHERE project_id = :p ORDER BY consent_id DESC LIMIT 1;
SELECT category, consent_given FROM person WHERE project_id = :p AND person_id = :kept;

-- bad calls say what is wrong
SELECT record_consent(-1, -5, true, 'kiosk', 'face', NULL);
SELECT record_consent(:p, pg_temp.pid(1), NULL, 'kiosk', 'face', NULL);
SELECT record_consent(:p, pg_temp.pid(1), true, '', 'face', NULL);
SELECT record_consent(:p, pg_temp.pid(1), true, 'kiosk', 'voice', NULL);
SELECT record_consent(:p, pg_temp.pid(1), true, 'kiosk', NULL, NULL);
-- consent records are append-only
UPDATE consent SET given = true;
DELETE FROM consent;
