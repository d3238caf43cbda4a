#!/usr/bin/env bash
# bench/edge/lag.sh: how far headquarters' facts trail an office under
# sustained camera load (docs/scale-out.md).  Two throwaway clusters on this
# machine: an office (the publication firstsight_facts) and headquarters
# (one subscription to it).
#   1. the office's gallery: GALLERY persons through the camera path
#   2. CLIENTS pgbench camera clients insert one capture per transaction
#      (returning faces, a photo on every tenth) for DURATION s while, every
#      second, the office's facts_replication (replay_lag, unconfirmed_bytes)
#      and headquarters' staleness (now() - the newest capture it holds) are
#      sampled; then the time headquarters needs to hold every capture
#   3. headquarters stopped for DOWN s of the same load, then started: the
#      WAL the slot held, and how long headquarters takes to catch up (its
#      apply rate in captures per second)
# Settings (environment): GALLERY (2000), DIMS (128), CLIENTS (4), DURATION
# (60), DOWN (30); PGBIN (the server's bin directory) and FS_NO_INSTALL=1 to
# run an installation made elsewhere.  Bounded: both clusters live in one
# temporary directory, removed at the end (KEEP=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh

GALLERY=${GALLERY:-2000}
DIMS=${DIMS:-128}
CLIENTS=${CLIENTS:-4}
DURATION=${DURATION:-60}
DOWN=${DOWN:-30}
BIN=${PGBIN:-/usr/lib/postgresql/15/bin}

if [ "${FS_NO_INSTALL:-0}" != 1 ]; then
	fs_install_deps
	fs_build_install
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/fs-edge.XXXXXX")
chmod 755 "$dir"; [ "$(id -u)" = 0 ] && chown "$(fs_run_user)" "$dir"
cleanup() {
	for n in hq office; do fs_as_user "$BIN/pg_ctl" -D "$dir/$n" -m fast stop >/dev/null 2>&1 || true; done
	if [ -n "${KEEP:-}" ]; then fs_say "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
base=$(( 20000 + RANDOM % 19000 ))
declare -A port=([office]=$base [hq]=$((base + 1)))
for n in office hq; do
	fs_as_user "$BIN/initdb" -D "$dir/$n" -A trust -U postgres --no-sync >/dev/null
	cat >>"$dir/$n/postgresql.conf" <<CONF
port = ${port[$n]}
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
shared_buffers = 256MB
max_connections = 40
wal_level = logical
synchronous_commit = off
max_wal_size = 4GB
CONF
	fs_as_user "$BIN/pg_ctl" -D "$dir/$n" -l "$dir/$n.log" -w start >/dev/null
done
export PGHOST=$dir PGUSER=postgres
office() { fs_as_user "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -p "${port[office]}" -d postgres "$@"; }
hq() { fs_as_user "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -p "${port[hq]}" -d postgres "$@"; }

fs_say "office: gallery of $GALLERY persons ($DIMS dims) through the camera path"
office >/dev/null <<SQL
CREATE EXTENSION firstsight;
SELECT count(*) FROM firstsight.create_facts_publication();
SELECT firstsight.create_project('office', dims => $DIMS, project_id => 101);
INSERT INTO firstsight.camera SELECT 101, 'cam' || i, 'entrance' FROM generate_series(0, 7) i;
SELECT setseed(0.5);
CREATE UNLOGGED TABLE bench_centre AS
	SELECT id, firstsight.l2_normalize(array_agg(random() - 0.5)::real[]::firstsight.embedding) AS face
	FROM generate_series(1, $GALLERY) id, generate_series(1, $DIMS) k GROUP BY id;
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
SELECT 101, 'cam0', now() - interval '1 day', face, 0.8, false FROM bench_centre;
CREATE UNLOGGED TABLE bench_probe AS
	SELECT n, firstsight.l2_normalize(c.face OPERATOR(firstsight.+)
	          (SELECT array_agg((random() - 0.5) * 0.01)::real[]::firstsight.embedding FROM generate_series(1, $DIMS) WHERE n > 0)) AS face
	FROM generate_series(1, 20000) n JOIN bench_centre c ON c.id = 1 + (n * 7919) % $GALLERY;
CREATE UNIQUE INDEX ON bench_probe (n);
VACUUM ANALYZE;
SQL
hq -c "CREATE EXTENSION firstsight"
t0=$(date +%s.%N)
hq -c "CREATE SUBSCRIPTION office CONNECTION 'host=$dir port=${port[office]} dbname=postgres user=postgres' PUBLICATION firstsight_facts"
until [ "$(hq -c "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')")" = 0 ]; do sleep 0.2; done
fs_say "initial copy at headquarters: $(echo "$(date +%s.%N) - $t0" | bc -l | xargs printf '%.1f') s for $(hq -c 'SELECT count(*) FROM firstsight.capture') captures"

cat >"$dir/ingest.sql" <<'SQL'
\set n random(1, 20000)
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, photo)
SELECT 101, 'cam' || (:client_id % 8), now(), face, 0.8, false,
       CASE WHEN :n % 10 = 0 THEN convert_to(repeat(md5(:n::text), 64), 'UTF8') END
FROM bench_probe WHERE n = :n;
SQL
chmod 644 "$dir/ingest.sql"
load() {	# load SECONDS: the camera clients
	(cd "$dir" && fs_as_user "$BIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T "$1" -f ingest.sql \
		-h "$dir" -p "${port[office]}" -U postgres postgres) | grep -E "^tps|failed" || true
}
# seconds until headquarters holds as many captures as the office
catch_up() {
	local want t
	want=$(office -c "SELECT count(*) FROM firstsight.capture")
	t=$(date +%s.%N)
	until [ "$(hq -c "SELECT count(*) FROM firstsight.capture")" -ge "$want" ]; do sleep 0.1; done
	echo "$(date +%s.%N) - $t" | bc -l | xargs printf '%.1f'
}
quantiles() {	# p50 p95 max of numbers on stdin
	sort -g | awk '{v[NR] = $1} END {if (NR == 0) {print "n/a"; exit} i = int(NR * 0.95); if (i < 1) i = 1
		printf "p50 %s, p95 %s, max %s (%d samples)\n", v[int((NR + 1) / 2)], v[i], v[NR], NR}'
}

fs_say "sustained load: $CLIENTS camera clients for $DURATION s, sampled every second"
before=$(office -c "SELECT count(*) FROM firstsight.capture")
load "$DURATION" >"$dir/load1.txt" &
lp=$!
: >"$dir/samples.txt"
sleep 2
while kill -0 "$lp" 2>/dev/null; do
	o=$(office -F ' ' -c "SELECT coalesce(extract(epoch FROM replay_lag) * 1000, 0)::int, unconfirmed_bytes FROM firstsight.facts_replication")
	h=$(hq -c "SELECT (extract(epoch FROM now() - max(inserted_at)) * 1000)::int FROM firstsight.capture")
	echo "$o $h" >>"$dir/samples.txt"
	sleep 1
done
wait "$lp"
cat "$dir/load1.txt"
after=$(office -c "SELECT count(*) FROM firstsight.capture")
echo "captures inserted: $((after - before)) ($(echo "($after - $before) / $DURATION" | bc -l | xargs printf '%.1f')/s)"
echo "replay_lag at the office (ms):          $(awk '{print $1}' "$dir/samples.txt" | quantiles)"
echo "unconfirmed WAL at the office (bytes):  $(awk '{print $2}' "$dir/samples.txt" | quantiles)"
echo "staleness at headquarters (ms):         $(awk '{print $3}' "$dir/samples.txt" | quantiles)"
echo "after the load stopped, headquarters held every capture in $(catch_up) s"

fs_say "headquarters down for $DOWN s of the same load, then started"
fs_as_user "$BIN/pg_ctl" -D "$dir/hq" -m fast stop >/dev/null
before=$(office -c "SELECT count(*) FROM firstsight.capture")
load "$DOWN"
after=$(office -c "SELECT count(*) FROM firstsight.capture")
echo "captures inserted while headquarters was down: $((after - before))"
echo "WAL held by the slot: $(office -c "SELECT pg_size_pretty(retained_bytes) FROM firstsight.facts_replication")"
fs_as_user "$BIN/pg_ctl" -D "$dir/hq" -l "$dir/hq.log" -w start >/dev/null
t=$(catch_up)
echo "caught up in $t s after the start: $(echo "($after - $before) / $t" | bc -l | xargs printf '%.0f') captures/s applied"
echo "facts at headquarters: $(hq -c "SELECT count(*) || ' captures, ' || (SELECT count(*) FROM firstsight.visit) || ' visits, ' || (SELECT count(*) FROM firstsight.person) || ' persons; embedding bytes ' || coalesce(sum(pg_column_size(face)), 0) || ', photo bytes ' || coalesce(sum(pg_column_size(photo)), 0) FROM firstsight.capture")"
t=$(date +%s.%N)
hq -c "SELECT firstsight.rebuild_rollups()" >/dev/null
echo "rebuild_rollups at headquarters: $(echo "$(date +%s.%N) - $t" | bc -l | xargs printf '%.2f') s"
