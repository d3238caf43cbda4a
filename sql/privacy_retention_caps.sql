-- Retention caps (issue 14, item 5): no computed expiry is later than now()
-- plus the longest retention a policy allows (10 years unless the policy says
-- less); deals signed more than a day in the future are refused; configure
-- bounds max_clock_skew (1 hour), photo_retention (the longest retention)
-- and every other period (10 years).
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
SET IntervalStyle = postgres;

SELECT count(*) >= 0 AS flushed FROM enforce_retention(1000000, '2100-01-01');

SELECT create_project('Caps', 'Asia/Shanghai', 4) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance');
-- a visitor seen an hour ago
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked, photo)
VALUES (:p, 'gate', now() - interval '1 hour', '[1,0,0,0]', 0.8, false, '\x0102');
SELECT person_id AS buyer FROM person WHERE project_id = :p \gset
-- how far ahead of now() each of the person's rows expires, in whole days
CREATE VIEW pg_temp.e AS
	SELECT 'capture' AS what, max(c.expires_at) <= now() + interval '180 days' AS within_180_days,
	       max(c.expires_at) <= now() + interval '10 years' AS within_10_years,
	       max(c.expires_at) > now() + interval '179 days' AS over_179_days
	FROM firstsight.capture c WHERE c.project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Caps')
	UNION ALL
	SELECT 'gallery', max(f.expires_at) <= now() + interval '180 days', max(f.expires_at) <= now() + interval '10 years',
	       max(f.expires_at) > now() + interval '179 days'
	FROM firstsight.face f WHERE f.project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Caps');

-- the sales app dates a deal in the year 9999 (a typo, or an agency's trick to
-- keep a customer's face on file): refused, and nothing is re-dated
INSERT INTO deal (project_id, person_id, signed_at, price) VALUES (:p, :buyer, '9999-01-01', 1000000);
SELECT category FROM person WHERE project_id = :p AND person_id = :buyer;
-- a deal signed today (or within a day's grace) is fine
INSERT INTO deal (project_id, person_id, signed_at, price) VALUES (:p, :buyer, now() + interval '12 hours', 1000000)
RETURNING deal_id AS deal \gset
SELECT category FROM person WHERE project_id = :p AND person_id = :buyer;
-- ... its buyer is kept 180 days after the deal, capped at now() + 180 days
SELECT * FROM pg_temp.e ORDER BY what;
-- moving it to next year is refused too
\set VERBOSITY terse
UPDATE deal SET signed_at = now() + interval '1 year' WHERE project_id = :p AND deal_id = :deal;

\set VERBOSITY default
-- a deal that bypassed the check (a restore under session_replication_role =
-- replica, where no trigger fires) still cannot keep the face past the cap
SET session_replication_role = replica;
INSERT INTO deal (project_id, person_id, signed_at, price) VALUES (:p, :buyer, '9999-01-01', 1);
RESET session_replication_role;
SELECT set_retention(:p, 'buyer', '180 days');	-- re-dates every buyer's rows
SELECT * FROM pg_temp.e ORDER BY what;

-- the owner edits the policy table directly (no set_retention, no 10-year
-- check): a 1000-year keep is still capped at 10 years from now
UPDATE retention_policy SET keep = '1000 years' WHERE project_id = :p AND category = 'buyer';
SELECT * FROM pg_temp.e ORDER BY what;
DELETE FROM deal WHERE project_id = :p;
UPDATE retention_policy SET keep = '180 days' WHERE project_id = :p AND category = 'buyer';

-- configure bounds
SELECT configure(:p, 'max_clock_skew', '100000 years');
SELECT configure(:p, 'max_clock_skew', '61 minutes');
SELECT configure(:p, 'max_clock_skew', '1 hour');
SELECT configure(:p, 'photo_retention', '1000 years');
\set VERBOSITY terse
SELECT configure(:p, 'photo_retention', '181 days');
\set VERBOSITY default
SELECT configure(:p, 'photo_retention', '180 days');
SELECT configure(:p, 'visit_gap', '100 years');
SELECT configure(:p, 'report_validity', '10 years 1 day');
SELECT configure(:p, 'report_validity', '30 days');
SELECT setting, value FROM project_settings WHERE project_id = :p AND NOT is_default ORDER BY setting;
-- a camera an hour and a half ahead is refused under the largest skew
\set VERBOSITY terse
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', now() + interval '90 minutes', '[0,1,0,0]', 0.8, false);
\set VERBOSITY default

SELECT count(*) >= 0 AS flushed FROM enforce_retention(1000000, '2100-01-01');
