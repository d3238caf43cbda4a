# pg_restore's other ways: --jobs (parallel), --clean --if-exists into a
# database that already has the extension and its audit records (which
# refuse TRUNCATE, DELETE and UPDATE: --clean drops and recreates the
# extension, it truncates nothing), and a schema-only then data-only
# restore.  Each gives back every row and sequence position and a working
# office, as 500_restore_formats checks for the formats.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsDay;

my $node = PostgreSQL::Test::Cluster->new('restore_clean_jobs');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\n");
$node->start;
fill_day($node, 'postgres');

my $tables = table_state($node, 'postgres');
my $sequences = sequence_state($node, 'postgres');
my $security = security_state($node, 'postgres');
my $max_capture = $node->safe_psql('postgres', 'SELECT max(capture_id) FROM firstsight.capture');
my $dir = PostgreSQL::Test::Utils::tempdir;
my ($rc, $err) = run_restore($node, ['pg_dump', '--format=directory', '--jobs=2', "--file=$dir/office", 'postgres'], 1);
is($rc, 0, 'pg_dump --jobs=2 of the directory format succeeds') or diag($err);

# the audit records refuse TRUNCATE as they refuse DELETE and UPDATE, also
# under session_replication_role = replica
for my $t ('consent', 'erasure_log', 'retention_log', 'biometric_access_log')
{
	my ($ret, $out, $e) = $node->psql('postgres', "TRUNCATE firstsight.$t");
	like($e, qr/$t records cannot be truncated/, "TRUNCATE $t is refused");
	($ret, $out, $e) = $node->psql('postgres', "SET session_replication_role = replica; DELETE FROM firstsight.$t");
	like($e, qr/$t records are kept for at least 3 years/, "DELETE FROM $t is refused under replica");
}

sub check_restored
{
	my ($db, $what) = @_;
	my $d = state_diff($tables, table_state($node, $db));
	is($d, '', "$what: every table has the same rows") or diag($d);
	$d = state_diff($sequences, sequence_state($node, $db));
	is($d, '', "$what: every sequence is where it was") or diag($d);
	office_works($node, $db, $what, $security, $max_capture);
	return;
}

# --jobs into an empty database
$node->safe_psql('postgres', 'CREATE DATABASE office_jobs');
($rc, $err) = run_restore($node, ['pg_restore', '--exit-on-error', '--jobs=2', '-d', 'office_jobs', "$dir/office"]);
is($rc, 0, '--jobs=2: restore succeeds');
unlike($err, qr/ERROR|error:/, '--jobs=2: restore reports no error') or diag($err);
check_restored('office_jobs', '--jobs=2');

# --clean --if-exists --jobs into a database that has the extension, a
# project and young audit records of its own: they are replaced by the dump's
$node->safe_psql('postgres', 'CREATE DATABASE office_clean');
$node->safe_psql('office_clean', q{
	CREATE EXTENSION firstsight;
	SELECT firstsight.create_project('an office set up by mistake', dims => 4);
	INSERT INTO firstsight.camera (project_id, camera_id) VALUES (1, 'c');
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality)
		VALUES (1, 'c', now(), '[1,0,0,0]', 0.9);
	SELECT firstsight.record_consent(1, 1, true, 'kiosk', 'face', NULL);
	SELECT firstsight.erase_person(1, 1, 'test');
	SELECT firstsight.enforce_retention()});
($rc, $err) = run_restore($node, ['pg_restore', '--exit-on-error', '--clean', '--if-exists', '--jobs=2',
	'-d', 'office_clean', "$dir/office"]);
is($rc, 0, '--clean --if-exists --jobs=2 over an installed extension: restore succeeds');
unlike($err, qr/ERROR|error:/, '--clean: restore reports no error') or diag($err);
check_restored('office_clean', '--clean');

# schema first (origin: no row is loaded), then --data-only with --jobs
$node->safe_psql('postgres', 'CREATE DATABASE office_data');
($rc, $err) = run_restore($node, ['pg_restore', '--exit-on-error', '--schema-only', '-d', 'office_data', "$dir/office"], 1);
is($rc, 0, '--schema-only: restore succeeds') or diag($err);
($rc, $err) = run_restore($node, ['pg_restore', '--exit-on-error', '--data-only', '--jobs=2', '-d', 'office_data', "$dir/office"]);
is($rc, 0, '--data-only --jobs=2 after --schema-only: restore succeeds');
unlike($err, qr/ERROR|error:/, '--data-only: restore reports no error') or diag($err);
check_restored('office_data', '--data-only');

done_testing();
