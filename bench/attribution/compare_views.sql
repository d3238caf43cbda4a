-- bench/attribution/compare_views.sql: the BI views of this build against an
-- older definition of them, on the same data: the rows (EXCEPT ALL both ways,
-- every column) and the CPU time of reading each view whole, as a BI tool does
-- (every column of every row), serial (no parallel workers), old and new
-- alternately, `rounds` times.  The older views are made in schema bench_old
-- from FILE (run.sh: OLD=<git revision> writes it from src/sql/320_views.sql).
--   psql -d bench_attribution -v old=FILE [-v rounds=2] -f bench/attribution/compare_views.sql
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\if :{?rounds}
\else
\set rounds 2
\endif
SET bench.rounds = :rounds;
DROP SCHEMA IF EXISTS bench_old CASCADE;
CREATE SCHEMA bench_old;
SET search_path = bench_old, firstsight, pg_catalog;
\i :old
RESET search_path;
SET max_parallel_workers_per_gather = 0;
-- CPU milliseconds of this backend so far (utime + stime of /proc/self/stat)
CREATE FUNCTION pg_temp.cpu_ms() RETURNS float8 LANGUAGE sql VOLATILE AS $$
	SELECT ((f[14])::float8 + (f[15])::float8) * 10
	FROM (SELECT string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ') AS f0) s,
	     LATERAL (SELECT ARRAY['', ''] || f0 AS f) t $$;
CREATE TEMP TABLE cmp (view text, rows bigint, only_old bigint, only_new bigint);
CREATE TEMP TABLE cmp_time (view text, code text, round int, cpu_ms float8, wall_ms float8);
DO $$
DECLARE
	v text;
	n bigint; a bigint; b bigint;
BEGIN
	FOREACH v IN ARRAY ARRAY['daily_traffic', 'channel_share', 'conversion_funnel', 'flagged_deals',
	                         'commission_ledger', 'consultant_board', 'protection_expiring'] LOOP
		EXECUTE format('SELECT count(*) FROM firstsight.%I', v) INTO n;
		EXECUTE format('SELECT count(*) FROM (SELECT * FROM bench_old.%1$I EXCEPT ALL SELECT * FROM firstsight.%1$I) x', v) INTO a;
		EXECUTE format('SELECT count(*) FROM (SELECT * FROM firstsight.%1$I EXCEPT ALL SELECT * FROM bench_old.%1$I) x', v) INTO b;
		INSERT INTO cmp VALUES (v, n, a, b);
	END LOOP;
END
$$;
\echo RESULT the views against the older definition (rows only in one of them: 0 means the same rows)
SELECT * FROM cmp;
DO $$
DECLARE
	v text;
	s text;
	r int;
	n bigint;
	c0 float8;
	t0 timestamptz;
BEGIN
	FOR r IN 1 .. current_setting('bench.rounds')::int LOOP
		FOREACH v IN ARRAY ARRAY['daily_traffic', 'channel_share', 'conversion_funnel', 'consultant_board', 'protection_expiring',
		                         'commission_ledger', 'flagged_deals'] LOOP
			FOREACH s IN ARRAY ARRAY['bench_old', 'firstsight'] LOOP
				c0 := pg_temp.cpu_ms();
				t0 := clock_timestamp();
				EXECUTE format('SELECT count(*) FROM %I.%I x WHERE x::text IS NOT NULL', s, v) INTO n;
				INSERT INTO cmp_time VALUES (v, s, r, pg_temp.cpu_ms() - c0, extract(epoch FROM clock_timestamp() - t0) * 1000);
			END LOOP;
		END LOOP;
	END LOOP;
END
$$;
\echo RESULT CPU and wall ms per read of the whole view, all projects, serial: old -> new (every round)
SELECT view,
       string_agg(round(cpu_ms)::text, ', ' ORDER BY round) FILTER (WHERE code = 'bench_old') AS old_cpu_ms,
       string_agg(round(cpu_ms)::text, ', ' ORDER BY round) FILTER (WHERE code = 'firstsight') AS new_cpu_ms,
       round((sum(cpu_ms) FILTER (WHERE code = 'bench_old') / nullif(sum(cpu_ms) FILTER (WHERE code = 'firstsight'), 0))::numeric, 1) AS cpu_ratio,
       string_agg(round(wall_ms)::text, ', ' ORDER BY round) FILTER (WHERE code = 'bench_old') AS old_wall_ms,
       string_agg(round(wall_ms)::text, ', ' ORDER BY round) FILTER (WHERE code = 'firstsight') AS new_wall_ms
FROM cmp_time GROUP BY view ORDER BY view;
