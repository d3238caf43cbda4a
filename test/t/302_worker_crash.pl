# The server is killed with -9 while the worker is in the middle of deliveries
# (the receiver answers slowly), and restarted: after crash recovery every
# committed event is delivered, none lost; anything sent twice carries the same
# idempotency key.  Events emitted while the server is down cannot exist;
# events committed just before the kill are in the outbox after recovery.
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
my $secret = 'crash-secret-0123456789abcdef';
my $total = 40;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'firstsight'
firstsight.worker_database = 'postgres'
firstsight.webhook_allowed_hosts = '127.0.0.1:$port'
firstsight.webhook_retry_base = 100
firstsight.webhook_retry_max = 500
firstsight.webhook_max_attempts = 1000
firstsight.webhook_timeout = 5000
firstsight.webhook_batch_size = 8
firstsight.retention_interval = off
restart_after_crash = on
});
$node->start;

my $out = $node->basedir . '/received.jsonl';
my $ctl = $node->basedir . '/control';
write_control($ctl, '200 delay=400');
my $rpid = start_receiver($port, $out, $ctl);

$node->safe_psql('postgres', qq{
	CREATE EXTENSION firstsight;
	SELECT firstsight.create_project('crash', dims => 4);
	INSERT INTO firstsight.webhook (project_id, url, secret) VALUES (1, 'http://127.0.0.1:$port/hook', '$secret');
});

# 40 events over 8 subjects; the receiver takes 0.4 s per request
my @sql;
for my $k (1 .. $total / 8)
{
	push @sql, "SELECT firstsight.emit_event(1, 'visitor.returned', 'person:$_', '{\"person_id\": $_, \"visit\": $k}');"
	  for 1 .. 8;
}
$node->safe_psql('postgres', join("\n", @sql));

# wait until some requests have arrived but the worker is not done, then kill -9
my $start = time;
usleep(100_000) while (count_requests() < 3 && time - $start < 60);
my $delivered_before = $node->safe_psql('postgres',
	"SELECT count(*) FROM firstsight.delivery_status WHERE state = 'delivered'");
ok($delivered_before < $total, "killed mid-delivery ($delivered_before of $total recorded as delivered)");
my ($pm, @kids) = pids_of_server();
$node->kill9;
my $seen_at_kill = count_requests();
# every child, the worker in the middle of its transfers included, notices the
# postmaster's death and exits (a new postmaster refuses to start before that)
my $t0 = time;
usleep(100_000) while ((grep { -e "/proc/$_" } $pm, @kids) && time - $t0 < 30);
ok(!(grep { -e "/proc/$_" } $pm, @kids), sprintf('all server processes gone %.1f s after the kill', time - $t0));
ok($seen_at_kill >= 3, "the receiver had $seen_at_kill requests when the server died");

# the server comes back (crash recovery); the receiver now answers at once
write_control($ctl, '200');
$node->start;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = $total FROM firstsight.delivery_status WHERE state = 'delivered'"),
	"after restart all $total events are delivered");
is($node->safe_psql('postgres', 'SELECT count(*) FROM firstsight.outbox'), $total, 'the outbox kept every committed event');

my @req = read_requests($out);
my %by_key;
push @{ $by_key{ $_->{key} } }, $_ for @req;
is(scalar(keys %by_key), $total, "the receiver saw exactly $total distinct idempotency keys: none lost");
my $same = 1;
for my $k (keys %by_key)
{
	my @r = @{ $by_key{$k} };
	$same = 0 if grep { $_->{body} ne $r[0]{body} } @r;
}
ok($same, 'a delivery sent again after the crash has the same key and body');
is(scalar(grep { $_->{signature} ne 'sha256=' . hmac_sha256_hex($_->{body}, $secret) } @req), 0,
	'every request was validly signed');
note(sprintf('%d requests for %d events (%d repeats after the crash)', scalar @req, $total, @req - $total));

# a second crash, this time of the worker alone: the postmaster restarts everything
$node->safe_psql('postgres', join("\n", map {
	"SELECT firstsight.emit_event(1, 'deal.flagged', 'deal:$_', '{\"deal_id\": $_}');" } 1 .. 10));
my $wpid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'firstsight worker'");
ok($wpid =~ /^\d+$/, 'the worker is running after the restart');
kill 'KILL', $wpid if $wpid =~ /^\d+$/;
usleep(500_000);
ok($node->poll_query_until('postgres',
	"SELECT count(*) = " . ($total + 10) . " FROM firstsight.delivery_status WHERE state = 'delivered'"),
	'after the worker itself was killed, its events are delivered too');

kill 'KILL', $rpid;
waitpid($rpid, 0);
$node->stop;
done_testing();

# the postmaster and its children
sub pids_of_server
{
	my $pm = PostgreSQL::Test::Utils::slurp_file($node->data_dir . '/postmaster.pid');
	($pm) = split /\n/, $pm;
	my @kids;
	for my $stat (glob '/proc/[0-9]*/stat')
	{
		open my $f, '<', $stat or next;
		my $line = <$f> // next;
		push @kids, $1 if $line =~ /^(\d+) \(.*\) \S (\d+) / && $2 == $pm;
	}
	return ($pm, @kids);
}

sub count_requests { my @r = read_requests($out); return scalar @r; }
