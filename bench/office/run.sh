#!/usr/bin/env bash
# bench/office/run.sh: an office-shaped camera load (issue 21), through
# firstsight and through the naive pgvector trigger of bench/office/trigger.sql,
# alternating in one run on one cluster with the same settings.
#
# People: bench/masked/gen_masked.c (MODEL arcface: 512-d, mask-aware), 6
# captures generated per identity (0, 2, 4 unmasked; 1, 3, 5 masked).  The
# gallery: GALLERY (20000) identities seen yesterday, capture 0 each, loaded
# in bulk on both sides (firstsight: person, visit, capture and exemplar
# with triggers off, then the index and rebuild_rollups; trigger side: one
# gallery row per person, then pgvector's HNSW index).
# Load: CLIENTS (8) pgbench clients, each a camera sending one INSERT ...
# VALUES per capture; a visit is VISIT_CAPTURES (4) captures of one person in
# a row, NEW_PCT (12) % of visits are new visitors (identities never seen),
# the others a gallery person; MASKED_PCT (15) % of captures masked (a
# masked generated capture), the others an unmasked one other than the
# gallery's.  Each capture's truth (identity, masked) goes to an unlogged
# side table in a second statement (both sides alike).
# ROUNDS (2) pairs of rounds, firstsight then trigger, WARMUP (10) +
# DURATION (40) s each; new visitors are new in every round.
# Per round: captures/s, p50/p99 latency (ms), % of returning unmasked
# captures matched to their gallery person (masked ones separately), spurious
# persons per 1,000 captures (persons made beyond one per new identity), and
# the share of sampled pg_stat_activity states of the pgbench backends that
# wait on Lock or LWLock (every 0.1 s).  At the end: rollup_check.
#   bench/office/run.sh                              # build this tree, run
#   FS_BUILD=0 FS_PG=... bench/office/run.sh         # the firstsight already installed in FS_PG
#   BASE_PG=... bench/office/run.sh                  # also another build (e.g. main's),
# installed into a second private PostgreSQL BASE_PG (with pgvector), on a
# second cluster of the same settings and the same gallery: each pair of
# rounds becomes firstsight, base (that build), trigger; both clusters run the
# whole time, only one of them is loaded at a time.
#   FLOOR=1 bench/office/run.sh                      # also a "floor" round
# after each firstsight round, on its cluster: the camera path cut down to a
# search and a row (bench/office/floor.sql, triggers around the row path for
# that round only): what a capture costs without the visits, counters,
# retention clock, exemplars, rollups and events.  NEW_PCT=0 MASKED_PCT=0:
# returning unmasked captures only.
#   DEFERRED=1 bench/office/run.sh                   # also a "deferred" round
# after each firstsight round (a design probe, bench/office/deferred.sql):
# the camera writes what the floor writes, and a separate session folds the
# rest of ingestion for the captures written since every 0.1 s, in batches;
# the fold's batches and how long captures waited for it are reported, and
# what is left is folded before the next round.  Not with FLOOR=1 (the
# floor's captures would be folded too).
# pgvector must be installed into FS_PG (built outside the repository:
# see bench/README.md).  Bounded: one throwaway cluster, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh

GALLERY=${GALLERY:-20000}
CLIENTS=${CLIENTS:-8}
WARMUP=${WARMUP:-10}
DURATION=${DURATION:-40}
ROUNDS=${ROUNDS:-2}
NEW_PCT=${NEW_PCT:-12}
MASKED_PCT=${MASKED_PCT:-15}
VISIT_CAPTURES=${VISIT_CAPTURES:-4}
NEW_PER_CLIENT=${NEW_PER_CLIENT:-250}	# new identities a client may use per round
BIN=$FS_PG/bin
if [ "${FLOOR:-0}" = 1 ] && [ "${DEFERRED:-0}" = 1 ]; then
	echo "FLOOR=1 and DEFERRED=1 are separate runs (a fold would take the floor's captures too)" >&2
	exit 2
fi
rounds_total=$((2 * ROUNDS))
[ -n "${BASE_PG:-}" ] && rounds_total=$((rounds_total + ROUNDS))
[ "${FLOOR:-0}" = 1 ] && rounds_total=$((rounds_total + ROUNDS))
[ "${DEFERRED:-0}" = 1 ] && rounds_total=$((rounds_total + ROUNDS))
NEWPOOL=$((NEW_PER_CLIENT * CLIENTS * rounds_total))
IDS=$((GALLERY + NEWPOOL))

[ "${FS_BUILD:-1}" = 1 ] && { fs_install_deps; fs_build_install; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/fs-office.XXXXXX")
chmod 755 "$dir"; [ "$(id -u)" = 0 ] && chown "$(fs_run_user)" "$dir"
mkdir "$dir/a"; [ "$(id -u)" = 0 ] && chown "$(fs_run_user)" "$dir/a"
trap 'fs_stop_cluster "$dir/a"; [ -d "$dir/b" ] && fs_stop_cluster "$dir/b"; rm -rf "$dir"' EXIT
cc -O2 -o "$dir/gen_masked" bench/masked/gen_masked.c -lm
conf="max_connections = 50
shared_preload_libraries = 'firstsight'
synchronous_commit = off
checkpoint_timeout = 30min
max_wal_size = 8GB
firstsight.worker_database = 'postgres'"
fs_start_cluster "$dir/a" "$conf"
A_HOST=$PGHOST A_PORT=$PGPORT A_BIN=$BIN
sides="fs pv"
if [ -n "${BASE_PG:-}" ]; then
	mkdir "$dir/b"; [ "$(id -u)" = 0 ] && chown "$(fs_run_user)" "$dir/b"
	FS_PG=$BASE_PG fs_start_cluster "$dir/b" "$conf"
	B_HOST=$PGHOST B_PORT=$PGPORT B_BIN=$BASE_PG/bin
	sides="fs base pv"
fi
[ "${FLOOR:-0}" = 1 ] && sides=${sides/fs/fs floor}
[ "${DEFERRED:-0}" = 1 ] && sides=${sides/fs/fs deferred}
# on: the cluster of a side (fs, pv: this build's; base: BASE_PG's)
on() { if [ "$1" = base ]; then PGHOST=$B_HOST PGPORT=$B_PORT BIN=$B_BIN; else PGHOST=$A_HOST PGPORT=$A_PORT BIN=$A_BIN; fi; }
psql() { fs_as_user "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
for side in $sides; do
	case $side in pv | floor | deferred) continue ;; esac
	on "$side"
	psql -c "CREATE EXTENSION firstsight" -c "CREATE EXTENSION vector"
	fs_say "$side: firstsight $(psql -At -c "SELECT extversion FROM pg_extension WHERE extname = 'firstsight'"), pgvector $(psql -At -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'"); gallery $GALLERY, $NEWPOOL new identities, $CLIENTS clients, load average $(cut -d' ' -f1-3 /proc/loadavg)"
done
on fs

# the faces: chunks of 2,000 identities, each chunk its own seed (other people)
t0=$SECONDS
for ((k = 0; k * 2000 < IDS; k++)); do
	"$dir/gen_masked" --model arcface --identities 2000 --per 6 --seed $((1000 + k)) --captures |
		awk -v o=$((k * 2000)) -F'\t' '{ id = o + $1 + 1; printf "%d\t%d\t%s\t%s\n", id, v[id]++, $2, $3 }'
done >"$dir/faces.tsv"
chmod 644 "$dir/faces.tsv"
for side in $sides; do
	case $side in pv | floor | deferred) continue ;; esac
	on "$side"
	psql -c "CREATE UNLOGGED TABLE bench_face (identity int, variant int, masked boolean, face firstsight.embedding(512), PRIMARY KEY (identity, variant))"
	psql -c "COPY bench_face FROM STDIN" <"$dir/faces.tsv"
	psql -c "DELETE FROM bench_face WHERE identity > $IDS" -c "VACUUM ANALYZE bench_face"
done
on fs
fs_say "faces: $(psql -At -c "SELECT count(*) FROM bench_face") generated and loaded in $((SECONDS - t0)) s"

# firstsight: the gallery as the camera path leaves it, loaded with triggers off
t0=$SECONDS
for side in $sides; do
case $side in pv | floor | deferred) continue ;; esac
on "$side"
psql >/dev/null <<SQL
SELECT firstsight.create_project('office', dims => 512);
INSERT INTO firstsight.camera SELECT 1, 'cam' || i, 'entrance' FROM generate_series(0, 7) i;
SET session_replication_role = replica;
DROP INDEX IF EXISTS firstsight.face_p1_hnsw;
INSERT INTO firstsight.capture (project_id, capture_id, camera_id, captured_at, face, quality, masked, person_id, visit_id)
	SELECT 1, identity, 'cam0', now() - interval '1 day', face, 0.8, false, identity, identity FROM bench_face WHERE identity <= $GALLERY AND variant = 0;
INSERT INTO firstsight.person (project_id, person_id, first_seen, last_seen, visits, captures)
	SELECT 1, id, now() - interval '1 day', now() - interval '1 day', 1, 1 FROM generate_series(1, $GALLERY) id;
INSERT INTO firstsight.visit (project_id, visit_id, person_id, started_at, ended_at, captures, first_camera_id, first_capture_id)
	SELECT 1, id, id, now() - interval '1 day', now() - interval '1 day', 1, 'cam0', id FROM generate_series(1, $GALLERY) id;
INSERT INTO firstsight.face (project_id, face_id, person_id, kind, capture_id, captured_at, quality, masked, face)
	SELECT 1, identity, identity, 'unmasked', identity, now() - interval '1 day', 0.8, false, face FROM bench_face WHERE identity <= $GALLERY AND variant = 0;
SELECT setval('firstsight.' || s, $GALLERY + 1) FROM unnest(ARRAY['person_id_seq', 'capture_id_seq', 'visit_id_seq', 'face_id_seq']) s;
RESET session_replication_role;
SELECT firstsight.create_gallery_index(1);
SELECT firstsight.rebuild_rollups(1);
CREATE UNLOGGED TABLE bench_truth (side text, round int, capture_id bigint, identity int, masked boolean, PRIMARY KEY (side, capture_id));
CREATE UNLOGGED TABLE bench_wait (side text, round int, w text);
VACUUM ANALYZE;
SQL
done
on fs
thr=$(psql -At -c "SELECT value FROM firstsight.project_settings WHERE project_id = 1 AND setting = 'match_distance'")
# the trigger side: the same gallery, the same threshold for a new person
sed "s/:THRESHOLD/$thr/" bench/office/trigger.sql | psql
psql -c "CREATE UNLOGGED TABLE bench_face_pv AS SELECT identity, variant, face::text::vector(512) AS face FROM bench_face" \
     -c "ALTER TABLE bench_face_pv ADD PRIMARY KEY (identity, variant)" \
     -c "INSERT INTO pv_face (person_id, face) SELECT identity, face FROM bench_face_pv WHERE identity <= $GALLERY AND variant = 0" \
     -c "SELECT setval('pv_person_seq', $GALLERY + 1)" \
     -c "CREATE INDEX ON pv_face USING hnsw (face vector_cosine_ops)" \
     -c "VACUUM ANALYZE" >/dev/null
fs_say "galleries loaded in $((SECONDS - t0)) s: firstsight $(psql -At -c "SELECT count(*) FROM firstsight.face") exemplars, trigger $(psql -At -c "SELECT count(*) FROM pv_face") faces; match_distance $thr both sides; ef_search 40 both sides (defaults)"

# one round: SIDE (fs, base or pv), round number R
round() {
	local side=$1 r=$2 table faces newbase
	on "$side"
	if [ "$side" != pv ]; then table=firstsight.capture faces=bench_face; else table=pv_capture faces=bench_face_pv; fi
	newbase=$((GALLERY + (r - 1) * NEW_PER_CLIENT * CLIENTS))
	cat >"$dir/$side$r.sql" <<SQL
\\set i :i + 1
\\if :i % $VISIT_CAPTURES = 1
\\set isnew random(1, 100) <= $NEW_PCT
\\if :isnew
\\set nv :nv + 1
\\set who $newbase + :client_id * $NEW_PER_CLIENT + :nv
\\else
\\set who random(1, $GALLERY)
\\endif
\\endif
\\set m random(1, 100) <= $MASKED_PCT
\\set variant case when :m then 2 * random(0, 2) + 1 else 2 * random(1, 2) end
INSERT INTO $table (project_id, camera_id, captured_at, face, quality, masked)
VALUES (1, 'cam' || (:client_id % 8), now() - interval '1 second', (SELECT face FROM $faces WHERE identity = :who AND variant = :variant), 0.8, :m)
RETURNING capture_id \\gset
INSERT INTO bench_truth VALUES ('$side', $r, :capture_id, :who, :m);
SQL
	chmod 644 "$dir/$side$r.sql"
	local p0 c0
	p0=$(if [ "$side" != pv ]; then psql -At -c "SELECT count(*) FROM firstsight.person"; else psql -At -c "SELECT count(DISTINCT person_id) FROM pv_face"; fi)
	# wait events of the pgbench backends, every 0.1 s, after the warm-up
	( sleep "$WARMUP"; end=$((SECONDS + DURATION)); while [ $SECONDS -lt $end ]; do
		echo "INSERT INTO bench_wait SELECT '$side', $r, coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity WHERE application_name = 'pgbench' AND state = 'active';"
		echo "SELECT pg_sleep(0.1);"
	  done ) | psql >/dev/null &
	local sampler=$!
	(cd "$dir" && fs_as_user "$BIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T $((WARMUP + DURATION)) -D i=0 -D nv=0 -f "$side$r.sql" -l --log-prefix="lat_$side$r" \
		-h "$PGHOST" -p "$PGPORT" -U postgres postgres) | grep -E "failed" || true
	wait $sampler
	cat "$dir"/lat_"$side$r".* | sort -k5,5n | awk -v w="$WARMUP" 'NR == 1 {t0 = $5} $5 >= t0 + w {print $3}' | sort -n |
		awk -v d="$DURATION" '{a[NR]=$1} END {printf "%.0f %.2f %.2f %d\n", NR/d, a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000, NR}' >"$dir/$side$r.res"
	rm -f "$dir"/lat_"$side$r".*
	local rate p50 p99 n
	read -r rate p50 p99 n <"$dir/$side$r.res"
	local person_of
	local persons_sql="(SELECT count(DISTINCT person_id) FROM pv_face)"
	[ "$side" != pv ] && persons_sql="(SELECT count(*) FROM firstsight.person)"
	if [ "$side" != pv ]; then
		person_of="firstsight.current_person(1, c.person_id) FROM firstsight.capture c WHERE c.project_id = 1 AND c.capture_id = t.capture_id"
	else
		person_of="c.person_id FROM pv_capture c WHERE c.capture_id = t.capture_id"
	fi
	psql -At <<SQL
WITH t AS (
	SELECT t.identity, t.masked, t.identity <= $GALLERY AS ret, (SELECT $person_of) AS p
	FROM bench_truth t WHERE t.side = '$side' AND t.round = $r
), s AS (
	SELECT count(*) AS captures,
	       count(*) FILTER (WHERE ret AND NOT masked) AS ru, count(*) FILTER (WHERE ret AND NOT masked AND p = identity) AS ru_right,
	       count(*) FILTER (WHERE ret AND masked) AS rm, count(*) FILTER (WHERE ret AND masked AND p = identity) AS rm_right,
	       count(DISTINCT identity) FILTER (WHERE NOT ret) AS new_ids
	FROM t
), w AS (
	SELECT count(*) AS samples, count(*) FILTER (WHERE w LIKE 'Lock:%' OR w LIKE 'LWLock:%') AS lockish,
	       string_agg(DISTINCT w, ',') AS kinds FROM bench_wait WHERE side = '$side' AND round = $r
)
SELECT format('%s round %s: %s captures/s (%s after warm-up), p50 %s ms, p99 %s ms; returning unmasked matched right %s%% (%s), masked %s%% (%s); spurious persons per 1,000 captures %s (%s new identities, %s persons made, %s captures); Lock+LWLock %s%% of %s samples',
              CASE '$side' WHEN 'fs' THEN 'firstsight' WHEN 'base' THEN 'base' WHEN 'floor' THEN 'floor' WHEN 'deferred' THEN 'deferred' ELSE 'trigger' END, $r, $rate, $n, $p50, $p99,
              round(100.0 * ru_right / nullif(ru, 0), 1), ru, round(100.0 * rm_right / nullif(rm, 0), 1), rm,
              round(1000.0 * (persons - $p0 - new_ids) / nullif(captures, 0), 1), new_ids, persons - $p0, captures,
              round(100.0 * lockish / nullif(samples, 0), 1), samples)
FROM s, w, (SELECT $persons_sql AS persons) pc;
SELECT '  wait events: ' || string_agg(w || ' ' || n, ', ' ORDER BY n DESC)
FROM (SELECT w, count(*) AS n FROM bench_wait WHERE side = '$side' AND round = $r GROUP BY w) x;
SQL
}

r=0
for ((k = 1; k <= ROUNDS; k++)); do
	for side in $sides; do
		r=$((r + 1))
		case $side in
		floor | deferred)
			on fs
			sed "s/:THRESHOLD/$thr/g" bench/office/floor.sql | psql
			if [ "$side" = deferred ]; then
				psql <bench/office/deferred.sql
				# the fold: every 0.1 s while the cameras run, then what is left
				psql -c "TRUNCATE bench_fold_log"
				( end=$((SECONDS + WARMUP + DURATION)); while [ $SECONDS -lt $end ]; do
					echo "SELECT bench_fold(1);"; echo "SELECT pg_sleep(0.1);"
				  done ) | psql >/dev/null &
				folder=$!
				round "$side" $r
				t_end=$(date +%s.%N)
				wait $folder
				psql -At -c "SELECT format('  fold session: %s batches, %s captures (%s a batch at most); the oldest capture of a batch had waited p50 %s ms, p99 %s ms, at most %s ms', count(*), sum(n), max(n), round(extract(epoch FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY lag)) * 1000), round(extract(epoch FROM percentile_disc(0.99) WITHIN GROUP (ORDER BY lag)) * 1000), round(extract(epoch FROM max(lag)) * 1000)) FROM bench_fold_log"
				while [ "$(psql -At -c "SELECT bench_fold(1)")" != 0 ]; do :; done
				t_done=$(date +%s.%N)
				fs_say "  every capture folded $(awk -v a="$t_end" -v b="$t_done" 'BEGIN {printf "%.1f", b - a}') s after the round's report; counting that time $(awk -v n="$(cut -d' ' -f4 "$dir/$side$r.res")" -v d="$DURATION" -v a="$t_end" -v b="$t_done" 'BEGIN {printf "%.0f", n / (d + b - a)}') captures/s"
			else
				round "$side" $r
			fi
			# (the fold updates captures and inserts none: the floor's BEFORE INSERT triggers may stay until here)
			psql -c "DROP TRIGGER capture_floor ON firstsight.capture" -c "DROP TRIGGER capture_zz_floor_done ON firstsight.capture" \
			     -c "DROP FUNCTION public.bench_floor_row()" -c "DROP FUNCTION public.bench_floor_done()"
			;;
		*) round "$side" $r ;;
		esac
	done
done
for side in $sides; do
	case $side in pv | floor | deferred) continue ;; esac
	on "$side"
	fs_say "$side: rollup_check after the run: $(psql -At -c "SELECT count(*) FROM firstsight.rollup_check()") rows (0: the BI views are exact)"
done
