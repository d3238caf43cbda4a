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

DIMS=${DIMS:-512}
CLIENTS=${CLIENTS:-8}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-20}
COPY_ROWS=${COPY_ROWS:-10000}
read -r -a variants <<<"${VARIANTS:-on}"
nv=${#variants[@]}
BIN=/usr/lib/postgresql/15/bin

fs_install_deps
fs_build_install
dir=$(mktemp -d "${TMPDIR:-/tmp}/fs-ingest.XXXXXX")
chmod 755 "$dir"; [ "$(id -u)" = 0 ] && chown "$(fs_run_user)" "$dir"
trap 'fs_stop_cluster "$dir"; rm -rf "$dir"' EXIT
# firstsight is preloaded: the postmaster maps the library built above, so
# backends started later do not pick up another build installed meanwhile
fs_start_cluster "$dir" "max_connections = 50
shared_preload_libraries = 'firstsight'
synchronous_commit = off
checkpoint_timeout = 30min
max_wal_size = 8GB"
psql() { fs_as_user "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

psql -c "CREATE EXTENSION firstsight"
if [ "$(psql -At -c "SELECT count(*) FROM firstsight.setting_definition WHERE setting IN ('new_person_ef_search', 'exact_search_faces', 'recent_min_distance')")" != 3 ]; then
	fs_say "the installed firstsight is not this tree's build (another build was installed meanwhile); run again"
	exit 1
fi
has_hnsw=$(psql -At -c "SELECT count(*) FROM pg_am WHERE amname = 'embedding_hnsw'")
if [ -z "${GALLERY:-}" ]; then
	if [ "$has_hnsw" = 1 ]; then GALLERY=100000; else GALLERY=5000; fi
fi
fs_say "gallery $GALLERY persons, $DIMS dims, embedding_hnsw installed: $has_hnsw"

psql <<SQL
SELECT firstsight.create_project('bench', dims => $DIMS);
INSERT INTO firstsight.camera SELECT 1, 'cam' || i, 'entrance' FROM generate_series(0, 7) i;
SELECT setseed(0.5);
-- identities: random directions (far apart in $DIMS dimensions)
CREATE UNLOGGED TABLE bench_centre AS
	SELECT id, firstsight.l2_normalize(array_agg(random() - 0.5)::real[]::firstsight.embedding) AS face
	FROM generate_series(1, $GALLERY + $COPY_ROWS * $nv) id, generate_series(1, $DIMS) k GROUP BY id;
CREATE UNIQUE INDEX ON bench_centre (id);
SQL

# LOAD=bulk (default for galleries over 10,000): the gallery as the camera path
# would leave it (one person, visit, capture and unmasked exemplar per identity,
# captured yesterday) written directly with triggers off
# (session_replication_role = replica), then the HNSW index built once.
# LOAD=camera: COPY-like INSERTs of 1,000 new faces through the ingestion trigger.
LOAD=${LOAD:-$([ "$GALLERY" -gt 10000 ] && echo bulk || echo camera)}
# FILLFACTOR: the gallery partition's fillfactor before the load (create_project
# gives 60; 100 is what partitions had before, every row update non-HOT)
if [ -n "${FILLFACTOR:-}" ]; then
	psql -c "ALTER TABLE firstsight.face_p1 SET (fillfactor = $FILLFACTOR)"
fi
fs_say "gallery partition: $(psql -At -c "SELECT coalesce(array_to_string(reloptions, ','), 'fillfactor=100 (default)') FROM pg_class WHERE oid = 'firstsight.face_p1'::regclass")"
t0=$(date +%s.%N)
if [ "$LOAD" = bulk ]; then
	fs_say "loading the gallery in bulk (direct inserts, then the index build)"
	psql <<SQL
SET session_replication_role = replica;
DROP INDEX IF EXISTS firstsight.face_p1_hnsw;
INSERT INTO firstsight.capture (project_id, capture_id, camera_id, captured_at, face, quality, masked, person_id, visit_id)
	SELECT 1, id, 'cam0', now() - interval '1 day', face, 0.8, false, id, id FROM bench_centre WHERE id <= $GALLERY;
INSERT INTO firstsight.person (project_id, person_id, first_seen, last_seen, visits, captures)
	SELECT 1, id, now() - interval '1 day', now() - interval '1 day', 1, 1 FROM generate_series(1, $GALLERY) id;
INSERT INTO firstsight.visit (project_id, visit_id, person_id, started_at, ended_at, captures, first_camera_id, first_capture_id)
	SELECT 1, id, id, now() - interval '1 day', now() - interval '1 day', 1, 'cam0', id FROM generate_series(1, $GALLERY) id;
INSERT INTO firstsight.face (project_id, face_id, person_id, kind, capture_id, captured_at, quality, masked, face)
	SELECT 1, id, id, 'unmasked', id, now() - interval '1 day', 0.8, false, face FROM bench_centre WHERE id <= $GALLERY;
SELECT setval('firstsight.' || s, $GALLERY + 1) FROM unnest(ARRAY['person_id_seq', 'capture_id_seq', 'visit_id_seq', 'face_id_seq']) s;
RESET session_replication_role;
SELECT firstsight.create_gallery_index(1);
SQL
else
	fs_say "loading the gallery through the camera path (INSERTs of 1000 new faces, captured yesterday)"
	for ((s = 1; s <= GALLERY; s += 1000)); do
		e=$((s + 999)); [ $e -gt "$GALLERY" ] && e=$GALLERY
		psql -c "INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
		         SELECT 1, 'cam0', now() - interval '1 day', face, 0.8, false FROM bench_centre WHERE id BETWEEN $s AND $e"
	done
fi
t1=$(date +%s.%N)
psql -At -c "SELECT 'gallery persons: ' || count(*) FROM firstsight.person"
fs_say "gallery load ($LOAD): $(echo "$t1 - $t0" | bc -l | xargs printf '%.0f') s, $(echo "$GALLERY / ($t1 - $t0)" | bc -l | xargs printf '%.0f') captures/s"

# probes: noisy re-captures of known persons (cosine distance ~0.02 from the centre)
psql <<SQL
CREATE UNLOGGED TABLE bench_probe AS
	SELECT n, firstsight.l2_normalize(c.face OPERATOR(firstsight.+)
	          (SELECT array_agg((random() - 0.5) * 0.01)::real[]::firstsight.embedding FROM generate_series(1, $DIMS) WHERE n > 0)) AS face
	FROM generate_series(1, 20000 * $nv) n JOIN bench_centre c ON c.id = 1 + (n * 7919) % $GALLERY;
CREATE UNIQUE INDEX ON bench_probe (n);
VACUUM ANALYZE;
SQL

# index against exact search, one session, the index mapped first (index_check)
read -r -a crossover <<<"${CROSSOVER-100 1000 3000}"
if [ ${#crossover[@]} -gt 0 ]; then
	fs_say "crossover: gallery_nearest (index) against gallery_nearest_exact, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	{
		echo "SELECT 'index check: ' || count(*) FROM firstsight.index_check('firstsight.face_p1_hnsw');"
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
psql -At -c "SELECT firstsight.reset_setting(1, s) FROM unnest(ARRAY['new_person_ef_search', 'exact_search_faces', 'recent_min_distance']) s" >/dev/null
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
fs_say "round $round ($v, INSERT ... $form): $(psql -At -c "SELECT string_agg(setting || ' = ' || value, ', ' ORDER BY setting) FROM firstsight.project_settings WHERE project_id = 1 AND setting IN ('new_person_ef_search', 'exact_search_faces', 'recent_min_distance')"), load average $(cut -d' ' -f1-3 /proc/loadavg)"
before=$(psql -At -c "SELECT count(*) FROM firstsight.person")
# each connection first maps the whole index once (index_check reads every page)
# form values: one row of VALUES (the face by a scalar subquery), so the
# single-row path; form select: INSERT ... SELECT, which the batch trigger takes
if [ "$form" = select ]; then
	insert="SELECT 1, 'cam' || (:client_id % 8), now(), face, 0.8, false FROM bench_probe WHERE n = :n;"
else
	insert="VALUES (1, 'cam' || (:client_id % 8), now(), (SELECT face FROM bench_probe WHERE n = :n), 0.8, false);"
fi
cat >"$dir/ingest.sql" <<SQL
\\if :warmed = 0
SELECT count(*) FROM firstsight.index_check('firstsight.face_p1_hnsw');
\\set warmed 1
\\endif
\\set n random(1, 20000) + :base
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
$insert
SQL
chmod 644 "$dir/ingest.sql"
# A new backend maps each shared buffer it touches for the first time (page
# faults, slow in this VM: a cold connection's first HNSW searches take ~0.5 s).
# Cameras keep their connections, so each connection touches the index once
# and the figures are taken after WARMUP seconds of the same connections.
fs_say "[$v] sustained ingest: $CLIENTS clients, $WARMUP s warm-up, then $DURATION s measured"
(cd "$dir" && fs_as_user "$BIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T $((WARMUP + DURATION)) -D warmed=0 -D base=$base -f ingest.sql -l --log-prefix=lat \
	-h "$PGHOST" -p "$PGPORT" -U postgres postgres) | grep -E "tps|latency average|failed"
# log: client tx latency_us script epoch_s us; keep transactions ending after the warm-up
cat "$dir"/lat.* | sort -k5,5n | awk -v w="$WARMUP" -v d="$DURATION" 'NR == 1 {t0 = $5} $5 >= t0 + w {print $3}' | sort -n |
	awk -v d="$DURATION" '{a[NR]=$1} END {printf "measured %d s: %d captures, %.0f captures/s, p50 %.2f ms, p99 %.2f ms\n", d, NR, NR/d, a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}'
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
SELECT 'index check: ' || count(*) FROM firstsight.index_check('firstsight.face_p1_hnsw');
SELECT 'warm-up searches: ' || count(*) FROM firstsight.gallery_nearest(1, (SELECT array_agg(face) FROM bench_probe WHERE n > $base AND n <= $base + 200));
SELECT 'warm-up exact search: ' || count(*) FROM firstsight.gallery_nearest_exact(1, (SELECT array_agg(face) FROM bench_probe WHERE n = $base + 1));
SELECT clock_timestamp() AS t0 \\gset
COPY firstsight.capture (project_id, camera_id, captured_at, face, quality, masked) FROM '$dir/copy.tsv';
SELECT format('COPY %s captures: %s s, %s captures/s', $COPY_ROWS, round(s::numeric, 2), round($COPY_ROWS / s))
FROM extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) s;
SQL
psql -At -c "SELECT 'captures without person: ' || count(*) FILTER (WHERE person_id IS NULL) FROM firstsight.capture"
before=$after; after=$(psql -At -c "SELECT count(*) FROM firstsight.person")
fs_say "[$v] persons made by the COPY: $((after - before)) (new identities: $((COPY_ROWS / 10)); spurious: $((after - before - COPY_ROWS / 10)))"
rm -f "$dir"/lat.* "$dir/copy.tsv"
done
