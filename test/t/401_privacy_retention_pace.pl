# Retention pacing backs off while VACUUM works on the capture table:
# retention_pace (the pacing of enforce_retention_all and of the worker's runs)
# pauses with half the share while a VACUUM of capture is in progress, and with
# the whole share before it starts and after it is gone.  The VACUUM is made
# slow on purpose (cost delay 100 ms per page) so that it is seen running.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('pace');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\n");
$node->start;

# 20,000 capture rows loaded directly (no ingestion): a few hundred heap pages
$node->safe_psql('postgres', q{
	CREATE EXTENSION firstsight;
	SELECT firstsight.create_project('pace', dims => 4);
	SET session_replication_role = replica;
	INSERT INTO firstsight.capture (project_id, capture_id, camera_id, captured_at, face, quality, masked)
	SELECT 1, i, 'c1', now(), '[1,0,0,0]', 0.9, false FROM generate_series(1, 20000) i;
});

# the roles now (setup_roles alters capture, which would wait for the VACUUM below)
$node->safe_psql('postgres', q{
	SELECT firstsight.setup_roles();
	CREATE ROLE officer LOGIN IN ROLE firstsight_privacy_officer;
});

# took 0.2 s at share 0.25: a pause of 0.6 s, 1.4 s with half the share
my $pace = q{SELECT vacuum_busy || ' ' || round(pause::numeric, 2) FROM firstsight.retention_pace(1000, 0.2, 10000, 0.25, '500 ms')};
is($node->safe_psql('postgres', $pace), 'false 0.60', 'no vacuum: the pause for the whole share');

# a VACUUM of capture that sleeps 100 ms after every page
my ($in, $out, $err) = ('', '', '');
my $h = do {
	local $ENV{PGOPTIONS} = '-c vacuum_cost_delay=100 -c vacuum_cost_limit=1';
	IPC::Run::start([ $node->installed_command('psql'), '-X', '-d', $node->connstr('postgres'),
		'-c', 'VACUUM firstsight.capture' ], \$in, \$out, \$err);
};
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_progress_vacuum WHERE relid = 'firstsight.capture'::regclass"),
	'the slow VACUUM of capture is running');
is($node->safe_psql('postgres', $pace), 'true 1.40', 'while it runs: the pause for half the share');

# also for a caller who is not a superuser but may erase (the privacy officer)
is($node->safe_psql('postgres', "SET ROLE officer; $pace"), 'true 1.40',
	'the privacy officer sees the vacuum too (SECURITY DEFINER)');

$node->safe_psql('postgres', "SELECT pg_cancel_backend(pid) FROM pg_stat_progress_vacuum");
$h->finish;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_progress_vacuum"), 'the VACUUM is gone');
is($node->safe_psql('postgres', $pace), 'false 0.60', 'after it: the whole share again');

$node->stop;
done_testing();
