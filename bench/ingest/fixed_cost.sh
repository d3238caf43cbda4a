#!/usr/bin/env bash
# bench/ingest/fixed_cost.sh: the fixed server-side cost of one camera INSERT.
# A small gallery (PERSONS, default 100, x DIMS 512) loaded through the camera
# path, then 1 pgbench client, one single-row INSERT ... VALUES per
# transaction, re-captures of those persons within the visit gap (no new
# person, no exemplar, no index insert), DURATION s (30) after WARMUP s (5).
# Prints pgbench's rate and mean latency, and from pg_stat_statements
# (track = all) the server time per INSERT and the nested statements that
# take the most of it, per INSERT.  FORMS ("values"): one measured round per
# word on the same cluster, in that order (the persons' histories grow from
# round to round): values = INSERT ... VALUES of one row (the single-row path),
# select = INSERT ... SELECT of one row (the batch trigger).
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh

DIMS=${DIMS:-512}
PERSONS=${PERSONS:-100}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
read -r -a forms <<<"${FORMS:-values}"
BIN=/usr/lib/postgresql/15/bin

fs_install_deps
fs_build_install
dir=$(mktemp -d "${TMPDIR:-/tmp}/fs-fixed.XXXXXX")
chmod 755 "$dir"; [ "$(id -u)" = 0 ] && chown "$(fs_run_user)" "$dir"
trap 'fs_stop_cluster "$dir"; rm -rf "$dir"' EXIT
fs_start_cluster "$dir" "shared_preload_libraries = 'firstsight, pg_stat_statements'
pg_stat_statements.track = all
synchronous_commit = off"
psql() { fs_as_user "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

psql <<SQL
CREATE EXTENSION firstsight;
CREATE EXTENSION pg_stat_statements;
SELECT firstsight.create_project('bench', dims => $DIMS) \\gset
INSERT INTO firstsight.camera SELECT 1, 'cam' || i, 'entrance' FROM generate_series(0, 7) i;
SELECT setseed(0.5);
CREATE UNLOGGED TABLE bench_centre AS
	SELECT id, firstsight.l2_normalize(array_agg(random() - 0.5)::real[]::firstsight.embedding) AS face
	FROM generate_series(1, $PERSONS) id, generate_series(1, $DIMS) k GROUP BY id;
-- the persons, seen ten minutes ago (the probes below are in the same visit)
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT 1, 'cam0', now() - interval '10 minutes', face, 0.9, false FROM bench_centre;
CREATE UNLOGGED TABLE bench_probe AS
	SELECT n, firstsight.l2_normalize(c.face OPERATOR(firstsight.+)
	          (SELECT array_agg((random() - 0.5) * 0.01)::real[]::firstsight.embedding FROM generate_series(1, $DIMS) WHERE n > 0)) AS face
	FROM generate_series(1, 20 * $PERSONS) n JOIN bench_centre c ON c.id = 1 + n % $PERSONS;
CREATE UNIQUE INDEX ON bench_probe (n);
VACUUM ANALYZE;
SQL
fs_say "persons: $(psql -At -c "SELECT count(*) FROM firstsight.person")"

# one row per INSERT: VALUES (the face from a scalar subquery: still a
# single-row VALUES statement, as a camera sends it) or SELECT
cat >"$dir/values.sql" <<SQL
\\set n random(1, 20 * $PERSONS)
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (1, 'cam' || (:n % 8), now(), (SELECT face FROM bench_probe WHERE n = :n), 0.7, false);
SQL
cat >"$dir/select.sql" <<SQL
\\set n random(1, 20 * $PERSONS)
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
SELECT 1, 'cam' || (:n % 8), now(), face, 0.7, false FROM bench_probe WHERE n = :n;
SQL
chmod 644 "$dir/values.sql" "$dir/select.sql"
for form in "${forms[@]}"; do
	fs_as_user "$BIN/pgbench" -n -c 1 -T "$WARMUP" -f "$dir/$form.sql" -h "$PGHOST" -p "$PGPORT" -U postgres postgres >/dev/null
	psql -At -c "SELECT pg_stat_statements_reset()" >/dev/null
	fs_say "INSERT ... $form: load average $(cut -d' ' -f1-3 /proc/loadavg)"
	fs_as_user "$BIN/pgbench" -n -c 1 -T "$DURATION" -f "$dir/$form.sql" -h "$PGHOST" -p "$PGPORT" -U postgres postgres |
		grep -E "^tps|latency average|failed"
	psql -At <<'SQL'
WITH ins AS (
	SELECT calls, total_exec_time FROM pg_stat_statements
	WHERE toplevel AND query LIKE 'INSERT INTO firstsight.capture%')
SELECT format('server time per INSERT: %s ms (%s INSERTs)', round((total_exec_time / calls)::numeric, 3), calls) FROM ins;
WITH ins AS (
	SELECT sum(calls) AS calls FROM pg_stat_statements
	WHERE toplevel AND query LIKE 'INSERT INTO firstsight.capture%')
SELECT format('  %s ms/INSERT  %s calls/INSERT  %s', round((s.total_exec_time / ins.calls)::numeric, 3),
              round(s.calls / ins.calls, 2), left(regexp_replace(s.query, '\s+', ' ', 'g'), 110))
FROM pg_stat_statements s, ins
WHERE NOT s.toplevel
ORDER BY s.total_exec_time DESC LIMIT 12;
SELECT format('captures per person: %s', round(avg(captures), 1)) FROM firstsight.person WHERE merged_into IS NULL;
SQL
done
fs_say "persons at the end: $(psql -At -c "SELECT count(*) FROM firstsight.person") (should be $PERSONS)"
