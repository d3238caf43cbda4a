-- The rollups behind daily_traffic, channel_share, conversion_funnel and
-- consultant_board stay exact under late facts: a late reception, a merge that
-- turns a first visit into a return, a deal (and a co-buyer) making an old
-- visitor a buyer, the deal moved and deleted, a visit deleted, the project's
-- time zone changed.  After each step the views are shown and rollup_check
-- (every rollup row against the facts) must return no rows.
\set pname 'Rollups'
\i sql/attribution_setup.psql
CREATE FUNCTION pg_temp.views() RETURNS SETOF text LANGUAGE sql AS $$
	SELECT line FROM (
		SELECT 1 AS k, format('traffic  %s: %s visits, %s persons, %s new, %s returning, %s accompanied, %s received',
		                      day, visits, unique_persons, new_persons, returning_persons, accompanied_visits, received_visits) AS line
		FROM firstsight.daily_traffic WHERE project_id = (SELECT max(project_id) FROM firstsight.project)
		UNION ALL
		SELECT 2, format('share    %s %s: %s visits (%s), %s deals', month, channel, visits, visit_share, deals)
		FROM firstsight.channel_share WHERE project_id = (SELECT max(project_id) FROM firstsight.project)
		UNION ALL
		SELECT 3, format('funnel   %s %s: %s first visits, %s returned, %s bought', month, channel, first_visits, returned, bought)
		FROM firstsight.conversion_funnel WHERE project_id = (SELECT max(project_id) FROM firstsight.project)
		UNION ALL
		SELECT 4, format('board    %s %s: %s receptions, %s persons, %s new, %s deals', month, consultant, receptions,
		                 persons_received, new_persons_received, deals)
		FROM firstsight.consultant_board WHERE project_id = (SELECT max(project_id) FROM firstsight.project)
		UNION ALL
		SELECT 5, format('STALE    %s %s %s', rollup, problem, row_text)
		FROM firstsight.rollup_check((SELECT max(project_id) FROM firstsight.project))) s
	ORDER BY k, line $$;

-- through the camera path: person A on 1 May (00:30 local, still 30 April in UTC)
-- and again on 10 May; person B on 3 May
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-05-01 00:30+08', '[1,0,0,0]', 0.9, false),
       (:p, 'gate', '2024-05-03 10:00+08', '[0,1,0,0]', 0.9, false),
       (:p, 'gate', '2024-05-10 10:00+08', '[1,0,0,0]', 0.9, false);
SELECT person_id AS a FROM capture WHERE project_id = :p AND captured_at = '2024-05-01 00:30+08' \gset
SELECT person_id AS b FROM capture WHERE project_id = :p AND captured_at = '2024-05-03 10:00+08' \gset
SELECT visit_id AS vb FROM capture WHERE project_id = :p AND captured_at = '2024-05-03 10:00+08' \gset
SELECT pg_temp.views();

-- a late reception: B was brought by Lianjia's agent and received by Wang
SELECT receive(:p, :vb, 1, 21);
SELECT pg_temp.views();

-- an old visitor of April (person 901) becomes a co-buyer of a deal A signs in May
SELECT pg_temp.person(901);
SELECT pg_temp.visit(9001, 901, '2024-04-02 10:00', 2);
SELECT pg_temp.deal(1, :a, '2024-05-20 10:00', cons => 1, co => ARRAY[901]::bigint[]);
SELECT pg_temp.views();

-- B turns out to be A: B's visit becomes A's return; B's first visit is gone
SELECT merge_person(:p, :a, :b) = :a AS a_kept;
SELECT pg_temp.views();

-- the merge decided the deal again (version 2); reattribute after it finds nothing more to change
SELECT deal_id, version, changed FROM reattribute(:p, '2024-05-01 00:00+08', '2024-06-01 00:00+08');
SELECT pg_temp.views();

-- the deal moves to 901 alone, then is deleted: nobody bought
UPDATE deal SET person_id = 901, co_buyer_ids = '{}' WHERE project_id = :p AND deal_id = 1;
SELECT pg_temp.views();
DELETE FROM deal WHERE project_id = :p AND deal_id = 1;
SELECT pg_temp.views();

-- the project's time zone changes: A's 00:30 visit moves to 30 April
UPDATE project SET time_zone = 'UTC' WHERE project_id = :p;
SELECT pg_temp.views();
UPDATE project SET time_zone = 'Asia/Shanghai' WHERE project_id = :p;

-- a visit deleted
DELETE FROM visit WHERE project_id = :p AND visit_id = 9001;
SELECT pg_temp.views();

-- the counters many captures share are appended as deltas (issue 21); the
-- views read them with the folded rows, so folding them changes nothing shown
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-05-10 18:00+08', '[0,0,1,0]', 0.9, false);
SELECT (SELECT count(*) FROM rollup_day_delta WHERE project_id = :p) > 0 AS day_deltas,
       (SELECT count(*) FROM rollup_month_agent_delta WHERE project_id = :p) > 0 AS month_agent_deltas;
SELECT pg_temp.views();
SELECT rollup_fold() > 0 AS folded;
SELECT (SELECT count(*) FROM rollup_day_delta) + (SELECT count(*) FROM rollup_month_agent_delta)
       + (SELECT count(*) FROM rollup_consultant_delta) AS deltas_left;
SELECT pg_temp.views();
-- the fold is the owner's (the worker's through setup_roles), not a reader's
CREATE ROLE bi_rollups_reader;
GRANT USAGE ON SCHEMA firstsight TO bi_rollups_reader;
SET ROLE bi_rollups_reader;
SELECT rollup_fold();
RESET ROLE;
REVOKE USAGE ON SCHEMA firstsight FROM bi_rollups_reader;
DROP ROLE bi_rollups_reader;

-- rollup_check sees a counter that is off, and rebuild_rollups repairs it
UPDATE rollup_day SET unique_persons = unique_persons + 1
WHERE project_id = :p AND day = '2024-05-10';
SELECT rollup, problem FROM rollup_check(:p) ORDER BY 1, 2;
SELECT rebuild_rollups(:p);
SELECT count(*) AS stale_rows FROM rollup_check(:p);
-- no rollup holds a biometric column
SELECT c.table_name, c.column_name FROM information_schema.columns c
WHERE c.table_schema = 'firstsight' AND c.table_name LIKE 'rollup%' AND c.udt_name IN ('embedding', 'bytea');
