# Headquarters on Citus (docs/scale-out.md): two offices (plain PostgreSQL)
# publish their facts; headquarters is a Citus coordinator with two workers,
# and a plain PostgreSQL headquarters subscribes to the same offices for
# comparison.  The offices are those of TAP 520 (test/perl/FsOffices.pm).
# Checks: every table placed (facts distributed by project_id and colocated,
# the small tables reference tables), every distributed table with a key or
# replica identity, the forwarding from the subscriptions to the shards
# (initial copy, inserts, updates, erasure), zero biometric bytes on every
# node, every BI and group view and explain_attribution equal to the plain
# headquarters', an online shard move (logical) while an office's cameras
# write, after which the views are still equal, and a manager's per-project
# grant (policies the workers evaluate).  Abuse cases: a manager of one
# office reading the other's rows on the workers, distributing without the
# trigger setting.  Skipped without Citus (CI has none): build Citus 13.2 for
# PostgreSQL 15 and install it next to firstsight to run it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsOffices;
use IPC::Run;

citus_skip_unless_installed();

# the offices: plain PostgreSQL with firstsight, cameras, the group key
my %office;
my ($key_file) = group_key_file(PostgreSQL::Test::Utils::tempdir());
for my $o ([ 'a', 101 ], [ 'b', 201 ]) {
	my ($name, $pid) = @$o;
	my $n = office_node($name);
	$office{$name} = { node => $n, pid => $pid };
	$n->safe_psql('postgres', "SELECT firstsight.install_group_key('$key_file')");
	office_setup($n, $name, $pid);
	$n->safe_psql('postgres', 'CALL camera_day(0, 90)');
}
my ($a, $b) = map { $office{$_}{node} } qw(a b);

# headquarters on plain PostgreSQL, for comparison
my $plain = PostgreSQL::Test::Cluster->new('hq_plain');
$plain->init;
$plain->append_conf('postgresql.conf', "fsync = off\nwal_retrieve_retry_interval = '500ms'\n");
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION firstsight');

# headquarters on Citus: a coordinator and two workers
my ($hq, @workers) = citus_cluster('hq', { allows_streaming => 'logical' }, qq{citus.enable_repartition_joins = on
max_connections = 100
max_replication_slots = 30
max_logical_replication_workers = 8
wal_retrieve_retry_interval = '500ms'
});
is($hq->safe_psql('postgres', 'SELECT count(*) FROM citus_get_active_worker_nodes()'), '2', 'Citus: two workers');
$hq->safe_psql('postgres', 'CREATE EXTENSION firstsight');
is($workers[0]->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'firstsight'}),
	$hq->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'firstsight'}),
	'CREATE EXTENSION firstsight at the coordinator reached the workers');

# the careless DBA: distributing without the trigger setting is refused with the reason
my ($rc, $out, $err) = $hq->psql('postgres', q{SET citus.enable_unsafe_triggers = off; SELECT * FROM firstsight.citus_distribute()});
like($err, qr/citus.enable_unsafe_triggers is off/, 'citus_distribute refuses without citus.enable_unsafe_triggers');
$hq->safe_psql('postgres', 'SELECT count(*) FROM firstsight.citus_distribute()');
is($hq->safe_psql('postgres', q{
	SELECT string_agg(k || ' ' || n, ', ' ORDER BY k) FROM (
		SELECT CASE WHEN d.partmethod = 'h' THEN 'distributed' ELSE 'reference' END AS k, count(*) AS n
		FROM pg_dist_partition d JOIN pg_class c ON c.oid = d.logicalrelid
		WHERE c.relnamespace = 'firstsight'::regnamespace GROUP BY 1) s}),
	'distributed 34, reference 11', 'every table placed: 34 distributed, 11 reference tables');
is($hq->safe_psql('postgres', q{
	SELECT count(DISTINCT d.colocationid) || ' ' || bool_and(a.attname = 'project_id')
	FROM pg_dist_partition d JOIN pg_attribute a ON a.attrelid = d.logicalrelid AND a.attnum = (
		SELECT (regexp_match(d.partkey, ':varattno (\d+)'))[1]::int)
	WHERE d.partmethod = 'h' AND d.logicalrelid::text LIKE 'firstsight.%'}), '1 true',
	'the distributed tables are distributed by project_id, in one colocation group');
is($hq->safe_psql('postgres', q{
	SELECT string_agg(d.logicalrelid::text, ', ') FROM pg_dist_partition d JOIN pg_class c ON c.oid = d.logicalrelid
	WHERE c.relnamespace = 'firstsight'::regnamespace AND c.relreplident <> 'f' AND c.relkind = 'r'
	  AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)}), '',
	'every distributed or reference table has a primary key or REPLICA IDENTITY FULL (shard moves; the gallery\'s parent holds no rows, each partition has its key)');
is($hq->safe_psql('postgres', q{
	SELECT string_agg(p.table_name::text || ' ' || p.placement, ', ' ORDER BY p.table_name::text) FROM firstsight.citus_table_plan() p
	WHERE p.table_name::text IN ('firstsight.retention_log', 'firstsight.project_access', 'firstsight.erasure_log', 'firstsight.biometric_access_log')}),
	'firstsight.biometric_access_log distributed, firstsight.erasure_log distributed, firstsight.project_access reference, firstsight.retention_log reference',
	'the keys the issue named: erasure and access logs distributed (keys lead with project_id), project_access and retention_log reference');
$hq->safe_psql('postgres', 'SELECT count(*) FROM firstsight.citus_hq_forwarding()');
$hq->safe_psql('postgres', 'SET citus.multi_shard_modify_mode = sequential; SELECT firstsight.setup_roles()');

# both headquarters subscribe to both offices
for my $name (sort keys %office) {
	my $conn = $office{$name}{node}->connstr('postgres') =~ s/'//gr;
	$plain->safe_psql('postgres', "CREATE SUBSCRIPTION plain_$name CONNECTION '$conn' PUBLICATION firstsight_facts");
	$hq->safe_psql('postgres', "CREATE SUBSCRIPTION citus_$name CONNECTION '$conn' PUBLICATION firstsight_facts");
}
for my $name (sort keys %office) {
	$plain->wait_for_subscription_sync($office{$name}{node}, "plain_$name");
	$hq->wait_for_subscription_sync($office{$name}{node}, "citus_$name");
}
# a manager of office a at headquarters (the project came from the office)
$hq->safe_psql('postgres', q{CREATE ROLE manager_a LOGIN IN ROLE firstsight_manager; SELECT firstsight.grant_project('manager_a', 101)});
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.capture}), '180', 'the initial copy of 180 captures reached the shards');

# the offices go on: another camera day, receptions, an ID card at both, deals
for my $name (sort keys %office) {
	my ($n, $pid) = @{ $office{$name} }{qw(node pid)};
	$n->safe_psql('postgres', 'CALL camera_day(1, 60)');
	receptions($n, $pid);
}
cross_office_deals(%office);

sub catch_up
{
	for my $name (sort keys %office) {
		$office{$name}{node}->wait_for_catchup("plain_$name");
		$office{$name}{node}->wait_for_catchup("citus_$name");
	}
	$plain->safe_psql('postgres', 'SELECT firstsight.rebuild_rollups()');
	$hq->safe_psql('postgres', 'SELECT firstsight.rebuild_rollups()');
}

# the per-project views (every project at once), then the group views and
# the others that read the facts
my @views = (
	(map { "$_->[0] WHERE true ORDER BY project_id, $_->[1]" } @project_views),
	'group_traffic WHERE true ORDER BY group_name, day',
	'group_channel_share WHERE true ORDER BY group_name, month, kind',
	'group_commissions WHERE true ORDER BY group_name, month, kind',
	'group_flagged_deals WHERE true ORDER BY project_id, deal_id',
	'group_prior_visits WHERE true ORDER BY project_id, deal_id, other_project_id, other_person_id',
	'group_cross_office_buyers WHERE true ORDER BY id_card_group_hash',
	'group_freshness WHERE true ORDER BY project_id',
	'group_dashboard WHERE true ORDER BY group_name, month',
	'zone_funnel x ORDER BY x::text',
	'visit_route x ORDER BY x::text',
	'attribution_report x ORDER BY x::text');

sub compare_all
{
	my ($label) = @_;
	for my $name (sort keys %office) {
		my ($n, $pid) = @{ $office{$name} }{qw(node pid)};
		is(facts_digest($a, $hq, $pid), facts_digest($a, $n, $pid), "$label: every published table of office $name equal on the Citus shards");
	}
	for my $v (@views) {
		my ($view) = split / /, $v;
		my $q = "SELECT * FROM firstsight.$v";
		my $expect = $plain->safe_psql('postgres', $q);
		isnt($expect, '', "$label: $view has rows") unless $view =~ /^(group_prior_visits)$/;
		is($hq->safe_psql('postgres', $q), $expect, "$label: $view on Citus equals the plain headquarters'");
	}
	# the timeline of every deal, as the dispute meeting reads it
	my $deals = $plain->safe_psql('postgres', q{SELECT project_id || ',' || deal_id FROM firstsight.deal ORDER BY 1});
	my ($same, $n) = (0, 0);
	for my $d (split /\n/, $deals) {
		$n++;
		my $q = "SELECT * FROM firstsight.explain_attribution($d)";
		$same++ if $hq->safe_psql('postgres', $q) eq $plain->safe_psql('postgres', $q);
	}
	cmp_ok($n, '>', 10, "$label: $n deals");
	is($same, $n, "$label: explain_attribution of each of the $n deals equal on Citus");
}

catch_up();
compare_all('first catch-up');
cmp_ok($hq->safe_psql('postgres', q{SELECT sum(unidentified_captures) FROM firstsight.daily_traffic}), '>', 0,
	'daily_traffic on Citus counts unidentified captures (poor captures of strangers)');
is($hq->safe_psql('postgres', q{SELECT project_id || ' ' || seen_before_at::text || ' ' || array_to_string(group_flags, ',')
	FROM firstsight.group_flagged_deals WHERE cardinality(group_flags) > 0}),
	'201 {101} prior_visit_elsewhere', 'Citus headquarters flags the deal at b whose buyer was first seen at a');

# nothing biometric on any node: not in the shards, not in the coordinator's
# shell tables (Citus hides shards from catalog queries unless the session
# asks to see them)
for my $n ($hq, @workers) {
	my $name = $n->name;
	my ($bytes, $shards) = split /\|/, $n->safe_psql('postgres', q{
		SET citus.show_shards_for_app_name_prefixes = '*';
		SELECT coalesce(sum(s), 0), count(*) FILTER (WHERE relname ~ '^capture_\d+$') FROM (
			SELECT c.relname, (xpath('//s/text()', query_to_xml(format('SELECT coalesce(sum(pg_column_size(%I)), 0) AS s FROM ONLY %s',
			                                                a.attname, c.oid::regclass), false, true, '')))[1]::text::bigint AS s
			FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
			WHERE c.relnamespace = 'firstsight'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
			  AND (a.atttypid = 'firstsight.embedding'::regtype OR a.attname = 'photo')) x});
	is($bytes, '0', "$name: zero bytes in every embedding and photo column of every table and shard here");
	cmp_ok($shards, '>', ($n == $hq ? -1 : 0), "$name: the check read $shards shards of capture");
}

# replicated rows ran no ingestion, attribution or notification on Citus either
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.outbox}), '0', 'Citus headquarters: no notification emitted');
is($hq->safe_psql('postgres', q{SELECT max(version) FROM firstsight.attribution}), '1', 'Citus headquarters: no attribution re-decided');

# the manager of office a sees office a's rows only: the policy runs on the
# workers, next to the shards
is($hq->safe_psql('postgres', q{SELECT string_agg(DISTINCT project_id::text, ',') || ' ' || count(*) FROM firstsight.visit},
	extra_params => [ '-U', 'manager_a' ]),
	'101 ' . $hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.visit WHERE project_id = 101}),
	'manager_a reads the visits of office a, on the workers');
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.deal WHERE project_id = 201}, extra_params => [ '-U', 'manager_a' ]),
	'0', 'manager_a reads none of office b\'s deals (a routed query to b\'s shard)');
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.person WHERE project_id <> 101}, extra_params => [ '-U', 'manager_a' ]),
	'0', 'manager_a reads none of office b\'s persons (a query over every shard)');

# an online shard move while the office writes: office a's cameras insert one
# capture a transaction (trickle) from before the move until after it, while
# its shards (every table of the project, colocated) move to the other worker
my ($shard, $from_port) = split /\|/, $hq->safe_psql('postgres', q{
	SELECT s.shardid, p.nodeport FROM pg_dist_shard s JOIN pg_dist_placement pl USING (shardid) JOIN pg_dist_node p USING (groupid)
	WHERE s.logicalrelid = 'firstsight.capture'::regclass AND s.shardid = get_shard_id_for_distribution_column('firstsight.capture', 101)});
my ($to) = grep { $_->port != $from_port } @workers;
my $captures_before = $a->safe_psql('postgres', 'SELECT count(*) FROM firstsight.capture');
my ($trickle_out, $trickle_err) = ('', '');
my $trickle = IPC::Run::start([ 'psql', '-XAtq', '-d', $a->connstr('postgres'), '-c', 'CALL trickle(2)' ],
	'>', \$trickle_out, '2>', \$trickle_err);
$a->poll_query_until('postgres', "SELECT count(*) > $captures_before + 5 FROM firstsight.capture") or die 'the cameras do not write';
$hq->poll_query_until('postgres', "SELECT count(*) > $captures_before + 5 FROM firstsight.capture WHERE project_id = 101")
	or die 'the office\'s captures do not reach headquarters';
$hq->safe_psql('postgres', qq{SELECT citus_move_shard_placement($shard, '@{[ $hq->host ]}', $from_port, '@{[ $to->host ]}', @{[ $to->port ]},
	shard_transfer_mode => 'force_logical')});
my $at_move = $a->safe_psql('postgres', 'SELECT count(*) FROM firstsight.capture');
$a->poll_query_until('postgres', "SELECT count(*) > $at_move + 5 FROM firstsight.capture") or die 'the cameras stopped';
$a->safe_psql('postgres', 'INSERT INTO trickle_stop VALUES (now())');
$trickle->finish;
is($trickle_err, '', 'office a\'s cameras wrote before, during and after the move without an error');
cmp_ok($at_move - $captures_before, '>', 5, 'captures written at office a from before the move until it ended: ' . ($at_move - $captures_before));
is($hq->safe_psql('postgres', qq{SELECT p.nodeport FROM pg_dist_placement pl JOIN pg_dist_node p USING (groupid) WHERE pl.shardid = $shard}),
	$to->port, 'office a\'s shards moved to the other worker (online, logical replication)');
is($hq->safe_psql('postgres', qq{SELECT count(DISTINCT p.nodeport) || ' ' || min(p.nodeport) FROM pg_dist_shard s
	JOIN pg_dist_placement pl USING (shardid) JOIN pg_dist_node p USING (groupid)
	WHERE s.shardid IN (SELECT get_shard_id_for_distribution_column(d.logicalrelid, 101) FROM pg_dist_partition d WHERE d.partmethod = 'h')}),
	'1 ' . $to->port, 'every distributed table of office a moved with it (colocated)');

# erasure at a and retention at b reach Citus headquarters as facts
my $erased = $a->safe_psql('postgres', q{SELECT min(person_id) FROM firstsight.person WHERE project_id = 101});
$a->safe_psql('postgres', "SELECT firstsight.erase_person(101, $erased, 'request 2026-001')");
$b->safe_psql('postgres', q{SELECT firstsight.enforce_retention(100000, now() + interval '10 years')});
catch_up();
is($hq->safe_psql('postgres', qq{SELECT count(*) FILTER (WHERE erased_at IS NULL) || ' ' || count(*) FROM firstsight.capture
	WHERE project_id = 101 AND person_id = $erased}) =~ s/^0 \d+$/ok/r, 'ok', 'erasure at a: the captures on the shards are marked erased');
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.capture WHERE project_id = 201 AND erased_at IS NULL}), '0',
	'retention at b: every capture of b on the shards is marked erased');
compare_all('after the shard move, erasure and retention');
is($hq->safe_psql('postgres', q{SELECT string_agg(subname || ' ' || running || ' ' || apply_errors || ' ' || tables_not_ready, ', ' ORDER BY subname)
	FROM firstsight.group_replication}), 'citus_a true 0 0, citus_b true 0 0', 'group_replication at the coordinator: both running, no apply error');

done_testing();
