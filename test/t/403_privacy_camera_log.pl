# A camera's rejected statements leave no face in the server log (issue 14
# #3).  The server logs as a careless DBA might set it (every statement,
# verbose errors, failed statements' text).  A camera login role prepared
# with firstsight.prepare_camera_login sends a malformed vector, a vector of
# the wrong dimensions, and the same as COPY (into capture, and into a plain
# table; COPY's error CONTEXT quotes the rejected line): the log then holds
# none of the values' digits.  The same statements from an unprepared camera role leave them in
# the log (the test can fail).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('camera_log');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'firstsight'
log_statement = 'all'
log_min_duration_statement = 0
log_error_verbosity = verbose
log_min_error_statement = error
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION firstsight CASCADE;
	SELECT firstsight.setup_roles();
	SELECT firstsight.create_project('Log', dims => 4);
	INSERT INTO firstsight.camera VALUES (1, 'gate', 'entrance');
	CREATE ROLE cam_prepared LOGIN;
	CREATE ROLE cam_plain LOGIN IN ROLE firstsight_camera;
	SELECT firstsight.grant_camera('cam_plain', 1);
	CREATE TABLE public.cam_scratch (face firstsight.embedding(4));
	GRANT INSERT ON public.cam_scratch TO firstsight_camera;
});
like($node->safe_psql('postgres', q{SELECT firstsight.prepare_camera_login('cam_prepared')}),
	qr/member of firstsight_camera now/, 'prepare_camera_login: the role joins firstsight_camera');
is($node->safe_psql('postgres', q{SELECT pg_has_role('cam_prepared', 'firstsight_camera', 'MEMBER')}),
	't', 'the prepared role is a camera');
$node->safe_psql('postgres', q{SELECT firstsight.grant_camera('cam_prepared', 1)});
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT firstsight.prepare_camera_login('firstsight_camera')});
like($err, qr/role firstsight_camera cannot log in/, 'a group role is refused');
($ret, $out, $err) = $node->psql('postgres', q{SELECT firstsight.prepare_camera_login('cam_plain')},
	extra_params => [ '-U', 'cam_plain' ]);
like($err, qr/permission denied for function prepare_camera_login/, 'a camera cannot call it');

# the camera's four rejected statements, each with the digits $d in a value
sub attack
{
	my ($role, $d) = @_;
	my @errors;
	for my $sql (
		qq{INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
			VALUES (1, 'gate', now(), '[0.$d,0.25,]', 0.9, false);},
		qq{INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
			VALUES (1, 'gate', now(), '[0.$d,0.25,0.5]', 0.9, false);},
		qq{COPY firstsight.capture (project_id, camera_id, captured_at, face, quality, masked) FROM STDIN;
1\tgate\t2024-03-01 10:00+08\t[0.$d,0.25,0.5,]\t0.9\tf
\\.
},
		qq{COPY public.cam_scratch (face) FROM STDIN;
[0.$d,0.25,0.5,1]
[0.$d,0.25,0.5]
\\.
},
		qq{COPY public.cam_scratch (face) FROM STDIN;
[0.$d;0.25,0.5,1]
\\.
})
	{
		my ($r, $o, $e) = $node->psql('postgres', $sql, extra_params => [ '-U', $role ]);
		push @errors, $e;
	}
	return @errors;
}

my $offset = -s $node->logfile;
my @errors = attack('cam_prepared', '7315926');
like($errors[0], qr/invalid input syntax for type embedding at character/, 'malformed vector refused');
like($errors[1], qr/face embedding has 3 dimensions, project 1 expects 4/, 'wrong dimensions refused');
like($errors[2], qr/invalid input syntax for type embedding at character/, 'COPY of a malformed vector into capture refused');
like($errors[3], qr/expected 4 dimensions, not 3/, 'COPY of wrong dimensions refused');
like($errors[4], qr/invalid input syntax for type embedding/, 'COPY of a malformed vector refused');
is($node->safe_psql('postgres', 'SELECT count(*) FROM firstsight.capture'), '0', 'no capture stored');
my $log = slurp_file($node->logfile, $offset);
like($log, qr/ERROR:  invalid input syntax for type embedding at character/, 'the errors are logged');
unlike($log, qr/7315926/, 'the log holds no digits of the prepared camera\'s vectors');
is(() = $log =~ /STATEMENT:/g, 0, 'no failed statement text in the log');

$offset = -s $node->logfile;
attack('cam_plain', '8426037');
$log = slurp_file($node->logfile, $offset);
like($log, qr/8426037/, 'without prepare_camera_login the same statements leave the digits in the log');

done_testing();
