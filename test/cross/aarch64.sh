#!/usr/bin/env bash
# test/cross/aarch64.sh: the aarch64 build check.
#  1. Compiles every C file of src/ with Debian's aarch64-linux-gnu-gcc, the
#     project's warning flags plus PostgreSQL's, and -Werror.  Files that need
#     a header the cross toolchain lacks (cblas.h: OpenBLAS for arm64 is not
#     installed) are reported as skipped, not failed.
#  2. Builds test/unit/kernels.c with src/simd/*.c statically for aarch64 and
#     runs it under qemu-aarch64 (package qemu-user): NEON against scalar.
#  3. The same test with ASan and UBSan under qemu-aarch64: a NEON load past
#     the end of a vector is reported.
# The server headers are the host's (x86-64) PostgreSQL 15 headers.  Their
# pg_config.h describes x86-64 (e.g. USE_SSE42_CRC32C_WITH_RUNTIME_CHECK,
# HAVE_X86_64_POPCNTQ), but type sizes and alignments are those of every LP64
# Linux, and none of the x86-only settings is used by firstsight's code or by
# the headers it includes, so the compile check is sound; it is not a build
# for an arm64 server.
# Prints one line per step; exits non-zero if either fails.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
PG_CONFIG=${PG_CONFIG:-pg_config}
command -v "$PG_CONFIG" >/dev/null || PG_CONFIG=${FS_PG:-/usr/lib/postgresql/15}/bin/pg_config
out=${CROSS_OUT:-test/cross/build}
CC=aarch64-linux-gnu-gcc

# install missing apt packages when root; false if still missing
need() {
	local missing="" p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	[ "$(id -u)" = 0 ] || { echo "missing packages:$missing" >&2; return 1; }
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

need gcc-aarch64-linux-gnu libc6-dev-arm64-cross postgresql-server-dev-15 ||
	{ echo "cross aarch64: FAILED, no cross compiler"; exit 1; }
mkdir -p "$out"
inc=$("$PG_CONFIG" --includedir-server)
# PostgreSQL's own flags and the Makefile's PG_CFLAGS, as the real build uses them
read -r -a pgflags <<<"$("$PG_CONFIG" --cflags)"
read -r -a projflags <<<"$(sed -n 's/^PG_CFLAGS *= *//p' Makefile)"
flags=("${pgflags[@]}" "${projflags[@]}" -Werror -Isrc -I"$inc")
status=0

compiled=0
skipped=()
failed=()
for f in src/*.c src/*/*.c; do
	[ -e "$f" ] || continue
	o="$out/$(echo "$f" | tr / _).o"
	if $CC "${flags[@]}" -c "$f" -o "$o" 2>"$o.log"; then
		compiled=$((compiled + 1))
	elif missing=$(sed -n 's/.*fatal error: \(.*\): No such file or directory/\1/p' "$o.log" | head -n 1) &&
		[ -n "$missing" ]; then
		skipped+=("$f ($missing)")
	else
		failed+=("$f")
		cat "$o.log" >&2
	fi
done
if [ ${#failed[@]} -eq 0 ] && [ "$compiled" -gt 0 ]; then
	line="cross aarch64 compile: ok, $compiled files with -Wall -Wextra -Werror"
else
	line="cross aarch64 compile: FAILED in ${failed[*]:-nothing compiled}"
	status=1
fi
[ ${#skipped[@]} -gt 0 ] && line="$line; skipped ${skipped[*]}"
echo "$line"

# the NEON kernels really run: unit test under qemu-user
bin="$out/kernels-aarch64"
if ! $CC -static -O2 -g "${projflags[@]}" -Werror -Isrc/simd -I"$inc" \
	test/unit/kernels.c src/simd/*.c -lm -o "$bin" 2>"$bin.log"; then
	cat "$bin.log" >&2
	echo "cross aarch64 neon under qemu: FAILED to build"
	exit 1
fi
if ! need qemu-user || ! command -v qemu-aarch64 >/dev/null; then
	echo "cross aarch64 neon under qemu: skipped, qemu-user not available (compile-only)"
	exit $status
fi
if result=$(qemu-aarch64 "$bin" | tail -n 1) && [[ $result == *neon* ]]; then
	echo "cross aarch64 neon under qemu: $result"
else
	echo "cross aarch64 neon under qemu: FAILED ${result:-}"
	status=1
fi

# the same under ASan and UBSan (dynamic, with the cross toolchain's libasan);
# LeakSanitizer cannot run under qemu-user
need libasan8-arm64-cross libubsan1-arm64-cross || { echo "cross aarch64 neon asan under qemu: skipped, no libasan"; exit $status; }
sysroot=$(cd "$(dirname "$($CC -print-file-name=libc.so.6)")/.." && pwd)
bin="$out/kernels-aarch64-asan"
if ! $CC -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all "${projflags[@]}" -Werror \
	-Isrc/simd -I"$inc" test/unit/kernels.c src/simd/*.c -lm -o "$bin" 2>"$bin.log"; then
	cat "$bin.log" >&2
	echo "cross aarch64 neon asan under qemu: FAILED to build"
	exit 1
fi
if result=$(ASAN_OPTIONS=detect_leaks=0 qemu-aarch64 -L "$sysroot" "$bin" 2>"$bin.run.log" | tail -n 1) &&
	[[ $result == *neon* ]]; then
	echo "cross aarch64 neon asan under qemu: $result"
else
	grep -m 3 -E 'ERROR|runtime error|FAIL' "$bin.run.log" >&2
	echo "cross aarch64 neon asan under qemu: FAILED ${result:-}"
	status=1
fi
exit $status
