-- visitor.new and visitor.returned: written by camera ingestion into the outbox in
-- the inserting transaction, one per visit opened, with the previous visit and the
-- consultants who received the person before; nothing biometric.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never

SELECT create_project('Visitor events', 'Asia/Shanghai', 4) AS p \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance'), (:p, 'sand', 'sand_table');
INSERT INTO consultant (project_id, name) VALUES (:p, 'Wang Fang') RETURNING consultant_id AS c1 \gset
INSERT INTO consultant (project_id, name) VALUES (:p, 'Li Lei') RETURNING consultant_id AS c2 \gset
-- (no allowed hosts in the regression cluster: a notice says the worker would refuse it)
INSERT INTO webhook (project_id, url, events) VALUES (:p, 'https://sales.example.com/hook', '{visitor.new,visitor.returned}')
RETURNING webhook_id AS w \gset

CREATE FUNCTION pg_temp.cap(cam text, at text, f text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT max(project_id), cam, (at || '+08')::timestamptz, f::firstsight.embedding, 0.8, false
	FROM firstsight.project WHERE name = 'Visitor events' $$;
-- the project's events, ids shown as ranks (sequences are shared with other tests)
CREATE VIEW pg_temp.ev AS
	WITH pid AS (SELECT max(project_id) AS p FROM firstsight.project WHERE name = 'Visitor events'),
	per AS (SELECT person_id, dense_rank() OVER (ORDER BY person_id) AS n FROM firstsight.person, pid WHERE project_id = pid.p),
	vis AS (SELECT visit_id, dense_rank() OVER (ORDER BY visit_id) AS n FROM firstsight.visit, pid WHERE project_id = pid.p)
	SELECT row_number() OVER (ORDER BY o.event_id) AS n, o.event,
	       o.subject = 'person:' || (o.payload->>'person_id') AS subject_ok,
	       per.n AS person, vis.n AS visit,
	       to_char((o.payload->>'started_at')::timestamptz AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS started,
	       o.payload->>'camera_id' AS camera, o.payload->>'zone' AS zone, (o.payload->>'visits')::int AS visits,
	       to_char((o.payload->>'first_seen')::timestamptz AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS first_seen,
	       pv.n AS prev_visit,
	       to_char((o.payload->>'previous_visit_at')::timestamptz AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS prev_at,
	       to_char((o.payload->>'previous_visit_ended_at')::timestamptz AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI') AS prev_end,
	       o.payload->>'previous_consultant_name' AS prev_consultant,
	       o.payload->>'first_consultant_name' AS first_consultant,
	       (SELECT count(*) FROM firstsight.outbox_delivery d WHERE d.project_id = o.project_id AND d.event_id = o.event_id) AS deliveries
	FROM firstsight.outbox o CROSS JOIN pid
	LEFT JOIN per ON per.person_id = (o.payload->>'person_id')::bigint
	LEFT JOIN vis ON vis.visit_id = (o.payload->>'visit_id')::bigint
	LEFT JOIN vis pv ON pv.visit_id = (o.payload->>'previous_visit_id')::bigint
	WHERE o.project_id = pid.p AND o.event LIKE 'visitor.%';

-- a first capture: visitor.new; a second capture in the same visit: nothing more
SELECT pg_temp.cap('gate', '2024-03-01 10:00', '[1,0,0,0]');
SELECT pg_temp.cap('sand', '2024-03-01 10:40', '[1,0,0,0]');
SELECT * FROM pg_temp.ev ORDER BY n;

-- a rolled-back capture leaves no event
BEGIN;
SELECT pg_temp.cap('gate', '2024-03-01 11:00', '[0,1,0,0]');
SELECT count(*) AS events_inside FROM pg_temp.ev;
ROLLBACK;
SELECT count(*) AS events_after_rollback FROM pg_temp.ev;

-- received by Wang Fang; back two days later: visitor.returned with the previous
-- visit's time and who received the person
SELECT receive(:p, (SELECT visit_id FROM visit WHERE project_id = :p ORDER BY started_at LIMIT 1), :c1);
SELECT pg_temp.cap('gate', '2024-03-03 15:00', '[1,0,0,0]');
-- received by Li Lei this time; the next return names Li Lei as the last one and Wang Fang as the first
SELECT receive(:p, (SELECT visit_id FROM visit WHERE project_id = :p ORDER BY started_at DESC LIMIT 1), :c2);
SELECT pg_temp.cap('sand', '2024-03-05 09:30', '[1,0,0,0]');
SELECT * FROM pg_temp.ev ORDER BY n;

-- one statement holding a new person's whole day (two visits by the gap rule):
-- visitor.new, then visitor.returned, in that order
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
SELECT :p, 'gate', '2024-03-06 09:00+08'::timestamptz + m * interval '1 minute', '[0,0,1,0]', 0.8, false
FROM unnest(ARRAY[300, 0, 20, 320]) m;
SELECT * FROM pg_temp.ev WHERE person = 2 ORDER BY n;

-- a late capture that opens a visit before every known visit of a known person:
-- neither new nor a return, no event (the visit chain is repaired, nothing is sent)
SELECT count(*) AS events_before FROM pg_temp.ev \gset
SELECT pg_temp.cap('gate', '2024-02-20 16:00', '[1,0,0,0]');
SELECT count(*) - :events_before AS events_added FROM pg_temp.ev;

-- every event reached the outbox with one delivery for the subscribed webhook, its
-- subject is the person, and the payload keys are identifiers, times and names only
SELECT count(*) AS events, bool_and(subject_ok) AS subjects_ok, sum(deliveries) AS deliveries FROM pg_temp.ev;
SELECT DISTINCT k AS payload_key FROM outbox o, jsonb_object_keys(o.payload) k
WHERE o.project_id = :p AND o.event LIKE 'visitor.%' ORDER BY 1;
-- the payload screening accepts what ingestion writes (it refuses faces, embeddings, photos)
SELECT count(*) AS screened FROM outbox o, LATERAL outbox_check_payload(o.payload)
WHERE o.project_id = :p AND o.event LIKE 'visitor.%';

DELETE FROM webhook WHERE project_id = :p;
