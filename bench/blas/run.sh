#!/usr/bin/env bash
# bench/blas/run.sh: build and run the C benchmark of FsCosinePairs (sgemm)
# against per-pair kernel loops.  Compiles the project's real src/blas/blas.c
# and src/simd sources with the flags PGXS uses, links OpenBLAS, into a
# temporary directory.  Arguments go to the benchmark:
#   bench/blas/run.sh [--dims D] [--runs R] [--threshold T] [MxN ...]
#   OPENBLAS_NUM_THREADS=1 bench/blas/run.sh      one BLAS thread
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh
fs_install_deps || exit 1

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
CC=${CC:-gcc}
inc=$("$PG_CONFIG" --includedir-server)
pgflags="$("$PG_CONFIG" --cflags) -Wno-unused-parameter"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fs-bbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for f in src/simd/*.c src/blas/blas.c bench/blas/pgstubs.c bench/blas/pairs_bench.c; do
	# shellcheck disable=SC2086
	$CC $pgflags -I src -I src/simd -I "$inc" -c "$f" -o "$tmp/$(basename "$f" .c).o"
done
$CC -o "$tmp/pairs_bench" "$tmp"/*.o -lopenblas -lm

lib=$(ldconfig -p | awk '/libopenblas\.so\.0 / {print $NF; exit}')
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), nproc $(nproc), OpenBLAS: $(readlink -f "$lib" | sed 's|.*/||')"
"$tmp/pairs_bench" "$@"
