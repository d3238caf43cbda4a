#!/usr/bin/env bash
# test/fuzz/run.sh [SECONDS]: build the libFuzzer targets for embedding_in and
# embedding_recv with clang -fsanitize=fuzzer,address,undefined and run each
# for SECONDS (default 30), one after the other, in one process each.  Prints one
# summary line per target and exits non-zero on any finding (crash, sanitizer
# report, broken invariant, timeout, leak).
#   FUZZ_TARGETS="in recv"   which targets to run
#   FUZZ_OUT=dir             build and working corpora (default test/fuzz/build)
# Crash inputs land in $FUZZ_OUT/artifacts-<target>/; replay one with
#   $FUZZ_OUT/fuzz_embedding_<target> <file>
set -uo pipefail
cd "$(dirname "$0")" || exit 1
here=$(pwd)
seconds=${1:-30}
out=${FUZZ_OUT:-$here/build}
targets=${FUZZ_TARGETS:-"in recv"}
# shellcheck source=test/fuzz/build.sh
. ./build.sh

fuzz_need_packages clang libclang-rt-14-dev postgresql-server-dev-15 || exit 1
mkdir -p "$out"
status=0
for t in $targets; do
	bin="$out/fuzz_embedding_$t"
	fuzz_build "$bin" "fuzz_embedding_$t.c" fuzzer || { echo "fuzz embedding_$t: FAILED to build"; status=1; continue; }
	corpus="$out/corpus-$t"
	mkdir -p "$corpus" "$out/artifacts-$t"
	if [ "$t" = in ]; then
		cp -n corpus/text/* "$corpus/"
		fuzz_big_seeds text "$corpus"
		opts=(-dict="$here/embedding.dict" -max_len=48000)
	else
		cp -n corpus/binary/* "$corpus/"
		fuzz_big_seeds binary "$corpus"
		opts=(-max_len=65536)
	fi
	log="$out/fuzz-$t.log"
	"$bin" "${opts[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/artifacts-$t/" \
		"$corpus" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$last")
	crashes=$(find "$out/artifacts-$t" -type f | wc -l)
	if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
		verdict=ok
	else
		verdict=FAILED
		status=1
		grep -E 'ERROR: |SUMMARY|invariant broken|runtime error' "$log" | head -n 5 >&2
	fi
	echo "fuzz embedding_$t: $verdict, ${runs:-?} runs in ${seconds}s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, ${crashes} artifacts (log $log)"
done
exit $status
