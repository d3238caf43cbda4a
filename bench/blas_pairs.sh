#!/usr/bin/env bash
# bench/blas_pairs.sh: where firstsight.similarity_pairs (one cblas_sgemm per
# block) beats the equivalent SQL cross join with a <=> filter (one kernel
# call per pair), in SQL; then the same question in C (bench/blas/run.sh).
#
#   bench/blas_pairs.sh [MxN ...]     default 1x1000 1x10000 10x10 100x100 1000x1000 5000x5000
#   env: DIMS (512), RUNS (5; 3 for the largest), THRESHOLD (0.8), SEED (11),
#        KEEP=1; SKIP_C=1 skips the C part
#
# Both queries count the pairs within the threshold (and must agree):
#   SELECT count(*) FROM firstsight.similarity_pairs(
#       (SELECT array_agg(e ORDER BY id) FROM ga WHERE id <= M),
#       (SELECT array_agg(e ORDER BY id) FROM gb WHERE id <= N), T)
#   SELECT count(*) FROM ga a JOIN gb b ON (a.e <=> b.e) <= T
#       WHERE a.id <= M AND b.id <= N
# Parallel workers off; OpenBLAS uses its default thread count unless
# OPENBLAS_NUM_THREADS is set (it is passed to the server).
set -euo pipefail
cd "$(dirname "$0")/.."
. test/common.sh
. bench/lib.sh

DIMS=${DIMS:-512}
RUNS=${RUNS:-5}
THRESHOLD=${THRESHOLD:-0.8}
SEED=${SEED:-11}
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1x1000 1x10000 10x10 100x100 1000x1000 5000x5000)
maxrows=1
for s in "${sizes[@]}"; do
	m=${s%x*} n=${s#*x}
	[ "$m" -gt "$maxrows" ] && maxrows=$m
	[ "$n" -gt "$maxrows" ] && maxrows=$n
done

bench_prepare
bench_start "shared_buffers = 1GB
autovacuum = off
jit = off
work_mem = 4MB"
bench_machine
bench_psql -c "CREATE EXTENSION firstsight; CREATE EXTENSION pg_prewarm; ALTER DATABASE postgres SET search_path = public, firstsight"
echo "firstsight kernel: $(bench_psql -c 'SELECT firstsight.simd_kernel()'); OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-(default)}; work_mem 4MB"

for t in ga gb; do
	bench_psql -c "CREATE TABLE $t (id int4 PRIMARY KEY, e embedding($DIMS))"
	"$BENCH_TMP/gen_copy" --rows "$maxrows" --dims "$DIMS" --seed "$([ $t = ga ] && echo "$SEED" || echo $((SEED + 1)))" --id |
		bench_psql -c "COPY $t FROM STDIN (FORMAT binary)"
done
# every 7th row of gb: a noisy copy of the same row of ga, so there is something to find
bench_psql -c "UPDATE gb SET e = ga.e + gb.e * '[$(printf '0.3%.0s,' $(seq 2 "$DIMS"))0.3]'::embedding
	FROM ga WHERE ga.id = gb.id AND gb.id % 7 = 1"
bench_psql -c "VACUUM ANALYZE ga" -c "VACUUM ANALYZE gb" -c "SELECT pg_prewarm('ga') + pg_prewarm('gb')" >/dev/null

pairs_sql() {
	echo "SELECT count(*) FROM firstsight.similarity_pairs((SELECT array_agg(e ORDER BY id) FROM ga WHERE id <= $1), (SELECT array_agg(e ORDER BY id) FROM gb WHERE id <= $2), $THRESHOLD);"
}
join_sql() {
	echo "SELECT count(*) FROM ga a JOIN gb b ON (a.e <=> b.e) <= $THRESHOLD WHERE a.id <= $1 AND b.id <= $2;"
}

echo
echo "$DIMS dims, cosine distance <= $THRESHOLD, parallel workers off: median ms"
echo
echo "| M x N | pairs | similarity_pairs ms | cross join <=> ms | join / similarity_pairs | matches |"
echo "|---|---:|---:|---:|---:|---:|"
for s in "${sizes[@]}"; do
	m=${s%x*} n=${s#*x}
	runs=$RUNS
	[ $((m * n)) -ge 10000000 ] && runs=3
	c1=$(bench_psql -c "$(pairs_sql "$m" "$n")")
	c2=$(bench_psql -c "$(join_sql "$m" "$n")")
	t1="" t2=""
	for _ in 1 2; do	# two interleaved rounds
		t1+="$(bench_time "SET max_parallel_workers_per_gather = 0;" "$(pairs_sql "$m" "$n")" "$runs") "
		t2+="$(bench_time "SET max_parallel_workers_per_gather = 0;" "$(join_sql "$m" "$n")" "$runs") "
	done
	# shellcheck disable=SC2086
	m1=$(printf '%s\n' $t1 | bench_median)
	# shellcheck disable=SC2086
	m2=$(printf '%s\n' $t2 | bench_median)
	echo "| ${m}x$n | $((m * n)) | $m1 | $m2 | $(bench_ratio "$m2" "$m1") | $c1$([ "$c1" = "$c2" ] || echo " (join: $c2!)") |"
done

if [ -z "${SKIP_C:-}" ]; then
	echo
	echo "C: FsCosinePairs (sgemm) against per-pair kernel loops (bench/blas/run.sh)"
	echo
	bench/blas/run.sh --dims "$DIMS" --threshold "$THRESHOLD" "${sizes[@]}"
fi
