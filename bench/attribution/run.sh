#!/usr/bin/env bash
# bench/attribution/run.sh: a month at a sales office through the real camera path,
# attribution agreement with the generator's truth, flag precision and recall,
# attribution time per deal; then view timings over a year of 50 projects.
#   PERSONS (1200)  visitors in the month      SEED (7)
#   YEAR_PROJECTS (50), YEAR_VISITS_PER_DAY (60) for the view timings; VIEWS=0 skips them
#   DB (bench_attribution)  the database made for the run
#   OLD (unset)  a git revision: compare the views with that revision's (same rows? CPU ms old -> new)
# Bounded: one throwaway cluster, removed at the end (or PGHOST/PGPORT of an
# existing server with EXISTING=1, then a database bench_attribution is made).
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh
here=bench/attribution
BIN=${BIN:-/usr/lib/postgresql/15/bin}
dir=$(mktemp -d "${TMPDIR:-/tmp}/fs-attr.XXXXXX")
chmod 755 "$dir"; [ "$(id -u)" = 0 ] && chown "$(fs_run_user)" "$dir"
if [ "${EXISTING:-0}" = 1 ]; then
	trap 'rm -rf "$dir"' EXIT
else
	fs_install_deps
	fs_build_install
	trap 'fs_stop_cluster "$dir"; rm -rf "$dir"' EXIT
	fs_start_cluster "$dir" "synchronous_commit = off
max_wal_size = 4GB"
fi
psql() { fs_as_user "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
db=${DB:-bench_attribution}
psql -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"

fs_say "generating a month"
python3 $here/gen.py "$dir/gen"
chmod -R a+r "$dir/gen"
fs_say "loading through the camera path and deciding the deals"
psql -d "$db" -v dir="$dir/gen" -f $here/load.sql
[ "${VIEWS:-1}" = 0 ] && exit 0
fs_say "views over a year of 50 projects"
psql -d "$db" -v projects="${YEAR_PROJECTS:-50}" -v per_day="${YEAR_VISITS_PER_DAY:-60}" -f $here/views.sql
if [ -n "${OLD:-}" ]; then
	fs_say "the views against those of $OLD"
	git show "$OLD:src/sql/320_views.sql" | sed '/^CREATE INDEX deal_person/d' >"$dir/old_views.sql"
	chmod a+r "$dir/old_views.sql"
	psql -d "$db" -v old="$dir/old_views.sql" -v rounds="${ROUNDS:-2}" -f $here/compare_views.sql
fi
