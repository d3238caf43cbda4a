-- bench/attribution/deal_time.sql: time the deal-insert path (INSERT + the
-- attribution trigger: decide, store the version, events) again on the month
-- load.sql loaded, inside a transaction that is rolled back; then the decision
-- alone.  For an A/B in one session: psql -v defs=FILE runs FILE first (inside
-- the transaction), e.g. an older decide_attribution made with CREATE OR REPLACE.
-- Besides wall time it prints the server process's CPU time (utime + stime of
-- /proc/self/stat, read by the superuser): on a shared, loaded machine that is
-- the steadier figure.
--   psql -d bench_attribution -f bench/attribution/deal_time.sql [-v defs=FILE] [-v label=TEXT]
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\if :{?label}
\else
\set label current
\endif
SELECT project_id AS main FROM firstsight.project WHERE name = 'bench month' \gset
BEGIN;
\if :{?defs}
\i :defs
\endif
-- CPU milliseconds of this backend so far (fields 14 and 15 of /proc/self/stat, 100 ticks a second)
CREATE FUNCTION pg_temp.cpu_ms() RETURNS float8 LANGUAGE sql VOLATILE AS $$
	SELECT ((f[14])::float8 + (f[15])::float8) * 10
	FROM (SELECT string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ') AS f0) s,
	     LATERAL (SELECT ARRAY['', ''] || f0 AS f) t $$;
CREATE TEMP TABLE dt_deal ON COMMIT DROP AS SELECT * FROM firstsight.deal WHERE project_id = :main;
DELETE FROM firstsight.deal WHERE project_id = :main;
CREATE TEMP TABLE dt_time (deal_id bigint, ms float8) ON COMMIT DROP;
CREATE TEMP TABLE dt_cpu (what text, ms float8) ON COMMIT DROP;
DO $$
DECLARE
	d firstsight.deal;
	t0 timestamptz;
	c0 float8 := pg_temp.cpu_ms();
	n integer;
BEGIN
	FOR d IN SELECT * FROM dt_deal ORDER BY signed_at, deal_id LOOP
		t0 := clock_timestamp();
		INSERT INTO firstsight.deal SELECT d.*;
		INSERT INTO dt_time VALUES (d.deal_id, extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
	INSERT INTO dt_cpu SELECT 'insert', (pg_temp.cpu_ms() - c0) / count(*) FROM dt_deal;
	-- the decision alone (no storing, no events, no other triggers), every deal again
	c0 := pg_temp.cpu_ms();
	t0 := clock_timestamp();
	SELECT count((firstsight.decide_attribution(x.project_id, x.deal_id)).rule) INTO n FROM dt_deal x;
	INSERT INTO dt_cpu VALUES ('decide', (pg_temp.cpu_ms() - c0) / n),
	                          ('decide wall', extract(epoch FROM clock_timestamp() - t0) * 1000 / n);
END
$$;
SELECT :'label' AS code, count(*) AS deals, round(avg(ms)::numeric, 2) AS mean_ms,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p50_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p95_ms,
       round(max(ms)::numeric, 2) AS max_ms,
       (SELECT round(ms::numeric, 2) FROM dt_cpu WHERE what = 'insert') AS cpu_ms,
       (SELECT round(ms::numeric, 2) FROM dt_cpu WHERE what = 'decide wall') AS decide_ms,
       (SELECT round(ms::numeric, 2) FROM dt_cpu WHERE what = 'decide') AS decide_cpu_ms,
       (SELECT count(*) FROM firstsight.attribution a WHERE a.project_id = :main AND a.is_current AND cardinality(a.flags) > 0) AS flagged
FROM dt_time;
ROLLBACK;
