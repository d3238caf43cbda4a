#!/usr/bin/env bash
# bench/webhooks/run.sh: webhook delivery throughput and latency against a local
# receiver (bench/webhooks/receiver.pl on 127.0.0.1), with baselines measured in
# the same run on the same receiver:
#
#   baselines  raw: curl (libcurl, like the worker) POSTs N event-sized bodies to
#              the receiver over 8 keep-alive connections (the worker's limit per
#              host) -> the receiver's own ceiling in requests/s; and one request
#              at a time on one connection -> its round trip (p50, p99)
#   drain      N events committed in one transaction, time from commit to the last
#              receipt -> events delivered per second: distinct subjects with the
#              default batch size and with batch size 1 (one request per loop), then
#              only 50 subjects (order per subject: one in flight each)
#   stream     pgbench commits one event per transaction at RATE/s for DURATION s;
#              latency = receipt time - the event's created_at (clock_timestamp()
#              inside the emitting transaction, just before commit) -> p50, p99, max
#
#   N=20000 RATE=200 DURATION=20 BATCH=64 bench/webhooks/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh
. bench/lib.sh

N=${N:-20000}
RATE=${RATE:-200}
DURATION=${DURATION:-20}
BATCH=${BATCH:-64}
N1=${N1:-$(( N / 10 ))}		# events of the batch-size-1 drain

bench_prepare
PORT=$(( 40000 + RANDOM % 20000 ))
bench_start "shared_preload_libraries = 'firstsight'
firstsight.worker_database = 'postgres'
firstsight.webhook_allowed_hosts = '127.0.0.1:$PORT'
firstsight.webhook_batch_size = $BATCH
firstsight.retention_interval = off
synchronous_commit = on"
sleep 1

OUT=$BENCH_TMP/received.jsonl
perl bench/webhooks/receiver.pl "$PORT" "$OUT" "$BENCH_TMP/control" &
RPID=$!
trap 'kill $RPID 2>/dev/null; bench_cleanup' EXIT
sleep 0.5

bench_psql -c "CREATE EXTENSION firstsight" -c "SELECT firstsight.create_project('bench', dims => 4)" >/dev/null
bench_psql -c "INSERT INTO firstsight.webhook (project_id, url) VALUES (1, 'http://127.0.0.1:$PORT/hook')" 2>/dev/null
echo "$(bench_machine)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); batch size $BATCH"

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN {printf "%.0f", n / s}'; }
row() { printf '| %-52s | %7s | %8s | %s |\n' "$@"; }

# wait until the receiver has $1 lines; print seconds since $2 (epoch) to the last line's receipt
wait_lines() {
	local want=$1 since=$2
	for _ in $(seq 3000); do
		[ "$(wc -l <"$OUT")" -ge "$want" ] && break
		sleep 0.1
	done
	perl -MJSON::PP -e 'my $t=0; while(<STDIN>){ my $r=decode_json($_); $t=$r->{t} if $r->{t}>$t } printf "%.3f\n", $t-$ARGV[0]' "$since" <"$OUT"
}

# p50 p99 max of numbers (ms) on stdin
pcts() {
	sort -g | awk '{v[NR] = $1} END {printf "p50 %.1f ms, p99 %.1f ms, max %.1f ms", v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1], v[NR]}'
}

BODY='{"id":1,"event":"visitor.returned","project_id":1,"subject":"person:1","created_at":"2026-11-30T15:00:00.000000+00:00","data":{"person_id":1,"visit_id":1,"started_at":"2026-11-30T15:00:00+00:00","camera_id":"gate"}}'

row "run" "events" "seconds" "result"
row "---" "---:" "---:" "---"

# baseline 1: the receiver's ceiling, 8 keep-alive connections
: >"$OUT"
t0=$(now)
curl -s --parallel --parallel-max 8 -H 'Content-Type: application/json' -H 'Expect:' -d "$BODY" \
	"http://127.0.0.1:$PORT/raw[1-$N]" >/dev/null 2>&1
t1=$(now)
got=$(wc -l <"$OUT")
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
RAW=$(rate "$got" "$secs")
row "baseline: curl -> receiver, 8 connections" "$got" "$secs" "**$RAW requests/s**"

# baseline 2: round trip, one request at a time on one connection
curl -s -H 'Content-Type: application/json' -H 'Expect:' -d "$BODY" -w '\n%{time_total}\n' \
	"http://127.0.0.1:$PORT/rtt[1-1000]" 2>/dev/null | grep -E '^[0-9.]+$' | awk '{print $1 * 1000}' >"$BENCH_TMP/rtt"
row "baseline: curl -> receiver, 1 at a time (round trip)" 1000 "" "$(pcts <"$BENCH_TMP/rtt")"

drain() {
	local n=$1 subjects=$2 label=$3
	: >"$OUT"
	local t0 secs r
	# t0: after the emits, just before COMMIT (the commit itself counts in the time)
	t0=$(bench_psql -c "BEGIN" \
		-c "SELECT count(firstsight.emit_event(1, 'visitor.returned', 'person:' || (i % $subjects), jsonb_build_object('person_id', i % $subjects, 'visit', i))) FROM generate_series(1, $n) i" \
		-c "SELECT extract(epoch FROM clock_timestamp())" -c "COMMIT" | tail -1)
	secs=$(wait_lines "$n" "$t0")
	r=$(rate "$n" "$secs")
	row "$label" "$n" "$secs" "**$r events/s** ($(bench_ratio "$r" "$RAW") x raw)"
	bench_psql -c "SET client_min_messages = warning" -c "TRUNCATE firstsight.outbox CASCADE" >/dev/null
}

set_batch() {
	bench_psql -c "ALTER SYSTEM SET firstsight.webhook_batch_size = $1" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
}

drain "$N" "$N" "drain, $N distinct subjects, batch $BATCH"
set_batch 1
drain "$N1" "$N1" "drain, $N1 distinct subjects, batch 1"
set_batch "$BATCH"
drain "$N" 50 "drain, 50 subjects (one in flight each), batch $BATCH"

# stream at a fixed rate
: >"$OUT"
cat >"$BENCH_TMP/emit.sql" <<'SQL'
\set s random(1, 100000)
SELECT firstsight.emit_event(1, 'visitor.returned', 'person:' || :s, jsonb_build_object('person_id', :s));
SQL
fs_as_user "$BENCH_PG_BIN/pgbench" -n -c 4 -j 2 -R "$RATE" -T "$DURATION" -f "$BENCH_TMP/emit.sql" postgres >"$BENCH_TMP/pgbench.out" 2>&1
sent=$(bench_psql -c "SELECT count(*) FROM firstsight.outbox")
wait_lines "$sent" 0 >/dev/null
bench_psql -c "COPY (SELECT event_id, extract(epoch FROM created_at) FROM firstsight.outbox) TO STDOUT" >"$BENCH_TMP/created.tsv"
perl -MJSON::PP -e '
	open my $c, "<", $ARGV[0] or die; my %c;
	while (<$c>) { chomp; my ($id, $t) = split /\t/; $c{$id} = $t; }
	my %seen;
	while (<STDIN>) { my $r = decode_json($_); my $id = decode_json($r->{body})->{id};
		next if $seen{$id}++; printf "%.3f\n", ($r->{t} - $c{$id}) * 1000; }
' "$BENCH_TMP/created.tsv" <"$OUT" >"$BENCH_TMP/lat"
row "stream, $RATE/s for $DURATION s: commit to receipt" "$(wc -l <"$BENCH_TMP/lat")" "$DURATION" "$(pcts <"$BENCH_TMP/lat")"
echo
bench_psql -c "SELECT count(*) FILTER (WHERE state = 'delivered') || ' delivered, ' || count(*) FILTER (WHERE state <> 'delivered') || ' not' FROM firstsight.delivery_status"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
