# bench/ingest/lib.sh: shared by bench/ingest/run.sh and ceiling.sh.  Source
# it from the repository root after test/common.sh.
# shellcheck shell=bash
#
# ingest_setup CENTRES_EXTRA PROBES: build and install firstsight, start a
#   throwaway cluster ($dir, removed at exit) with firstsight preloaded, make
#   project 1 with cameras cam0..cam7, the identities (bench_centre: GALLERY +
#   CENTRES_EXTRA random unit faces), load GALLERY of them as persons
#   (LOAD=bulk or camera, FILLFACTOR), and make PROBES noisy re-captures of
#   gallery persons (bench_probe: probe n re-captures identity
#   1 + (n * 7919) % GALLERY at cosine distance ~0.002).  Sets dir, GALLERY,
#   has_hnsw and defines psql.
# ingest_pgbench TAG BASE BODY: CLIENTS pgbench clients run BODY (pgbench
#   script lines; :n is a random probe in BASE+1..BASE+20000) for WARMUP +
#   DURATION s, each connection first mapping the whole index once; prints
#   the rate and p50/p99 of the transactions that ended after WARMUP and
#   leaves them in ingest_rate, ingest_p50, ingest_p99.

# index_check of the gallery index as one line: how many problems and the first three
INDEX_CHECK_SQL="SELECT 'index check: ' || count(*) || ' problems' || coalesce('; the first: ' || array_to_string((array_agg(p))[1:3], '; '), '') FROM firstsight.index_check('firstsight.face_p1_hnsw') p;"

DIMS=${DIMS:-512}
CLIENTS=${CLIENTS:-8}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-20}
BIN=/usr/lib/postgresql/15/bin

ingest_setup() {
	local extra=$1 probes=$2
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
	if [ "$(psql -At -c "SELECT count(*) FROM firstsight.setting_definition WHERE setting IN ('new_person_ef_search', 'new_person_ef_step', 'exact_search_faces', 'recent_min_distance')")" != 4 ]; then
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
	FROM generate_series(1, $GALLERY + $extra) id, generate_series(1, $DIMS) k GROUP BY id;
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
	local t0 t1 s e
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

	# probes: noisy re-captures of known persons (cosine distance ~0.002 from the centre)
	psql <<SQL
CREATE UNLOGGED TABLE bench_probe AS
	SELECT n, firstsight.l2_normalize(c.face OPERATOR(firstsight.+)
	          (SELECT array_agg((random() - 0.5) * 0.01)::real[]::firstsight.embedding FROM generate_series(1, $DIMS) WHERE n > 0)) AS face
	FROM generate_series(1, $probes) n JOIN bench_centre c ON c.id = 1 + (n * 7919) % $GALLERY;
CREATE UNIQUE INDEX ON bench_probe (n);
VACUUM ANALYZE;
SQL
}

ingest_pgbench() {
	local tag=$1 base=$2 body=$3
	# each connection first maps the whole index once (index_check reads every
	# page): a new backend maps each shared buffer it touches for the first
	# time (page faults, slow in this VM: a cold connection's first HNSW
	# searches take ~0.5 s); cameras keep their connections, so the figures
	# are taken after WARMUP seconds of the same connections
	cat >"$dir/$tag.sql" <<SQL
\\if :warmed = 0
SELECT count(*) FROM firstsight.index_check('firstsight.face_p1_hnsw');
\\set warmed 1
\\endif
\\set n random(1, 20000) + :base
$body
SQL
	chmod 644 "$dir/$tag.sql"
	(cd "$dir" && fs_as_user "$BIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T $((WARMUP + DURATION)) -D warmed=0 -D base="$base" -f "$tag.sql" -l --log-prefix="lat_$tag" \
		-h "$PGHOST" -p "$PGPORT" -U postgres postgres) | grep -E "tps|latency average|failed"
	# log: client tx latency_us script epoch_s us; keep transactions ending after the warm-up
	cat "$dir"/lat_"$tag".* | sort -k5,5n | awk -v w="$WARMUP" 'NR == 1 {t0 = $5} $5 >= t0 + w {print $3}' | sort -n |
		awk -v d="$DURATION" '{a[NR]=$1} END {printf "%.0f %.2f %.2f %d\n", NR/d, a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000, NR}' >"$dir/$tag.res"
	read -r ingest_rate ingest_p50 ingest_p99 ingest_n <"$dir/$tag.res"
	echo "measured $DURATION s: $ingest_n transactions, $ingest_rate/s, p50 $ingest_p50 ms, p99 $ingest_p99 ms"
	rm -f "$dir"/lat_"$tag".*
}
