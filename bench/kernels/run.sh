#!/usr/bin/env bash
# bench/kernels/run.sh: build and run the kernel micro-benchmark.
# Compiles the project's real kernel sources (src/simd/*.c) with the flags
# PGXS builds the extension with, and baseline.c with pgvector's flags, into a
# temporary directory; then runs it.  Arguments go to the benchmark:
#   bench/kernels/run.sh [--runs N] [--ms MS] [--dims 128,512,1024]
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh
fs_install_deps || exit 1

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
CC=${CC:-gcc}
inc=$("$PG_CONFIG" --includedir-server)
# the C flags PostgreSQL (and so PGXS) compiles extensions with, plus the
# project's own (Makefile: PG_CFLAGS)
pgflags="$("$PG_CONFIG" --cflags) -Wno-unused-parameter"
# pgvector's Makefile: OPTFLAGS + PG_CFLAGS
pgvector_flags="-march=native -ftree-vectorize -fassociative-math -fno-signed-zeros -fno-trapping-math -ffp-contract=fast"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fs-kbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for f in src/simd/*.c; do
	# shellcheck disable=SC2086
	$CC $pgflags -I src/simd -I "$inc" -c "$f" -o "$tmp/$(basename "$f" .c).o"
done
# shellcheck disable=SC2086
$CC $pgflags $pgvector_flags -O2 -I src -c bench/kernels/baseline.c -o "$tmp/baseline.o"
# shellcheck disable=SC2086
$CC $pgflags -I src -I "$inc" -c bench/kernels/kernels_bench.c -o "$tmp/kernels_bench.o"
$CC -o "$tmp/kernels_bench" "$tmp"/*.o -lm

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), nproc $(nproc), $($CC --version | head -1)"
"$tmp/kernels_bench" "$@"
