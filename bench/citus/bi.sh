#!/usr/bin/env bash
# bench/citus/bi.sh: BI view latency at headquarters on Citus (a coordinator
# and two workers, all on this machine) against plain PostgreSQL, for the
# same facts (docs/scale-out.md).  A year of PROJECTS projects (PER_DAY
# visits a day each) is written into a plain database (gen.sql), copied to
# the Citus coordinator (pg_dump of the fact tables; citus_distribute and
# citus_hq_forwarding made the tables first), then each view is timed at both
# (time.sql: median of ROUNDS) and the ratio Citus / plain printed.
# Needs Citus installed in the server's installation (PGBIN's; build it from
# source, see docs/scale-out.md).  Settings: PROJECTS (20), PER_DAY (60),
# ROUNDS (3), SHARDS (8, citus.shard_count), PGBIN, FS_NO_INSTALL=1.  Bounded: four clusters in one
# temporary directory, removed at the end (KEEP=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh

PROJECTS=${PROJECTS:-20}
PER_DAY=${PER_DAY:-60}
ROUNDS=${ROUNDS:-3}
BIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ ! -e "$("$BIN/pg_config" --pkglibdir)/citus.so" ]; then
	echo "Citus is not installed in $BIN/..: build Citus 13.2 for PostgreSQL 15 first (docs/scale-out.md)" >&2
	exit 1
fi
if [ "${FS_NO_INSTALL:-0}" != 1 ]; then
	fs_install_deps
	fs_build_install
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/fs-citus.XXXXXX")
chmod 755 "$dir"; [ "$(id -u)" = 0 ] && chown "$(fs_run_user)" "$dir"
nodes=(plain coord w1 w2)
cleanup() {
	for n in "${nodes[@]}"; do fs_as_user "$BIN/pg_ctl" -D "$dir/$n" -m fast stop >/dev/null 2>&1 || true; done
	if [ -n "${KEEP:-}" ]; then fs_say "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
base=$(( 20000 + RANDOM % 19000 ))
declare -A port=([plain]=$base [coord]=$((base + 1)) [w1]=$((base + 2)) [w2]=$((base + 3)))
for n in "${nodes[@]}"; do
	fs_as_user "$BIN/initdb" -D "$dir/$n" -A trust -U postgres --no-sync >/dev/null
	cat >>"$dir/$n/postgresql.conf" <<CONF
port = ${port[$n]}
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
shared_buffers = 256MB
synchronous_commit = off
max_wal_size = 4GB
CONF
	if [ "$n" != plain ]; then
		cat >>"$dir/$n/postgresql.conf" <<CONF
shared_preload_libraries = 'citus'
citus.node_conninfo = 'sslmode=disable'
citus.enable_unsafe_triggers = on
citus.enable_repartition_joins = on
citus.shard_count = ${SHARDS:-8}
wal_level = logical
CONF
	fi
	fs_as_user "$BIN/pg_ctl" -D "$dir/$n" -l "$dir/$n.log" -w start >/dev/null
done
export PGHOST=$dir PGUSER=postgres
on() { local n=$1; shift; fs_as_user "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -p "${port[$n]}" -d postgres "$@"; }

fs_say "Citus: coordinator and two workers"
for n in coord w1 w2; do on $n -c 'CREATE EXTENSION citus'; done
on coord -c "SELECT citus_set_coordinator_host('$dir', ${port[coord]})" >/dev/null
for n in w1 w2; do on coord -c "SELECT citus_add_node('$dir', ${port[$n]})" >/dev/null; done
on coord -c 'CREATE EXTENSION firstsight' -c 'SELECT count(*) FROM firstsight.citus_distribute()' \
	-c 'SELECT count(*) FROM firstsight.citus_hq_forwarding()' >/dev/null

fs_say "a year of $PROJECTS projects, $PER_DAY visits a day each, at plain PostgreSQL"
on plain -c 'CREATE EXTENSION firstsight'
on plain -v projects="$PROJECTS" -v per_day="$PER_DAY" -f bench/citus/gen.sql
fs_say "the same facts copied to the Citus coordinator"
t0=$(date +%s.%N)
fs_as_user "$BIN/pg_dump" -p "${port[plain]}" -d postgres --data-only \
	-t firstsight.project -t firstsight.project_setting -t firstsight.retention_policy -t firstsight.consultant \
	-t firstsight.channel -t firstsight.agent -t firstsight.person -t firstsight.visit -t firstsight.deal \
	-t firstsight.attribution | on coord >/dev/null
fs_say "copy: $(echo "$(date +%s.%N) - $t0" | bc) s"
on coord -c "SELECT count(*) AS visits FROM firstsight.visit"

fs_say "timings (ms, median of $ROUNDS)"
on plain -v rounds="$ROUNDS" -v label=plain -f bench/citus/time.sql >"$dir/plain.txt"
on coord -v rounds="$ROUNDS" -v label=citus -f bench/citus/time.sql >"$dir/citus.txt"
printf '%-22s %-13s %8s %10s %10s %7s\n' view scope rows plain_ms citus_ms ratio
join -t'|' <(awk -F'|' '{print $2"/"$3"|"$4"|"$5}' "$dir/plain.txt" | sort) \
           <(awk -F'|' '{print $2"/"$3"|"$4"|"$5}' "$dir/citus.txt" | sort) |
awk -F'|' '{split($1, k, "/"); r = ($3 > 0) ? $5 / $3 : 0;
	printf "%-22s %-13s %8s %10.1f %10.1f %7.2f%s\n", k[1], k[2], $2, $3, $5, r, ($2 == $4) ? "" : "  ROWS DIFFER: " $4}'
