# The worker looks for queue heads among each webhook's oldest pending
# deliveries (a window of 1024 by default).  One subject with more pending
# events than the window, behind which other subjects wait, still gets every
# event through in order, and so do the others; a webhook whose receiver is
# down (connection refused, retried) holds back nobody else.
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
my $down = PostgreSQL::Test::Cluster::get_free_port();    # nobody listens there
my $big = 1300;                                             # more than the window
my $others = 30;

my $node = PostgreSQL::Test::Cluster->new('window');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'firstsight'
firstsight.worker_database = 'postgres'
firstsight.webhook_allowed_hosts = '127.0.0.1:$port, 127.0.0.1:$down'
firstsight.webhook_retry_base = 100
firstsight.webhook_retry_max = 300
firstsight.webhook_max_attempts = 100000
firstsight.webhook_connect_timeout = 500
firstsight.retention_interval = off
});
$node->start;

my $out = $node->basedir . '/received.jsonl';
my $rpid = start_receiver($port, $out);

# webhook 1 is down, webhook 2 answers; person:1 has $big events, then $others
# other persons one each, all committed together
$node->safe_psql('postgres', qq{
	CREATE EXTENSION firstsight;
	SELECT firstsight.create_project('window', dims => 4);
	INSERT INTO firstsight.webhook (project_id, url) VALUES
		(1, 'http://127.0.0.1:$down/down'), (1, 'http://127.0.0.1:$port/up');
	BEGIN;
	SELECT count(firstsight.emit_event(1, 'visitor.returned', 'person:1', jsonb_build_object('person_id', 1, 'visit', i)))
	FROM generate_series(1, $big) i;
	SELECT count(firstsight.emit_event(1, 'visitor.returned', 'person:' || i, jsonb_build_object('person_id', i, 'visit', 1)))
	FROM generate_series(2, $others + 1) i;
	COMMIT;
});

my $total = $big + $others;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = $total FROM firstsight.delivery_status WHERE webhook_id = 2 AND state = 'delivered'"),
	"all $total events reached the receiver that is up");
is($node->safe_psql('postgres',
	"SELECT count(*) FROM firstsight.delivery_status WHERE webhook_id = 1 AND state = 'delivered'"),
	'0', 'none reached the one that is down');
ok($node->safe_psql('postgres',
	"SELECT max(attempts) FROM firstsight.delivery_status WHERE webhook_id = 1") >= 2,
	'the down webhook\'s head kept being retried meanwhile');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM firstsight.delivery_status WHERE webhook_id = 1 AND state = 'failed'"),
	'1', 'there, only person:1\'s head was tried: the other subjects lie beyond the window behind it (the documented limit)');

my @req = read_requests($out);
my (%last, %n);
my $ordered = 1;
for my $r (@req)
{
	my $b = decode_json($r->{body});
	next if $n{ $r->{key} }++;
	$ordered = 0 if ($last{ $b->{subject} } // 0) >= $b->{data}{visit};
	$last{ $b->{subject} } = $b->{data}{visit};
}
is(scalar(keys %n), $total, "the receiver saw $total distinct events");
ok($ordered, 'person:1\'s events arrived in order');
is($last{'person:1'}, $big, "up to the last of its $big");

kill 'KILL', $rpid;
waitpid($rpid, 0);
$node->stop;
done_testing();

