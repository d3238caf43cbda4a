# Edge offices and headquarters (docs/scale-out.md): two offices, each with
# cameras inserting captures (embeddings and photos), publish their facts
# (firstsight_facts); headquarters subscribes to both.  Checks: headquarters
# holds the facts and not one biometric byte (every embedding and bytea column
# of every table), its per-project views equal the offices' own, its group
# views equal the offices' added up, its cross-office flag is decided from ID
# cards under the group key, erasure and retention reach it, and nothing is
# lost while it is down.  Abuse cases: a project created at an office without
# the id headquarters gave, the group key in a log or a dump or at
# headquarters, a role without privilege installing a key, a TRUNCATE at an
# office, two offices using one project id.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsOffices;

my %office;
for my $o ([ 'a', 101 ], [ 'b', 201 ]) {
	my ($name, $pid) = @$o;
	# every statement logged: the group key must not appear in the log
	$office{$name} = { node => office_node($name, "log_statement = 'all'\n"), pid => $pid };
}
my $hq = PostgreSQL::Test::Cluster->new('hq');
$hq->init;
$hq->append_conf('postgresql.conf', "fsync = off\nwal_retrieve_retry_interval = '500ms'\n");
$hq->start;
$hq->safe_psql('postgres', 'CREATE EXTENSION firstsight');

# the group key: one file, made once, given to each office
my ($key_file, $key_hex) = group_key_file($hq->basedir);

my %fingerprint;
for my $name (sort keys %office) {
	my ($n, $pid) = @{ $office{$name} }{qw(node pid)};
	$n->safe_psql('postgres', 'CREATE ROLE clerk LOGIN');
	# the careless DBA: a project without the id headquarters gave would collide at headquarters
	my ($rc, $out, $err) = $n->psql('postgres', q{SELECT firstsight.create_project('no id', dims => 16)});
	like($err, qr/needs the project id headquarters gave it/, "office $name: create_project without a group project id is refused");
	# a role without privilege cannot install the group key
	($rc, $out, $err) = $n->psql('postgres', "SELECT firstsight.install_group_key('$key_file')",
		extra_params => [ '-U', 'clerk' ]);
	like($err, qr/permission denied/, "office $name: a role without privilege cannot install the group key");
	$fingerprint{$name} = $n->safe_psql('postgres', "SELECT firstsight.install_group_key('$key_file')");
	office_setup($n, $name, $pid);
	is($n->safe_psql('postgres', q{SELECT count(*) FROM pg_publication_tables t, unnest(t.attnames) c
		WHERE t.pubname = 'firstsight_facts' AND (c IN ('face', 'photo', 'secret') OR t.tablename ~ '^(face|hash_key|group_key|webhook)')}),
		'0', "office $name: the publication lists no face, photo, key or secret");
}
is($fingerprint{a}, $fingerprint{b}, 'both offices hold the same group key (same fingerprint)');
like($fingerprint{a}, qr/^[0-9a-f]{16}$/, 'the fingerprint is 8 bytes');

# headquarters subscribes to each office
for my $name (sort keys %office) {
	my $n = $office{$name}{node};
	my $conn = $n->connstr('postgres') =~ s/'//gr;
	$hq->safe_psql('postgres', "CREATE SUBSCRIPTION office_$name CONNECTION '$conn' PUBLICATION firstsight_facts");
	$hq->wait_for_subscription_sync($n, "office_$name");
}

# headquarters makes no project of its own (it would collide with an office's)
my ($rc, $out, $err) = $hq->psql('postgres', q{SELECT firstsight.create_project('HQ project', dims => 16, project_id => 999)});
like($err, qr/headquarters makes no projects of its own/, 'headquarters: create_project is refused');

# cameras at both offices, receptions, an ID card seen at both, deals
for my $name (sort keys %office) {
	my ($n, $pid) = @{ $office{$name} }{qw(node pid)};
	$n->safe_psql('postgres', 'CALL camera_day(0, 90); CALL camera_day(1, 60);');
	receptions($n, $pid);
}
my ($a, $b) = map { $office{$_}{node} } qw(a b);
cross_office_deals(%office);

sub catch_up
{
	for my $name (sort keys %office) {
		$office{$name}{node}->wait_for_catchup("office_$name");
	}
	$hq->safe_psql('postgres', 'SELECT firstsight.rebuild_rollups()');
}

sub compare_facts
{
	my ($label) = @_;
	for my $name (sort keys %office) {
		my ($n, $pid) = @{ $office{$name} }{qw(node pid)};
		is(facts_digest($a, $hq, $pid), facts_digest($a, $n, $pid), "$label: every published table of office $name equal at headquarters");
	}
}

catch_up();
compare_facts('first catch-up');

# nothing biometric at headquarters: every embedding column empty, every bytea
# value a 32-byte hash (or headquarters' own key), the gallery empty
my $cols = $hq->safe_psql('postgres', q{
	SELECT c.relname, a.attname, format_type(a.atttypid, NULL),
	       (xpath('//s/text()', x))[1]::text, (xpath('//m/text()', x))[1]::text
	FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	CROSS JOIN LATERAL query_to_xml(format('SELECT coalesce(sum(pg_column_size(%I)), 0) AS s, coalesce(max(pg_column_size(%I)), 0) AS m FROM firstsight.%I',
	                                       a.attname, a.attname, c.relname), false, true, '') x
	WHERE c.relnamespace = 'firstsight'::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
	ORDER BY 1, 2});
my ($checked, $emb_bytes, $bad) = (0, 0, '');
for my $line (split /\n/, $cols) {
	my ($t, $c, $type, $size, $max) = split /\|/, $line;
	$checked++ if defined $max && $size =~ /^\d+$/ && $max =~ /^\d+$/;
	if ($type =~ /embedding/) {
		$emb_bytes += $size;
	}
	elsif ($type eq 'bytea' && $max > 36 && $t ne 'hash_key') {
		$bad .= " $t.$c($max)";
	}
}
cmp_ok($checked, '>', 150, "headquarters: $checked columns of every firstsight table checked");
is($checked, scalar(split /\n/, $cols), 'headquarters: the size of every column was read');
is($emb_bytes, 0, 'headquarters: zero bytes in every embedding column (capture.face, face.face)');
is($bad, '', 'headquarters: no bytea value longer than a hash (no photo)');
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.face}), '0', 'headquarters: the gallery is empty');
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.group_key}), '0', 'headquarters: no group key');
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.capture WHERE face IS NOT NULL OR photo IS NOT NULL}),
	'0', 'headquarters: no capture with a face or photo');
# ... while the offices have them (the check above is not vacuous)
for my $name (sort keys %office) {
	my $n = $office{$name}{node};
	my ($faces, $photos) = split /\|/, $n->safe_psql('postgres', q{
		SELECT sum(pg_column_size(face)), sum(pg_column_size(photo)) FROM firstsight.capture});
	cmp_ok($faces * $photos, '>', 0, "office $name holds $faces embedding bytes and $photos photo bytes");
}
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.capture}),
	$a->safe_psql('postgres', q{SELECT count(*) FROM firstsight.capture}) + $b->safe_psql('postgres', q{SELECT count(*) FROM firstsight.capture}),
	'headquarters: every capture row of both offices');

# replicated rows ran no ingestion, attribution or notification at headquarters
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.outbox}), '0', 'headquarters: no notification emitted');
is($hq->safe_psql('postgres', q{SELECT max(version) FROM firstsight.attribution}), '1', 'headquarters: no attribution re-decided');

# the per-project views at headquarters equal the offices' own
sub compare_views
{
	my ($label) = @_;
	for my $name (sort keys %office) {
		my ($n, $pid) = @{ $office{$name} }{qw(node pid)};
		for my $v (@project_views) {
			my ($view, $order) = @$v;
			my $q = "SELECT * FROM firstsight.$view WHERE project_id = $pid ORDER BY $order";
			my $at_office = $n->safe_psql('postgres', $q);
			isnt($at_office, '', "$label: $view of office $name has rows") if $view ne 'flagged_deals';
			is($hq->safe_psql('postgres', $q), $at_office, "$label: $view of office $name equal at headquarters");
		}
	}
	# the group views: the offices' figures added up
	my %sum;
	for my $name (sort keys %office) {
		for my $r (split /\n/, $office{$name}{node}->safe_psql('postgres', q{
			SELECT day, visits, unique_persons, new_persons FROM firstsight.daily_traffic})) {
			my ($day, @n) = split /\|/, $r;
			$sum{$day}[$_] += $n[$_] for 0 .. $#n;
		}
	}
	my $expect = join "\n", map { join '|', $_, @{ $sum{$_} } } sort keys %sum;
	is($hq->safe_psql('postgres', q{SELECT day, visits, unique_persons, new_persons FROM firstsight.group_traffic
		WHERE group_name = 'Group' ORDER BY day}), $expect, "$label: group_traffic is the offices' traffic added up");
	my %c;
	for my $name (sort keys %office) {
		for my $r (split /\n/, $office{$name}{node}->safe_psql('postgres', q{
			SELECT month, kind, deals, revenue, commission FROM firstsight.commission_ledger})) {
			my ($m, $k, @n) = split /\|/, $r;
			$c{"$m|$k"}[$_] += $n[$_] for 0 .. $#n;
		}
	}
	$expect = join "\n", map { join '|', $_, $c{$_}[0], sprintf('%.2f', $c{$_}[1]), sprintf('%.2f', $c{$_}[2]) } sort keys %c;
	is($hq->safe_psql('postgres', q{SELECT month, kind, deals, to_char(revenue, 'FM999999999990.00'), to_char(commission, 'FM999999999990.00')
		FROM firstsight.group_commissions WHERE group_name = 'Group' ORDER BY month, kind}),
		$expect, "$label: group_commissions is the offices' ledgers added up");
	is($hq->safe_psql('postgres', q{SELECT sum(visits) FROM firstsight.group_channel_share WHERE group_name = 'Group'}),
		$hq->safe_psql('postgres', q{SELECT sum(visits) FROM firstsight.group_traffic WHERE group_name = 'Group'}),
		"$label: group_channel_share counts every visit of the group");
}
compare_views('before');

# headquarters decides the cross-office flag: the buyer at b was seen at a two days before
is($hq->safe_psql('postgres', q{
	SELECT project_id || ' ' || seen_before_at::text || ' ' || array_to_string(group_flags, ',')
	FROM firstsight.group_flagged_deals WHERE cardinality(group_flags) > 0}),
	"201 {101} prior_visit_elsewhere", 'headquarters flags the deal at b whose buyer was first seen at a');
is($b->safe_psql('postgres', q{SELECT count(*) FROM firstsight.attribution WHERE 'prior_visit_elsewhere' = ANY (flags)}),
	'0', 'office b alone could not see it');
is($hq->safe_psql('postgres', q{SELECT projects || ' ' || project_ids::text || ' ' || deals FROM firstsight.group_cross_office_buyers}),
	'2 {101,201} 1', 'group_cross_office_buyers: one ID card at both offices, one deal');
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.group_flagged_deals WHERE cardinality(office_flags) > 0}),
	$hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.flagged_deals}), 'group_flagged_deals keeps every office flag');

# the group key is in no log, no dump, and not at headquarters
for my $name (sort keys %office) {
	my $n = $office{$name}{node};
	my $log = slurp_file($n->logfile);
	like($log, qr/install_group_key/, "office $name: the log shows statements");
	unlike($log, qr/$key_hex/i, "office $name: the group key is not in the log");
	my $dump = `pg_dump -h @{[ $n->host ]} -p @{[ $n->port ]} postgres`;
	like($dump, qr/firstsight/, "office $name: pg_dump ran");
	unlike($dump, qr/$key_hex/i, "office $name: the group key is not in a dump");
}

# erasure at both offices and retention at b reach headquarters as facts; the
# audit records of both offices (numbered by each office's own sequence, so
# both start at 1) arrive side by side; the monitor views
my %erased;
for my $name (sort keys %office) {
	my ($n, $pid) = @{ $office{$name} }{qw(node pid)};
	is($n->safe_psql('postgres', qq{SELECT octet_length(firstsight.photo($pid,
		(SELECT min(capture_id) FROM firstsight.capture WHERE photo IS NOT NULL), 'complaint 7'))}), '1280',
		"office $name: an audited photo read");
	$erased{$name} = $n->safe_psql('postgres', qq{SELECT min(person_id) FROM firstsight.person WHERE project_id = $pid});
	$n->safe_psql('postgres', "SELECT firstsight.erase_person($pid, $erased{$name}, 'request 2026-001')");
}
$b->safe_psql('postgres', q{SELECT firstsight.enforce_retention(100000, now() + interval '10 years')});
# a consent withdrawn at a (it erases that person's biometric data too)
my $withdrawn = $a->safe_psql('postgres', q{SELECT max(person_id) FROM firstsight.person WHERE project_id = 101});
$a->safe_psql('postgres', "SELECT firstsight.record_consent(101, $withdrawn, false, 'sales app', 'face', 'form 12')");
catch_up();
is($hq->safe_psql('postgres', qq{SELECT c.given || ' ' || c.method || ' ' || p.consent_given || ' ' || e.kind
	FROM firstsight.consent c JOIN firstsight.person p USING (project_id, person_id)
	JOIN firstsight.erasure_log e USING (project_id, person_id) WHERE c.project_id = 101 AND c.person_id = $withdrawn}),
	'false sales app false consent_withdrawn', 'consent withdrawn at a: the consent, the person\'s consent and the erasure record reached headquarters');
for my $name (sort keys %office) {
	my $pid = $office{$name}{pid};
	is($hq->safe_psql('postgres', qq{SELECT count(*) FILTER (WHERE erased_at IS NULL) || ' ' || (count(*) > 0) FROM firstsight.capture
		WHERE project_id = $pid AND person_id = $erased{$name}}), '0 true', "erasure at $name: its captures at headquarters are marked erased");
	is($hq->safe_psql('postgres', qq{SELECT erasure_id || ' ' || kind || ' ' || person_id FROM firstsight.erasure_log WHERE project_id = $pid AND kind = 'request'}),
		"1 request $erased{$name}", "erasure at $name: the erasure record (number 1 at its office) reached headquarters");
	is($hq->safe_psql('postgres', qq{SELECT access_id || ' ' || what || ' ' || purpose FROM firstsight.biometric_access_log WHERE project_id = $pid}),
		'1 photo complaint 7', "office $name: the photo read's audit record (number 1 at its office) reached headquarters");
}
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.capture WHERE project_id = 201 AND erased_at IS NULL}),
	'0', 'retention at b: every capture of b at headquarters is marked erased');
compare_facts('after erasure and retention');
compare_views('after erasure and retention');
is($hq->safe_psql('postgres', q{SELECT string_agg(subname || ' ' || running || ' ' || apply_errors || ' ' || tables_not_ready, ', ' ORDER BY subname)
	FROM firstsight.group_replication}), 'office_a true 0 0, office_b true 0 0', 'group_replication: both subscriptions running, no errors');
is($a->safe_psql('postgres', q{SELECT count(*) || ' ' || bool_and(active) FROM firstsight.facts_replication}), '1 true',
	'facts_replication at a: one active slot');

# headquarters down: the offices go on ingesting; nothing is lost
$hq->stop;
for my $name (sort keys %office) {
	my ($n, $pid) = @{ $office{$name} }{qw(node pid)};
	$n->safe_psql('postgres', qq{CALL camera_day(3, 80);
		INSERT INTO firstsight.deal (project_id, person_id, signed_at, price)
		SELECT $pid, person_id, timestamptz '2026-11-06 12:00+08', 900000 FROM firstsight.person
		WHERE project_id = $pid AND person_id % 7 = 0});
	ok($n->poll_query_until('postgres', q{SELECT NOT bool_or(active) AND min(retained_bytes) > 0 FROM firstsight.facts_replication}),
		"office $name: while headquarters is down the slot is inactive and holds WAL");
}
$hq->start;
catch_up();
compare_facts('headquarters down and back');
compare_views('headquarters down and back');

# a TRUNCATE at an office (the DBA at 3 a.m.) does not empty headquarters
my $before = $hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.capture WHERE project_id = 101});
$a->safe_psql('postgres', q{TRUNCATE firstsight.capture});
$a->safe_psql('postgres', q{INSERT INTO firstsight.camera VALUES (101, 'lift', 'other')});
catch_up();
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.capture WHERE project_id = 101}), $before,
	'a TRUNCATE at office a leaves headquarters\' captures');
is($hq->safe_psql('postgres', q{SELECT count(*) FROM firstsight.camera WHERE project_id = 101 AND camera_id = 'lift'}), '1',
	'later facts of office a still arrive');

# two offices using one project id: headquarters refuses the second office's
# rows (a key conflict stops its subscription), and the monitor view shows it
$b->safe_psql('postgres', q{SELECT firstsight.create_project('Stolen id', 'Asia/Shanghai', 16, project_id => 101)});
$hq->poll_query_until('postgres', q{SELECT apply_errors > 0 FROM firstsight.group_replication WHERE subname = 'office_b'})
	or die 'no apply error seen';
is($hq->safe_psql('postgres', q{SELECT name FROM firstsight.project WHERE project_id = 101}), 'Office a',
	'a project id used by two offices: headquarters keeps the first office\'s project');
ok(1, 'group_replication shows the conflict as apply errors of office_b');

done_testing();
