#!/usr/bin/env bash
# bench/storage.sh: what the embedding type's default storage (main: inline,
# uncompressed) buys for an exact nearest-neighbour scan, against the same
# column stored out of line (EXTERNAL, EXTENDED) and against pgvector.
#
#   bench/storage.sh [ROWS]      default 100000 rows of 512 dimensions
#   env: DIMS (512), RUNS (5 timed runs per round; 3 rounds), SEED (7), KEEP=1
#
# Loads the same random values (fixed seed, COPY BINARY) into one table per
# storage, VACUUM ANALYZE, prewarms everything into shared buffers, then times
#   SELECT id FROM t ORDER BY face <=> (SELECT face FROM query) LIMIT 10
# with parallel workers off.  ALTER COLUMN ... SET STORAGE only affects rows
# stored afterwards, so each table gets its storage before the load.
# pgvector tables (its default, extended, and SET STORAGE MAIN, which isolates
# the storage effect from the per-distance cost) are included only when
# CREATE EXTENSION vector succeeds.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/common.sh
. bench/lib.sh

ROWS=${1:-${ROWS:-100000}}
DIMS=${DIMS:-512}
RUNS=${RUNS:-5}
SEED=${SEED:-7}

bench_prepare
bench_start "shared_buffers = 2GB
autovacuum = off
jit = off
max_parallel_maintenance_workers = 0"
bench_machine
bench_psql -c "CREATE EXTENSION firstsight; CREATE EXTENSION pg_prewarm; ALTER DATABASE postgres SET search_path = public, firstsight"
echo "firstsight kernel: $(bench_psql -c 'SELECT firstsight.simd_kernel()')"

# table, type, storage (empty = the type's default)
specs="fs_main:embedding: fs_external:embedding:external fs_extended:embedding:extended"
if bench_have_pgvector; then
	echo "pgvector: $(bench_psql -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'")"
	specs="$specs pv_default:vector: pv_main:vector:main"
else
	echo "pgvector: CREATE EXTENSION vector failed; the pgvector rows are skipped"
fi

tables=""
for spec in $specs; do
	IFS=: read -r t type storage <<<"$spec"
	tables="$tables $t"
	bench_psql -c "CREATE TABLE $t (id int4, face $type($DIMS))"
	[ -n "$storage" ] && bench_psql -c "ALTER TABLE $t ALTER COLUMN face SET STORAGE $storage"
	"$BENCH_TMP/gen_copy" --rows "$ROWS" --dims "$DIMS" --seed "$SEED" --id |
		bench_psql -c "COPY $t FROM STDIN (FORMAT binary)"
	# the query vector: a fixed one not in the table, stored inline.  (Out of
	# line, the InitPlan would hand <=> a TOAST pointer and every call would
	# fetch the query vector from TOAST again.)
	bench_psql -c "CREATE TABLE ${t}_q AS SELECT face FROM $t LIMIT 0" \
		-c "ALTER TABLE ${t}_q ALTER COLUMN face SET STORAGE main"
	"$BENCH_TMP/gen_copy" --rows 1 --dims "$DIMS" --seed $((SEED + 1000)) |
		bench_psql -c "COPY ${t}_q FROM STDIN (FORMAT binary)"
	bench_psql -c "VACUUM ANALYZE $t"
	bench_psql -c "SELECT pg_prewarm('$t'::regclass) + coalesce((SELECT pg_prewarm(reltoastrelid) + pg_prewarm(i.indexrelid)
		FROM pg_class c JOIN pg_index i ON i.indrelid = c.reltoastrelid WHERE c.oid = '$t'::regclass), 0)" >/dev/null
done

# every table must give the same answer
answers=$(for t in $tables; do
	bench_psql -c "SELECT string_agg(id::text, ',') FROM (SELECT id FROM $t ORDER BY face <=> (SELECT face FROM ${t}_q) LIMIT 10) s"
done | sort -u | wc -l)
echo "same 10 nearest ids from every table: $([ "$answers" = 1 ] && echo yes || echo NO)"

declare -A times
for _ in 1 2 3; do	# three interleaved rounds
	for t in $tables; do
		times[$t]+="$(bench_time "SET max_parallel_workers_per_gather = 0;" \
			"SELECT id FROM $t ORDER BY face <=> (SELECT face FROM ${t}_q) LIMIT 10;" "$RUNS") "
	done
done

# shellcheck disable=SC2086
base=$(printf '%s\n' ${times[fs_main]} | bench_median)
echo
echo "exact scan, $ROWS rows x $DIMS dims, ORDER BY face <=> q LIMIT 10, parallel workers off: median ms of $((RUNS * 3)) runs (min-max)"
echo
echo "| table | type | storage | heap | TOAST (+index) | ms per query | ratio to fs_main |"
echo "|---|---|---|---:|---:|---:|---:|"
for spec in $specs; do
	IFS=: read -r t type storage <<<"$spec"
	# shellcheck disable=SC2086
	med=$(printf '%s\n' ${times[$t]} | bench_median)
	# shellcheck disable=SC2086
	rng=$(printf '%s\n' ${times[$t]} | sort -g | sed -n '1p;$p' | paste -sd- -)
	read -r heap toast < <(bench_psql -F ' ' -c "
		SELECT pg_relation_size(c.oid), coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)
		FROM pg_class c WHERE c.oid = '$t'::regclass")
	actual=$(bench_psql -c "SELECT attstorage FROM pg_attribute WHERE attrelid = '$t'::regclass AND attname = 'face'")
	case $actual in p) actual=plain ;; m) actual=main ;; e) actual=external ;; x) actual=extended ;; esac
	[ -z "$storage" ] && actual="$actual (default)"
	echo "| $t | $type | $actual | $(numfmt --to=iec "$heap") | $(numfmt --to=iec "$toast") | $med ($rng) | $(bench_ratio "$med" "$base") |"
done
