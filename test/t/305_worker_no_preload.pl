# Without shared_preload_libraries the extension loads and works: settings,
# webhooks, emit_event and the outbox, camera ingestion writing visitor.new;
# no worker runs and nothing is sent.  Once firstsight is preloaded and the
# server restarted, the worker delivers what the outbox kept.
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

my $node = PostgreSQL::Test::Cluster->new('nopreload');
$node->init;
# the worker settings are there, the preload is not
$node->append_conf('postgresql.conf', qq{
firstsight.worker_database = 'postgres'
firstsight.webhook_allowed_hosts = '127.0.0.1:$port'
firstsight.retention_interval = '1s'
track_functions = 'all'
});
$node->start;

my $out = $node->basedir . '/received.jsonl';
my $rpid = start_receiver($port, $out);

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'), '', 'firstsight is not preloaded');
$node->safe_psql('postgres', qq{
	CREATE EXTENSION firstsight;
	SELECT firstsight.create_project('nopreload', dims => 4);
	INSERT INTO firstsight.camera VALUES (1, 'gate', 'entrance');
	INSERT INTO firstsight.webhook (project_id, url) VALUES (1, 'http://127.0.0.1:$port/hook');
});
is($node->safe_psql('postgres', q{
	SELECT firstsight.emit_event(1, 'deal.flagged', 'deal:1', '{"deal_id": 1}') > 0;
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (1, 'gate', now(), '[1,0,0,0]', 0.9, false);
	SELECT string_agg(event, ',' ORDER BY event_id) FROM firstsight.outbox;
}), "t\ndeal.flagged,visitor.new", 'emit_event and camera ingestion write the outbox');
is($node->safe_psql('postgres',
	"SELECT firstsight.webhook_signature('Jefe', 'x') ~ '^sha256='; SHOW firstsight.webhook_tls_verify; SHOW firstsight.retention_interval"),
	"t\non\n1s", 'helpers work and the settings are defined once a backend loads the library');

sleep 2;
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'firstsight worker'"), '0', 'no worker without the preload');
is($node->safe_psql('postgres',
	"SELECT string_agg(state, ',') FROM firstsight.delivery_status"), 'pending,pending', 'deliveries wait');
is(scalar(read_requests($out)), 0, 'nothing was sent');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_user_functions WHERE funcname = 'enforce_retention'"), '0',
	'and enforce_retention never ran (retention_interval needs the worker)');

# preloaded and restarted: the worker delivers what waited
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'firstsight'\n");
$node->restart;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM firstsight.delivery_status WHERE state = 'delivered'"),
	'after preloading, the kept events are delivered');
is(join(',', map { decode_json($_->{body})->{event} } read_requests($out)), 'deal.flagged,visitor.new',
	'the receiver got both');

kill 'KILL', $rpid;
waitpid($rpid, 0);
$node->stop;
done_testing();

