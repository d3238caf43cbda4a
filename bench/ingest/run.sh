#!/usr/bin/env bash
# bench/ingest/run.sh: camera ingestion with matching against a gallery.
#   sustained: CLIENTS pgbench clients, one capture per transaction, DURATION s
#   copy:      one COPY of COPY_ROWS captures (90% known persons, 10% new)
# Settings (environment): GALLERY persons (default 100000 when embedding_hnsw
# is installed, else 5000: exact search is linear in the gallery), DIMS (512),
# CLIENTS (8), WARMUP (20) and DURATION (30) s, COPY_ROWS (10000).  Bounded: one throwaway
# cluster, removed at the end.
# VARIANTS ("on"): one round of sustained + COPY on the same loaded gallery per
# word, each starting from the ingestion settings' defaults: "on" = defaults,
# "off" = new_person_ef_search 0 (no wider search before a new person), a
# number = that new_person_ef_search, and LABEL:SETTING=VALUE[,SETTING=VALUE]
# (e.g. "nostep:new_person_ef_step=0": straight to the wider search)
# any project settings (e.g. "base:exact_search_faces=0
# recent:recent_min_distance=0.055"); the pseudo-setting form=select makes the
# round's clients send INSERT ... SELECT (the batch trigger, as before the
# single-row path) instead of the default one-row INSERT ... VALUES (the
# single-row path, as a camera sends it), e.g. "batch:form=select values:form=values".
# CROSSOVER ("100 1000 3000"): before the rounds, one session times
# gallery_nearest (index) against gallery_nearest_exact (OpenBLAS over the
# whole gallery) for batches of that many probes; "" skips it.
# Each round uses its own probes and new faces (round k: probes 20000k+1..
# 20000(k+1), each a different person); later rounds see the gallery grown by
# the earlier ones (new exemplars and persons).
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh
. bench/ingest/lib.sh

COPY_ROWS=${COPY_ROWS:-10000}
read -r -a variants <<<"${VARIANTS:-on}"
nv=${#variants[@]}

# the gallery, COPY_ROWS new identities per round for the COPYs, and 20,000
# probes per round
ingest_setup $((COPY_ROWS * nv)) $((20000 * nv))

# index against exact search, one session, the index mapped first (index_check)
read -r -a crossover <<<"${CROSSOVER-100 1000 3000}"
if [ ${#crossover[@]} -gt 0 ]; then
	fs_say "crossover: gallery_nearest (index) against gallery_nearest_exact, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	{
		echo "$INDEX_CHECK_SQL"
		echo "SELECT 'warm-up searches: ' || count(*) FROM firstsight.gallery_nearest(1, (SELECT array_agg(face) FROM bench_probe WHERE n <= 200));"
		# the exact search reads every heap page of the gallery: map them once too
		echo "SELECT 'warm-up exact search: ' || count(*) FROM firstsight.gallery_nearest_exact(1, (SELECT array_agg(face) FROM bench_probe WHERE n <= 1));"
		for m in "${crossover[@]}"; do
			cat <<SQL
CREATE TEMP TABLE q AS SELECT array_agg(face ORDER BY n) AS f FROM bench_probe WHERE n <= $m;
SELECT clock_timestamp() AS t0 \\gset
CREATE TEMP TABLE a AS SELECT * FROM firstsight.gallery_nearest(1, (SELECT f FROM q));
SELECT clock_timestamp() AS t1 \\gset
CREATE TEMP TABLE b AS SELECT * FROM firstsight.gallery_nearest_exact(1, (SELECT f FROM q));
SELECT clock_timestamp() AS t2 \\gset
SELECT format('batch %s: index %s ms (%s ms/face), exact %s ms (%s ms/face), exact / index time %s; same person %s of %s',
              $m, round(i), round(i / $m, 3), round(e), round(e / $m, 3), round((e / i)::numeric, 2),
              (SELECT count(*) FROM a JOIN b USING (ord) WHERE a.person_id = b.person_id), $m)
FROM (SELECT 1000 * extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz) AS i,
             1000 * extract(epoch FROM :'t2'::timestamptz - :'t1'::timestamptz) AS e) x;
DROP TABLE q, a, b;
SQL
		done
	} >"$dir/crossover.sql"
	chmod 644 "$dir/crossover.sql"
	psql -At -f "$dir/crossover.sql"
fi

for ((round = 0; round < nv; round++)); do
v=${variants[$round]}
base=$((20000 * round))
form=values
psql -At -c "SELECT firstsight.reset_setting(1, s) FROM unnest(ARRAY['new_person_ef_search', 'new_person_ef_step', 'exact_search_faces', 'recent_min_distance']) s" >/dev/null
case "$v" in
on) ;;
off) psql -At -c "SELECT firstsight.configure(1, 'new_person_ef_search', '0')" >/dev/null ;;
*:*=*)
	IFS=, read -r -a pairs <<<"${v#*:}"
	for kv in "${pairs[@]}"; do
		case "${kv%%=*}" in
		form) form=${kv#*=} ;;
		*) psql -At -c "SELECT firstsight.configure(1, '${kv%%=*}', '${kv#*=}')" >/dev/null ;;
		esac
	done ;;
*) psql -At -c "SELECT firstsight.configure(1, 'new_person_ef_search', '$v')" >/dev/null ;;
esac
fs_say "round $round ($v, INSERT ... $form): $(psql -At -c "SELECT string_agg(setting || ' = ' || value, ', ' ORDER BY setting) FROM firstsight.project_settings WHERE project_id = 1 AND setting IN ('new_person_ef_search', 'new_person_ef_step', 'exact_search_faces', 'recent_min_distance')"), load average $(cut -d' ' -f1-3 /proc/loadavg)"
before=$(psql -At -c "SELECT count(*) FROM firstsight.person")
# form values: one row of VALUES (the face by a scalar subquery), so the
# single-row path; form select: INSERT ... SELECT, which the batch trigger takes
if [ "$form" = select ]; then
	insert="SELECT 1, 'cam' || (:client_id % 8), now(), face, 0.8, false FROM bench_probe WHERE n = :n;"
else
	insert="VALUES (1, 'cam' || (:client_id % 8), now(), (SELECT face FROM bench_probe WHERE n = :n), 0.8, false);"
fi
fs_say "[$v] sustained ingest: $CLIENTS clients, $WARMUP s warm-up, then $DURATION s measured"
ingest_pgbench ingest "$base" "INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
$insert" | sed 's/ transactions,/ captures,/; s/\/s,/ captures\/s,/'
after=$(psql -At -c "SELECT count(*) FROM firstsight.person")
fs_say "[$v] gallery rows updated so far: $(psql -At -c "SELECT n_tup_upd || ', HOT ' || n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = 'firstsight.face_p1'::regclass")"
fs_say "[$v] persons after sustained run: $after (new from probes, should be 0: $((after - before)))"

fs_say "[$v] COPY of $COPY_ROWS captures (90% known persons, 10% new)"
psql -c "COPY (SELECT 1, 'cam1', now(), CASE WHEN g % 10 = 0 THEN c.face ELSE p.face END, 0.7, false
               FROM generate_series(1, $COPY_ROWS) g
               JOIN bench_probe p ON p.n = 1 + g % 20000 + $base
               JOIN bench_centre c ON c.id = $GALLERY + $COPY_ROWS * $round + g)
          TO '$dir/copy.tsv'"
# one session: map the index (index_check reads every page), search 200 faces,
# map the gallery's heap (one exact search), then time the COPY alone
psql -At <<SQL
$INDEX_CHECK_SQL
SELECT 'warm-up searches: ' || count(*) FROM firstsight.gallery_nearest(1, (SELECT array_agg(face) FROM bench_probe WHERE n > $base AND n <= $base + 200));
SELECT 'warm-up exact search: ' || count(*) FROM firstsight.gallery_nearest_exact(1, (SELECT array_agg(face) FROM bench_probe WHERE n = $base + 1));
SELECT clock_timestamp() AS t0 \\gset
COPY firstsight.capture (project_id, camera_id, captured_at, face, quality, masked) FROM '$dir/copy.tsv';
SELECT format('COPY %s captures: %s s, %s captures/s', $COPY_ROWS, round(s::numeric, 2), round($COPY_ROWS / s))
FROM extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) s;
SQL
psql -At -c "SELECT 'captures without person: ' || count(*) FILTER (WHERE person_id IS NULL) FROM firstsight.capture"
psql -At -c "$INDEX_CHECK_SQL"
before=$after; after=$(psql -At -c "SELECT count(*) FROM firstsight.person")
fs_say "[$v] persons made by the COPY: $((after - before)) (new identities: $((COPY_ROWS / 10)); spurious: $((after - before - COPY_ROWS / 10)))"
rm -f "$dir/copy.tsv"
done
