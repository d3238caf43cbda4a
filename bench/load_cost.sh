#!/usr/bin/env bash
# bench/load_cost.sh: what a new backend (or parallel worker) pays on its
# first call into firstsight: loading firstsight.so and the libraries it links
# (OpenBLAS, libgfortran, libcurl), against pgvector's vector.so, without and
# with shared_preload_libraries = 'firstsight'.
#
#   bench/load_cost.sh        env: RUNS (15 new sessions per query)
set -euo pipefail
cd "$(dirname "$0")/.."
. test/common.sh
. bench/lib.sh

RUNS=${RUNS:-15}
bench_prepare
bench_start "jit = off"
bench_machine
bench_psql -c "CREATE EXTENSION firstsight"
queries=("SELECT 1" "SELECT firstsight.simd_kernel()")
if bench_have_pgvector; then
	queries+=("SELECT '[1,2]'::vector <=> '[3,4]'::vector")
else
	echo "pgvector: CREATE EXTENSION vector failed; its row is skipped"
fi

# median ms of the first query of $RUNS new sessions
first_query() {
	for _ in $(seq "$RUNS"); do
		printf '\\timing on\n%s;\n' "$1" | bench_psql | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
	done | bench_median
}

declare -A ms
for q in "${queries[@]}"; do ms[plain,$q]=$(first_query "$q"); done
bench_restart "shared_preload_libraries = 'firstsight'"
for q in "${queries[@]}"; do ms[preload,$q]=$(first_query "$q"); done

echo
echo "first query of a new session: median ms of $RUNS sessions"
echo
echo "| query | no preload | shared_preload_libraries = 'firstsight' |"
echo "|---|---:|---:|"
for q in "${queries[@]}"; do
	echo "| \`$q\` | ${ms[plain,$q]} | ${ms[preload,$q]} |"
done
