-- bench/citus/time.sql: rebuild_rollups, then each BI and group view read as
-- a BI tool reads it (every column of every row), one project's year and all
-- projects, ROUNDS times; the median in ms.  psql -v rounds=3 -v label=plain
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE TEMP TABLE view_time (view text, scope text, rows bigint, ms float8);
SELECT set_config('bench.rounds', :'rounds', false) \gset
DO $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	PERFORM firstsight.rebuild_rollups();
	INSERT INTO view_time VALUES ('rebuild_rollups()', 'all projects', NULL, extract(epoch FROM clock_timestamp() - t0) * 1000);
END
$$;
ANALYZE;
DO $$
DECLARE
	v text;
	t0 timestamptz;
	n bigint;
	one bigint := (SELECT max(project_id) FROM firstsight.project);
	r int;
BEGIN
	FOR r IN 1 .. current_setting('bench.rounds')::int LOOP
		FOREACH v IN ARRAY ARRAY['daily_traffic', 'channel_share', 'conversion_funnel', 'flagged_deals',
		                         'commission_ledger', 'consultant_board'] LOOP
			t0 := clock_timestamp();
			EXECUTE format('SELECT count(*) FROM firstsight.%I x WHERE project_id = $1 AND x::text IS NOT NULL', v) INTO n USING one;
			INSERT INTO view_time VALUES (v, 'one project', n, extract(epoch FROM clock_timestamp() - t0) * 1000);
			t0 := clock_timestamp();
			EXECUTE format('SELECT count(*) FROM firstsight.%I x WHERE x::text IS NOT NULL', v) INTO n;
			INSERT INTO view_time VALUES (v, 'all projects', n, extract(epoch FROM clock_timestamp() - t0) * 1000);
		END LOOP;
		FOREACH v IN ARRAY ARRAY['group_traffic', 'group_channel_share', 'group_commissions', 'group_flagged_deals'] LOOP
			t0 := clock_timestamp();
			EXECUTE format('SELECT count(*) FROM firstsight.%I x WHERE x::text IS NOT NULL', v) INTO n;
			INSERT INTO view_time VALUES (v, 'all projects', n, extract(epoch FROM clock_timestamp() - t0) * 1000);
		END LOOP;
	END LOOP;
END
$$;
\pset format unaligned
\pset tuples_only on
SELECT :'label', view, scope, max(rows), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1)
FROM view_time GROUP BY view, scope ORDER BY view, scope DESC;
