#!/usr/bin/env bash
# test/fuzz/replay.sh: build the fuzz targets without sanitizers (gcc, or $CC)
# with replay.c as main(), and run them under valgrind over the seed corpora
# and, when present, the corpora run.sh grew in $FUZZ_OUT.  Invariant checks
# abort as under libFuzzer; valgrind errors (invalid reads, uninitialised
# values, definite leaks) fail the run.  One line per target.
#   FUZZ_OUT=dir      where run.sh left its corpora (default test/fuzz/build)
#   VALGRIND=0        replay without valgrind
set -uo pipefail
cd "$(dirname "$0")" || exit 1
here=$(pwd)
out=${FUZZ_OUT:-$here/build}
# shellcheck source=test/fuzz/build.sh
. ./build.sh

fuzz_need_packages gcc postgresql-server-dev-15 || exit 1
[ "${VALGRIND:-1}" = 1 ] && { fuzz_need_packages valgrind || exit 1; }
mkdir -p "$out/replay-seeds-in" "$out/replay-seeds-recv"
status=0
for t in in recv; do
	bin="$out/replay_embedding_$t"
	fuzz_build "$bin" "fuzz_embedding_$t.c" replay || { echo "replay embedding_$t: FAILED to build"; status=1; continue; }
	seeds="$out/replay-seeds-$t"
	if [ "$t" = in ]; then
		cp corpus/text/* "$seeds/" && fuzz_big_seeds text "$seeds"
	else
		cp corpus/binary/* "$seeds/" && fuzz_big_seeds binary "$seeds"
	fi
	dirs=("$seeds")
	[ -d "$out/corpus-$t" ] && dirs+=("$out/corpus-$t")
	log="$out/replay-$t.log"
	if [ "${VALGRIND:-1}" = 1 ]; then
		run=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
		how="under valgrind"
	else
		run=()
		how="without valgrind"
	fi
	if result=$("${run[@]}" "$bin" "${dirs[@]}" 2>"$log" | tail -n 1); then
		echo "replay embedding_$t: ok, $result $how"
	else
		echo "replay embedding_$t: FAILED $how (log $log)"
		head -n 20 "$log" >&2
		status=1
	fi
done
exit $status
