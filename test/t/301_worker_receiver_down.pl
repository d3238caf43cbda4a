# The receiver is down for a while (connection refused), then answers 503, then
# hangs and is killed with -9 mid-request, then recovers: every event is
# delivered, none lost, none dead, duplicates only with the same idempotency
# key and the same signed body, and each subject's events first succeed in order.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsWebhookReceiver;
use Digest::SHA qw(hmac_sha256_hex);
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(usleep time);

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $secret = 'down-secret-0123456789abcdef';
my $n_subjects = 3;
my $per_subject = 10;
my $total = $n_subjects * $per_subject;

my $node = PostgreSQL::Test::Cluster->new('down');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'firstsight'
firstsight.worker_database = 'postgres'
firstsight.webhook_allowed_hosts = '127.0.0.1:$port'
firstsight.webhook_retry_base = 100
firstsight.webhook_retry_max = 400
firstsight.webhook_max_attempts = 1000
firstsight.webhook_connect_timeout = 500
firstsight.webhook_timeout = 1500
firstsight.retention_interval = off
});
$node->start;

my $out = $node->basedir . '/received.jsonl';
my $ctl = $node->basedir . '/control';

$node->safe_psql('postgres', qq{
	CREATE EXTENSION firstsight;
	SELECT firstsight.create_project('down', dims => 4);
	INSERT INTO firstsight.webhook (project_id, url, secret) VALUES (1, 'http://127.0.0.1:$port/hook', '$secret');
});

# phase 1: nobody listens; events pile up and fail with connection refused
my @sql;
for my $k (1 .. $per_subject)
{
	push @sql, "SELECT firstsight.emit_event(1, 'visitor.returned', 'person:$_', '{\"person_id\": $_, \"visit\": $k}');"
	  for 1 .. $n_subjects;
}
$node->safe_psql('postgres', join("\n", @sql));
ok($node->poll_query_until('postgres',
	"SELECT count(*) = $n_subjects AND min(attempts) >= 3 FROM firstsight.delivery_status WHERE state = 'failed'"),
	'receiver down: the head of each subject fails and is retried');
is($node->safe_psql('postgres', "SELECT count(*) FROM firstsight.delivery_status WHERE state = 'pending'"),
	$total - $n_subjects, 'the rest wait behind their subject\'s head (order per subject)');
like($node->safe_psql('postgres', "SELECT min(last_error) FROM firstsight.delivery_status WHERE state = 'failed'"),
	qr/connect|refused/i, 'delivery_status shows the connection error');

# phase 2: the receiver answers 503 for a while
write_control($ctl, '503');
my $rpid = start_receiver($port, $out, $ctl);
ok(wait_for(sub { grep { $_->{status} eq '503' } read_requests($out) } , 3), 'receiver answering 503 is retried');
ok($node->poll_query_until('postgres',
	"SELECT bool_or(last_status = 503) FROM firstsight.delivery_status"), 'delivery_status records HTTP 503');

# phase 3: the receiver hangs mid-request and is killed with -9, then stays down a moment
write_control($ctl, 'hang');
my $before = () = read_requests($out);
ok(wait_for(sub { scalar(() = read_requests($out)) > $before }, 1), 'a request is in flight to a hung receiver');
kill 'KILL', $rpid;
waitpid($rpid, 0);
usleep(700_000);

# phase 4: it recovers
write_control($ctl, '200');
$rpid = start_receiver($port, $out, $ctl);
ok($node->poll_query_until('postgres',
	"SELECT count(*) = $total FROM firstsight.delivery_status WHERE state = 'delivered'"),
	"all $total events delivered after the receiver returned");
is($node->safe_psql('postgres', "SELECT count(*) FROM firstsight.delivery_status WHERE state <> 'delivered'"),
	'0', 'none lost, none dead');

my @req = read_requests($out);
my @ok = grep { $_->{status} eq '200' } @req;
my %by_key;
push @{ $by_key{ $_->{key} } }, $_ for @req;
is(scalar(keys %by_key), $total, "requests carried exactly $total distinct idempotency keys");
my %ok_keys = map { $_->{key} => 1 } @ok;
is(scalar(keys %ok_keys), $total, 'every event was answered 200 at least once');
my $same = 1;
for my $k (keys %by_key)
{
	my @r = @{ $by_key{$k} };
	$same = 0 if grep { $_->{body} ne $r[0]{body} || $_->{signature} ne $r[0]{signature} } @r;
}
ok($same, 'repeats of a delivery carry the same key, body and signature');
is(scalar(grep { $_->{signature} ne 'sha256=' . hmac_sha256_hex($_->{body}, $secret) } @req), 0,
	'every request was validly signed');
ok(scalar(@req) > $total, 'there were retries (' . scalar(@req) . " requests for $total events)");

# the first successful receipt of each subject's events is in visit order
my %last;
my $ordered = 1;
my %done;
for my $r (@ok)
{
	next if $done{ $r->{key} }++;
	my $b = decode_json($r->{body});
	$ordered = 0 if ($last{ $b->{subject} } // 0) >= $b->{data}{visit};
	$last{ $b->{subject} } = $b->{data}{visit};
}
ok($ordered, 'per subject, events were first delivered in order');
is($node->safe_psql('postgres', 'SELECT max(attempts) > 3 FROM firstsight.delivery_status'), 't',
	'attempts are counted');

kill 'KILL', $rpid;
waitpid($rpid, 0);
$node->stop;
done_testing();

# poll a condition for up to 60 seconds; true once it holds at least $times times in a row
sub wait_for
{
	my ($cond, $times) = @_;
	my $start = time;
	while (time - $start < 60)
	{
		return 1 if $cond->() >= $times;
		usleep(100_000);
	}
	return 0;
}
