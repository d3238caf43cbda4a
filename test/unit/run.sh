#!/usr/bin/env bash
# test/unit/run.sh [MODE...]: build and run the kernel unit test (kernels.c
# with src/simd/*.c).  Modes, default "gcc asan":
#   gcc       gcc -O2 -Wall -Wextra -Werror
#   clang     clang -O2 -Wall -Wextra -Werror
#   asan      clang -fsanitize=address,undefined
#   valgrind  the gcc build under valgrind --error-exitcode
# Prints one line per mode; exits non-zero if any fails.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
PG_CONFIG=${PG_CONFIG:-pg_config}
command -v "$PG_CONFIG" >/dev/null || PG_CONFIG=${FS_PG:-/usr/lib/postgresql/15}/bin/pg_config
out=${UNIT_OUT:-test/unit/build}
modes=("$@")
[ ${#modes[@]} -eq 0 ] && modes=(gcc asan)
mkdir -p "$out"

# install a missing apt package when root
need() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" && return 0
	[ "$(id -u)" = 0 ] || { echo "missing package $1" >&2; return 1; }
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}

warn=(-Wall -Wextra -Werror -Wno-unused-parameter -Wmissing-prototypes -Wdeclaration-after-statement)
inc=(-Isrc/simd -I"$($PG_CONFIG --includedir-server)")
src=(test/unit/kernels.c src/simd/*.c)
status=0

# build: build BIN COMPILER FLAGS...
build() {
	local bin=$1
	shift
	"$@" "${warn[@]}" "${inc[@]}" "${src[@]}" -lm -o "$bin" 2>"$bin.build.log" || {
		cat "$bin.build.log" >&2
		return 1
	}
}

for mode in "${modes[@]}"; do
	case $mode in
		gcc) build "$out/kernels-gcc" gcc -O2 -g && line=$("$out/kernels-gcc" | tail -n 1) ;;
		clang) need clang && build "$out/kernels-clang" clang -O2 -g -Wno-ignored-attributes &&
			line=$("$out/kernels-clang" | tail -n 1) ;;
		asan) need clang && build "$out/kernels-asan" clang -O1 -g -Wno-ignored-attributes \
				-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer &&
			line=$("$out/kernels-asan" 2>"$out/kernels-asan.log" | tail -n 1) ;;
		valgrind) need valgrind && build "$out/kernels-gcc" gcc -O2 -g &&
			line=$(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
				"$out/kernels-gcc" 2>"$out/kernels-valgrind.log" | tail -n 1) ;;
		*) echo "unknown mode $mode" >&2; status=1; continue ;;
	esac
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "unit $mode: $line"
	else
		echo "unit $mode: FAILED (exit $rc) ${line:-}"
		[ -s "$out/kernels-$mode.log" ] && head -n 20 "$out/kernels-$mode.log" >&2
		status=1
	fi
	line=""
done
exit $status
