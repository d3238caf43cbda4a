#!/usr/bin/env bash
# test/pgvector_contract.sh PGVECTOR_SRC [sql|tap|all] [TAP_FILE ...]
#
# pgvector's own HNSW tests for `vector`, renamed to firstsight's names, run
# on pgvector and on firstsight (issue 19): a check to repeat after a change
# to src/hnsw, never part of test/run (its TAP files take 10-30 minutes).
#
# PGVECTOR_SRC is a pgvector checkout the user fetched (its test/ directory is
# all that is read; tested with 0.8.6).  pgvector must already be built and
# installed into the same PostgreSQL as firstsight (FS_PG, as for test/run):
#     make -C PGVECTOR_SRC PG_CONFIG=$FS_PG/bin/pg_config install
# This script neither fetches nor builds pgvector, and nothing of it is kept
# in this repository.  Without PGVECTOR_SRC, or without pgvector installed,
# it says so and exits 0.  It builds and installs firstsight into FS_PG.
#
# What is renamed (rename(), below): CREATE EXTENSION vector -> firstsight
# (and the database's search_path, so the unqualified names resolve), USING
# hnsw -> USING embedding_hnsw, vector_{l2,ip,cosine,l1}_ops ->
# embedding_*_ops, hnsw.{ef_search,iterative_scan,max_scan_tuples,
# scan_mem_multiplier} -> firstsight.hnsw_*, the type vector -> embedding.
# Nothing else: every assertion and threshold stays as pgvector wrote it.
#
# sql: each test/sql/hnsw_*.sql on `vector` (hnsw_bit, hnsw_halfvec and
#   hnsw_sparsevec are other types firstsight does not have) runs statement by
#   statement in one session, the original on pgvector and the renamed file
#   on firstsight, each in a throwaway cluster.  pgvector's output of a
#   statement is renamed the same way, then compared with firstsight's: the
#   script prints how many statements agree and, for each that differs, the
#   statement and the diff (pgvector's lines "-", firstsight's "+").  The
#   rule of dashes under a column name is compared as "---" (its width is
#   the name's, and firstsight's setting names are longer).
# tap: the filter below selects pgvector's test/t/*hnsw*.pl for `vector`:
#   every file whose name has hnsw in it, except the ones for other types
#   (_bit_, _halfvec_, _sparsevec_); in those, lines naming strict_order
#   (an iterative scan mode firstsight does not have; README, "Differences
#   from pgvector's HNSW") are left out, on both sides.  Each file is proved
#   on pgvector as filtered and on firstsight filtered and renamed: PASS/FAIL
#   per file and side, the failed assertions of each failure, and totals.
#   TAP_FILE arguments (e.g. 015_hnsw_vector_duplicates) limit the files.
#   SIDES="pgvector firstsight" (default) or one of them.
#
# Logs and the renamed files stay in the printed scratch directory with
# KEEP=1 (else it is removed).  Exit status: 0 when every difference and
# every failed assertion is one of KNOWN (below), the differences that are
# meant; 1 otherwise.
set -uo pipefail
SRC=${1:-}
# a relative PGVECTOR_SRC is the caller's, before the cd to the repository
[ -n "$SRC" ] && [ -d "$SRC" ] && SRC=$(cd "$SRC" && pwd)
cd "$(dirname "$0")/.."
. test/common.sh

what=${2:-all}
shift 2 2>/dev/null || shift $#
SIDES=${SIDES:-pgvector firstsight}

if [ -z "$SRC" ]; then
	fs_say "pgvector contract skipped: no pgvector checkout given (usage: test/pgvector_contract.sh PGVECTOR_SRC [sql|tap|all] [TAP_FILE ...])"
	exit 0
fi
if [ ! -d "$SRC/test/sql" ] || [ ! -d "$SRC/test/t" ]; then
	fs_say "pgvector contract skipped: $SRC has no test/sql and test/t (a pgvector checkout is needed)"
	exit 0
fi
if [ ! -f "$("$FS_PG/bin/pg_config" --sharedir)/extension/vector.control" ]; then
	fs_say "pgvector contract skipped: pgvector is not installed in $FS_PG (make -C $SRC PG_CONFIG=$FS_PG/bin/pg_config install)"
	exit 0
fi
fs_say "pgvector $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$("$FS_PG/bin/pg_config" --sharedir)/extension/vector.control") installed, tests from $SRC"
fs_build_install || exit 1

T=$(mktemp -d "${TMPDIR:-/tmp}/fs-pgvector-contract.XXXXXX")
chmod 755 "$T"
cleanup() {
	for d in "$T"/cluster-*; do [ -d "$d/data" ] && fs_stop_cluster "$d"; done
	if [ -n "${KEEP:-}" ]; then fs_say "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

# pgvector's names -> firstsight's, on stdin or files
rename() {
	sed -E \
		-e 's/CREATE EXTENSION vector;/CREATE EXTENSION firstsight; ALTER DATABASE postgres SET search_path = public, firstsight;/' \
		-e 's/USING hnsw([ (])/USING embedding_hnsw\1/g' \
		-e 's/vector_(l2|ip|cosine|l1)_ops/embedding_\1_ops/g' \
		-e 's/hnsw\.(ef_search|iterative_scan|max_scan_tuples|scan_mem_multiplier)/firstsight.hnsw_\1/g' \
		-e 's/(^|[^a-z_])vector\(/\1embedding(/g' \
		-e 's/::vector([^a-z_]|$)/::embedding\1/g' \
		-e 's/type vector([^a-z_]|$)/type embedding\1/g' \
		"$@"
}

# The differences that are meant, for pgvector 0.8.6's tests (README,
# "Differences from pgvector's HNSW"): FILE:N is statement N of the sql
# file, or assertion N of the TAP file ("not ok N").  A difference or failed
# assertion listed here is printed with its reason; any other is NOT LISTED:
# a defect until shown otherwise, and the exit status is 1.  Another pgvector
# version numbers its statements and assertions differently: read the
# output, then update the list.
declare -A KNOWN=(
	[hnsw_vector:38]="no strict_order iterative scan"
	[hnsw_vector:40]="strict_order was refused above, so this runs without iterative scan: ef_search = 1 gives 1 row"
	[hnsw_vector:58]="the ef_construction bound worded differently, with its figures"
	[hnsw_vector:64]="no strict_order among the values"
	[hnsw_vector:71]="embedding(2000) needs m of 5 or less (links and vector share one tuple)"
	[hnsw_vector:74]="the message names embedding_hnsw and the column's dimensions"
	[012_hnsw_vector_build_recall:9]="no spill message: firstsight's graph of 10,000 x 3 fits 4 MB"
	[012_hnsw_vector_build_recall:18]="no spill message: firstsight's graph of 10,000 x 3 fits 4 MB"
	[012_hnsw_vector_build_recall:27]="no spill message: firstsight's graph of 10,000 x 3 fits 4 MB"
	[012_hnsw_vector_build_recall:36]="no spill message: firstsight's graph of 10,000 x 3 fits 4 MB"
	[015_hnsw_vector_duplicates:1]="a scan returns every tie of its last row: 20 identical vectors, not 10"
	[015_hnsw_vector_duplicates:2]="a scan returns every tie of its last row: 20 identical vectors, not 10"
	[045_hnsw_low_memory_build:3]="no spill message: firstsight's graph of 1,000 x 3 fits 3 MB"
)
unlisted=0
reason() { # $1 = FILE:N
	if [ -n "${KNOWN[$1]:-}" ]; then echo "listed: ${KNOWN[$1]}"; else echo "NOT LISTED"; fi
}

# ---- sql ----------------------------------------------------------------
# one statement per chunk: lines up to one ending in ';' (pgvector's files
# have no dollar quoting); comments and blank lines dropped.  Before each,
# \echo @@ N, so the outputs split the same way on both sides.
split_marked() {
	awk 'BEGIN {n = 0; s = ""}
		/^[[:space:]]*(--.*)?$/ && s == "" {next}
		{s = s (s == "" ? "" : "\n") $0}
		/;[[:space:]]*$/ {n++; printf "\\echo @@ %d\n%s\n", n, s; s = ""}
		END {if (s != "") {n++; printf "\\echo @@ %d\n%s\n", n, s}}' "$1"
}
statements() { # $1 file: statement N on one line each, "N<TAB>text"
	awk 'BEGIN {n = 0; s = ""}
		/^[[:space:]]*(--.*)?$/ && s == "" {next}
		{s = s (s == "" ? "" : " ") $0}
		/;[[:space:]]*$/ {n++; printf "%d\t%s\n", n, s; s = ""}
		END {if (s != "") {n++; printf "%d\t%s\n", n, s}}' "$1"
}
# run $2 (marked script) on a fresh cluster with extension $1, output to $3
run_sql_side() {
	local ext=$1 script=$2 out=$3 dir="$T/cluster-sql-$1"
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown "$(fs_run_user)" "$dir"
	fs_start_cluster "$dir" "" || return 1
	if [ "$ext" = vector ]; then
		"$FS_PG/bin/psql" -X -q -d postgres -c "CREATE EXTENSION vector" >/dev/null
	else
		"$FS_PG/bin/psql" -X -q -d postgres -c "CREATE EXTENSION firstsight" \
			-c "ALTER DATABASE postgres SET search_path = public, firstsight" >/dev/null
	fi
	# like pg_regress: the script on stdin, errors in line with results
	"$FS_PG/bin/psql" -X -q -d postgres <"$script" >"$out" 2>&1
	fs_stop_cluster "$dir"
	rm -rf "$dir"
}
# the output of statement N of $1 (lines after "@@ N" up to the next marker)
chunk() { awk -v n="$2" '/^@@ [0-9]+$/ {on = ($2 == n); next} on' "$1"; }

sql_same=0
sql_diff=0
if [ "$what" = all ] || [ "$what" = sql ]; then
	mkdir -p "$T/sql"
	for f in "$SRC"/test/sql/hnsw_*.sql; do
		b=$(basename "$f" .sql)
		case "$b" in *_bit | *_halfvec | *_sparsevec) continue ;; esac
		split_marked "$f" >"$T/sql/$b.orig.sql"
		rename "$T/sql/$b.orig.sql" >"$T/sql/$b.ren.sql"
		statements "$f" | rename >"$T/sql/$b.statements"
		chmod 644 "$T"/sql/*
		fs_say "sql $b: pgvector"
		run_sql_side vector "$T/sql/$b.orig.sql" "$T/sql/$b.pgvector.out" || exit 1
		fs_say "sql $b: firstsight"
		run_sql_side firstsight "$T/sql/$b.ren.sql" "$T/sql/$b.firstsight.out" || exit 1
		n=$(wc -l <"$T/sql/$b.statements")
		same=0
		diffs=""
		for ((i = 1; i <= n; i++)); do
			# a column's rule of dashes is as wide as its name: firstsight's
			# settings have longer names, so rules are compared as "---"
			chunk "$T/sql/$b.pgvector.out" "$i" | rename | sed -E 's/^-+$/---/' >"$T/sql/a"
			chunk "$T/sql/$b.firstsight.out" "$i" | sed -E 's/^-+$/---/' >"$T/sql/b"
			if cmp -s "$T/sql/a" "$T/sql/b"; then
				same=$((same + 1))
			else
				[ -n "${KNOWN[$b:$i]:-}" ] || unlisted=$((unlisted + 1))
				diffs+="  statement $i ($(reason "$b:$i")): $(awk -F '\t' -v i="$i" '$1 == i {print $2}' "$T/sql/$b.statements")"$'\n'
				diffs+="$(diff "$T/sql/a" "$T/sql/b" | grep -E '^[<>]' | sed 's/^</    -/; s/^>/    +/')"$'\n'
			fi
		done
		echo "sql $b: $n statements, $same same output, $((n - same)) differ"
		[ -n "$diffs" ] && printf '%s' "$diffs"
		sql_same=$((sql_same + same))
		sql_diff=$((sql_diff + n - same))
	done
fi

# ---- tap ----------------------------------------------------------------
tap_files() {
	local f b
	for f in "$SRC"/test/t/*hnsw*.pl; do
		b=$(basename "$f" .pl)
		case "$b" in *_bit_* | *_halfvec_* | *_sparsevec_*) continue ;; esac
		if [ $# -gt 0 ]; then
			local want=0 a
			for a in "$@"; do [ "$b" = "$(basename "$a" .pl)" ] && want=1; done
			[ $want = 1 ] || continue
		fi
		echo "$b"
	done
}
# prove $T/$1/t/$2.pl; prints PASS or FAIL
prove_one() {
	local side=$1 b=$2 dir="$T/$1"
	if (cd "$dir" && fs_as_user env PG_REGRESS="$FS_PG/lib/pgxs/src/test/regress/pg_regress" \
			TESTDIR="$dir" PATH="$FS_PG/bin:$PATH" \
			prove -v -I "$FS_PG/lib/pgxs/src/test/perl" "t/$b.pl") >"$dir/$b.log" 2>&1; then
		echo PASS
	else
		echo FAIL
	fi
}

declare -A tap_pass tap_total tap_listed
if [ "$what" = all ] || [ "$what" = tap ]; then
	mapfile -t files < <(tap_files "$@")
	for side in $SIDES; do
		mkdir -p "$T/$side/t"
		for b in "${files[@]}"; do
			# the filter: strict_order is not firstsight's; left out on both sides
			grep -v 'strict_order' "$SRC/test/t/$b.pl" >"$T/$side/t/$b.pl.tmp"
			if [ "$side" = firstsight ]; then rename "$T/$side/t/$b.pl.tmp"; else cat "$T/$side/t/$b.pl.tmp"; fi >"$T/$side/t/$b.pl"
			rm "$T/$side/t/$b.pl.tmp"
		done
		[ "$(id -u)" = 0 ] && chown -R "$(fs_run_user)" "$T/$side"
		tap_pass[$side]=0
		tap_total[$side]=0
		tap_listed[$side]=0
	done
	for b in "${files[@]}"; do
		for side in $SIDES; do
			start=$(date +%s)
			r=$(prove_one "$side" "$b")
			tap_total[$side]=$((tap_total[$side] + 1))
			[ "$r" = PASS ] && tap_pass[$side]=$((tap_pass[$side] + 1))
			echo "tap $b on $side: $r ($(($(date +%s) - start)) s)"
			if [ "$r" = FAIL ]; then
				# the failed assertions and their diagnostics
				grep -E '^(not ok|#  |# Looks like|Bailout|Dubious)' "$T/$side/$b.log" | head -n 40 | sed 's/^/    /'
				# each failed assertion: listed (firstsight only) or not
				nok=$(sed -nE 's/^not ok ([0-9]+).*/\1/p' "$T/$side/$b.log")
				before=$unlisted
				[ -z "$nok" ] && { echo "    (no failed assertion: the file stopped; see its log)"; unlisted=$((unlisted + 1)); }
				for n in $nok; do
					if [ "$side" = firstsight ] && [ -n "${KNOWN[$b:$n]:-}" ]; then
						echo "    assertion $n: $(reason "$b:$n")"
					else
						echo "    assertion $n: NOT LISTED"
						unlisted=$((unlisted + 1))
					fi
				done
				[ "$unlisted" = "$before" ] && tap_listed[$side]=$((tap_listed[$side] + 1))
			fi
		done
	done
	for side in $SIDES; do
		echo "tap on $side: ${tap_pass[$side]} of ${tap_total[$side]} files pass, ${tap_listed[$side]} fail on listed differences only"
	done
fi

if [ "$what" = all ] || [ "$what" = sql ]; then
	echo "sql total: $sql_same statements same, $sql_diff differ"
fi
if [ "$unlisted" -eq 0 ]; then
	echo "every difference is a listed one"
else
	echo "$unlisted difference(s) or failed assertion(s) NOT LISTED"
fi
[ "$unlisted" -eq 0 ]
