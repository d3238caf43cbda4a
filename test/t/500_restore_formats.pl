# Backup and restore in each pg_dump format: custom and directory restored
# with pg_restore, plain with psql, each into an empty database, as a DBA
# does (docs/operations.md): session_replication_role = replica through
# PGOPTIONS, so no ingestion, attribution, notification or history trigger
# fires.  Every row of every table comes back (count and checksum per
# table: captures with their persons, visits and distances, attribution
# versions, outbox and delivery states, audit logs, the hash key, the
# gallery partitions), every sequence is where it was, and the office keeps
# working (test/perl/FsDay.pm, office_works).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsDay;

my $node = PostgreSQL::Test::Cluster->new('restore_formats');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\n");
$node->start;
fill_day($node, 'postgres');

my $tables = table_state($node, 'postgres');
my $sequences = sequence_state($node, 'postgres');
like($tables, qr/^firstsight\.face_p1 \d+ /m, 'the day has gallery rows');
like($tables, qr/^firstsight\.attribution [2-9] /m, 'the day has attribution versions');
like($tables, qr/^firstsight\.erasure_log [1-9]/m, 'the day has erasures');
my $security = security_state($node, 'postgres');
my $max_capture = $node->safe_psql('postgres', 'SELECT max(capture_id) FROM firstsight.capture');

my $dir = PostgreSQL::Test::Utils::tempdir;
for my $format ('custom', 'directory', 'plain')
{
	my $db = "office_$format";
	my $file = "$dir/office.$format";
	my ($rc, $err) = run_restore($node, ['pg_dump', "--format=$format", "--file=$file", 'postgres'], 1);
	is($rc, 0, "$format: pg_dump succeeds") or diag($err);
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	($rc, $err) = run_restore($node, $format eq 'plain'
		? ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $db, '-f', $file]
		: ['pg_restore', '--exit-on-error', '-d', $db, $file]);
	is($rc, 0, "$format: restore succeeds");
	unlike($err, qr/ERROR|error:/, "$format: restore reports no error") or diag($err);
	my $d = state_diff($tables, table_state($node, $db));
	is($d, '', "$format: every table has the same rows") or diag($d);
	$d = state_diff($sequences, sequence_state($node, $db));
	is($d, '', "$format: every sequence is where it was") or diag($d);
	office_works($node, $db, $format, $security, $max_capture);
}

# the same restore without the option: ingestion refuses the matched captures
my $file = "$dir/office.custom";
$node->safe_psql('postgres', 'CREATE DATABASE office_origin');
my ($rc, $err) = run_restore($node, ['pg_restore', '-d', 'office_origin', $file], 1);
like($err, qr/person_id, visit_id and match_distance are filled by firstsight/,
	'without session_replication_role = replica the captures are refused, not matched again');

done_testing();
