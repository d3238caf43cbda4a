#!/usr/bin/env bash
# test/checks.sh: the C-level checks that need no server, one line each, then
# "N passed, N failed":
#   unit gcc / unit asan       kernel unit test (test/unit/run.sh)
#   unit valgrind              the same under valgrind
#   cross aarch64 ...          aarch64 -Werror compile, NEON vs scalar under
#                              qemu-user, plain and with ASan (test/cross/aarch64.sh)
#   fuzz embedding_in/recv     libFuzzer smoke run, FUZZ_SECONDS each (default 30)
#                              (test/fuzz/run.sh)
#   replay embedding_in/recv   the seed and fuzz corpora under valgrind
#                              (test/fuzz/replay.sh)
#   fuzz/replay scrub_page     the page part of scrub_free_space under libFuzzer
#                              (ASan, UBSan), then its corpus under valgrind
#                              (test/fuzz/scrub.sh)
#   fuzz hnsw_sql              random SQL against embedding_hnsw on an ASan/UBSan
#                              build, HNSW_FUZZ_SECONDS (default 40; test/fuzz/hnsw_sql.sh)
# Installs missing apt packages when run as root.  Exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
seconds=${FUZZ_SECONDS:-30}
passed=0
failed=0
mkdir -p tmp_check
log=tmp_check/checks.log
: >"$log"

# run one script; its lines ending "ok, ..." count as passed, "FAILED" as failed
check() {
	local out rc line
	out=$("$@" 2>>"$log")
	rc=$?
	while IFS= read -r line; do
		[ -z "$line" ] && continue
		echo "$line"
		case $line in
			*": ok"*) passed=$((passed + 1)) ;;
			*": skipped"*) ;;
			*) failed=$((failed + 1)) ;;
		esac
	done <<<"$out"
	if [ $rc -ne 0 ] && ! grep -q FAILED <<<"$out"; then
		echo "$*: FAILED (exit $rc, see $log)"
		failed=$((failed + 1))
	fi
}

check test/unit/run.sh gcc asan valgrind
check test/cross/aarch64.sh
check test/fuzz/run.sh "$seconds"
check test/fuzz/replay.sh
check test/fuzz/scrub.sh "$seconds"
check test/fuzz/hnsw_sql.sh "${HNSW_FUZZ_SECONDS:-40}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
