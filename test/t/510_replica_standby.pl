# A physical streaming standby of a sales office: while the primary ingests
# captures (a psql session inserting them one camera statement at a time),
# the standby serves the BI views and gallery searches by the embedding_hnsw
# index; once caught up it gives the primary's answers.  Then the standby is
# promoted: the new primary keeps ingesting, returning faces match their
# existing persons (no duplicate person), new faces get new persons with
# ids past the old ones, and index_check finds the gallery index sound.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FsDay;

my $primary = PostgreSQL::Test::Cluster->new('office_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "fsync = off\n");
$primary->start;
fill_day($primary, 'postgres');
$primary->backup('day');
my $standby = PostgreSQL::Test::Cluster->new('office_standby');
$standby->init_from_backup($primary, 'day', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

# the BI views and a gallery search a reporting tool runs on the standby
my $views = q{
	SELECT 'traffic', string_agg(format('%s %s %s %s', project_id, day, visits, new_persons), ';' ORDER BY project_id, day) FROM firstsight.daily_traffic
	UNION ALL SELECT 'share', count(*)::text FROM firstsight.channel_share
	UNION ALL SELECT 'funnel', count(*)::text FROM firstsight.conversion_funnel
	UNION ALL SELECT 'ledger', string_agg(format('%s %s', channel, commission), ';' ORDER BY channel, month) FROM firstsight.commission_ledger
	UNION ALL SELECT 'flagged', count(*)::text FROM firstsight.flagged_deals
	UNION ALL SELECT 'board', count(*)::text FROM firstsight.consultant_board};
my $search = q{
	SET enable_seqscan = off;
	SELECT string_agg(format('%s:%s', c.capture_id,
	       (SELECT f.person_id FROM firstsight.face_p1 f
	        ORDER BY f.face::firstsight.embedding(32) OPERATOR(firstsight.<=>) c.face::firstsight.embedding(32) LIMIT 1)), ' ' ORDER BY c.capture_id)
	FROM (SELECT capture_id, face FROM firstsight.capture WHERE project_id = 1 AND face IS NOT NULL
	      ORDER BY capture_id DESC LIMIT 20) c};
like($standby->safe_psql('postgres', "SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT person_id FROM firstsight.face_p1
	ORDER BY face::firstsight.embedding(32) OPERATOR(firstsight.<=>) (SELECT face FROM public.visitor WHERE v = 1)::firstsight.embedding(32) LIMIT 1"),
	qr/Index Scan using face_p1_hnsw/, 'the standby searches the gallery by its embedding_hnsw index');

# the primary ingests: 30 camera statements, each a returning visitor and a
# new face; the standby answers queries all the while
my $ingest = join('', map {
	my $v = 1 + ($_ % 40);
	qq{INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	   SELECT 1, 'entrance-1', now(), public.seen(face), 0.8, false FROM public.visitor WHERE v = $v
	   UNION ALL
	   SELECT 1, 'entrance-1', now(), firstsight.l2_normalize(array_agg(random() - 0.5)::firstsight.embedding), 0.8, false
	   FROM generate_series(1, 32);\n}
} 1 .. 30);
my $file = PostgreSQL::Test::Utils::tempdir . '/ingest.sql';
PostgreSQL::Test::Utils::append_to_file($file, $ingest);
my ($out, $err) = ('', '');
my $h = IPC::Run::start(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $primary->connstr('postgres'), '-f', $file],
	'<', \undef, '>', \$out, '2>', \$err);
my ($rounds, $failed) = (0, 0);
while ($h->pumpable || $rounds == 0)
{
	my ($r1, $o1, $e1) = $standby->psql('postgres', $views);
	my ($r2, $o2, $e2) = $standby->psql('postgres', $search);
	$failed++ if $r1 != 0 || $r2 != 0 || $o2 eq '';
	diag("$e1 $e2") if $r1 != 0 || $r2 != 0;
	$rounds++;
	$h->pump_nb if $h->pumpable;
}
ok($h->finish, 'the primary ingested 60 captures') or diag($err);
is($failed, 0, "the standby answered the views and the gallery search in each of $rounds rounds while the primary ingested");

$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $views), $primary->safe_psql('postgres', $views),
	'caught up, the standby\'s BI views give the primary\'s numbers');
is($standby->safe_psql('postgres', $search), $primary->safe_psql('postgres', $search),
	'caught up, the standby\'s index search finds the primary\'s persons for the newest captures');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM firstsight.index_check('firstsight.face_p1_hnsw')}), '0',
	'index_check on the standby finds no problem');

# promotion: the primary is gone, the standby takes over the cameras
my $persons = $primary->safe_psql('postgres', 'SELECT count(*) || \' \' || max(person_id) FROM firstsight.person');
$primary->stop('immediate');
$standby->promote;
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 'f', 'the standby is promoted');
my $matched = 0;
for my $v (4 .. 8, 10 .. 13)	# (visitors 3 and 9 were erased during the day)
{
	my ($same) = split /\|/, $standby->safe_psql('postgres', returning_capture_sql($v));
	$matched++ if $same eq 't';
}
is($matched, 9, 'on the new primary, 9 returning faces match their persons of the day');
is($standby->safe_psql('postgres', 'SELECT count(*) || \' \' || max(person_id) FROM firstsight.person'), $persons,
	'no duplicate person: returning faces made none');
$standby->safe_psql('postgres', q{
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT 1, 'entrance-1', now(), firstsight.l2_normalize(array_agg(random() - 0.5)::firstsight.embedding), 0.8, false
	FROM generate_series(1, 32) k, generate_series(1, 5) n GROUP BY n});
my ($count, $max) = split / /, $persons;
is($standby->safe_psql('postgres', "SELECT count(*) FROM firstsight.person WHERE person_id > $max"), '5',
	'5 new faces are 5 new persons with ids past the old ones');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM firstsight.index_check('firstsight.face_p1_hnsw')}), '0',
	'index_check on the new primary finds no problem');

done_testing();
