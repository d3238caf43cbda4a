# The marketing manager's dashboard (dashboard/, issue 16): built with
# Observable Framework against the demo's day, read as an analyst login, and
# every page rendered in Debian's headless Chromium (dashboard/check, which
# runs dashboard/test/render.mjs).  Each check of the renderer is a test here:
# a page with a console or page error, an error box, a request off this
# machine, or a table or headline figure that differs from the same SQL run
# with psql fails.  Needs node, npm (the registry) and /usr/bin/chromium
# (test/common.sh installs them).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('dashboard');
$node->init;
$node->start;

# the demo's sales-office day (demo/demo.sql), then the dashboard's login
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-f', 'demo/demo.sql' ],
	'the demo day loads');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-f', 'dashboard/login.sql' ],
	'the dashboard login is an analyst');
is($node->safe_psql('postgres', q{SELECT count(*) FROM firstsight.daily_traffic}), '1', 'the demo has one day of traffic');

# the dashboard's login reads views, not tables: a build that read a table would fail
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT count(*) FROM firstsight.visit},
	extra_params => [ '-U', 'dashboard' ]);
like($err, qr/permission denied/, 'the dashboard login cannot read a table');
($ret, $out, $err) = $node->psql('postgres', q{SELECT count(*) FROM firstsight.capture},
	extra_params => [ '-U', 'dashboard' ]);
like($err, qr/permission denied/, 'nor the captures');

my $shot = $ENV{FS_DASHBOARD_SHOT} // "$PostgreSQL::Test::Utils::tmp_check/dashboard.png";
my $psql = `pg_config --bindir`;
chomp $psql;
my ($stdout, $stderr) = ('', '');
my $ok = IPC::Run::run(
	[ 'env', 'PGHOST=' . $node->host, 'PGPORT=' . $node->port, 'PGDATABASE=postgres', 'PGUSER=dashboard',
	  "PSQL=$psql/psql", 'dashboard/check', $shot ],
	'>', \$stdout, '2>', \$stderr);
note($stderr) if $stderr ne '';
my $checks = 0;
for my $line (split /\n/, $stdout)
{
	if ($line =~ /^(not )?ok \d+ - (.*)$/)
	{
		ok(!defined $1, $2);
		$checks++;
	}
	elsif ($line =~ /^#/)
	{
		diag($line);
	}
	else
	{
		note($line);
	}
}
ok($checks >= 40, "the renderer ran its checks ($checks)");
ok($ok, 'dashboard/check exits 0');
ok(-s $shot, "screenshot of the overview in $shot");

$node->stop;
done_testing();
