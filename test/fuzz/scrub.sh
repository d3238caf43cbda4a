#!/usr/bin/env bash
# test/fuzz/scrub.sh [SECONDS]: the page part of firstsight.scrub_free_space
# (src/domain/scrubpage.c) under libFuzzer with ASan and UBSan for SECONDS
# (default 30), then its corpus replayed under valgrind (gcc build, replay.c).
# One line each; exits non-zero on any finding (crash, sanitizer report,
# broken invariant, valgrind error).
#   FUZZ_OUT=dir      build and corpus directory (default test/fuzz/build)
#   VALGRIND=0        skip the valgrind replay
set -uo pipefail
cd "$(dirname "$0")" || exit 1
here=$(pwd)
seconds=${1:-30}
out=${FUZZ_OUT:-$here/build}
# shellcheck source=test/fuzz/build.sh
. ./build.sh

fuzz_need_packages clang libclang-rt-14-dev gcc postgresql-server-dev-15 || exit 1
[ "${VALGRIND:-1}" = 1 ] && { fuzz_need_packages valgrind || exit 1; }
mkdir -p "$out/corpus-scrub" "$out/artifacts-scrub"
inc=$("$PG_CONFIG" --includedir-server)
flags=(-g -Wall -Wextra -Wno-unused-parameter -I"$fuzz_root/src" -I"$inc")
status=0

bin="$out/fuzz_scrub_page"
if ! clang -Wno-ignored-attributes -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all "${flags[@]}" fuzz_scrub_page.c "$fuzz_root/src/domain/scrubpage.c" -o "$bin"; then
	echo "fuzz scrub_page: FAILED to build"
	exit 1
fi
log="$out/fuzz-scrub.log"
"$bin" -max_len=8193 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$out/artifacts-scrub/" "$out/corpus-scrub" >"$log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
crashes=$(find "$out/artifacts-scrub" -type f | wc -l)
if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
	echo "fuzz scrub_page: ok, ${runs:-?} runs in ${seconds}s, cov ${cov:-?}, $(find "$out/corpus-scrub" -type f | wc -l) corpus files, 0 artifacts (log $log)"
else
	echo "fuzz scrub_page: FAILED, ${crashes} artifacts (log $log)"
	grep -E 'ERROR: |SUMMARY|invariant broken|runtime error' "$log" | head -n 5 >&2
	status=1
fi

if [ "${VALGRIND:-1}" = 1 ]; then
	rbin="$out/replay_scrub_page"
	if ! gcc -O1 "${flags[@]}" fuzz_scrub_page.c replay.c "$fuzz_root/src/domain/scrubpage.c" -o "$rbin"; then
		echo "replay scrub_page: FAILED to build"
		exit 1
	fi
	vlog="$out/replay-scrub.log"
	if valgrind -q --error-exitcode=3 "$rbin" "$out/corpus-scrub" >"$vlog" 2>&1; then
		echo "replay scrub_page: ok, $(find "$out/corpus-scrub" -type f | wc -l) inputs under valgrind"
	else
		echo "replay scrub_page: FAILED (log $vlog)"
		status=1
	fi
fi
exit $status
