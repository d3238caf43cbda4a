#!/usr/bin/env bash
# bench/privacy/run.sh: enforce_retention erasing EXPIRED expired captures while
# cameras keep inserting.
#   1. baseline: CLIENTS pgbench camera clients for DURATION s (matching
#      against a gallery of GALLERY persons), no retention running
#   2. CALL firstsight.enforce_retention_all(BATCH, PAUSE, SHARE, BATCH_TIME) (a
#      commit per call) erasing EXPIRED captures (embedding + photo) and their
#      gallery rows, with the same camera load running; its time, and camera
#      throughput while it ran; what the cameras and the erasing backend waited
#      on (pg_stat_activity every 0.5 s), WAL (pg_stat_wal), HOT updates
#   3. VACUUM, then the camera load alone again (the machine's load drifts:
#      the ratio is given against the baselines before, after and their mean)
# Settings (environment): EXPIRED (1000000), GALLERY (5000), DIMS (128),
# CLIENTS (4), DURATION (30), BATCH (10000, the most rows a pass of one call),
# PAUSE (added after every call, '0'), SHARE (the fraction of the time spent
# erasing, 0.3: the procedure's default), BATCH_TIME (what one call should take, '500 ms'), AUTOVACUUM
# (on; off leaves the erased rows to the VACUUM before step 3, to tell the
# erasure's own cost from that of the autovacuum it sets off); PGBIN (the server's bin directory)
# and FS_NO_INSTALL=1 to run an installation made elsewhere (a private copy of
# the server with DESTDIR).  Bounded: one throwaway cluster, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh

EXPIRED=${EXPIRED:-1000000}
GALLERY=${GALLERY:-5000}
DIMS=${DIMS:-128}
CLIENTS=${CLIENTS:-4}
DURATION=${DURATION:-30}
BATCH=${BATCH:-10000}
PAUSE=${PAUSE:-0}
SHARE=${SHARE:-0.3}
BATCH_TIME=${BATCH_TIME:-500 ms}
AUTOVACUUM=${AUTOVACUUM:-on}
BIN=${PGBIN:-/usr/lib/postgresql/15/bin}

if [ "${FS_NO_INSTALL:-0}" != 1 ]; then
	fs_install_deps
	fs_build_install
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/fs-privacy.XXXXXX")
chmod 755 "$dir"; [ "$(id -u)" = 0 ] && chown "$(fs_run_user)" "$dir"
trap 'fs_as_user "$BIN/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
port=$(( 20000 + RANDOM % 20000 ))
fs_as_user "$BIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
shared_buffers = 512MB
maintenance_work_mem = 512MB
max_connections = 50
autovacuum = $AUTOVACUUM
synchronous_commit = off
checkpoint_timeout = 30min
max_wal_size = 8GB
shared_preload_libraries = 'firstsight'
CONF
fs_as_user "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
export PGHOST=$dir PGPORT=$port PGUSER=postgres
psql() { fs_as_user "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

psql -c "CREATE EXTENSION firstsight"
fs_say "$EXPIRED expired captures ($DIMS dims, a 2 kB photo on every tenth), gallery $GALLERY persons"
t0=$(date +%s.%N)
psql >/dev/null <<SQL
SELECT firstsight.create_project('bench', dims => $DIMS);
SELECT firstsight.create_project('archive', dims => $DIMS);	-- last year's data: its own gallery partition
INSERT INTO firstsight.camera SELECT 1, 'cam' || i, 'entrance' FROM generate_series(0, 7) i;
SELECT setseed(0.5);
CREATE UNLOGGED TABLE bench_centre AS
	SELECT id, firstsight.l2_normalize(array_agg(random() - 0.5)::real[]::firstsight.embedding) AS face
	FROM generate_series(1, $GALLERY) id, generate_series(1, $DIMS) k GROUP BY id;
CREATE UNIQUE INDEX ON bench_centre (id);
-- last year's visitors (project 2) look like nobody seen today
CREATE UNLOGGED TABLE bench_old AS
	SELECT id, firstsight.l2_normalize(array_agg(random() - 0.5)::real[]::firstsight.embedding) AS face
	FROM generate_series(1, 5000) id, generate_series(1, $DIMS) k GROUP BY id;
CREATE UNIQUE INDEX ON bench_old (id);
-- last year's visitors: persons, visits, captures and gallery rows, all expired (loaded directly)
SET session_replication_role = replica;
INSERT INTO firstsight.person (project_id, person_id, first_seen, last_seen, visits, captures)
SELECT 2, 1000000000 + i, '2024-01-01', '2024-01-01', 1, 10 FROM generate_series(1, $EXPIRED / 10) i;
INSERT INTO firstsight.visit (project_id, visit_id, person_id, started_at, ended_at, captures)
SELECT 2, 1000000000 + i, 1000000000 + i, '2024-01-01', '2024-01-01', 10 FROM generate_series(1, $EXPIRED / 10) i;
INSERT INTO firstsight.capture (project_id, capture_id, camera_id, captured_at, face, quality, masked, photo,
                                person_id, visit_id, expires_at, photo_expires_at)
SELECT 2, 1000000000 + i, 'cam0', '2024-01-01', c.face, 0.8, false,
       CASE WHEN i % 10 = 0 THEN convert_to(repeat(md5(i::text), 64), 'UTF8') END,
       1000000000 + i / 10 + 1, 1000000000 + i / 10 + 1, '2024-02-01',
       CASE WHEN i % 10 = 0 THEN timestamptz '2024-01-02' END
FROM generate_series(0, $EXPIRED - 1) i JOIN bench_old c ON c.id = 1 + i % 5000;
INSERT INTO firstsight.face (project_id, person_id, kind, capture_id, captured_at, quality, masked, face, expires_at)
SELECT 2, person_id, 'unmasked', min(capture_id), '2024-01-01', 0.8, false, min(face::text)::firstsight.embedding, '2024-02-01'
FROM firstsight.capture WHERE capture_id >= 1000000000 AND capture_id % 10 = 0 GROUP BY person_id;
RESET session_replication_role;
SQL
t1=$(date +%s.%N)
fs_say "expired data loaded in $(echo "$t1 - $t0" | bc -l | xargs printf '%.0f') s"
fs_say "loading the live gallery through the camera path"
psql -c "INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
         SELECT 1, 'cam0', now() - interval '1 day', face, 0.8, false FROM bench_centre"
psql <<SQL
CREATE UNLOGGED TABLE bench_probe AS
	SELECT n, firstsight.l2_normalize(c.face OPERATOR(firstsight.+)
	          (SELECT array_agg((random() - 0.5) * 0.01)::real[]::firstsight.embedding FROM generate_series(1, $DIMS) WHERE n > 0)) AS face
	FROM generate_series(1, 20000) n JOIN bench_centre c ON c.id = 1 + (n * 7919) % $GALLERY;
CREATE UNIQUE INDEX ON bench_probe (n);
VACUUM ANALYZE;
SQL
psql -At -c "SELECT 'biometric rows due: ' || (SELECT count(*) FROM firstsight.capture WHERE expires_at <= now()) || ' captures, '
                    || (SELECT count(*) FROM firstsight.face WHERE expires_at <= now()) || ' gallery faces'"

cat >"$dir/ingest.sql" <<'SQL'
\set n random(1, 20000)
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
SELECT 1, 'cam' || (:client_id % 8), now(), face, 0.8, false FROM bench_probe WHERE n = :n;
SQL
chmod 644 "$dir/ingest.sql"
bench() {	# bench PREFIX SECONDS: pgbench camera load with a per-transaction log
	(cd "$dir" && fs_as_user "$BIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T "$2" -f ingest.sql -l --log-prefix="$1" \
		-h "$PGHOST" -p "$PGPORT" -U postgres postgres) | grep -E "tps|failed" || true
}
# transactions per second in the log of PREFIX between epoch times FROM and TO
rate() { cat "$dir/$1"* | awk -v f="$2" -v t="$3" '{ts = $5 + $6 / 1e6} ts >= f && ts <= t {n++} END {printf "%.1f", n / (t - f)}'; }

# counters read before and after the erasure window
counters() {
	psql -At -F ' ' -c "SELECT w.wal_records, w.wal_fpi, w.wal_bytes, t.n_tup_upd, t.n_tup_hot_upd, t.n_tup_del
	                    FROM pg_stat_wal w, pg_stat_user_tables t WHERE t.relid = 'firstsight.capture'::regclass"
}
# every 0.5 s: what each camera backend and the erasing backend is doing (wait
# event or CPU), and the erasing backend's CPU time from /proc
sampler() {	# sampler STOPFILE OUTFILE: until STOPFILE exists
	local tick
	tick=$(getconf CLK_TCK)
	while [ ! -e "$1" ]; do
		psql -At -F ' ' -c "SELECT CASE WHEN application_name = 'fs_retention' THEN 'retention'
		                                 WHEN backend_type = 'autovacuum worker' THEN 'autovacuum'
		                                 WHEN application_name = 'pgbench' THEN 'camera' ELSE 'other' END,
		                            coalesce(wait_event_type || ':' || wait_event, 'CPU'), pid
		                     FROM pg_stat_activity
		                     WHERE pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'
		                       AND (backend_type IN ('client backend', 'autovacuum worker'))" 2>/dev/null |
		while read -r who what pid; do
			echo "$who $what"
			if [ "$who" = retention ] && [ -r "/proc/$pid/stat" ]; then
				awk -v t="$tick" '{printf "cpu %.2f\n", ($14 + $15) / t}' "/proc/$pid/stat"
			fi
		done
		sleep 0.5
	done >"$2"
}

fs_say "1. baseline: $CLIENTS camera clients, $DURATION s, no retention"
sampler "$dir/base.end" "$dir/samples_base.txt" &
b0=$(date +%s.%N); bench base "$DURATION"; b1=$(date +%s.%N)
touch "$dir/base.end"; wait
base=$(rate base "$b0" "$b1")
fs_say "baseline camera throughput: $base captures/s"

call="CALL firstsight.enforce_retention_all($BATCH, '$PAUSE', share => $SHARE, batch_time => '$BATCH_TIME')"
fs_say "2. $call with the same camera load"
# the same load in 20 s runs until the erasure has ended (logs during_0.*, during_1.*, ...)
( i=0; while [ ! -e "$dir/ret.end" ]; do bench "during_$i" 20; i=$((i + 1)); done ) > "$dir/pgbench_during.txt" &
bench_pid=$!
sleep 3
read -r c0_rec c0_fpi c0_bytes c0_upd c0_hot c0_del <<<"$(counters)"
load0=$(cut -d' ' -f1 /proc/loadavg)
sampler "$dir/ret.end" "$dir/samples.txt" &
sampler_pid=$!
date +%s.%N > "$dir/ret.start"
PGAPPNAME=fs_retention psql -c "$call"
date +%s.%N > "$dir/ret.end"
read -r c1_rec c1_fpi c1_bytes c1_upd c1_hot c1_del <<<"$(counters)"
load1=$(cut -d' ' -f1 /proc/loadavg)
wait "$sampler_pid" || true
wait "$bench_pid"
cat "$dir/pgbench_during.txt"
r0=$(cat "$dir/ret.start"); r1=$(cat "$dir/ret.end")
secs=$(echo "$r1 - $r0" | bc -l)
pend=$(cat "$dir"/during_* | awk 'BEGIN {m = 0} {ts = $5 + $6 / 1e6; if (ts > m) m = ts} END {printf "%.3f", m}')
w1=$(echo "if ($r1 < $pend) $r1 else $pend" | bc -l)
during=$(rate during "$r0" "$w1")
psql -At <<SQL
SELECT 'erased: ' || sum(captures_erased) || ' captures, ' || sum(photos_erased) || ' photos, '
       || sum(faces_erased) || ' gallery faces in ' || count(*) || ' batches' FROM firstsight.retention_log;
SELECT 'still due after: ' || (SELECT count(*) FROM firstsight.capture WHERE expires_at <= now())
       || ' captures, ' || (SELECT count(*) FROM firstsight.face WHERE expires_at <= now()) || ' gallery faces';
SELECT 'batch time: median ' || round(extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY finished_at - started_at))::numeric * 1000)
       || ' ms, 90th percentile ' || round(extract(epoch FROM percentile_cont(0.9) WITHIN GROUP (ORDER BY finished_at - started_at))::numeric * 1000)
       || ' ms, longest ' || round(extract(epoch FROM max(finished_at - started_at))::numeric * 1000) || ' ms' FROM firstsight.retention_log;
SELECT 'capture rows kept: ' || count(*) || ', with an embedding: ' || count(face) FROM firstsight.capture;
SQL
fs_say "3. after: VACUUM, then the camera load alone again for $DURATION s (the load of the machine drifts)"
psql -c "VACUUM firstsight.capture, firstsight.face"
sampler "$dir/after.end" "$dir/samples_after.txt" &
a0=$(date +%s.%N); bench after "$DURATION"; a1=$(date +%s.%N)
touch "$dir/after.end"; wait
after=$(rate after "$a0" "$a1")
fs_say "camera throughput after: $after captures/s (before: $base)"
fs_say "WAL during the erasure window: $((c1_rec - c0_rec)) records, $((c1_fpi - c0_fpi)) full-page images, $(( (c1_bytes - c0_bytes) / 1048576 )) MB ($(( (c1_bytes - c0_bytes) / EXPIRED )) bytes per erased capture)"
fs_say "capture updates: $((c1_upd - c0_upd)), of them HOT: $((c1_hot - c0_hot))"
fs_say "load average: $load0 at the start, $load1 at the end"
awk '$1 != "cpu" {n[$1]++; w[$1 " " $2]++} $1 == "cpu" {cpu = $2}
     END {for (k in w) {split(k, a, " "); printf "  %-10s %-28s %5.1f%%\n", a[1], a[2], 100 * w[k] / n[a[1]]}
          if (cpu != "") printf "  erasing backend CPU: %.1f s\n", cpu}' "$dir/samples.txt" | sort >&2
fs_say "the same samples (also taken every 0.5 s) in the camera-only windows before and after:"
cat "$dir/samples_base.txt" "$dir/samples_after.txt" |
	awk '$1 != "cpu" {n[$1]++; w[$1 " " $2]++}
	     END {for (k in w) {split(k, a, " "); printf "  %-10s %-28s %5.1f%%\n", a[1], a[2], 100 * w[k] / n[a[1]]}}' | sort >&2
cpu=$(awk '$1 == "cpu" {c = $2} END {print c + 0}' "$dir/samples.txt")
fs_say "erasing backend: $(printf '%.1f' "$cpu") s of CPU in $(printf '%.1f' "$secs") s = $(echo "100 * $cpu / $secs" | bc -l | xargs printf '%.0f')% of a core"
fs_say "enforce_retention_all: $(printf '%.1f' "$secs") s for $EXPIRED captures ($(echo "$EXPIRED / $secs" | bc -l | xargs printf '%.0f') captures/s)"
both=$(echo "($base + $after) / 2" | bc -l)
fs_say "camera throughput while it ran: $during captures/s = $(echo "100 * $during / $base" | bc -l | xargs printf '%.0f')% of the baseline before ($base), $(echo "100 * $during / $after" | bc -l | xargs printf '%.0f')% of the one after ($after), $(echo "100 * $during / $both" | bc -l | xargs printf '%.0f')% of their mean"
