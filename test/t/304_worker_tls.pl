# TLS verification is on by default: an HTTPS receiver on loopback with a
# self-signed certificate (openssl s_server) is refused at the handshake, the
# request never reaches it, and delivery_status shows the certificate error.
# With firstsight.webhook_tls_verify = off (tests only) the same receiver gets
# the signed request, which shows the refusal came from verification.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use IO::Socket::INET;
use Time::HiRes qw(usleep);

my $port = PostgreSQL::Test::Cluster::get_free_port();

my $node = PostgreSQL::Test::Cluster->new('tls');
$node->init;
# webhook_tls_verify is left at its default
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'firstsight'
firstsight.worker_database = 'postgres'
firstsight.webhook_allowed_hosts = '127.0.0.1:$port'
firstsight.webhook_retry_base = 200
firstsight.webhook_retry_max = 500
firstsight.webhook_max_attempts = 1000
firstsight.webhook_timeout = 1500
firstsight.retention_interval = off
});
$node->start;

# a self-signed certificate for 127.0.0.1 and a TLS server that prints what it receives
my $dir = $node->basedir;
my ($o, $e) = ('', '');
IPC::Run::run([ 'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
	'-subj', '/CN=127.0.0.1', '-keyout', "$dir/key.pem", '-out', "$dir/cert.pem" ], '>', \$o, '2>', \$e)
  or die "openssl req failed: $e";
my $in = '';
my $seen = "$dir/s_server.out";
my $server = IPC::Run::start([ 'openssl', 's_server', '-accept', "127.0.0.1:$port",
	'-cert', "$dir/cert.pem", '-key', "$dir/key.pem" ], '<', \$in, '>', $seen, '2>&1');
for (1 .. 100)
{
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
	if ($s) { close $s; last; }
	usleep(100_000);
}

is($node->safe_psql('postgres', 'SHOW firstsight.webhook_tls_verify'), 'on', 'TLS verification is on by default');

$node->safe_psql('postgres', qq{
	CREATE EXTENSION firstsight;
	SELECT firstsight.create_project('tls', dims => 4);
	INSERT INTO firstsight.webhook (project_id, url) VALUES (1, 'https://127.0.0.1:$port/hook');
	SELECT firstsight.emit_event(1, 'deal.flagged', 'deal:1', '{"deal_id": 1}');
});
ok($node->poll_query_until('postgres',
	"SELECT attempts >= 2 FROM firstsight.delivery_status"), 'the delivery to a self-signed receiver fails and is retried');
like($node->safe_psql('postgres', 'SELECT state || \': \' || last_error FROM firstsight.delivery_status'),
	qr/^failed: .*certificate/i, 'delivery_status shows the certificate error');
unlike(slurp_file($seen), qr/POST \/hook/, 'no request went over the unverified connection');

# verification off: the handshake succeeds and the signed request arrives (this
# server never answers, so the attempt ends in a timeout and is retried)
$node->append_conf('postgresql.conf', "firstsight.webhook_tls_verify = off\n");
$node->reload;
my $got = 0;
for (1 .. 300)
{
	$got = 1, last if slurp_file($seen) =~ /POST \/hook.*X-Firstsight-Signature: sha256=[0-9a-f]{64}/s;
	usleep(100_000);
}
ok($got, 'with webhook_tls_verify = off the same receiver gets the signed request');

$server->kill_kill;
$node->stop;
done_testing();
