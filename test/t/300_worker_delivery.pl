# The notification worker against a real HTTP receiver on loopback: deliveries
# woken at commit (the fallback poll is an hour), valid HMAC signatures, stable
# idempotency keys, order kept per subject, nothing from rolled-back
# transactions, nothing sent to a disabled endpoint, a host not allowed refused
# and visible in delivery_status, and enforce_retention run on schedule with
# its retention.completed event delivered.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsWebhookReceiver;
use Digest::SHA qw(hmac_sha256_hex);
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(usleep);

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $secret = 'test-secret-0123456789abcdef';

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'firstsight'
firstsight.worker_database = 'postgres'
firstsight.webhook_allowed_hosts = '127.0.0.1:$port'
firstsight.worker_naptime = 3600
firstsight.webhook_retry_base = 100
firstsight.retention_interval = off
firstsight.retention_batch_size = 1
firstsight.retention_share = 0.2
track_functions = 'all'
});
$node->start;

# the receiver: a child process writing one JSON line per request
my $out = $node->basedir . '/received.jsonl';
my $ctl = $node->basedir . '/control';
my $rpid = start_receiver($port, $out, $ctl);

# (the test cluster logs every statement: not this one, which holds the secret)
$node->safe_psql('postgres', qq{
	SET log_statement = 'none';
	CREATE EXTENSION firstsight;
	SELECT firstsight.create_project('worker', dims => 4);
	INSERT INTO firstsight.webhook (project_id, url, secret) VALUES
		(1, 'http://127.0.0.1:$port/a', '$secret'),                    -- 1: allowed, every event
		(1, 'http://127.0.0.1:$port/d', '$secret'),                    -- 2: disabled in the emitting transaction
		(1, 'http://localhost:$port/x', '$secret');                    -- 3: host not allowed
	INSERT INTO firstsight.webhook (project_id, url, secret, enabled) VALUES
		(1, 'http://127.0.0.1:$port/off', '$secret', false);            -- 4: disabled from the start
});

# 4 subjects x 5 events, one transaction each, interleaved; webhook 2 is disabled in
# the first transaction, before it commits
my @sql;
for my $k (1 .. 5)
{
	for my $s (1 .. 4)
	{
		my $ev = $k == 1 ? 'visitor.new' : 'visitor.returned';
		my $extra = ($k == 1 && $s == 1) ? 'UPDATE firstsight.webhook SET enabled = false WHERE webhook_id = 2;' : '';
		push @sql, "BEGIN; SELECT firstsight.emit_event(1, '$ev', 'person:$s', '{\"person_id\": $s, \"visit\": $k}'); $extra COMMIT;";
	}
}
# a rolled-back event never leaves
push @sql, "BEGIN; SELECT firstsight.emit_event(1, 'deal.flagged', 'deal:99', '{\"deal_id\": 99}'); ROLLBACK;";
$node->safe_psql('postgres', join("\n", @sql));

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 20 FROM firstsight.delivery_status WHERE webhook_id = 1 AND state = 'delivered'"),
	'all 20 events delivered to the allowed endpoint');

my $lat = $node->safe_psql('postgres',
	"SELECT max(extract(epoch FROM latency)) < 5 FROM firstsight.delivery_status WHERE webhook_id = 1");
is($lat, 't', 'delivered within seconds of commit although the fallback poll is an hour (woken at commit)');

my @req = read_requests($out);
my @a = grep { $_->{path} eq '/a' } @req;
is(scalar @a, 20, 'the receiver got exactly 20 requests on /a');
is(scalar(grep { $_->{path} ne '/a' } @req), 0, 'nothing reached the disabled or refused endpoints');

my ($sig_ok, $key_ok, $hdr_ok) = (0, 0, 0);
my %seen;
my $order_ok = 1;
for my $r (@a)
{
	my $b = decode_json($r->{body});
	$sig_ok++ if $r->{signature} eq 'sha256=' . hmac_sha256_hex($r->{body}, $secret);
	$key_ok++ if $r->{key} eq "fs-1-$b->{id}-1";
	$hdr_ok++ if $r->{event} eq $b->{event} && $r->{content_type} eq 'application/json' && $r->{method} eq 'POST';
	# per subject, visits arrive in order
	$order_ok = 0 if ($seen{$b->{subject}} // 0) >= $b->{data}{visit};
	$seen{$b->{subject}} = $b->{data}{visit};
}
is($sig_ok, 20, 'every X-Firstsight-Signature is a valid HMAC-SHA256 of the body');
is($key_ok, 20, 'Idempotency-Key is fs-<project>-<event>-<webhook>');
is($hdr_ok, 20, 'X-Firstsight-Event, Content-Type and method are right');
ok($order_ok, 'events of each subject arrived in emit order');
ok(!grep({ decode_json($_->{body})->{event} eq 'deal.flagged' } @a), 'the rolled-back event was never sent');

is($node->safe_psql('postgres',
	"SELECT string_agg(state, ',') FROM firstsight.delivery_status WHERE webhook_id = 2"),
	'paused', 'the delivery of the endpoint disabled before its commit is paused (later events make none)');
is($node->safe_psql('postgres', 'SELECT count(*) FROM firstsight.outbox_delivery WHERE webhook_id = 4'),
	'0', 'an endpoint disabled at emit time gets no deliveries');

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 20 FROM firstsight.delivery_status WHERE webhook_id = 3 AND state = 'refused'"),
	'deliveries to a host not allowed are refused');
like($node->safe_psql('postgres',
	'SELECT DISTINCT last_error FROM firstsight.delivery_status WHERE webhook_id = 3'),
	qr/host "localhost" port $port is not in firstsight.webhook_allowed_hosts/,
	'delivery_status says why');
is($node->safe_psql('postgres',
	"SELECT refused FROM firstsight.delivery_summary WHERE webhook_id = 3"), '20', 'delivery_summary counts them');

# allowing the host and queueing the refused deliveries again sends them
$node->append_conf('postgresql.conf', "firstsight.webhook_allowed_hosts = '127.0.0.1:$port, localhost:$port'\n");
$node->reload;
usleep(300_000);
$node->safe_psql('postgres', 'SELECT firstsight.redeliver(1, 3)');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 20 FROM firstsight.delivery_status WHERE webhook_id = 3 AND state = 'delivered'"),
	'after allowing the host, redeliver() sends the refused events');

# re-enabling the paused endpoint sends what waited
$node->safe_psql('postgres', 'UPDATE firstsight.webhook SET enabled = true WHERE webhook_id = 2');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM firstsight.delivery_status WHERE webhook_id = 2 AND state = 'delivered'"),
	'enabling the paused endpoint delivers what waited');
is(scalar(grep { $_->{path} eq '/d' } read_requests($out)), 1, 'one request reached it');

# retention: off means never run; an interval runs it, and its event is delivered
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_user_functions WHERE funcname = 'enforce_retention'"),
	'0', 'retention_interval = off: enforce_retention never ran');
$node->safe_psql('postgres', q{
	INSERT INTO firstsight.camera VALUES (1, 'c1', 'entrance');
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, photo)
	VALUES (1, 'c1', now() - interval '2 days', '[1,0,0,0]', 0.9, false, '\x0102');
});
$node->append_conf('postgresql.conf', "firstsight.retention_interval = '2s'\n");
$node->reload;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM firstsight.delivery_status WHERE webhook_id = 1 AND event = 'retention.completed' AND state = 'delivered'"),
	'the worker ran enforce_retention and its retention.completed event was delivered');
is($node->safe_psql('postgres', 'SELECT photo IS NULL FROM firstsight.capture'), 't', 'the expired photo is gone');

# the camera insert above wrote visitor.new in its own transaction (ingestion owns
# the event); it is delivered, signed, with identifiers only
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM firstsight.delivery_status s JOIN firstsight.capture c ON s.subject = 'person:' || c.person_id
	WHERE s.webhook_id = 1 AND s.event = 'visitor.new' AND s.state = 'delivered' AND s.event_id > 21}),
	'the capture\'s visitor.new event was delivered');
my ($vn) = grep { $_->{path} eq '/a' && $_->{event} eq 'visitor.new' && decode_json($_->{body})->{data}{camera_id} }
	read_requests($out);
ok($vn && $vn->{signature} eq 'sha256=' . hmac_sha256_hex($vn->{body}, $secret), 'visitor.new from ingestion is signed');
is(join(',', sort keys %{ decode_json($vn->{body})->{data} }), 'camera_id,person_id,started_at,visit_id,zone',
	'its payload: person, visit, time, camera and zone; no face, no photo');
# (the first run was two calls: the photo, one row a call, then nothing more due)
ok($node->poll_query_until('postgres',
	"SELECT calls >= 3 FROM pg_stat_user_functions WHERE funcname = 'enforce_retention'"),
	'enforce_retention runs again at the next interval');
my ($rc) = grep { $_->{path} eq '/a' && decode_json($_->{body})->{event} eq 'retention.completed' } read_requests($out);
is_deeply([ sort keys %{ decode_json($rc->{body})->{data} } ], [ 'as_of', 'photos' ],
	'the retention.completed payload holds counts only');

# the worker's runs are paced as enforce_retention_all's (retention_pace): calls
# of retention_batch_size rows (1 here) and, after a call that took t, a pause of
# at least t x (1 - share) / share before the next (share 0.2: 4t; longer while
# vacuum works on capture or face), with deliveries going on in between
my $last_run = $node->safe_psql('postgres', 'SELECT coalesce(max(run_id), 0) FROM firstsight.retention_log');
$node->safe_psql('postgres', q{
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, photo)
	SELECT 1, 'c1', now() - interval '2 days', ('[1,' || i || ',0,0]')::firstsight.embedding, 0.9, false, '\x0102'
	FROM generate_series(1, 12) i;
});
ok($node->poll_query_until('postgres', 'SELECT count(photo) = 0 FROM firstsight.capture'),
	'the worker erased the 12 expired photos');
is($node->safe_psql('postgres', qq{
	SELECT count(*) || ' calls, ' || count(*) FILTER (WHERE photos_erased = 1) || ' of one photo, '
	       || count(*) FILTER (WHERE gap < 3.9 * took) || ' without the pause'
	FROM (SELECT photos_erased, finished_at - started_at AS took,
	             lead(started_at) OVER (ORDER BY run_id) - finished_at AS gap
	      FROM firstsight.retention_log WHERE run_id > $last_run) c}),
	'12 calls, 12 of one photo, 0 without the pause',
	'one photo a call, each call followed by its pause');

# the server log holds no secret
my $log = slurp_file($node->logfile);
unlike($log, qr/\Q$secret\E/, 'the secret never reaches the server log');
like($log, qr/firstsight worker serving database "postgres"/, 'the worker said which database it serves');

kill 'KILL', $rpid;
waitpid($rpid, 0);
$node->stop;
done_testing();

