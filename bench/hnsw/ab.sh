#!/usr/bin/env bash
# bench/hnsw/ab.sh OLD_PG NEW_PG: embedding_hnsw of two builds of firstsight,
# old against new, in one run (issue 19: a refactor must keep build time and
# QPS at equal recall within 10%).
#
# OLD_PG and NEW_PG are private PostgreSQL trees (test/private_pg.sh), each
# with its firstsight installed (make PG_CONFIG=DIR/bin/pg_config install).
# One data directory serves both: the server is started from one tree, then
# from the other (PostgreSQL finds its libraries relative to its binary), so
# both search the same table rows.  Both builds must install the same SQL
# (the same extension version and catalog).
#
# Data (DATA): face (default), face-like vectors from bench/hnsw/gen_faces.c
# (fixed seed), ROWS captures x DIMS of ROWS/5 identities, QUERIES held-out
# captures; random, ROWS and QUERIES vectors of DIMS components uniform in
# [-0.5, 0.5) (PostgreSQL's random() after setseed from SEED).  Exact
# top-10 by cosine distance once, by sequential scans.  Then PAIRS pairs,
# each old then new (the order flips every pair): restart the server with
# that tree, CREATE INDEX (m = 16, ef_construction = 64, serial), and for
# each ef_search in EF_LIST one untimed pass (its recall@10) and one timed
# pass of all queries (QPS by the backend's CPU time; the build's time is
# its backend's CPU time, and wall time); DROP INDEX.  Prints each
# pair and the medians, and the median of the per-pair ratios new/old.
#
# Settings: DATA (face), ROWS (20000), DIMS (128), QUERIES (500), SEED (42), PAIRS (3),
# EF_LIST ("40 100 200"), KEEP (keep the scratch directory).
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh

OLD=${1:?usage: bench/hnsw/ab.sh OLD_PG NEW_PG}
NEW=${2:?usage: bench/hnsw/ab.sh OLD_PG NEW_PG}
ROWS=${ROWS:-20000}
DIMS=${DIMS:-128}
QUERIES=${QUERIES:-500}
SEED=${SEED:-42}
PAIRS=${PAIRS:-3}
EF_LIST=${EF_LIST:-40 100 200}
DATA=${DATA:-face}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

T=$(mktemp -d "${TMPDIR:-/tmp}/fs-bench-ab.XXXXXX")
chmod 755 "$T"
RUNNING=""
cleanup() {
	[ -n "$RUNNING" ] && fs_as_user "$RUNNING/bin/pg_ctl" -D "$T/data" -m fast -w stop >/dev/null 2>&1
	if [ -n "${KEEP:-}" ]; then fs_say "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
gcc -O2 -o "$T/gen_faces" bench/hnsw/gen_faces.c -lm
[ "$(id -u)" = 0 ] && chown -R "$(fs_run_user)" "$T"

PORT=$((20000 + RANDOM % 20000))
fs_as_user "$NEW/bin/initdb" -D "$T/data" -A trust -U postgres --no-sync >/dev/null
cat >>"$T/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$T'
fsync = off
shared_buffers = 512MB
maintenance_work_mem = '1GB'
max_parallel_maintenance_workers = 0
autovacuum = off
synchronous_commit = off
jit = off
CONF
start() {
	fs_as_user "$1/bin/pg_ctl" -D "$T/data" -l "$T/server.log" -w start >/dev/null
	RUNNING=$1
}
stop() {
	fs_as_user "$RUNNING/bin/pg_ctl" -D "$T/data" -m fast -w stop >/dev/null
	RUNNING=""
}
export PGHOST=$T PGPORT=$PORT PGUSER=postgres
q() { "$NEW/bin/psql" -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f\n", b - a}'; }
median() { sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

start "$NEW"
q -c "CREATE EXTENSION firstsight" -c "ALTER DATABASE postgres SET search_path = public, firstsight"
q -c "CREATE TABLE t (id int, e embedding($DIMS)); CREATE TABLE qt (qid int PRIMARY KEY, e embedding($DIMS))"
if [ "$DATA" = random ]; then
	# (the subquery names the row, so it is run for each)
	q -c "SELECT setseed(1.0 / ($SEED + 1))" \
		-c "INSERT INTO t SELECT i, ARRAY(SELECT random()::real - 0.5 FROM generate_series(1, $DIMS) WHERE i > 0)::embedding FROM generate_series(1, $ROWS) i" \
		-c "INSERT INTO qt SELECT i, ARRAY(SELECT random()::real - 0.5 FROM generate_series(1, $DIMS) WHERE i > 0)::embedding FROM generate_series(1, $QUERIES) i"
else
	"$T/gen_faces" --table --rows "$ROWS" --identities $((ROWS / 5)) --dims "$DIMS" --seed "$SEED" >"$T/rows.bin"
	"$T/gen_faces" --queries "$QUERIES" --rows "$ROWS" --identities $((ROWS / 5)) --dims "$DIMS" --seed "$SEED" >"$T/queries.bin"
	q -c "COPY t FROM STDIN (FORMAT binary)" <"$T/rows.bin"
	q -c "COPY qt FROM STDIN (FORMAT binary)" <"$T/queries.bin"
fi
q -c "VACUUM ANALYZE t" && q -c "VACUUM ANALYZE qt"
q -c "CREATE TABLE gt (qid int PRIMARY KEY, ids int[])" -c "SET enable_indexscan = off" -c "SET enable_bitmapscan = off" \
	-c "INSERT INTO gt SELECT q.qid, ARRAY(SELECT t.id FROM t ORDER BY t.e <=> q.e, t.id LIMIT 10) FROM qt q"
stop
{
	echo "SET enable_seqscan = off;"
	echo "PREPARE k(int) AS SELECT \$1, ARRAY(SELECT id FROM t ORDER BY e <=> (SELECT e FROM qt WHERE qid = \$1) LIMIT 10);"
	for ((i = 1; i <= QUERIES; i++)); do echo "EXECUTE k($i);"; done
} >"$T/pass.sql"
# the timed pass: the queries once untimed, then timed in the same session
# by the backend's CPU time (utime + stime of /proc/PID/stat: on a shared
# machine wall time measures the other jobs as much as the search)
cpu='\! awk '"'"'{print $14 + $15}'"'"' /proc/$BPID/stat'
{
	echo "\\o /dev/null"
	echo "SELECT pg_backend_pid() AS bpid \\gset"
	echo "\\setenv BPID :bpid"
	cat "$T/pass.sql"
	echo "\\o"
	echo "$cpu"
	echo "\\o /dev/null"
	grep EXECUTE "$T/pass.sql"
	echo "\\o"
	echo "$cpu"
} >"$T/timed.sql"
# the build, timed the same way (a serial build runs in the backend)
{
	echo "SELECT pg_backend_pid() AS bpid \\gset"
	echo "\\setenv BPID :bpid"
	echo "$cpu"
	echo "CREATE INDEX t_hnsw ON t USING embedding_hnsw (e embedding_cosine_ops) WITH (m = 16, ef_construction = 64);"
	echo "$cpu"
} >"$T/build.sql"
chmod 644 "$T/pass.sql" "$T/timed.sql" "$T/build.sql"
HZ=$(getconf CLK_TCK)
ticks() { awk -v hz="$HZ" 'NR == 1 {a = $1} NR == 2 {printf "%.2f\n", ($1 - a) / hz}'; }

: >"$T/results"
# one measurement: $1 = label (old|new), $2 = tree, $3 = pair
measure() {
	local t0 b s
	start "$2"
	q -c "CHECKPOINT"
	t0=$(now)
	b=$(q -f "$T/build.sql" | ticks)
	echo "$1 $3 build $b $(elapsed "$t0")" >>"$T/results"
	for ef in $EF_LIST; do
		PGOPTIONS="-c firstsight.hnsw_ef_search=$ef" q -F '|' -f "$T/pass.sql" >"$T/out"
		r=$(q -F ' ' -c "CREATE TEMP TABLE r (qid int, ids int[])" -c "\\copy r FROM '$T/out' (DELIMITER '|')" \
			-c "SELECT round(avg((SELECT count(*) FROM unnest(r.ids) x WHERE x = ANY (g.ids)) / 10.0), 4) FROM r JOIN gt g USING (qid)")
		s=$(PGOPTIONS="-c firstsight.hnsw_ef_search=$ef" q -f "$T/timed.sql" | ticks)
		echo "$1 $3 ef$ef $r $(awk -v n="$QUERIES" -v s="$s" 'BEGIN {printf "%.0f", n / s}')" >>"$T/results"
	done
	q -c "DROP INDEX t_hnsw"
	stop
	fs_say "pair $3 $1 (load $(cut -d' ' -f1 /proc/loadavg)): $(grep "^$1 $3 " "$T/results" | cut -d' ' -f3- | paste -sd ';' | sed 's/;/; /g')"
}
for ((p = 1; p <= PAIRS; p++)); do
	if [ $((p % 2)) = 1 ]; then measure old "$OLD" "$p"; measure new "$NEW" "$p"
	else measure new "$NEW" "$p"; measure old "$OLD" "$p"; fi
done

echo "## embedding_hnsw, old against new build ($DATA data, $ROWS x $DIMS, $QUERIES queries, $PAIRS pairs, load $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
echo
echo "| measure | old (median) | new (median) | median of ratios new/old |"
echo "|---|---:|---:|---:|"
ratios() { # $1 = field selector (build | efN), $2 = column
	for ((p = 1; p <= PAIRS; p++)); do
		awk -v p="$p" -v f="$1" -v c="$2" '$2 == p && $3 == f {v[$1] = $c} END {printf "%.4f\n", v["new"] / v["old"]}' "$T/results"
	done | median
}
col() { awk -v l="$1" -v f="$2" -v c="$3" '$1 == l && $3 == f {print $c}' "$T/results" | median; }
echo "| build, backend CPU s | $(col old build 4) | $(col new build 4) | $(ratios build 4) |"
echo "| build, wall s | $(col old build 5) | $(col new build 5) | $(ratios build 5) |"
for ef in $EF_LIST; do
	echo "| recall@10, ef_search $ef | $(col old "ef$ef" 4) | $(col new "ef$ef" 4) | |"
	echo "| QPS (backend CPU), ef_search $ef | $(col old "ef$ef" 5) | $(col new "ef$ef" 5) | $(ratios "ef$ef" 5) |"
done
echo
echo "Per pair (label, pair, measure: build CPU s and wall s; efN recall@10 and QPS):"
echo '```'
cat "$T/results"
echo '```'
