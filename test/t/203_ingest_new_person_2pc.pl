# Two-phase commit and the pending new-person faces (issue 21).  Camera A's
# transaction makes a new person and is PREPAREd: its person is still
# invisible to others, so its face must stay pending until COMMIT PREPARED.
# Before, PREPARE freed the face: camera C, seeing A's face again, found
# nothing pending and made a second person of it.  Now C waits for the
# prepared transaction and joins A's person once it is committed; after
# ROLLBACK PREPARED of another such transaction, C's capture makes the one
# person.  firstsight is preloaded (the pending faces live in shared memory).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsNewPerson;

my $node = new_person_node('new_person_2pc', "max_prepared_transactions = 5\n");

# camera C's capture of a face near $face, in the background; returns the session
sub camera_c
{
	my ($face, $at) = @_;
	my $c = $node->background_psql('postgres', on_error_stop => 1);
	$c->query_until(qr/started/, qq{\\echo started
		INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
		VALUES (1, 'cam2', '$at', '$face', 0.9, false) RETURNING person_id;
		\\echo done
});
	return $c;
}

sub persons { return $node->safe_psql('postgres', 'SELECT count(*) FROM firstsight.person'); }

# 1. COMMIT PREPARED: C joins A's person
my $persons = persons();
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (1, 'cam0', '2024-03-05 10:00+08', '[0,0,1,0]', 0.9, false);
	PREPARE TRANSACTION 'camera_a';
});
is(persons(), $persons, 'camera A prepared a new person, not visible yet');
my $c = camera_c('[0,0,0.999,0.02]', '2024-03-05 10:00:02+08');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity
	WHERE wait_event_type = 'Lock' AND wait_event = 'transactionid' AND query LIKE '%cam2%'}),
	"camera C waits for camera A's prepared transaction");
$node->safe_psql('postgres', q{COMMIT PREPARED 'camera_a'});
my $outc = $c->query_until(qr/done/, '');
$c->quit;
my ($pc) = $outc =~ /(\d+)/;
my $pa = $node->safe_psql('postgres', q{SELECT person_id FROM firstsight.capture WHERE camera_id = 'cam0' AND captured_at = '2024-03-05 10:00+08'});
is($pc, $pa, "camera C joined camera A's person after COMMIT PREPARED");
is(persons(), $persons + 1, 'one new person, not two');

# 2. ROLLBACK PREPARED: C's capture makes the person
$persons = persons();
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (1, 'cam0', '2024-03-05 11:00+08', '[0,1,0,0]', 0.9, false);
	PREPARE TRANSACTION 'camera_a2';
});
$c = camera_c('[0.01,0.999,0,0]', '2024-03-05 11:00:02+08');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity
	WHERE wait_event_type = 'Lock' AND wait_event = 'transactionid' AND query LIKE '%cam2%'}),
	"camera C waits for the second prepared transaction");
$node->safe_psql('postgres', q{ROLLBACK PREPARED 'camera_a2'});
$outc = $c->query_until(qr/done/, '');
$c->quit;
($pc) = $outc =~ /(\d+)/;
ok($pc > 0, 'camera C made a person after ROLLBACK PREPARED');
is(persons(), $persons + 1, 'one new person, C\'s');

# 3. nothing is left pending: an unrelated new face goes through at once, and
# a near face of the committed person joins it without waiting
my ($rc, $stdout, $stderr) = $node->psql('postgres', qq{
	SET lock_timeout = '5s';
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (1, 'cam1', '2024-03-05 12:00+08', '[0.5,0,0.5,-0.7]', 0.9, false) RETURNING person_id});
is($rc, 0, 'no pending face left behind') or diag($stderr);
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), 0, 'no prepared transaction left');

$node->stop;
done_testing();
