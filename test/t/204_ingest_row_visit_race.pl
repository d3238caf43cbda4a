# Two cameras see a returning visitor at once (issue 21): both single-row
# captures are matched to the known person and written by ingest_row_visit.
# Held behind a third session's lock on the person, they are released
# together: exactly one visit is opened for the day and the other capture
# extends it; then both extend that visit at once.  A row path that looked
# for the open visit before locking the person would open two visits.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsNewPerson;

my $node = new_person_node('row_visit_race', "track_functions = 'pl'");
my $person = $node->safe_psql('postgres', 'SELECT person_id FROM firstsight.person');

for my $round ([ 'open', '2024-03-05 10:00', '2024-03-05 10:00:03', 1, 2 ],
			   [ 'extend', '2024-03-05 10:05', '2024-03-05 10:05:01', 1, 4 ])
{
	my ($what, $at1, $at2, $visits, $captures) = @$round;

	# the person locked by a third session, as a slow camera transaction would
	my $l = $node->background_psql('postgres', on_error_stop => 1);
	$l->query_safe('BEGIN');
	$l->query_safe("SELECT 1 FROM firstsight.person WHERE project_id = 1 AND person_id = $person FOR UPDATE");

	my @cams;
	for my $k (1, 2)
	{
		my $at = $k == 1 ? $at1 : $at2;
		my $c = $node->background_psql('postgres', on_error_stop => 1);
		$c->query_until(qr/started/, qq{\\echo started
			INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
			VALUES (1, 'cam$k', '$at+08', '[0.999,0.01,0,0]', 0.9, false) RETURNING person_id, visit_id;
			\\echo done
});
		push @cams, $c;
	}
	ok($node->poll_query_until('postgres', q{
		SELECT count(*) = 2 FROM pg_stat_activity
		WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO firstsight.capture%'}),
		"both cameras wait for the person's lock ($what)");
	$l->query_safe('COMMIT');
	$l->quit;
	my @got;
	for my $c (@cams)
	{
		my $out = $c->query_until(qr/done/, '');
		$c->quit;
		my ($p, $v) = $out =~ /(\d+)\|(\d+)/;
		push @got, [ $p, $v ];
	}
	is($got[0][0], $person, "camera 1's capture is the known person ($what)");
	is($got[1][0], $person, "camera 2's capture is the known person ($what)");
	is($got[0][1], $got[1][1], "both captures are in one visit ($what)");
	is($node->safe_psql('postgres', q{
		SELECT count(*) || ' ' || coalesce(sum(captures), 0) FROM firstsight.visit
		WHERE started_at >= '2024-03-05 00:00+08'}), "$visits $captures",
		"one visit that day, with every capture counted ($what)");
}
is($node->safe_psql('postgres', q{SELECT visits || ' ' || captures FROM firstsight.person}), '2 5',
	"the person's counters: 2 visits, 5 captures");
is($node->safe_psql('postgres', q{SELECT count(*) FROM firstsight.rollup_check()}), '0', 'the rollups are exact');
# (the sessions have ended: their function statistics are flushed)
ok($node->poll_query_until('postgres', q{
	SELECT calls = 4 FROM pg_stat_user_functions WHERE funcname = 'ingest_row_visit'}),
	'the four captures took the row path');

$node->stop;
done_testing();
