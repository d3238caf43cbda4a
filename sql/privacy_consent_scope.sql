-- Consent scope (issue 14, item 4): only consent that covers the face extends
-- how long the face embedding is kept; photos follow the embedding only when
-- consent covers both, and a photo is never kept longer than its embedding.
-- Consent is recorded as the sales app records it: a login role of the
-- privacy officer group calling record_consent.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
SET IntervalStyle = postgres;
SELECT count(*) >= 0 AS flushed FROM enforce_retention(1000000, '2100-01-01');
SELECT setup_roles();
CREATE ROLE regress_fs_sales_app IN ROLE firstsight_privacy_officer;

SELECT create_project('Scope', 'Asia/Shanghai', 4) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance');
SELECT configure(:p, 'consent_mode', 'consent');
CREATE FUNCTION pg_temp.cap(at text, f text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, photo)
	SELECT max(project_id), 'gate', (at || '+08')::timestamptz, f::firstsight.embedding, 0.8, false, '\x0102'::bytea
	FROM firstsight.project WHERE name = 'Scope' $$;
CREATE FUNCTION pg_temp.pid(n integer) RETURNS bigint LANGUAGE sql AS $$
	SELECT person_id FROM firstsight.person
	WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Scope')
	ORDER BY person_id OFFSET n - 1 LIMIT 1 $$;
-- each person's category, consent, and the expiry of their capture, photo and gallery rows
CREATE VIEW pg_temp.s AS
	SELECT dense_rank() OVER (ORDER BY p.person_id) AS person, p.category, p.consent_scope,
	       to_char(max(c.expires_at) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS face_expires,
	       to_char(max(c.photo_expires_at) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS photo_expires,
	       (SELECT to_char(max(f.expires_at) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') FROM firstsight.face f
	        WHERE f.project_id = p.project_id AND f.person_id = p.person_id) AS gallery_expires
	FROM firstsight.person p LEFT JOIN firstsight.capture c USING (project_id, person_id)
	WHERE p.project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Scope')
	GROUP BY p.project_id, p.person_id;

-- consent mode: three visitors, unconsented, kept to the end of their day
SELECT pg_temp.cap('2024-03-01 10:00', '[1,0,0,0]');
SELECT pg_temp.cap('2024-03-01 10:05', '[0,1,0,0]');
SELECT pg_temp.cap('2024-03-01 10:10', '[0,0,1,0]');
SELECT pg_temp.pid(1) AS p1, pg_temp.pid(2) AS p2, pg_temp.pid(3) AS p3 \gset
SELECT * FROM pg_temp.s ORDER BY person;

-- the sales app records: person 1 agrees to photos only, person 2 to the
-- face only, person 3 to both
SET SESSION AUTHORIZATION regress_fs_sales_app;
SELECT firstsight.record_consent(:p, :p1, true, 'app', 'photo', 'app receipt 1') > 0 AS ok;
SELECT firstsight.record_consent(:p, :p2, true, 'app', 'face', 'app receipt 2') > 0 AS ok;
SELECT firstsight.record_consent(:p, :p3, true, 'app', 'face,photo', 'app receipt 3') > 0 AS ok;
RESET SESSION AUTHORIZATION;
-- photo consent alone extends nothing: person 1's embedding, gallery row and
-- photo still go at the end of the day, and they stay a visitor; person 2's
-- face is kept 90 days, the photo 24 hours; person 3's photo follows the face
SELECT * FROM pg_temp.s ORDER BY person;

-- the next day: person 1's face and photo are gone, persons 2 and 3 keep theirs
SELECT * FROM enforce_retention(10000, '2024-03-02 00:00+08');
SELECT * FROM pg_temp.s ORDER BY person;

-- notice mode: consent for photos alone does not make a consented person
-- (90 days) of a visitor (30 days), and the photo keeps its 24 hours
SELECT configure(:p, 'consent_mode', 'notice');
SELECT pg_temp.cap('2024-03-03 10:00', '[0,0,0,1]');
SELECT pg_temp.pid(4) AS p4 \gset
SELECT * FROM pg_temp.s WHERE person = 4;
SET SESSION AUTHORIZATION regress_fs_sales_app;
SELECT firstsight.record_consent(:p, :p4, true, 'app', 'photo', 'app receipt 4') > 0 AS ok;
RESET SESSION AUTHORIZATION;
SELECT * FROM pg_temp.s WHERE person = 4;
-- later consent to the face too: now consented, and the photo follows the face
SET SESSION AUTHORIZATION regress_fs_sales_app;
SELECT firstsight.record_consent(:p, :p4, true, 'app', 'photo,face', 'app receipt 5') > 0 AS ok;
RESET SESSION AUTHORIZATION;
SELECT * FROM pg_temp.s WHERE person = 4;
-- narrowing it back to photos takes the extension away again
SET SESSION AUTHORIZATION regress_fs_sales_app;
SELECT firstsight.record_consent(:p, :p4, true, 'app', 'photo', 'app receipt 6') > 0 AS ok;
RESET SESSION AUTHORIZATION;
SELECT * FROM pg_temp.s WHERE person = 4;

-- a photo is never kept longer than its embedding: a 180-day photo_retention
-- (the buyer's retention) still ends with a visitor's 30-day face
SELECT configure(:p, 'photo_retention', '180 days');
SELECT * FROM pg_temp.s WHERE person = 4;
SELECT reset_setting(:p, 'photo_retention');

SELECT count(*) >= 0 AS flushed FROM enforce_retention(1000000, '2100-01-01');
DROP ROLE regress_fs_sales_app;
