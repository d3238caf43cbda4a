#!/usr/bin/env bash
# bench/privacy/erasure_index.sh: erasure and the gallery index at full scale.
# Runs test/t/400_privacy_erasure_index.pl with FACES gallery faces (100,000 by
# default, 16 dims, embedding_hnsw): half erased (1,000 by erase_person, the
# rest by enforce_retention_all), VACUUM, then no erased face from any index
# scan and the recall of the remaining persons kept.  Prints the test's
# diagnostics (build, erasure, VACUUM and check times, recall before and
# after) and its total time.
# Settings (environment): FACES (100000); PGBIN (the server's bin directory)
# and FS_NO_INSTALL=1 to run an installation made elsewhere (a private copy of
# the server with DESTDIR).  Bounded: one throwaway cluster, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh

FACES=${FACES:-100000}
BIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGXS_DIR=$(dirname "$BIN")/lib/pgxs

if [ "${FS_NO_INSTALL:-0}" != 1 ]; then
	fs_install_deps
	fs_build_install
fi
scratch=$(fs_scratch_copy)
trap 'rm -rf "$scratch"' EXIT
fs_say "test/t/400_privacy_erasure_index.pl with $FACES gallery faces"
t0=$(date +%s)
rc=0
(cd "$scratch" && fs_as_user env FS_ERASURE_FACES="$FACES" PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
	TESTDIR="$scratch" PATH="$BIN:$PATH" \
	prove -v -I "$PGXS_DIR/src/test/perl" -I test/perl test/t/400_privacy_erasure_index.pl) 2>&1 |
	grep -E '^(ok|not ok|#|Result)' || rc=$?
fs_say "$FACES faces: $(( $(date +%s) - t0 )) s in all (load average $(cut -d' ' -f1-3 /proc/loadavg))"
exit "$rc"
