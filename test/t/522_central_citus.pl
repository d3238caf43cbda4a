# Central ingestion on Citus (docs/scale-out.md, "Central ingestion on
# Citus"): cameras of two projects insert into one Citus cluster (a
# coordinator and two workers) through firstsight.ingest_capture(), a function
# distributed by its project id and colocated with capture, so that each call
# runs on the worker that holds the project's shards.  Checks: the call lands
# on that worker's shards (and none on the other), a returning face matches
# its person, a new face makes a new person, visits are built, ids come from
# each project's own counters, and every row ingest_capture returns, and the
# persons, visits and gallery it leaves, equal what the same calls give on
# plain PostgreSQL (one database per project there, so that the sequences and
# the counters both start at 1).  Abuse cases: a camera of one project
# ingesting into the other, a role that is no camera, a face of the wrong
# dimension.  Skipped without Citus (CI has none): build Citus 13.2 for
# PostgreSQL 15 and install it next to firstsight to run it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsOffices;

citus_skip_unless_installed();

my %project = (a => 101, b => 201);

# Citus: a coordinator and two workers
my ($hq, @workers) = citus_cluster('central');
$hq->safe_psql('postgres', 'CREATE EXTENSION firstsight');
$hq->safe_psql('postgres', 'SELECT count(*) FROM firstsight.citus_distribute()');

# the careless DBA: central ingestion before the tables are placed is refused
my $plainc = PostgreSQL::Test::Cluster->new('central_plain');
$plainc->init;
$plainc->append_conf('postgresql.conf', "fsync = off\n");
$plainc->start;
$plainc->safe_psql('postgres', 'CREATE EXTENSION firstsight');
my ($rc, $out, $err) = $plainc->psql('postgres', 'SELECT * FROM firstsight.citus_central_ingestion()');
like($err, qr/capture is not a Citus distributed table/, 'citus_central_ingestion refuses where capture is not distributed');

# (setup_roles first: its REVOKE of every SECURITY DEFINER function from
# PUBLIC names their types unqualified, which a worker cannot resolve for a
# distributed function)
$hq->safe_psql('postgres', 'SET citus.multi_shard_modify_mode = sequential; SELECT firstsight.setup_roles()');
is($hq->safe_psql('postgres', 'SELECT string_agg(object, \', \' ORDER BY object) FROM firstsight.citus_central_ingestion()'),
	'function ingest_capture, trigger capture_camera_projects on capture, trigger capture_ingest on capture, '
	. 'trigger capture_ingest_row on capture, trigger project_retention_defaults on project, '
	. 'trigger rollup_person_delete on person, trigger rollup_person_insert on person, trigger rollup_person_update on person, '
	. 'trigger rollup_visit_delete on visit, trigger rollup_visit_insert on visit, trigger rollup_visit_update on visit',
	'citus_central_ingestion distributes ingest_capture and disables the shard-side triggers it replaces');
is($hq->safe_psql('postgres', q{SELECT distribution_argument_index || ' ' || (colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'firstsight.capture'::regclass))
	FROM pg_dist_object WHERE objid = 'firstsight.ingest_capture'::regproc}),
	'0 true', 'ingest_capture is distributed by its project id (argument 0), colocated with capture');
is($hq->safe_psql('postgres', q{SELECT partmethod FROM pg_dist_partition WHERE logicalrelid = 'firstsight.project_counter'::regclass}),
	'h', 'project_counter is distributed with the facts');

# plain PostgreSQL: one database per project
$plainc->safe_psql('postgres', "CREATE DATABASE p$_") for sort values %project;
$plainc->safe_psql("p$_", 'CREATE EXTENSION firstsight; SELECT firstsight.setup_roles()') for sort values %project;

# the projects, their cameras and camera roles, at both
my $setup = sub {
	my ($n, $db, $pid, $name) = @_;
	$n->safe_psql($db, qq{
		SET citus.multi_shard_modify_mode = sequential;
		SELECT firstsight.create_project('Office $name', 'Asia/Shanghai', 16, project_id => $pid);
		SELECT firstsight.configure($pid, 'min_quality', '0.4');
		INSERT INTO firstsight.camera VALUES ($pid, 'door', 'entrance'), ($pid, 'desk', 'sign_in');
		DO \$\$ BEGIN CREATE ROLE cam_$name LOGIN IN ROLE firstsight_camera; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$;
		SELECT firstsight.grant_camera('cam_$name', $pid);
	});
};
for my $name (sort keys %project) {
	$setup->($hq, 'postgres', $project{$name}, $name);
	$setup->($plainc, "p$project{$name}", $project{$name}, $name);
}
$plainc->safe_psql('postgres', 'CREATE ROLE stranger LOGIN IN ROLE firstsight_manager');
$hq->safe_psql('postgres', 'CREATE ROLE stranger LOGIN IN ROLE firstsight_manager');
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.retention_policy WHERE project_id IN (101, 201)}),
	$plainc->safe_psql('p101', q{SELECT count(*) * 2 FROM firstsight.retention_policy WHERE project_id = 101}),
	'create_project on Citus made the retention defaults of both projects');

# the faces: 12 persons per project, fixed (the same at both), 16 dimensions
srand(522);
my @centre = map { [ map { rand() - 0.5 } 1 .. 16 ] } 1 .. 26;
sub face
{
	my ($f, $jitter) = @_;
	my @v = map { $centre[$f][$_] + ($jitter ? ((($f * 31 + $_ * 7 + $jitter) % 13) - 6) * 0.0005 : 0) } 0 .. 15;
	return 'firstsight.l2_normalize(\'{' . join(',', map { sprintf('%.6f', $_) } @v) . '}\'::real[]::firstsight.embedding)';
}

# the calls: one day, a morning and an afternoon session; in each, every
# person arrives at the door or the desk, half of them seen twice (one
# visit), and a poor capture of a stranger (unidentified); the afternoon's
# visits are returning visits.  (One local day: a person's retention clock
# moving to the next day, which re-dates their rows, does not run on Citus
# yet, docs/scale-out.md)
my @calls;
for my $name (sort keys %project) {
	my $base = $name eq 'a' ? 0 : 12;
	for my $day (0, 1) {
		for my $i (0 .. 17) {
			my $f = $base + ($i * 5 + $day * 3) % 12;
			my $cam = $i % 2 ? 'desk' : 'door';
			my $at = sprintf("timestamptz '2026-11-02 09:00+08' + interval '%d minutes'", $day * 300 + $i * 7);
			my $quality = $i == 13 ? 0.2 : 0.8;
			my $face = $i == 13 ? face(24 + $day, 0) : face($f, $i + 1);
			push @calls, [ $name, "SELECT * FROM firstsight.ingest_capture($project{$name}, '$cam', $at, $face, $quality)" ];
		}
	}
}
# the cameras of both projects take turns
@calls = map { ($calls[$_], $calls[$_ + 36]) } 0 .. 35;

my (%got_citus, %got_plain);
for my $c (@calls) {
	my ($name, $q) = @$c;
	$got_citus{$name} .= $hq->safe_psql('postgres', $q, extra_params => [ '-U', "cam_$name" ]) . "\n";
	$got_plain{$name} .= $plainc->safe_psql("p$project{$name}", $q, extra_params => [ '-U', "cam_$name" ]) . "\n";
}
for my $name (sort keys %project) {
	is($got_citus{$name}, $got_plain{$name}, "project $name: the 36 rows ingest_capture returned on Citus equal plain PostgreSQL's");
}
note("project a's first rows:\n" . join("\n", (split /\n/, $got_citus{a})[0 .. 5]));

# where the rows are: each project's captures on the worker of its shard, none on the other
for my $name (sort keys %project) {
	my $pid = $project{$name};
	my ($shard, $port) = split /\|/, $hq->safe_psql('postgres', qq{
		SELECT s.shardid, p.nodeport FROM pg_dist_shard s JOIN pg_dist_placement pl USING (shardid) JOIN pg_dist_node p USING (groupid)
		WHERE s.logicalrelid = 'firstsight.capture'::regclass AND s.shardid = get_shard_id_for_distribution_column('firstsight.capture', $pid)});
	my ($home) = grep { $_->port == $port } @workers;
	my ($other) = grep { $_->port != $port } @workers;
	is($home->safe_psql('postgres', "SELECT count(*) FROM firstsight.capture_$shard WHERE project_id = $pid"), '36',
		"project $name: its 36 captures are in shard capture_$shard on its worker (" . $home->name . ')');
	is($other->safe_psql('postgres', qq{SET citus.show_shards_for_app_name_prefixes = '*';
		SELECT coalesce(sum((xpath('//c/text()', query_to_xml(format('SELECT count(*) AS c FROM %s WHERE project_id = $pid', c.oid::regclass), false, true, '')))[1]::text::int), 0)
		FROM pg_class c WHERE c.relnamespace = 'firstsight'::regnamespace AND c.relname ~ '^capture_\\d+\$' AND c.relkind = 'r'}),
		'0', "project $name: no capture of it on the other worker (" . $other->name . ')');
}

# what ingestion decided, table by table, equal to plain PostgreSQL's (the
# notifications without the channel's id: channels are not made by ingestion,
# and project b's natural channel is 2 on Citus, where both projects draw
# from one sequence, and 1 in its own plain database)
my %tables = (
	capture => 'capture_id, camera_id, captured_at, quality, person_id, visit_id, match_distance, match_kind, match_margin, match_low_confidence, expires_at',
	person => 'person_id, first_seen, last_seen, visits, captures, retention_day_end',
	visit => 'visit_id, person_id, started_at, ended_at, captures, first_camera_id, first_capture_id, seen_before, previous_visit_id, previous_visit_at',
	face => 'person_id, kind, capture_id, captured_at, quality, masked, expires_at',
	outbox => 'event, subject, payload - \'owner_channel_id\'');
for my $name (sort keys %project) {
	my $pid = $project{$name};
	for my $t (sort keys %tables) {
		my $q = "SELECT $tables{$t} FROM firstsight.$t WHERE project_id = $pid ORDER BY 1, 2, 3";
		my $expect = $plainc->safe_psql("p$pid", $q);
		isnt($expect, '', "project $name: $t has rows");
		is($hq->safe_psql('postgres', $q), $expect, "project $name: $t on Citus equals plain PostgreSQL's");
	}
}

# the matching itself: every capture of one face (identified) is one person,
# different faces are different persons, a poor stranger is unidentified
for my $name (sort keys %project) {
	my $pid = $project{$name};
	is($hq->safe_psql('postgres', "SELECT count(*) || ' ' || count(DISTINCT person_id) || ' ' || count(*) FILTER (WHERE person_id IS NULL) FROM firstsight.capture WHERE project_id = $pid"),
		'36 12 2', "project $name: 36 captures, 12 persons (12 faces), 2 poor strangers unidentified");
	is($hq->safe_psql('postgres', "SELECT count(*) || ' ' || count(*) FILTER (WHERE seen_before) FROM firstsight.visit WHERE project_id = $pid"),
		'24 12', "project $name: 24 visits (each person in the morning and the afternoon), the 12 of the afternoon returning");
	is($hq->safe_psql('postgres', "SELECT string_agg(counter || '=' || value, ' ' ORDER BY counter) FROM firstsight.project_counter WHERE project_id = $pid"),
		'capture=36 person=12 visit=24', "project $name: ids from its own counters");
}

# the rollups (their triggers are off on Citus) rebuilt, then the BI views equal
$hq->safe_psql('postgres', 'SELECT firstsight.rebuild_rollups()');
for my $name (sort keys %project) {
	my $pid = $project{$name};
	my $q = "SELECT * FROM firstsight.daily_traffic WHERE project_id = $pid ORDER BY day";
	is($hq->safe_psql('postgres', $q), $plainc->safe_psql("p$pid", $q), "project $name: daily_traffic on Citus (after rebuild_rollups) equals plain PostgreSQL's");
}

# abuse: the camera of project a ingests into project b; a role that is no
# camera; a face of the wrong dimension (each refused as on plain PostgreSQL)
my $f = face(0, 1);
for my $n ([ $hq, 'postgres' ], [ $plainc, 'p201' ]) {
	my ($node, $db) = @$n;
	my $where = $node == $hq ? 'Citus' : 'plain';
	($rc, $out, $err) = $node->psql($db, "SELECT * FROM firstsight.ingest_capture(201, 'door', timestamptz '2026-11-05 10:00+08', $f, 0.9)",
		extra_params => [ '-U', 'cam_a' ]);
	like($err, qr/camera role "cam_a" may not insert captures into project 201/, "$where: the camera of project a cannot ingest into project b");
	($rc, $out, $err) = $node->psql($db, "SELECT * FROM firstsight.ingest_capture(201, 'door', timestamptz '2026-11-05 10:00+08', $f, 0.9)",
		extra_params => [ '-U', 'stranger' ]);
	# (plain: EXECUTE is the camera's only; Citus: the call reaches the
	# worker, whose copy of the function checks the login role itself)
	like($err, qr/permission denied for function ingest_capture|role "stranger" may not insert captures/, "$where: a manager (no camera) cannot ingest");
	($rc, $out, $err) = $node->psql($db, "SELECT * FROM firstsight.ingest_capture(201, 'door', timestamptz '2026-11-05 10:00+08', firstsight.l2_normalize(array_fill(1, ARRAY[8])::real[]::firstsight.embedding), 0.9)",
		extra_params => [ '-U', 'cam_b' ]);
	like($err, qr/face embedding has 8 dimensions, project 201 expects 16/, "$where: a face of the wrong dimension is refused");
}
is($hq->safe_psql('postgres', 'SELECT count(*) FROM firstsight.capture WHERE project_id = 201'), '36', 'Citus: nothing of the refused calls was stored');

done_testing();
