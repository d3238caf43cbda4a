#!/usr/bin/env bash
# bench/hnsw/ip_insert_recall.sh: the `<#>` part of pgvector's
# 013_hnsw_vector_insert_recall.pl, repeated N times on embedding_hnsw and on
# pgvector's hnsw, alternating, in one throwaway cluster (issue 19).
#
# Each run, on each side: an empty table tst (i serial, v embedding(3) /
# vector(3)), an inner-product index with default m and ef_construction,
# pgbench --client=10 --transactions=1000 of
#   INSERT INTO tst (v) VALUES (ARRAY[random() * random(), ... x 3]);
# then 20 queries of random() in [0,1)^3 (as 013's perl rand()): exact top-20
# by a sequential scan, recall@20 of the index scan at ef_search 40 (013
# requires >= 0.97).  For each missed row: its rank in the exact top-20, its
# norm rank among all rows (1 = largest norm: the extremes every IP query
# wants), and whether it is reachable: a relaxed_order iterative scan with no
# tuple bound returns every element the graph reaches from the entry point
# (the count is printed too), and on firstsight index_check's lines; a
# missed row returned at ef_search 400 counts as reachable too (pgvector's
# relaxed_order scan here stops after about 1,600 of the 10,000 rows, so its
# count is no measure of reachability).
# Also recall@20 at ef_search 400 (missed by the search or by the graph).
#
# Needs FS_PG (as test/run) with firstsight and pgvector installed into it:
#   make PG_CONFIG=$FS_PG/bin/pg_config install
#   make -C PGVECTOR_SRC PG_CONFIG=$FS_PG/bin/pg_config OPTFLAGS="" install
# This script builds nothing.  Settings: N (15 runs per side), SIDES
# ("firstsight pgvector"), KEEP (keep the scratch directory).
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh
: "${FS_PG:?set FS_PG (test/private_pg.sh) with firstsight and pgvector installed}"
N=${N:-15}
SIDES=${SIDES:-firstsight pgvector}
BIN=$FS_PG/bin

T=$(mktemp -d "${TMPDIR:-/tmp}/fs-ip-recall.XXXXXX")
chmod 755 "$T"
[ "$(id -u)" = 0 ] && chown "$(fs_run_user)" "$T"
fs_start_cluster "$T"
cleanup() {
	fs_as_user "$BIN/pg_ctl" -D "$T/data" -m immediate stop >/dev/null 2>&1 || true
	if [ -n "${KEEP:-}" ]; then fs_say "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
export PGOPTIONS="-c client_min_messages=warning"
q() { "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

for side in $SIDES; do
	q -d postgres -c "CREATE DATABASE $side"
	case $side in
	firstsight) q -d $side -c "CREATE EXTENSION firstsight" -c "ALTER DATABASE $side SET search_path = public, firstsight" ;;
	pgvector) q -d $side -c "CREATE EXTENSION vector" ;;
	esac
done
fs_say "firstsight $(q -d firstsight -c "SELECT extversion FROM pg_extension WHERE extname = 'firstsight'" 2>/dev/null || echo -), pgvector $(q -d pgvector -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'" 2>/dev/null || echo -); $N runs per side; scratch $T"
echo "INSERT INTO tst (v) VALUES (ARRAY[random() * random(), random() * random(), random() * random()]);" >"$T/ins.sql"
chmod 644 "$T/ins.sql"

one_run() {
	local side=$1 run=$2 TYPE AM OPC P CHECK
	case $side in
	firstsight) TYPE=embedding AM=embedding_hnsw OPC=embedding_ip_ops P=firstsight.hnsw_
		CHECK="SELECT count(*) FROM firstsight.index_check('idx')" ;;
	pgvector) TYPE=vector AM=hnsw OPC=vector_ip_ops P=hnsw. CHECK="SELECT -1" ;;
	esac
	q -d $side -c "DROP TABLE IF EXISTS tst" -c "CREATE TABLE tst (i serial, v $TYPE(3))" \
		-c "CREATE INDEX idx ON tst USING $AM (v $OPC)"
	"$BIN/pgbench" -n --client=10 --transactions=1000 -f "$T/ins.sql" $side >"$T/pgbench.out" 2>&1 ||
		{ cat "$T/pgbench.out"; exit 1; }
	q -d $side <<SQL
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE qs AS SELECT qid, ARRAY[random(), random(), random()]::$TYPE AS v FROM generate_series(1, 20) qid;
CREATE TEMP TABLE nr AS SELECT i, rank() OVER (ORDER BY v <#> v) AS nrank FROM tst;
SET enable_indexscan = off; SET enable_bitmapscan = off;
CREATE TEMP TABLE truth AS
  SELECT qid, t.i, t.pos FROM qs, LATERAL (SELECT i, row_number() OVER () AS pos
    FROM (SELECT i FROM tst ORDER BY tst.v <#> qs.v LIMIT 20) s) t;
RESET enable_indexscan; RESET enable_bitmapscan;
SET enable_seqscan = off;
SET ${P}ef_search = 40;
CREATE TEMP TABLE got AS SELECT qid, t.i FROM qs, LATERAL (SELECT i FROM tst ORDER BY tst.v <#> qs.v LIMIT 20) t;
SET ${P}ef_search = 400;
CREATE TEMP TABLE got400 AS SELECT qid, t.i FROM qs, LATERAL (SELECT i FROM tst ORDER BY tst.v <#> qs.v LIMIT 20) t;
SET ${P}ef_search = 40;
SET ${P}iterative_scan = relaxed_order;
SET ${P}max_scan_tuples = 2000000000;
SET work_mem = '256MB'; SET ${P}scan_mem_multiplier = 1000;
CREATE TEMP TABLE reach AS SELECT DISTINCT i FROM (SELECT i FROM tst ORDER BY v <#> '[1,1,1]' LIMIT 1000000) s;
RESET ${P}iterative_scan; RESET work_mem; RESET ${P}scan_mem_multiplier;
CREATE TEMP TABLE missed AS SELECT t.qid, t.i, t.pos, nr.nrank, (t.i IN (SELECT i FROM reach) OR EXISTS (SELECT 1 FROM got400 g WHERE g.qid = t.qid AND g.i = t.i)) AS reachable
  FROM truth t JOIN nr USING (i) WHERE NOT EXISTS (SELECT 1 FROM got g WHERE g.qid = t.qid AND g.i = t.i);
SELECT concat_ws(' ', '$side', $run,
  round((SELECT count(*) FROM truth t JOIN got g USING (qid, i)) / 400.0, 4),
  round((SELECT count(*) FROM truth t JOIN got400 g USING (qid, i)) / 400.0, 4),
  (SELECT count(*) FROM tst), (SELECT count(*) FROM reach), ($CHECK),
  (SELECT count(*) FROM missed), (SELECT count(DISTINCT i) FROM missed),
  (SELECT count(*) FROM missed WHERE NOT reachable),
  coalesce((SELECT string_agg(pos || ':' || nrank, ',' ORDER BY nrank) FROM missed), '-'));
SQL
}

echo "# side run recall@ef40 recall@ef400 rows reachable index_check_lines missed distinct_missed unreachable_missed pos:normrank,..."
: >"$T/runs"
for run in $(seq 1 "$N"); do
	for side in $SIDES; do
		one_run "$side" "$run" | tee -a "$T/runs"
	done
done
for side in $SIDES; do
	grep "^$side " "$T/runs" | sort -k3,3n | awk -v side="$side" '
		{ r[NR] = $3; s += $3; if ($3 < 0.97) below++; m += $8; u += $10; r4 += $4
		  unreach += ($5 - $6)
		  n = split($11, a, ","); for (k = 1; k <= n; k++) if (a[k] != "-") { split(a[k], b, ":"); nr[b[2] <= 20 ? "1-20" : b[2] <= 100 ? "21-100" : ">100"]++ } }
		END {
			p10 = r[int((NR - 1) * 0.1) + 1]
			med = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
			printf "%s: %d runs, recall@20 min %.4f p10 %.4f median %.4f mean %.4f max %.4f, %d below 0.97; mean recall at ef_search 400 %.4f; missed rows %d (unreachable %d), norm rank of missed: 1-20 %d, 21-100 %d, >100 %d; %s\n",
				side, NR, r[1], p10, med, s / NR, r[NR], below, r4 / NR, m, u, nr["1-20"] + 0, nr["21-100"] + 0, nr[">100"] + 0,
				side == "firstsight" ? sprintf("unreachable elements per run %.1f (rows - rows of an unbounded relaxed_order scan)", unreach / NR) : "" }'
done
