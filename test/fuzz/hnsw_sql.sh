#!/usr/bin/env bash
# test/fuzz/hnsw_sql.sh [SECONDS] [SEED]: the embedding_hnsw fuzz target.  Builds
# firstsight with gcc -fsanitize=address,undefined (-fno-sanitize-recover)
# into a private copy of PostgreSQL under $FUZZ_OUT/hnsw-pg, starts a
# throwaway cluster (the server is not instrumented; the extension's code,
# the index AM included, is: see below), and feeds
# it random SQL for SECONDS (default 30) from hnsw_sql.py: extreme vectors
# (+-3e38, denormals, zeros, NaN-producing pairs, duplicates) inserted,
# indexed (serial, parallel, spilling builds) and searched under every
# opclass, with deletes, VACUUM, REINDEX and index_check.  One line:
#   fuzz hnsw_sql: ok, N rounds, N statements in Ss, 0 crashes, ...
# and a non-zero exit on a crash (a signal in the server log, an ASan or
# UBSan report, a lost connection) or a broken scan invariant; index_check
# complaints fail the run only with FUZZ_STRICT_CHECK=1.
#   FUZZ_OUT=dir    build, cluster and logs (default test/fuzz/build)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
root=$(pwd)
seconds=${1:-30}
seed=${2:-$(date +%s)}
out=${FUZZ_OUT:-$root/test/fuzz/build}
# shellcheck source=test/common.sh
. test/common.sh
mkdir -p "$out"
out=$(cd "$out" && pwd)
log="$out/hnsw_sql.log"
: >"$log"

fail() { echo "fuzz hnsw_sql: FAILED, $* (log $log)"; exit 1; }

# a private PostgreSQL copy (binaries, share, headers) from FS_PG's tree
pgroot=$(cd "$FS_PG/../../../.." && pwd)
pg="$out/hnsw-pg"
if [ ! -x "$pg/usr/lib/postgresql/15/bin/postgres" ]; then
	mkdir -p "$pg/usr/lib/postgresql" "$pg/usr/share/postgresql" "$pg/usr/include"
	cp -a "$pgroot/usr/lib/postgresql/15" "$pg/usr/lib/postgresql/" &&
		cp -a "$pgroot/usr/share/postgresql/15" "$pg/usr/share/postgresql/" &&
		cp -a "$pgroot/usr/include/postgresql" "$pg/usr/include/" || fail "cannot copy PostgreSQL from $pgroot"
fi
pgbin="$pg/usr/lib/postgresql/15/bin"

# the extension with ASan and UBSan, built from a copy of the tree (the
# sanitized objects must not end up in the ordinary build)
src="$out/hnsw-src"
mkdir -p "$src"
rsync -a --delete --exclude .git --exclude tmp_check --exclude results --exclude test/fuzz/build \
	--exclude '*.o' --exclude '*.so' --exclude '*.bc' ./ "$src/" || fail "cannot copy the tree"
san="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer"
(cd "$src" && make -s -j"$(nproc)" PG_CONFIG="$pgbin/pg_config" COPT="$san" >>"$log" 2>&1 &&
	make -s install PG_CONFIG="$pgbin/pg_config" COPT="$san" >>"$log" 2>&1) || fail "build"

# a cluster owned by the run user
data="$out/hnsw-data"
sock="$out/hnsw-sock"
rm -rf "$data" "$sock"
mkdir -p "$sock"
[ "$(id -u)" = 0 ] && chown -R "$(fs_run_user)" "$out"
fs_as_user "$pgbin/initdb" -D "$data" -A trust -U postgres >>"$log" 2>&1 || fail "initdb"
port=$((30000 + RANDOM % 10000))
cat >>"$data/postgresql.conf" <<EOF
shared_preload_libraries = 'firstsight'
unix_socket_directories = '$sock'
listen_addresses = ''
port = $port
fsync = off
max_worker_processes = 8
max_parallel_maintenance_workers = 2
autovacuum = off
EOF
stop() { fs_as_user "$pgbin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1; }
trap stop EXIT
# The ASan runtime comes in with firstsight.so (shared_preload_libraries), not
# through LD_PRELOAD: preloaded, it deadlocks the uninstrumented server in
# bindtextdomain before main does anything (glibc 2.36, gcc 12 and clang 14
# runtimes alike).  So the extension's own stack and globals are checked, and
# every load and store it makes; palloc'd memory comes from the server's
# malloc, whole blocks at a time, and is not poisoned chunk by chunk.
fs_as_user env \
	ASAN_OPTIONS="verify_asan_link_order=0:detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_odr_violation=0" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
	"$pgbin/pg_ctl" -D "$data" -l "$out/hnsw-server.log" -w start >>"$log" 2>&1 || fail "server start"
psql=("$pgbin/psql" -X -q -v ON_ERROR_STOP=0 -h "$sock" -p "$port" -U postgres -d postgres)
fs_as_user "${psql[@]}" -c "CREATE EXTENSION firstsight CASCADE" >>"$log" 2>&1 || fail "CREATE EXTENSION"

start=$(date +%s)
summary=$(cd "$out" && fs_as_user python3 "$root/test/fuzz/hnsw_sql.py" "$seconds" "$seed" "${psql[@]}" 2>>"$log")
took=$(($(date +%s) - start))
read -r _ rounds _ statements _ invariant _ check _ lost <<<"$summary"
crashes=$(grep -cE 'terminated by signal|AddressSanitizer|runtime error:|PANIC|TRAP:' "$out/hnsw-server.log")
verdict=ok
[ -z "${rounds:-}" ] && { verdict=FAILED; rounds='?'; }
if [ "$crashes" -ne 0 ] || [ "${lost:-1}" -ne 0 ] || [ "${invariant:-1}" -ne 0 ]; then verdict=FAILED; fi
[ "${FUZZ_STRICT_CHECK:-0}" = 1 ] && [ "${check:-1}" -ne 0 ] && verdict=FAILED
if [ "$verdict" != ok ]; then
	grep -E 'terminated by signal|AddressSanitizer|runtime error:|PANIC|TRAP:' "$out/hnsw-server.log" | head -n 5 >&2
fi
echo "fuzz hnsw_sql: $verdict, $rounds rounds, $statements statements in ${took}s (seed $seed), $crashes crashes, $lost lost connections, $invariant broken scan invariants, $check index_check complaints (log $log, server log $out/hnsw-server.log)"
[ "$verdict" = ok ]
