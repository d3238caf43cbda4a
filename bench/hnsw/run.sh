#!/usr/bin/env bash
# bench/hnsw/run.sh: embedding_hnsw against pgvector's hnsw, side by side in one
# throwaway cluster and one run (issue 3).
#
# Data: face-like vectors from bench/hnsw/gen_faces.c (fixed seed): IDENTITIES
# persons, ROWS captures (ids of one person adjacent), QUERIES held-out
# captures of known persons.  The same COPY BINARY file loads
#   t_fs (id int, e firstsight.embedding(DIMS))   and   t_pv (id int, e vector(DIMS)),
# each with its extension's default storage.  Exact top-10 by cosine distance
# is computed once per query before any index exists.
#
# Measures, for both: build time (m=16, ef_construction=64, same
# maintenance_work_mem, max_parallel_maintenance_workers = 0), index size;
# for each ef_search in EF_LIST recall@1, recall@10 and single-client QPS
# (one psql session, a prepared statement, a warm-up pass then PASSES timed
# passes, median); then after deleting half the rows (same ids): the time of
# VACUUM (INDEX_CLEANUP ON), index_check on ours, and recall against a new
# exact top-10 over the remaining rows.  Optionally (PARALLEL=1) both indexes
# are built a second time with 2 parallel workers (the table's
# parallel_workers = 2, max_parallel_maintenance_workers = 2), timed and
# dropped: the serial builds are the ones searched.
#
# Settings (environment): ROWS (100000), DIMS (512), IDENTITIES (ROWS/5),
# QUERIES (2000: with 500, one query is 0.002 of recall and the sampling
# error at 0.99 about 0.005, which decided more than once which ef_search
# first reached 0.99), SEED (42), EF_LIST ("40 60 80 100 150 200 300 400
# 600 800": steps of at most 1.5x, so "the first ef_search reaching a
# recall" lands near where each index really does), PASSES (1),
# M (16), EF_CONSTRUCTION (64), MWM (maintenance_work_mem, 2GB),
# PARALLEL (0), VACUUM_TIMEOUT (600: a VACUUM still running then is
# cancelled and reported as ">600"; pgvector's took 390 s at 20,000 rows on a
# loaded machine, so at 100,000 it needs the cap to keep the run near 30
# minutes), RESULTS (1: write the table into bench/RESULTS.md under
# "Index (issue 3)"; 0: print only), KEEP (keep the scratch directory),
# CPU (0: QPS from each pass's wall time, a new session per pass; 1: from
# the backend's CPU time, utime + stime in /proc, around the timed run of the
# queries after an untimed run in the same session: steadier on a shared
# machine, and without the session's start-up and first touches of shared
# memory).
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh
. bench/lib.sh

ROWS=${ROWS:-100000}
DIMS=${DIMS:-512}
IDENTITIES=${IDENTITIES:-$((ROWS / 5))}
QUERIES=${QUERIES:-2000}
SEED=${SEED:-42}
EF_LIST=${EF_LIST:-40 60 80 100 150 200 300 400 600 800}
PASSES=${PASSES:-1}
M=${M:-16}
EF_CONSTRUCTION=${EF_CONSTRUCTION:-64}
MWM=${MWM:-2GB}
PARALLEL=${PARALLEL:-${PV_PARALLEL:-0}}
VACUUM_TIMEOUT=${VACUUM_TIMEOUT:-600}
RESULTS=${RESULTS:-1}
CPU=${CPU:-0}
COMMAND="$(for v in ROWS DIMS IDENTITIES QUERIES SEED EF_LIST PASSES M EF_CONSTRUCTION MWM PARALLEL VACUUM_TIMEOUT CPU; do
	[ -n "${!v+x}" ] && printf "%s='%s' " "$v" "${!v}"; done)bench/hnsw/run.sh"
# (the variables are all set by now, so the command shows every setting)

# A private build and installation.  Other engineers build, test and install
# firstsight into the shared PostgreSQL directories all the time (a new
# firstsight.so mid-run gives new backends another build, or a library that
# does not match the catalog).  So: the committed tree (git HEAD, not the
# working tree) is built in the scratch directory and installed there with
# DESTDIR, and the server runs from a copy of the postgres binary in that
# tree: PostgreSQL finds its lib and share directories relative to its
# binary, so it loads our firstsight.so, and the rest of the libraries
# (pgvector's too) through symbolic links.
fs_install_deps || exit 1
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/fs-bench-hnsw.XXXXXX")
chmod 755 "$BENCH_TMP"
trap bench_cleanup EXIT
T=$BENCH_TMP
PGDIR=$BENCH_PG_BIN/..
PRIV=$T/pg$(cd "$PGDIR" && pwd -P)
SHAREDIR=$("$BENCH_PG_BIN/pg_config" --sharedir)
REV=$(git rev-parse --short HEAD)
fs_say "building firstsight $REV (git HEAD) into $T"
mkdir -p "$T/src"
git archive HEAD | tar -x -C "$T/src"
make -s -C "$T/src" -j"$(nproc)" PG_CONFIG="$BENCH_PG_BIN/pg_config" >/dev/null
make -s -C "$T/src" install DESTDIR="$T/pg" PG_CONFIG="$BENCH_PG_BIN/pg_config" >/dev/null
mkdir -p "$PRIV/bin" "$PRIV/lib" "$T/pg$SHAREDIR"
cp "$BENCH_PG_BIN/postgres" "$BENCH_PG_BIN/pg_ctl" "$PRIV/bin/"
for f in "$PGDIR"/lib/*; do
	[ -e "$PRIV/lib/${f##*/}" ] || ln -s "$(readlink -f "$f")" "$PRIV/lib/${f##*/}"
done
cp -rn "$SHAREDIR/." "$T/pg$SHAREDIR/"
[ "$(id -u)" = 0 ] && chown -R "$(fs_run_user)" "$T"
gcc -O2 -o "$T/gen_faces" bench/hnsw/gen_faces.c -lm

# fs_start_cluster with the private binaries
FS_PORT=$((20000 + RANDOM % 20000))
fs_as_user "$BENCH_PG_BIN/initdb" -D "$T/data" -A trust -U postgres --no-sync >/dev/null
cat >>"$T/data/postgresql.conf" <<CONF
port = $FS_PORT
listen_addresses = ''
unix_socket_directories = '$T'
fsync = off
shared_buffers = 2GB
maintenance_work_mem = '$MWM'
max_parallel_maintenance_workers = 0
autovacuum = off
synchronous_commit = off
checkpoint_timeout = 30min
max_wal_size = 16GB
jit = off
CONF
fs_as_user "$PRIV/bin/pg_ctl" -D "$T/data" -l "$T/server.log" -w start >/dev/null
export PGHOST=$T PGPORT=$FS_PORT PGUSER=postgres
psql_q() { bench_psql "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f\n", b - a}'; }
START=$(now)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

psql_q -c "CREATE EXTENSION firstsight"
# the library really is the private one
LIB=$(psql_q -c "SELECT firstsight.dims('[1]'::firstsight.embedding)" -c "SELECT pg_read_file('/proc/self/maps')" |
	grep -o '/[^ ]*firstsight\.so' | head -1 || true)
case "$LIB" in "$T"/*) ;; *) fs_say "the server loaded ${LIB:-no} firstsight.so, not the private one"; exit 1 ;; esac
fs_say "firstsight library: ${LIB:-?}"
PV=0
if bench_have_pgvector; then
	PV=1
	fs_say "pgvector $(psql_q -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'") found: comparing"
else
	fs_say "CREATE EXTENSION vector failed: the pgvector comparison is skipped"
fi
psql_q -c "ALTER DATABASE postgres SET search_path = public, firstsight"

# ---- data -----------------------------------------------------------------
fs_say "generating $ROWS x $DIMS ($IDENTITIES identities) and $QUERIES queries, seed $SEED"
"$T/gen_faces" --table --rows "$ROWS" --identities "$IDENTITIES" --dims "$DIMS" --seed "$SEED" >"$T/rows.bin"
"$T/gen_faces" --queries "$QUERIES" --rows "$ROWS" --identities "$IDENTITIES" --dims "$DIMS" --seed "$SEED" >"$T/queries.bin"
psql_q <<SQL
CREATE TABLE t_fs (id int, e firstsight.embedding($DIMS));
CREATE TABLE q_fs (qid int PRIMARY KEY, e firstsight.embedding($DIMS));
SQL
psql_q -c "COPY t_fs FROM STDIN (FORMAT binary)" <"$T/rows.bin"
psql_q -c "COPY q_fs FROM STDIN (FORMAT binary)" <"$T/queries.bin"
if [ $PV = 1 ]; then
	psql_q <<SQL
CREATE TABLE t_pv (id int, e vector($DIMS));
CREATE TABLE q_pv (qid int PRIMARY KEY, e vector($DIMS));
SQL
	psql_q -c "COPY t_pv FROM STDIN (FORMAT binary)" <"$T/rows.bin"
	psql_q -c "COPY q_pv FROM STDIN (FORMAT binary)" <"$T/queries.bin"
fi
rm -f "$T/rows.bin"
# one table per session: on this server a session whose ANALYZE loads a
# library for the first time fails with "attempt to redefine parameter" when
# a later ANALYZE or query of that session uses the library again
analyze_all() { for t in t_fs q_fs t_pv q_pv; do
	{ [ "${t#*_}" = pv ] && [ $PV = 0 ]; } || psql_q -c "VACUUM ANALYZE $t"; done; }
analyze_all

# the data is what the issue asks for: similarity of captures of one person
# and of different persons (a sample of the table)
SIMS=$(psql_q -F ' ' <<SQL
WITH s AS (SELECT id, e, (id - 1)::bigint * $IDENTITIES / $ROWS AS person FROM t_fs WHERE id <= 5000)
SELECT 'same person: ' || round(min(sim)::numeric, 2) || ' .. ' || round(max(sim)::numeric, 2) || ' (mean ' || round(avg(sim)::numeric, 2) || ')'
FROM (SELECT 1 - (a.e <=> b.e) AS sim FROM s a JOIN s b ON a.person = b.person AND a.id < b.id) x
UNION ALL
SELECT 'different persons: ' || round(min(sim)::numeric, 2) || ' .. ' || round(max(sim)::numeric, 2) || ' (mean ' || round(avg(sim)::numeric, 2) || ')'
FROM (SELECT 1 - (a.e <=> b.e) AS sim FROM s a JOIN s b ON a.person <> b.person AND a.id < b.id AND a.id <= 300) x;
SQL
)
fs_say "cosine similarity in the data: $(echo "$SIMS" | paste -sd ';' | sed 's/;/; /')"

# exact top-10 by cosine distance for every query (no index: exact scans);
# $1 = table name for the result.  Two sessions, each half of the queries.
ground_truth() {
	psql_q -c "DROP TABLE IF EXISTS $1; CREATE TABLE $1 (qid int PRIMARY KEY, ids int[])"
	for half in 0 1; do
		psql_q <<SQL &
SET enable_indexscan = off; SET enable_bitmapscan = off;
INSERT INTO $1 SELECT q.qid, ARRAY(SELECT t.id FROM t_fs t ORDER BY t.e <=> q.e, t.id LIMIT 10)
FROM q_fs q WHERE q.qid % 2 = $half;
SQL
	done
	wait
}
t0=$(now)
ground_truth gt
fs_say "exact top-10 of $QUERIES queries: $(elapsed "$t0") s"

# ---- builds -----------------------------------------------------------------
# $1 = table, $2 = index name, $3 = USING clause; prints seconds
build() {
	psql_q -c "CHECKPOINT" >/dev/null
	local t0
	t0=$(now)
	psql_q -c "CREATE INDEX $2 ON $1 USING $3 WITH (m = $M, ef_construction = $EF_CONSTRUCTION)" >&2
	elapsed "$t0"
}
size_mb() { psql_q -c "SELECT round(pg_relation_size('$1') / 1048576.0, 1)"; }

# $1 = table, $2 = USING clause: a build with 2 parallel workers, dropped; prints seconds
build_parallel() {
	local t
	psql_q -c "ALTER TABLE $1 SET (parallel_workers = 2)"
	t=$(PGOPTIONS="-c max_parallel_maintenance_workers=2" build "$1" "$1_hnsw_par" "$2")
	psql_q -c "DROP INDEX $1_hnsw_par; ALTER TABLE $1 RESET (parallel_workers)"
	echo "$t"
}

fs_say "building embedding_hnsw (serial)"
B_FS=$(build t_fs t_fs_hnsw "embedding_hnsw (e embedding_cosine_ops)")
S_FS=$(size_mb t_fs_hnsw)
fs_say "embedding_hnsw: $B_FS s, $S_FS MB"
B_FSP=""
B_PVP=""
if [ "$PARALLEL" = 1 ]; then
	fs_say "building embedding_hnsw again with 2 parallel workers"
	B_FSP=$(build_parallel t_fs "embedding_hnsw (e embedding_cosine_ops)")
	fs_say "embedding_hnsw, 2 workers: $B_FSP s"
fi
if [ $PV = 1 ]; then
	fs_say "building pgvector hnsw (serial)"
	B_PV=$(build t_pv t_pv_hnsw "hnsw (e vector_cosine_ops)")
	S_PV=$(size_mb t_pv_hnsw)
	fs_say "pgvector: $B_PV s, $S_PV MB"
	if [ "$PARALLEL" = 1 ]; then
		# pgvector sizes its workers by the heap, which is small when the
		# vectors are TOASTed: 2 asked for explicitly, as for ours
		fs_say "building pgvector hnsw again with 2 parallel workers"
		B_PVP=$(build_parallel t_pv "hnsw (e vector_cosine_ops)")
		fs_say "pgvector, 2 workers: $B_PVP s"
	fi
fi
analyze_all

# ---- searches ---------------------------------------------------------------
# the script of one pass: $1 = table, $2 = query table
make_script() {
	local cpu="\\! awk '{print \$14 + \$15}' /proc/\$BPID/stat >$T/cpu_$1"
	{
		echo "SET enable_seqscan = off;"
		echo "PREPARE k(int) AS SELECT \$1, ARRAY(SELECT id FROM $1 ORDER BY e <=> (SELECT e FROM $2 WHERE qid = \$1) LIMIT 10);"
		if [ "$CPU" = 1 ]; then
			# the same queries once untimed in this session, then the backend's CPU ticks around the timed run
			echo "SELECT pg_backend_pid() AS bpid \\gset"
			echo "\\setenv BPID :bpid"
			for ((i = 1; i <= QUERIES; i++)); do echo "EXECUTE k($i);"; done
			echo "$cpu.0"
		fi
		for ((i = 1; i <= QUERIES; i++)); do echo "EXECUTE k($i);"; done
		if [ "$CPU" = 1 ]; then echo "$cpu.1"; fi
	} >"$T/pass_$1.sql"
	chmod 644 "$T/pass_$1.sql"
}
make_script t_fs q_fs
[ $PV = 1 ] && make_script t_pv q_pv
# the plans must be index scans
check_plan() {
	local plan
	plan=$(psql_q -c "SET enable_seqscan = off" -c "EXPLAIN (COSTS OFF) SELECT id FROM $1 ORDER BY e <=> (SELECT e FROM $2 WHERE qid = 1) LIMIT 10")
	if ! grep -q "Index Scan using ${1}_hnsw" <<<"$plan"; then
		echo "$plan" >&2
		fs_say "the search on $1 does not use its index"
		exit 1
	fi
}
check_plan t_fs q_fs
[ $PV = 1 ] && check_plan t_pv q_pv

# one pass: $1 = table, $2 = ef_search, $3 = output file; prints seconds
pass() {
	local t0
	t0=$(now)
	PGOPTIONS="-c firstsight.hnsw_ef_search=$2 -c hnsw.ef_search=$2" bench_psql -F '|' -f "$T/pass_$1.sql" >"$3"
	if [ "$CPU" = 1 ]; then
		awk -v a="$(cat "$T/cpu_$1.0")" -v b="$(cat "$T/cpu_$1.1")" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f\n", (b - a) / hz}'
	else
		elapsed "$t0"
	fi
}
# recall@1 and recall@10 of a pass's output $1 against ground truth table $2
recall() {
	psql_q -F ' ' -c "CREATE TEMP TABLE r (qid int, ids int[])" -c "\\copy r FROM '$1' (DELIMITER '|')" -c "
		SELECT round(avg((r.ids[1] = g.ids[1])::int), 3),
		       round(avg((SELECT count(*) FROM unnest(r.ids) x WHERE x = ANY (g.ids)) / 10.0), 3)
		FROM r JOIN $2 g USING (qid)"
}
# $1 = label (before|after), $2 = ground truth table, $3 = timed passes
search_all() {
	for ef in $EF_LIST; do
		for tab in t_fs t_pv; do
			[ "$tab" = t_pv ] && [ $PV = 0 ] && continue
			pass "$tab" "$ef" "$T/out_${tab}_$ef" >/dev/null # warm-up, gives the recall
			read -r r1 r10 <<<"$(recall "$T/out_${tab}_$ef" "$2")"
			echo "$1 $tab $ef recall $r1 $r10" >>"$T/results"
		done
		for ((p = 1; p <= $3; p++)); do
			for tab in t_fs t_pv; do
				[ "$tab" = t_pv ] && [ $PV = 0 ] && continue
				echo "$1 $tab $ef secs $(pass "$tab" "$ef" /dev/null)" >>"$T/results"
			done
		done
		fs_say "$1, ef_search $ef: $(grep "^$1 [a-z_]* $ef " "$T/results" | awk '{printf "%s %s %s %s; ", $2, $4, $5, $6}')"
	done
}
: >"$T/results"
search_all before gt "$PASSES"

# ---- delete half, VACUUM ----------------------------------------------------
fs_say "deleting every even id, then VACUUM (INDEX_CLEANUP ON)"
psql_q -c "DELETE FROM t_fs WHERE id % 2 = 0"
[ $PV = 1 ] && psql_q -c "DELETE FROM t_pv WHERE id % 2 = 0"
# VACUUM ($2) $1 under statement_timeout = VACUUM_TIMEOUT s; prints seconds,
# or ">VACUUM_TIMEOUT" when cancelled
vac() {
	psql_q -c "CHECKPOINT" >/dev/null
	local t0
	t0=$(now)
	if PGOPTIONS="-c statement_timeout=${VACUUM_TIMEOUT}s" psql_q -c "VACUUM ($2) $1" 2>"$T/vac.err"; then
		elapsed "$t0"
	else
		grep -q "statement timeout" "$T/vac.err" || { cat "$T/vac.err" >&2; exit 1; }
		echo ">$VACUUM_TIMEOUT"
	fi
}
V_FS=$(vac t_fs "INDEX_CLEANUP ON")
S2_FS=$(size_mb t_fs_hnsw)
[ $PV = 1 ] && { V_PV=$(vac t_pv "INDEX_CLEANUP ON"); S2_PV=$(size_mb t_pv_hnsw); }
# a second, plain VACUUM with nothing left to remove: the fixed cost
V2_FS=$(vac t_fs "ANALYZE")
[ $PV = 1 ] && V2_PV=$(vac t_pv "ANALYZE")
fs_say "VACUUM: embedding_hnsw $V_FS s${V_PV:+, pgvector $V_PV s}; again with nothing to remove: $V2_FS s${V2_PV:+, $V2_PV s}"
CHECK=$(psql_q -c "SELECT count(*) FROM firstsight.index_check('t_fs_hnsw')")
if [ "$CHECK" != 0 ]; then
	fs_say "index_check found $CHECK problems; the first ones:"
	psql_q -c "SELECT * FROM firstsight.index_check('t_fs_hnsw') LIMIT 10" >&2
fi
t0=$(now)
ground_truth gt2
fs_say "exact top-10 over the remaining rows: $(elapsed "$t0") s"
search_all after gt2 1

# ---- report -------------------------------------------------------------------
# value of field $4.. for label $1, table $2, ef $3, kind $4 (recall: r1 r10; secs: median)
get_recall() { awk -v l="$1" -v t="$2" -v e="$3" -v f="$4" '$1 == l && $2 == t && $3 == e && $4 == "recall" {print $(4 + f)}' "$T/results"; }
get_qps() {
	awk -v l="$1" -v t="$2" -v e="$3" '$1 == l && $2 == t && $3 == e && $4 == "secs" {print $5}' "$T/results" | bench_median |
		awk -v q="$QUERIES" '{if ($1 == "nan" || $1 <= 0) print "n/a"; else printf "%.0f\n", q / $1}'
}
# first ef_search in EF_LIST where table $1 reaches recall field $2 >= $3 (before)
first_ef() {
	for ef in $EF_LIST; do
		if awk -v x="$(get_recall before "$1" "$ef" "$2")" -v y="$3" 'BEGIN {exit !(x + 0 >= y)}'; then
			echo "$ef"
			return
		fi
	done
	echo ""
}
ratio() {
	if [ -z "$1" ] || [ -z "$2" ] || [ "$1" = n/a ] || [ "$2" = n/a ]; then echo "n/a"
	elif [ "${1#>}" != "$1" ] && [ "${2#>}" != "$2" ]; then echo "n/a"
	elif [ "${1#>}" != "$1" ]; then echo ">$(bench_ratio "${1#>}" "$2")"
	elif [ "${2#>}" != "$2" ]; then echo "<$(bench_ratio "$1" "${2#>}")"
	else bench_ratio "$1" "$2"; fi
}
verdict() { # $1 ratio, $2 op, $3 target
	awk -v r="$1" -v op="$2" -v t="$3" 'BEGIN {b = substr(r, 1, 1); if (b == "<" || b == ">") r = substr(r, 2)
		if (r == "n/a" || (b == ">" && op == "le") || (b == "<" && op == "ge") || (b == "<" && r + 0 > t) || (b == ">" && r + 0 < t)) print "n/a"
		else if ((op == "le" && r + 0 <= t) || (op == "ge" && r + 0 >= t)) print "met"; else print "**missed**"}'
}

E1_FS=$(first_ef t_fs 1 0.99)
E10_FS=$(first_ef t_fs 2 0.90)
Q1_FS=${E1_FS:+$(get_qps before t_fs "$E1_FS")}
Q10_FS=${E10_FS:+$(get_qps before t_fs "$E10_FS")}
AR1_FS=${E1_FS:+$(get_recall after t_fs "$E1_FS" 1)}
if [ $PV = 1 ]; then
	E1_PV=$(first_ef t_pv 1 0.99)
	E10_PV=$(first_ef t_pv 2 0.90)
	Q1_PV=${E1_PV:+$(get_qps before t_pv "$E1_PV")}
	Q10_PV=${E10_PV:+$(get_qps before t_pv "$E10_PV")}
	AR1_PV=${E1_PV:+$(get_recall after t_pv "$E1_PV" 1)}
fi

REPORT=$T/report.md
{
	echo "## Index (issue 3)"
	echo
	echo "Command: \`$COMMAND\` (whole run $(elapsed "$START") s)."
	echo "$(bench_machine); load average (1, 5, 15 min) $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
	echo "firstsight $REV (git HEAD, built and installed privately by the script); pgvector $([ $PV = 1 ] && psql_q -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'" || echo 'not installed: comparison skipped')."
	echo "Data: $ROWS captures x $DIMS dims of $IDENTITIES identities, $QUERIES held-out queries, seed $SEED; cosine similarity $(echo "$SIMS" | paste -sd ';' | sed 's/;/; /')."
	echo "Both indexes: m = $M, ef_construction = $EF_CONSTRUCTION, maintenance_work_mem = $MWM, max_parallel_maintenance_workers = 0; shared_buffers = 2GB; each table with its extension's default storage."
	if [ "$CPU" = 1 ]; then echo "QPS from the backend's CPU time (CPU=1): each pass runs the queries once untimed, then timed, in one session."; fi
	echo "QPS: one psql session, a prepared statement \`SELECT \$1, ARRAY(SELECT id FROM t ORDER BY e <=> (SELECT e FROM q WHERE qid = \$1) LIMIT 10)\` per query, a warm-up pass, median of $PASSES passes (1 after VACUUM)."
	echo
	if [ $PV = 1 ]; then
		echo "| measure | firstsight | pgvector | ratio fs/pv | target | |"
		echo "|---|---:|---:|---:|---:|---|"
		r=$(ratio "$B_FS" "$B_PV"); echo "| build time, s (serial) | $B_FS | $B_PV | $r | <= 0.6 | $(verdict "$r" le 0.6) |"
		if [ -n "${B_FSP:-}" ]; then
			r=$(ratio "$B_FSP" "$B_PVP"); echo "| build time, s (2 parallel workers each) | $B_FSP | $B_PVP | $r | <= 0.6 | $(verdict "$r" le 0.6) |"
			echo "| build time, ours with 2 workers against pgvector serial | $B_FSP | $B_PV | $(ratio "$B_FSP" "$B_PV") | - | |"
		fi
		r=$(ratio "$S_FS" "$S_PV"); echo "| index size, MB | $S_FS | $S_PV | $r | <= 1.0 | $(verdict "$r" le 1.0) |"
		r=$(ratio "$Q1_FS" "$Q1_PV"); echo "| QPS at first ef_search with recall@1 >= 0.99 | ${Q1_FS:-n/a} (ef ${E1_FS:-never}) | ${Q1_PV:-n/a} (ef ${E1_PV:-never}) | $r | >= 1.5 | $(verdict "$r" ge 1.5) |"
		r=$(ratio "$Q10_FS" "$Q10_PV"); echo "| QPS at first ef_search with recall@10 >= 0.90 | ${Q10_FS:-n/a} (ef ${E10_FS:-never}) | ${Q10_PV:-n/a} (ef ${E10_PV:-never}) | $r | >= 1.5 | $(verdict "$r" ge 1.5) |"
		r=$(ratio "$V_FS" "$V_PV"); echo "| VACUUM (INDEX_CLEANUP ON) after deleting 50%, s | $V_FS | $V_PV | $r | <= 0.5 | $(verdict "$r" le 0.5) |"
		echo "| VACUUM (ANALYZE) again, nothing to remove (mostly ANALYZE: t_fs's vectors are inline, t_pv's in TOAST), s | $V2_FS | $V2_PV | $(ratio "$V2_FS" "$V2_PV") | - | |"
		echo "| index size after VACUUM, MB | $S2_FS | $S2_PV | $(ratio "$S2_FS" "$S2_PV") | - | |"
		echo "| recall@1 after VACUUM at the ef_search above | ${AR1_FS:-n/a} (ef ${E1_FS:-never}) | ${AR1_PV:-n/a} (ef ${E1_PV:-never}) | - | >= 0.99 (fs) | $(awk -v x="${AR1_FS:-}" 'BEGIN {if (x == "") print "n/a"; else if (x + 0 >= 0.99) print "met"; else print "**missed**"}') |"
		echo "| index_check after VACUUM, problems | $CHECK | | | 0 | |"
	else
		echo "pgvector comparison skipped (CREATE EXTENSION vector failed)."
		echo
		echo "| measure | firstsight |"
		echo "|---|---:|"
		echo "| build time, s | $B_FS |"
		echo "| index size, MB | $S_FS |"
		echo "| VACUUM (INDEX_CLEANUP ON) after deleting 50%, s | $V_FS |"
		echo "| index_check after VACUUM, problems | $CHECK |"
	fi
	echo
	echo "| ef_search | fs recall@1 | fs recall@10 | fs QPS | pv recall@1 | pv recall@10 | pv QPS | QPS fs/pv | after VACUUM: fs recall@1 | fs recall@10 | fs QPS | pv recall@1 | pv recall@10 | pv QPS |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for ef in $EF_LIST; do
		qf=$(get_qps before t_fs "$ef"); qp=$([ $PV = 1 ] && get_qps before t_pv "$ef" || echo n/a)
		echo "| $ef | $(get_recall before t_fs "$ef" 1) | $(get_recall before t_fs "$ef" 2) | $qf | $(get_recall before t_pv "$ef" 1) | $(get_recall before t_pv "$ef" 2) | $qp | $(ratio "$qf" "$qp") | $(get_recall after t_fs "$ef" 1) | $(get_recall after t_fs "$ef" 2) | $(get_qps after t_fs "$ef") | $(get_recall after t_pv "$ef" 1) | $(get_recall after t_pv "$ef" 2) | $([ $PV = 1 ] && get_qps after t_pv "$ef" || echo n/a) |"
	done
} >"$REPORT"
cat "$REPORT"

# ---- bench/RESULTS.md: replace the section, or put it first -----------------
if [ "$RESULTS" = 1 ]; then
	awk -v rep="$REPORT" '
		function emit() { while ((getline l < rep) > 0) print l; print ""; done = 1 }
		/^## Index \(issue 3\)/ { if (!done) emit(); skip = 1; next }
		/^## / { if (!done) emit(); skip = 0 }
		!skip { print }
		END { if (!done) emit() }
	' bench/RESULTS.md >"$T/RESULTS.md"
	cat "$T/RESULTS.md" >bench/RESULTS.md
	fs_say "bench/RESULTS.md: section \"Index (issue 3)\" written"
fi
