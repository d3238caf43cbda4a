# Cameras do not wait for each other on the BI rollups (issue 21): a camera
# whose transaction has not committed yet (a slow commit, a long batch) holds
# no counter row another camera needs.  Camera A opens a visit of one known
# person and does not commit; camera B, the same day and month, opens a
# visit of another known person, and then a new person's visit, with a lock
# timeout: before the counters were appended as deltas, B waited on the
# rollup_day and rollup_month_agent rows A had written and failed here.  Then
# the BI rollups are exact (rollup_check) before and after rollup_fold.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hot_rows');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\n");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION firstsight;
	SELECT firstsight.create_project('hot rows', dims => 4);
	INSERT INTO firstsight.camera SELECT 1, 'cam' || i, 'entrance' FROM generate_series(0, 1) i;
	-- two known persons, first seen on 1 March
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (1, 'cam0', '2024-03-01 10:00+08', '[1,0,0,0]', 0.9, false);
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (1, 'cam1', '2024-03-01 11:00+08', '[0,1,0,0]', 0.9, false);
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM firstsight.person'), '2', 'two known persons');

# camera A: the first person comes back on 5 March; not committed yet
my $a = $node->background_psql('postgres', on_error_stop => 1);
$a->query_safe('BEGIN');
$a->query_safe(q{INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (1, 'cam0', '2024-03-05 10:00+08', '[1,0,0,0]', 0.9, false)});
is($a->query_safe('SELECT count(*) FROM firstsight.visit'), '3', 'camera A opened a visit, not committed');

# camera B, meanwhile: the second person the same day, then a new person
my ($rc, $stdout, $stderr) = $node->psql('postgres', q{
	SET lock_timeout = '5s';
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (1, 'cam1', '2024-03-05 10:01+08', '[0,1,0,0]', 0.9, false);
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	VALUES (1, 'cam1', '2024-03-05 10:02+08', '[0,0,1,0]', 0.9, false);
	SELECT count(*) FROM firstsight.visit});
is($rc, 0, 'camera B does not wait for camera A on a counter') or diag($stderr);
is($stdout, '4', 'camera B sees its two visits and the first two, not A\'s');

$a->query_safe('COMMIT');
$a->quit;

is($node->safe_psql('postgres', 'SELECT count(*) FROM firstsight.rollup_check()'), '0',
	'the BI rollups are exact with the deltas unfolded');
is($node->safe_psql('postgres', q{SELECT visits || ' visits, ' || unique_persons || ' persons, ' || new_persons || ' new, '
	|| returning_persons || ' returning' FROM firstsight.daily_traffic WHERE day = '2024-03-05'}),
	'3 visits, 3 persons, 1 new, 2 returning', "daily_traffic counts both cameras' visits");
isnt($node->safe_psql('postgres', 'SELECT firstsight.rollup_fold()'), '0', 'rollup_fold folds the deltas');
is($node->safe_psql('postgres', 'SELECT count(*) FROM firstsight.rollup_day_delta'), '0', 'no delta left');
is($node->safe_psql('postgres', 'SELECT count(*) FROM firstsight.rollup_check()'), '0',
	'the BI rollups are exact after the fold');

$node->stop;
done_testing();
