#!/usr/bin/env bash
# bench/webhooks/run.sh: webhook delivery throughput and latency against a local
# receiver (bench/webhooks/receiver.pl on 127.0.0.1).
#
#   1. drain: N events committed in one transaction (distinct subjects, then
#      only 50 subjects: order per subject allows one in flight each), time from
#      commit to the last receipt -> events delivered per second
#   2. stream: pgbench commits one event per transaction at RATE/s for DURATION
#      seconds; latency = receipt time - the event's created_at
#      (clock_timestamp() inside the emitting transaction, just before commit)
#      -> p50, p99, max
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
nproc_=$(nproc)
load=$(cut -d' ' -f1 /proc/loadavg)
echo "machine: $nproc_ cores, load average $load at start; batch size $BATCH"

# wait until the receiver has $1 lines; print seconds since $2 (epoch) to the last line's receipt
wait_lines() {
	local want=$1 since=$2
	for _ in $(seq 1200); do
		[ "$(wc -l <"$OUT")" -ge "$want" ] && break
		sleep 0.1
	done
	perl -MJSON::PP -e 'my $t=0; while(<STDIN>){ my $r=decode_json($_); $t=$r->{t} if $r->{t}>$t } printf "%.3f\n", $t-$ARGV[0]' "$since" <"$OUT"
}

drain() {
	local subjects=$1 label=$2
	: >"$OUT"
	local t0
	# t0: after the emits, just before COMMIT (the commit itself counts in the time)
	t0=$(bench_psql -c "BEGIN" \
		-c "SELECT count(firstsight.emit_event(1, 'visitor.returned', 'person:' || (i % $subjects), jsonb_build_object('person_id', i % $subjects, 'visit', i))) FROM generate_series(1, $N) i" \
		-c "SELECT extract(epoch FROM clock_timestamp())" -c "COMMIT" | tail -1)
	local secs
	secs=$(wait_lines "$N" "$t0")
	printf '%-44s %8d events  %7.2f s  %8.0f events/s\n' "drain, $label" "$N" "$secs" "$(echo "$N / $secs" | bc -l)"
}

drain "$N" "$N distinct subjects"
bench_psql -c "SET client_min_messages = warning" -c "TRUNCATE firstsight.outbox CASCADE" >/dev/null
drain 50 "50 subjects (one in flight per subject)"
bench_psql -c "SET client_min_messages = warning" -c "TRUNCATE firstsight.outbox CASCADE" >/dev/null

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
	my @l; my %seen;
	while (<STDIN>) { my $r = decode_json($_); my $id = decode_json($r->{body})->{id};
		next if $seen{$id}++; push @l, ($r->{t} - $c{$id}) * 1000; }
	@l = sort { $a <=> $b } @l; my $n = @l;
	printf "%-44s %8d events  p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", "stream, '"$RATE"'/s for '"$DURATION"' s (commit to receipt)",
		$n, $l[int($n * 0.5)], $l[int($n * 0.99)], $l[-1];
' "$BENCH_TMP/created.tsv" <"$OUT"
bench_psql -c "SELECT count(*) FILTER (WHERE state = 'delivered') || ' delivered, ' || count(*) FILTER (WHERE state <> 'delivered') || ' not' FROM firstsight.delivery_status"
echo "load average at end: $(cut -d' ' -f1 /proc/loadavg)"
