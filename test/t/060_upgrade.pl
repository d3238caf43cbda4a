# ALTER EXTENSION firstsight UPDATE from every released version (0.1.0 today):
# the old catalog is installed and filled with a day of data by the current
# shared library (which must serve it), then updated; every extension object
# (test/extension_objects.sql: definitions, grants, policies and comments,
# after setup_roles() in both) must equal a fresh install's, the data must be
# unchanged, and the office must keep working: a returning face matches its
# person, the gallery index is sound, a phone hashes as before, a new deal is
# decided, the rollups are exact.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(dirname);
use Cwd qw(abs_path);

my $root = abs_path(dirname(__FILE__) . '/../..');
my $objects_sql = "$root/test/extension_objects.sql";
my $day = PostgreSQL::Test::Utils::slurp_file("$root/test/upgrade/day-0.1.0.sql");

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'firstsight'\nfsync = off\n");
$node->start;

my $default = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'firstsight'");
my @released = map { /firstsight--([0-9.]+)\.sql$/ ? $1 : () }
	glob("$root/sql/released/firstsight--*.sql");
@released = grep { !/--/ } @released;
ok(scalar(@released) >= 1, "released versions kept: @released");

sub objects
{
	my ($db) = @_;
	my ($out, $err) = ('', '');
	$node->psql($db, undef, stdout => \$out, stderr => \$err,
		extra_params => [ '-X', '-v', 'ON_ERROR_STOP=1', '-f', $objects_sql ]);
	die "extension_objects.sql failed in $db: $err" if $err =~ /ERROR/;
	return $out;
}

# what the day left behind, to compare after the update
my $facts_sql = q{
	SELECT string_agg(t || ' ' || n, E'\n' ORDER BY t) FROM (
		SELECT 'capture' AS t, count(*) || ' ' || count(person_id) || ' ' || count(face) || ' ' || round(coalesce(sum(match_distance), 0)::numeric, 6) AS n FROM firstsight.capture
		UNION ALL SELECT 'person', count(*) || ' ' || sum(visits) || ' ' || sum(captures) FROM firstsight.person
		UNION ALL SELECT 'visit', count(*) || ' ' || count(consultant_id) || ' ' || count(agent_id) FROM firstsight.visit
		UNION ALL SELECT 'face', count(*)::text FROM firstsight.face
		UNION ALL SELECT 'identity', string_agg(coalesce(encode(phone_hash, 'hex'), '-') || coalesce(encode(id_card_hash, 'hex'), '-'), ',' ORDER BY identity_id) FROM firstsight.identity
		UNION ALL SELECT 'report', count(*)::text FROM firstsight.report
		UNION ALL SELECT 'attribution', string_agg(deal_id || ':' || version || ':' || entitled_channel_id || ':' || commission || ':' || rule || ':' || array_to_string(flags, '/'), ',' ORDER BY deal_id, version) FROM firstsight.attribution
		UNION ALL SELECT 'outbox', count(*)::text FROM firstsight.outbox
		UNION ALL SELECT 'consent', count(*)::text FROM firstsight.consent
		UNION ALL SELECT 'erasure_log', count(*)::text FROM firstsight.erasure_log
		UNION ALL SELECT 'hash_key', encode(sha256(secret), 'hex') FROM firstsight.hash_key) x
};

for my $from (sort @released)
{
	my $old = "from_" . ($from =~ tr/./_/r);
	$node->safe_psql('postgres', "CREATE DATABASE $old");
	$node->safe_psql($old, "CREATE EXTENSION firstsight VERSION '$from'");
	is($node->safe_psql($old, "SELECT extversion FROM pg_extension WHERE extname = 'firstsight'"),
		$from, "$from installed");

	# a day of data through the old catalog and the new library
	$node->safe_psql($old, "SELECT set_config('search_path', 'firstsight, public', false);\n$day");
	$node->safe_psql($old, 'SELECT firstsight.setup_roles()');
	my $before = $node->safe_psql($old, $facts_sql);
	like($before, qr/^attribution \d+:1:\d+/m, "$from: the day's deals were decided");

	my ($rc, $out, $err) = $node->psql($old, 'ALTER EXTENSION firstsight UPDATE');
	is($rc, 0, "$from: ALTER EXTENSION firstsight UPDATE") or diag($err);
	is($node->safe_psql($old, "SELECT extversion FROM pg_extension WHERE extname = 'firstsight'"),
		$default, "$from: now at $default");
	# documented step after an update: setup_roles() grants new objects
	$node->safe_psql($old, 'SELECT firstsight.setup_roles()');

	# the same objects as a fresh install, down to grants, policies and comments
	my $fresh = "fresh_for_$old";
	$node->safe_psql('postgres', "CREATE DATABASE $fresh");
	$node->safe_psql($fresh, 'CREATE EXTENSION firstsight');
	$node->safe_psql($fresh, 'SELECT firstsight.setup_roles()');
	my $want = objects($fresh);
	my $got = objects($old);
	ok(length($want) > 10000, "$from: the object listing is not empty (" . length($want) . " bytes)");
	if ($got eq $want)
	{
		pass("$from: updated objects equal a fresh $default install");
	}
	else
	{
		my $dir = $node->basedir;
		PostgreSQL::Test::Utils::append_to_file("$dir/want.txt", $want);
		PostgreSQL::Test::Utils::append_to_file("$dir/got.txt", $got);
		my $diff = `diff $dir/want.txt $dir/got.txt | head -60`;
		fail("$from: updated objects equal a fresh $default install");
		diag("diff fresh updated:\n$diff");
	}

	# the data is as it was
	is($node->safe_psql($old, $facts_sql), $before, "$from: every fact unchanged by the update");

	# and the office keeps working
	my $office = $node->safe_psql($old, "SELECT max(project_id) FROM firstsight.project");
	is($node->safe_psql($old, "SELECT count(*) FROM firstsight.index_check(firstsight.gallery_table($office)::text || '_hnsw')"),
		'0', "$from: the gallery index built by $from is sound");
	my $persons = $node->safe_psql($old, "SELECT count(*) FROM firstsight.person WHERE project_id = $office");
	$node->safe_psql($old, qq{
		INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
		SELECT $office, 'entrance-1', '2024-03-20 10:00+08', firstsight.l2_normalize(face), 0.9, false
		FROM public.upgrade_visitor WHERE v = 4});
	is($node->safe_psql($old, qq{
		SELECT c.person_id = firstsight.current_person($office, u.person_id)
		FROM firstsight.capture c, public.upgrade_visitor u
		WHERE c.project_id = $office AND u.v = 4 ORDER BY c.capture_id DESC LIMIT 1}),
		't', "$from: a returning face matches its person after the update");
	is($node->safe_psql($old, "SELECT count(*) FROM firstsight.person WHERE project_id = $office"),
		$persons, "$from: no new person for a returning face");
	is($node->safe_psql($old, qq{
		SELECT count(*) FROM firstsight.identity
		WHERE project_id = $office AND phone_hash = firstsight.identity_hash('phone', firstsight.normalize_phone('139 0000 0004'))}),
		'1', "$from: a phone bound before the update hashes the same after");
	$node->safe_psql($old, qq{
		INSERT INTO firstsight.deal (project_id, deal_id, person_id, signed_at, price, channel_id, agent_id, consultant_id)
		SELECT $office, 5, person_id, '2024-03-21 11:00+08', 3000000, NULL, NULL, 1
		FROM public.upgrade_visitor WHERE v = 7});
	is($node->safe_psql($old, "SELECT count(*) FROM firstsight.attribution WHERE project_id = $office AND deal_id = 5 AND is_current"),
		'1', "$from: a new deal is decided after the update");
	ok($node->safe_psql($old, "SELECT count(*) FROM firstsight.explain_attribution($office, 3)") > 3,
		"$from: explain_attribution of a deal decided before the update");
	is($node->safe_psql($old, "SELECT count(*) FROM firstsight.rollup_check()"), '0',
		"$from: the BI rollups are exact after the update");
	is($node->safe_psql($old, "SELECT count(*) > 0 FROM firstsight.commission_ledger"), 't',
		"$from: the BI views read");
}

$node->stop;
done_testing();
