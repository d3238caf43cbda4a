# bench/lib.sh: shared by the SQL benchmarks.  Source it from the repository
# root after test/common.sh.
# shellcheck shell=bash

BENCH_PG_BIN=/usr/lib/postgresql/15/bin

# install deps, build and install firstsight, build the data generator into
# $BENCH_TMP (created here, removed by bench_cleanup)
bench_prepare() {
	fs_install_deps || exit 1
	fs_build_install || exit 1
	BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/fs-bench.XXXXXX")
	chmod 755 "$BENCH_TMP"
	[ "$(id -u)" = 0 ] && chown "$(fs_run_user)" "$BENCH_TMP"
	gcc -O2 -o "$BENCH_TMP/gen_copy" bench/gen/gen_copy.c
	trap bench_cleanup EXIT
}

bench_cleanup() {
	[ -n "${BENCH_TMP:-}" ] || return 0
	fs_stop_cluster "$BENCH_TMP"
	if [ -n "${KEEP:-}" ]; then
		fs_say "kept $BENCH_TMP"
	else
		rm -rf "$BENCH_TMP"
	fi
}

# start the throwaway cluster; $1 = extra postgresql.conf lines
bench_start() {
	fs_start_cluster "$BENCH_TMP" "$1"
}

# restart it (empty shared buffers), with settings $1 appended if given
bench_restart() {
	[ -n "${1:-}" ] && printf '%s\n' "$1" >>"$BENCH_TMP/data/postgresql.conf"
	fs_as_user "$BENCH_PG_BIN/pg_ctl" -D "$BENCH_TMP/data" -l "$BENCH_TMP/server.log" -w restart >/dev/null
}

bench_psql() {
	"$BENCH_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"
}

# can pgvector be created here?  (never builds it)
bench_have_pgvector() {
	bench_psql -c "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null 2>&1
}

# $1 = setup SQL (SET ...), $2 = query, $3 = runs: print each run's ms, one a
# line.  One session; the query runs once untimed first (a new backend pays
# for loading libraries and catalog caches on its first call).
bench_time() {
	{
		printf '%s\n' "$1" '\o /dev/null' "$2" '\timing on'
		for _ in $(seq "$3"); do printf '%s\n' "$2"; done
	} | bench_psql 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}

# median of numbers on stdin
bench_median() {
	sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# x / y to two decimals
bench_ratio() {
	awk -v x="$1" -v y="$2" 'BEGIN {if (y > 0) printf "%.2f\n", x / y; else print "n/a"}'
}

# what the report header needs
bench_machine() {
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //') (family $(grep -m1 'cpu family' /proc/cpuinfo | sed 's/.*: //')); nproc: $(nproc); RAM: $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo); PostgreSQL: $("$BENCH_PG_BIN/postgres" --version | awk '{print $3}')"
}
