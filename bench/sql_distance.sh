#!/usr/bin/env bash
# bench/sql_distance.sh: SELECT sum(a <=> b) over stored pairs of embeddings,
# firstsight's embedding against pgvector's vector in one database.
#
#   bench/sql_distance.sh [ROWS]        default 1000000 pairs of 512 dimensions
#   env: DIMS (512), RUNS (5 timed runs per round; 2 rounds), SEED (42),
#        SHARED_BUFFERS (default: enough for the larger table, capped by free
#        memory), KEEP=1 keeps the cluster directory
#
# Builds and installs firstsight, starts a throwaway cluster, loads the same
# random values (fixed seed) into an UNLOGGED table of each type with COPY
# BINARY, VACUUM ANALYZE, then, with parallel workers off, with the default
# settings, and with parallel plans forced, times the query in rounds: before each table's block of runs
# the server is restarted (empty shared buffers) and the table (heap, TOAST
# and TOAST index) is loaded into shared buffers with pg_prewarm; in the
# timing session the query runs once untimed.  Prints median ms, the ratio
# firstsight/pgvector, and table sizes.  pgvector is compared only when
# CREATE EXTENSION vector succeeds; nothing here builds it.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/common.sh
. bench/lib.sh

ROWS=${1:-${ROWS:-1000000}}
DIMS=${DIMS:-512}
RUNS=${RUNS:-5}
SEED=${SEED:-42}

# each 512-dimensional pair row is ~4.1 KB: one per 8 KB heap page inline,
# ~4.6 KB out of line; ask for both tables plus slack
need_kb=$(( ROWS * (DIMS * 8 + 64) * 35 / 10 / 1024 ))
free_kb=$(df -Pk "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $4}')
fs_say "need ~$((need_kb / 1048576)) GB on ${TMPDIR:-/tmp}, $((free_kb / 1048576)) GB free"
if [ "$free_kb" -lt "$need_kb" ]; then
	echo "not enough free disk for $ROWS rows; pass a smaller row count" >&2
	exit 1
fi

bench_prepare
bench_start "shared_buffers = 1GB
max_wal_size = 10GB
autovacuum = off
jit = off
max_parallel_maintenance_workers = 0"
bench_machine
bench_psql -c "CREATE EXTENSION firstsight; CREATE EXTENSION pg_prewarm; ALTER DATABASE postgres SET search_path = public, firstsight"
echo "firstsight kernel: $(bench_psql -c 'SELECT firstsight.simd_kernel()')"
have_pgvector=0
if bench_have_pgvector; then
	have_pgvector=1
	echo "pgvector: $(bench_psql -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'")"
else
	echo "pgvector: CREATE EXTENSION vector failed; the comparison is skipped"
fi

tables=fs_pairs
bench_psql -c "CREATE UNLOGGED TABLE fs_pairs (a firstsight.embedding($DIMS), b firstsight.embedding($DIMS))"
if [ $have_pgvector = 1 ]; then
	tables="fs_pairs pv_pairs"
	bench_psql -c "CREATE UNLOGGED TABLE pv_pairs (a vector($DIMS), b vector($DIMS))"
fi
for t in $tables; do
	start=$(date +%s)
	"$BENCH_TMP/gen_copy" --rows "$ROWS" --dims "$DIMS" --cols 2 --seed "$SEED" |
		bench_psql -c "COPY $t FROM STDIN (FORMAT binary)"
	mid=$(date +%s)
	bench_psql -c "VACUUM ANALYZE $t"
	echo "load $t: COPY $((mid - start)) s, VACUUM ANALYZE $(( $(date +%s) - mid )) s"
done
if [ $have_pgvector = 1 ]; then
	same=$(bench_psql -c "SELECT count(*) FILTER (WHERE f.a::real[] = p.a::real[] AND f.b::real[] = p.b::real[])
		FROM (SELECT a, b, row_number() OVER () r FROM (SELECT * FROM fs_pairs LIMIT 1000) s) f
		JOIN (SELECT a, b, row_number() OVER () r FROM (SELECT * FROM pv_pairs LIMIT 1000) s) p USING (r)")
	same="$same of 1000"
	echo "same values in both tables (first 1000 rows): $same"
fi

# sizes
echo
echo "| table | rows | heap | TOAST (+index) | total | rows per heap page |"
echo "|---|---:|---:|---:|---:|---:|"
max_bytes=0
for t in $tables; do
	read -r heap toast total pages < <(bench_psql -F ' ' -c "
		SELECT pg_relation_size(c.oid),
		       coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0),
		       pg_total_relation_size(c.oid), c.relpages
		FROM pg_class c WHERE c.oid = '$t'::regclass")
	[ "$total" -gt "$max_bytes" ] && max_bytes=$total
	echo "| $t | $ROWS | $(numfmt --to=iec "$heap") | $(numfmt --to=iec "$toast") | $(numfmt --to=iec "$total") | $(awk -v r="$ROWS" -v p="$pages" 'BEGIN {printf "%.2f", r / p}') |"
done
echo

# shared buffers: room for the larger table (tables are prewarmed one at a
# time, after a restart: prewarming one table over the other's buffers would
# evict its own pages first, the clock sweep favouring the often-used ones),
# at most the memory available minus 3 GB
if [ -z "${SHARED_BUFFERS:-}" ]; then
	avail_mb=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
	sb_mb=$(( max_bytes * 115 / 100 / 1048576 + 256 ))
	if [ "$sb_mb" -gt $((avail_mb - 3072)) ]; then
		sb_mb=$((avail_mb - 3072))
		fs_say "shared_buffers capped at ${sb_mb}MB by free memory: part of a table is read from the OS cache"
	fi
	[ "$sb_mb" -lt 128 ] && sb_mb=128
	SHARED_BUFFERS=${sb_mb}MB
fi
bench_restart "shared_buffers = $SHARED_BUFFERS"
echo "shared_buffers = $(bench_psql -c 'SHOW shared_buffers'); jit off; tables UNLOGGED; $RUNS timed runs x 2 rounds per cell"

prewarm() {
	bench_psql -c "SELECT pg_prewarm('$1'::regclass) + coalesce((SELECT pg_prewarm(reltoastrelid) + pg_prewarm(i.indexrelid)
		FROM pg_class c JOIN pg_index i ON i.indrelid = c.reltoastrelid WHERE c.oid = '$1'::regclass), 0)" >/dev/null
}

# serial: no workers.  parallel: the default settings (on a table of one
# row per page the planner keeps the serial plan: page costs are not divided
# among workers, and the CPU part it saves is within add_path's 1% fuzz).
# forced: parallel plans made cheap, so both tables get a Parallel Seq Scan.
modes="serial parallel forced"
mode_sql() {
	case $1 in
		serial) echo "SET max_parallel_workers_per_gather = 0;" ;;
		parallel) echo "RESET max_parallel_workers_per_gather;" ;;
		forced) echo "RESET max_parallel_workers_per_gather; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET seq_page_cost = 0.1;" ;;
	esac
}

declare -A times
for mode in $modes; do
	set_sql=$(mode_sql "$mode")
	for round in 1 2; do
		for t in $tables; do
			bench_restart
			prewarm "$t"
			times[$mode,$t]+="$(bench_time "$set_sql" "SELECT sum(a <=> b) FROM $t;" "$RUNS") "
			fs_say "$mode round $round $t: $(echo "${times[$mode,$t]}" | tr '\n' ' ')"
		done
	done
done
echo
echo "plans (workers planned):"
for mode in $modes; do
	for t in $tables; do
		echo "  $mode $t: $(bench_psql -c "$(mode_sql "$mode") EXPLAIN (COSTS OFF) SELECT sum(a <=> b) FROM $t" |
			sed 's/^ *//; s/->  //' | paste -sd'|' - | sed 's/|/ > /g')"
	done
done
echo
echo "SELECT sum(a <=> b) FROM t, $ROWS rows x 2 x $DIMS dims: median ms of $((RUNS * 2)) runs (min-max)"
echo
echo "| parallelism | firstsight embedding | pgvector vector | firstsight / pgvector |"
echo "|---|---:|---:|---:|"
for mode in $modes; do
	# shellcheck disable=SC2086
	fs_med=$(printf '%s\n' ${times[$mode,fs_pairs]} | bench_median)
	# shellcheck disable=SC2086
	fs_rng=$(printf '%s\n' ${times[$mode,fs_pairs]} | sort -g | sed -n '1p;$p' | paste -sd- -)
	if [ $have_pgvector = 1 ]; then
		# shellcheck disable=SC2086
		pv_med=$(printf '%s\n' ${times[$mode,pv_pairs]} | bench_median)
		# shellcheck disable=SC2086
		pv_rng=$(printf '%s\n' ${times[$mode,pv_pairs]} | sort -g | sed -n '1p;$p' | paste -sd- -)
		echo "| $mode | $fs_med ($fs_rng) | $pv_med ($pv_rng) | $(bench_ratio "$fs_med" "$pv_med") |"
	else
		echo "| $mode | $fs_med ($fs_rng) | skipped | n/a |"
	fi
done
