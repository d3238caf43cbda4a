# A camera making a new person does not hold up cameras with other new faces
# (issue 21).  Camera A sees a new face and does not commit yet (a slow
# commit, a long batch).  Camera B sees another new face, with a lock
# timeout: while the new-person lock was held to commit, B waited for A and
# failed here.  Camera C sees A's face again: it must wait for A (its person
# is not visible before A commits) and then join A's person, not make a
# second one.  Then the same with a masked capture of A's face (the masked
# threshold).  firstsight is preloaded (the pending faces live in shared memory).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsNewPerson;

my $node = new_person_node('new_person_wait');

for my $round ([ 'unmasked', 'false', '[0,0,1,0]', '[0,0,0.999,0.02]', '[0,0.5,0,1]' ],
			   [ 'masked', 'true', '[0,1,0,0]', '[0.01,0.999,0,0]', '[0.7,-0.7,0.1,0]' ])
{
	my ($kind, $masked, $face_a, $face_c, $face_b) = @$round;
	my $persons = $node->safe_psql('postgres', 'SELECT count(*) FROM firstsight.person');

	# camera A: a new face, not committed
	my $a = $node->background_psql('postgres', on_error_stop => 1);
	$a->query_safe('BEGIN');
	my $pa = $a->query_safe(qq{INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
		VALUES (1, 'cam0', '2024-03-05 10:00+08', '$face_a', 0.9, false) RETURNING person_id});
	ok($pa > 0, "camera A made a new person ($kind round), not committed");

	# camera B: another new face, at once
	my ($rc, $stdout, $stderr) = $node->psql('postgres', qq{
		SET lock_timeout = '5s';
		INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
		VALUES (1, 'cam1', '2024-03-05 10:00:01+08', '$face_b', 0.9, false) RETURNING person_id});
	is($rc, 0, "camera B's new face does not wait for camera A ($kind round)") or diag($stderr);
	isnt($stdout, $pa, "camera B's face is another person ($kind round)");

	# camera C: A's face again; waits for A's transaction
	my $c = $node->background_psql('postgres', on_error_stop => 1);
	$c->query_until(qr/started/, qq{\\echo started
		INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
		VALUES (1, 'cam2', '2024-03-05 10:00:02+08', '$face_c', 0.9, $masked) RETURNING person_id;
		\\echo done
});
	ok($node->poll_query_until('postgres', q{
		SELECT count(*) > 0 FROM pg_stat_activity
		WHERE wait_event_type = 'Lock' AND wait_event = 'transactionid' AND query LIKE '%cam2%'}),
		"camera C waits for camera A's transaction ($kind round)");
	$a->query_safe('COMMIT');
	$a->quit;
	my $outc = $c->query_until(qr/done/, '');
	$c->quit;
	my ($pc) = $outc =~ /(\d+)/;
	is($pc, $pa, "camera C joined camera A's person, no second person ($kind round)");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM firstsight.person'), $persons + 2,
		"two new persons, A's and B's ($kind round)");
}

# nothing is left pending: a new face later goes through at once
my ($rc, $stdout, $stderr) = $node->psql('postgres', q{
	SET lock_timeout = '5s';
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (1, 'cam1', '2024-03-05 11:00+08', '[0.5,0,0.5,-0.7]', 0.9, false) RETURNING person_id});
is($rc, 0, 'no pending face left behind') or diag($stderr);

$node->stop;
done_testing();
