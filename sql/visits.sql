-- Visits: the gap rule, returning visitors, person statistics.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never

SELECT create_project('Visits', 'Asia/Shanghai', 4) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance'), (:p, 'sand', 'sand_table');
CREATE FUNCTION pg_temp.cap(cam text, at text, f text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT max(project_id), cam, (at || '+08')::timestamptz, f::firstsight.embedding, 0.8, false
	FROM firstsight.project WHERE name = 'Visits' $$;
CREATE VIEW pg_temp.v AS
	SELECT dense_rank() OVER (ORDER BY v.person_id) AS person,
	       to_char(v.started_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS started,
	       to_char(v.ended_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS ended,
	       v.captures, v.first_camera_id AS first_camera, v.seen_before,
	       to_char(v.previous_visit_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS previous_visit_at,
	       (SELECT to_char(x.started_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') FROM firstsight.visit x
	        WHERE x.project_id = v.project_id AND x.visit_id = v.previous_visit_id) AS previous_started
	FROM firstsight.visit v WHERE v.project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Visits');
CREATE VIEW pg_temp.per AS
	SELECT dense_rank() OVER (ORDER BY person_id) AS person,
	       to_char(first_seen AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS first_seen,
	       to_char(last_seen AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS last_seen, visits, captures
	FROM firstsight.person WHERE project_id = (SELECT max(project_id) FROM firstsight.project WHERE name = 'Visits');

-- less than two hours apart: one visit; exactly two hours after the last capture: a new one
SELECT pg_temp.cap('gate', '2024-03-01 10:00', '[1,0,0,0]');
SELECT pg_temp.cap('sand', '2024-03-01 10:40', '[1,0,0,0]');
SELECT pg_temp.cap('sand', '2024-03-01 12:39', '[1,0,0,0]');
SELECT pg_temp.cap('gate', '2024-03-01 14:39', '[1,0,0,0]');
SELECT * FROM pg_temp.v ORDER BY person, started;

-- a returning visitor is recognised at once: seen before, and when
SELECT pg_temp.cap('gate', '2024-03-05 09:00', '[1,0,0,0]');
SELECT * FROM pg_temp.v ORDER BY person, started;
SELECT * FROM pg_temp.per ORDER BY person;

-- a capture that arrives late (camera was offline) extends the right visit
SELECT pg_temp.cap('sand', '2024-03-01 09:30', '[1,0,0,0]');
-- and one from before every known visit becomes the first visit; the others now return
SELECT pg_temp.cap('sand', '2024-02-20 16:00', '[1,0,0,0]');
SELECT * FROM pg_temp.v ORDER BY person, started;
SELECT * FROM pg_temp.per ORDER BY person;

-- one COPY-sized batch holding a whole day of one person: visits split by the gap rule
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
SELECT :p, 'gate', '2024-03-10 09:00+08'::timestamptz + m * interval '1 minute', '[0,1,0,0]', 0.8, false
FROM unnest(ARRAY[0, 30, 60, 200, 230, 500]) m;
SELECT * FROM pg_temp.v WHERE started LIKE '03-10%' ORDER BY person, started;

-- a shorter gap applies to new captures
SELECT configure(:p, 'visit_gap', '20 minutes');
SELECT pg_temp.cap('gate', '2024-03-11 09:00', '[0,1,0,0]');
SELECT pg_temp.cap('gate', '2024-03-11 09:19', '[0,1,0,0]');
SELECT pg_temp.cap('gate', '2024-03-11 09:40', '[0,1,0,0]');
SELECT * FROM pg_temp.v WHERE started LIKE '03-11%' ORDER BY person, started;
SELECT * FROM pg_temp.per ORDER BY person;
-- person counters agree with the visit and capture rows
SELECT count(*) AS inconsistent FROM person p
WHERE p.project_id = :p AND (p.visits <> (SELECT count(*) FROM visit v WHERE v.project_id = p.project_id AND v.person_id = p.person_id)
   OR p.captures <> (SELECT count(*) FROM capture c WHERE c.project_id = p.project_id AND c.person_id = p.person_id));
SELECT count(*) AS inconsistent FROM visit v
WHERE v.project_id = :p AND v.captures <> (SELECT count(*) FROM capture c WHERE c.project_id = v.project_id AND c.visit_id = v.visit_id);
