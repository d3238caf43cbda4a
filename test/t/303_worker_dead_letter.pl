# Retries and the dead letter against a real receiver that answers 500: each
# event is attempted exactly webhook_max_attempts times, with growing delays
# between attempts (exponential backoff; only lower bounds are checked, a slow
# machine only makes them longer), then it is dead; the next event of the same
# person waits until then; redeliver() sends both once the receiver is fixed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsWebhookReceiver;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(usleep);

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $max_attempts = 4;
my $base_ms = 200;
my $max_ms = 500;

my $node = PostgreSQL::Test::Cluster->new('dead');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'firstsight'
firstsight.worker_database = 'postgres'
firstsight.webhook_allowed_hosts = '127.0.0.1:$port'
firstsight.webhook_retry_base = $base_ms
firstsight.webhook_retry_max = $max_ms
firstsight.webhook_max_attempts = $max_attempts
firstsight.retention_interval = off
});
$node->start;

my $out = $node->basedir . '/received.jsonl';
my $ctl = $node->basedir . '/control';
write_control($ctl, '500');
my $rpid = start_receiver($port, $out, $ctl);

$node->safe_psql('postgres', qq{
	CREATE EXTENSION firstsight;
	SELECT firstsight.create_project('dead', dims => 4);
	INSERT INTO firstsight.webhook (project_id, url) VALUES (1, 'http://127.0.0.1:$port/hook');
	SELECT firstsight.emit_event(1, 'visitor.new', 'person:7', '{"person_id": 7, "visit": 1}');
	SELECT firstsight.emit_event(1, 'visitor.returned', 'person:7', '{"person_id": 7, "visit": 2}');
});

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM firstsight.delivery_status WHERE state = 'dead'"),
	'both events are dead after the receiver kept failing');
is($node->safe_psql('postgres',
	"SELECT string_agg(attempts || ' ' || last_status, ',' ORDER BY event_id) FROM firstsight.delivery_status"),
	"$max_attempts 500,$max_attempts 500", "each was attempted webhook_max_attempts = $max_attempts times; the last status is kept");
is($node->safe_psql('postgres',
	"SELECT count(*) FROM firstsight.delivery_status WHERE state = 'dead' AND next_attempt_at IS NULL AND delivered_at IS NULL"),
	'2', 'dead deliveries have no next attempt');
is($node->safe_psql('postgres', "SELECT dead FROM firstsight.delivery_summary"), '2', 'delivery_summary counts the dead');

usleep(3 * $max_ms * 1000);
my @req = read_requests($out);
is(scalar @req, 2 * $max_attempts, 'no attempt after the last one (' . scalar(@req) . ' requests)');

# per event: attempts 1..N in order, delays between them at least d/2, d = min(max, base * 2^(k-1))
my %by;
push @{ $by{ decode_json($_->{body})->{data}{visit} } }, $_ for @req;
for my $v (1, 2)
{
	my @r = @{ $by{$v} // [] };
	is(join(',', map { $_->{attempt} } @r), join(',', 1 .. $max_attempts), "event $v: attempts numbered 1..$max_attempts");
	my @short;
	for my $k (1 .. $#r)
	{
		my $d = $base_ms * 2**($k - 1);
		$d = $max_ms if $d > $max_ms;
		my $gap = ($r[$k]{t} - $r[$k - 1]{t}) * 1000;
		push @short, sprintf('after attempt %d: %.0f ms < %.0f ms', $k, $gap, $d / 2) if $gap < $d / 2 - 5;
	}
	is(join('; ', @short), '', "event $v: every retry waited at least half its backoff delay");
	is(scalar(keys %{ { map { $_->{key} => 1 } @r } }), 1, "event $v: one idempotency key over all attempts");
}
ok($by{1}[-1]{t} <= $by{2}[0]{t}, 'the second event of the person was first tried after the first one was dead');

# fixed receiver: redeliver() queues the dead again, and they arrive in order
write_control($ctl, '200');
is($node->safe_psql('postgres', 'SELECT firstsight.redeliver(1)'), '2', 'redeliver() queues both');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM firstsight.delivery_status WHERE state = 'delivered'"),
	'both delivered after redeliver()');
my @ok = map { decode_json($_->{body})->{data}{visit} } grep { $_->{status} eq '200' } read_requests($out);
is(join(',', @ok), '1,2', 'in order, once each');

kill 'KILL', $rpid;
waitpid($rpid, 0);
$node->stop;
done_testing();

