-- The visitor's route (动线) and the zone funnel (issue 16): per visit the
-- zones passed in order with arrival and dwell; per day and channel the share
-- of visits that reached each zone.  A manager sees their projects only.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
\set VERBOSITY terse
SET IntervalStyle = postgres;
SET TimeZone = 'Asia/Shanghai';

SELECT create_project('Route A', 'Asia/Shanghai', 4) AS a \gset
SELECT create_project('Route B', 'Asia/Shanghai', 4) AS b \gset
INSERT INTO camera VALUES (:a, 'gate', 'entrance'), (:a, 'sand', 'sand_table'), (:a, 'model', 'model_room'),
                          (:a, 'desk', 'sign_in'), (:b, 'gate', 'entrance'), (:b, 'sand', 'sand_table');
INSERT INTO channel (project_id, kind, name, commission_rate) VALUES (:a, 'agency', 'Route agency', 0.02) RETURNING channel_id AS ch \gset
INSERT INTO agent (project_id, channel_id, name) VALUES (:a, :ch, 'Route agent') RETURNING agent_id AS ag \gset
-- person 1: gate, sand table twice, model room, back to the sand table, sign-in desk
-- person 2: gate and sand table; person 3 (brought by the agent): gate only
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:a, 'gate', '2024-05-01 10:00:00', '[1,0,0,0]', 0.9, false),
	(:a, 'sand', '2024-05-01 10:05:00', '[1,0,0,0]', 0.9, false),
	(:a, 'sand', '2024-05-01 10:12:00', '[1,0,0,0]', 0.9, false),
	(:a, 'model', '2024-05-01 10:20:00', '[1,0,0,0]', 0.9, false),
	(:a, 'sand', '2024-05-01 10:30:00', '[1,0,0,0]', 0.9, false),
	(:a, 'desk', '2024-05-01 10:40:00', '[1,0,0,0]', 0.9, false),
	(:a, 'gate', '2024-05-01 11:00:00', '[0,1,0,0]', 0.9, false),
	(:a, 'sand', '2024-05-01 11:03:00', '[0,1,0,0]', 0.9, false),
	(:a, 'gate', '2024-05-01 14:00:00', '[0,0,1,0]', 0.9, false),
	(:b, 'gate', '2024-05-01 10:00:00', '[1,0,0,0]', 0.9, false),
	(:b, 'sand', '2024-05-01 10:09:00', '[1,0,0,0]', 0.9, false);
SELECT visit_id AS v1 FROM capture WHERE project_id = :a AND captured_at = '2024-05-01 10:00' \gset
SELECT visit_id AS v3 FROM capture WHERE project_id = :a AND captured_at = '2024-05-01 14:00' \gset
SELECT receive(:a, :v3, NULL, :ag);

-- the route of person 1's visit, in order
SELECT step, zone, camera_id, arrived_local, dwell, captures
FROM visit_route WHERE project_id = :a AND visit_id = :v1 ORDER BY step;
-- every visit: its zones as a path
SELECT string_agg(zone, ' > ' ORDER BY step) AS route, sum(captures) AS captures
FROM visit_route WHERE project_id = :a GROUP BY visit_id ORDER BY min(arrived_at);
-- no biometric column
SELECT attname FROM pg_attribute WHERE attrelid IN ('visit_route'::regclass, 'zone_funnel'::regclass)
  AND attnum > 0 AND (atttypid = 'embedding'::regtype OR attname IN ('face', 'photo')) ;

-- the funnel: natural visits 2 (both reached the sand table, one the model
-- room and the desk), the agency's 1 (the gate only)
SELECT day, channel, stage, zone, visits, reached, share
FROM zone_funnel WHERE project_id = :a ORDER BY channel, stage;

-- an erased visitor keeps their route (no biometric data in it)
SELECT person_id AS p1 FROM capture WHERE project_id = :a AND visit_id = :v1 LIMIT 1 \gset
SELECT captures_erased FROM erase_person(:a, :p1, 'route test');
SELECT count(*) AS steps FROM visit_route WHERE project_id = :a AND visit_id = :v1;

-- a manager of project B reads B's routes and funnel, never A's
SELECT setup_roles();
CREATE ROLE regress_fs_route_mgr;
SELECT grant_project('regress_fs_route_mgr', :b);
CREATE ROLE regress_fs_route_analyst IN ROLE firstsight_analyst;
SET ROLE regress_fs_route_mgr;
SELECT project_id = :b AS own_project, count(*) AS steps FROM visit_route GROUP BY 1;
SELECT count(*) AS other_project_steps FROM visit_route WHERE project_id = :a;
SELECT count(*) AS other_project_funnel FROM zone_funnel WHERE project_id = :a;
SELECT count(*) AS own_funnel FROM zone_funnel WHERE project_id = :b;
-- and cannot go around the views to the captures
SELECT count(*) FROM capture WHERE project_id = :a;
RESET ROLE;
-- an analyst reads the views of the projects granted to them, not the captures behind them
SET ROLE regress_fs_route_analyst;
SELECT count(*) AS ungranted_route FROM visit_route WHERE project_id = :a;
RESET ROLE;
SELECT grant_analyst('regress_fs_route_analyst', :a);
SET ROLE regress_fs_route_analyst;
SELECT count(*) > 0 AS reads_route FROM visit_route WHERE project_id = :a;
SELECT count(*) AS other_project_steps FROM visit_route WHERE project_id = :b;
SELECT count(*) FROM capture;
RESET ROLE;
DROP OWNED BY regress_fs_route_mgr, regress_fs_route_analyst;
DROP ROLE regress_fs_route_mgr, regress_fs_route_analyst;
