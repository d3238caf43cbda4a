# FsOffices: the sales offices of the scale-out TAP tests (520: headquarters on
# plain PostgreSQL, 521: headquarters on Citus), so that both run the same
# offices, the same camera days and the same deals, and compare headquarters
# with the same digest.  test/run puts test/perl on prove's include path.
package FsOffices;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(office_node office_setup group_key_file receptions cross_office_deals facts_digest @project_views
	citus_skip_unless_installed citus_cluster);

# the per-project BI views headquarters must give as the offices do, each with
# the columns that order one project's rows
our @project_views = (
	[ 'daily_traffic', 'day' ],
	[ 'channel_share', 'month, channel_id' ],
	[ 'conversion_funnel', 'month, channel_id' ],
	[ 'commission_ledger', 'month, channel_id, entry, referrer_person_id' ],
	[ 'consultant_board', 'month, consultant_id' ],
	[ 'flagged_deals', 'deal_id' ]);

# a started office, logical WAL, firstsight and its facts publication;
# $conf is appended to postgresql.conf
sub office_node
{
	my ($name, $conf) = @_;
	my $n = PostgreSQL::Test::Cluster->new("office_$name");
	$n->init(allows_streaming => 'logical');
	$n->append_conf('postgresql.conf', "fsync = off\n" . ($conf // ''));
	$n->start;
	$n->safe_psql('postgres', q{
		CREATE EXTENSION firstsight;
		SELECT count(*) FROM firstsight.create_facts_publication();
	});
	return $n;
}

# the group key, one file given to every office; returns the path and the key
sub group_key_file
{
	my ($dir) = @_;
	my $key_hex = join '', map { sprintf '%02x', int(rand(256)) } 1 .. 32;
	my $file = "$dir/group.key";
	PostgreSQL::Test::Utils::append_to_file($file, "$key_hex\n");
	chmod 0600, $file;
	return ($file, $key_hex);
}

# the office's project (the id headquarters gave) in group 'Group', two
# cameras, two consultants, an agency with one agent, 30 true identities
# (table centre, random unit vectors), seen(f) a face of identity f, and
# camera_day(d, n[, first]): captures first .. first + n - 1 of day d,
# capture i of identity 1 + (7i + d) mod 30 at
# hour 3(i mod 5) after 9:00, a photo every third capture; every tenth
# capture of a day is a poor capture (quality 0.2, below the project's
# min_quality of 0.4) of a stranger, which stays unidentified when it
# matches nobody; trickle(d): captures of day d, one a transaction, until a
# row is put in trickle_stop
sub office_setup
{
	my ($n, $name, $pid) = @_;
	$n->safe_psql('postgres', qq{
		SELECT firstsight.create_project('Office $name', 'Asia/Shanghai', 16, project_id => $pid);
		UPDATE firstsight.project SET group_name = 'Group' WHERE project_id = $pid;
		SELECT firstsight.configure($pid, 'min_quality', '0.4');
		INSERT INTO firstsight.camera VALUES ($pid, 'door', 'entrance'), ($pid, 'desk', 'sign_in');
		INSERT INTO firstsight.consultant (project_id, name) VALUES ($pid, 'Li'), ($pid, 'Wang');
		INSERT INTO firstsight.channel (project_id, kind, name, commission_rate) VALUES ($pid, 'agency', 'Agency', 0.02);
		INSERT INTO firstsight.agent (project_id, channel_id, name)
			SELECT $pid, channel_id, 'Zhao' FROM firstsight.channel WHERE project_id = $pid AND kind = 'agency';
		SELECT setseed(@{[ $pid / 1000 ]});
		CREATE TABLE centre AS
			SELECT id, firstsight.l2_normalize(array_agg(random() - 0.5 ORDER BY k)::real[]::firstsight.embedding) AS face
			FROM generate_series(1, 30) id, generate_series(1, 16) k GROUP BY id;
		CREATE FUNCTION seen(f integer) RETURNS firstsight.embedding LANGUAGE sql VOLATILE AS \$\$
			SELECT firstsight.l2_normalize(c.face OPERATOR(firstsight.+)
				(SELECT array_agg((random() - 0.5) * 0.01)::real[]::firstsight.embedding FROM generate_series(1, 16) WHERE f > 0))
			FROM centre c WHERE c.id = f \$\$;
		CREATE FUNCTION stranger(i integer) RETURNS firstsight.embedding LANGUAGE sql VOLATILE AS \$\$
			SELECT firstsight.l2_normalize(array_agg(random() - 0.5 + 0 * i)::real[]::firstsight.embedding) FROM generate_series(1, 16) \$\$;
		CREATE PROCEDURE camera_day(d integer, n integer, first integer DEFAULT 1) LANGUAGE sql AS \$\$
			INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, photo)
			SELECT $pid, CASE WHEN i % 2 = 0 THEN 'door' ELSE 'desk' END,
			       timestamptz '2026-11-02 09:00+08' + d * interval '1 day' + (i % 5) * interval '3 hours' + i * interval '1 second',
			       CASE WHEN i % 10 = 9 THEN stranger(i) ELSE seen(1 + (i * 7 + d) % 30) END,
			       CASE WHEN i % 10 = 9 THEN 0.2 ELSE 0.8 END, false,
			       CASE WHEN i % 3 = 0 THEN convert_to(repeat(md5(i::text), 40), 'UTF8') END
			FROM generate_series(first, first + n - 1) i \$\$;
		-- cameras that go on until told to stop (a row in trickle_stop): one
		-- capture per transaction
		CREATE TABLE trickle_stop (at timestamptz);
		CREATE PROCEDURE trickle(d integer) LANGUAGE plpgsql AS \$\$
		BEGIN
			FOR k IN 1 .. 5000 LOOP
				EXIT WHEN EXISTS (SELECT 1 FROM trickle_stop);
				CALL camera_day(d, 1, k);
				COMMIT;
				PERFORM pg_sleep(0.05);
			END LOOP;
		END \$\$;
	});
}

# a consultant receives every second visit; the agent brings every fourth
sub receptions
{
	my ($n, $pid) = @_;
	$n->safe_psql('postgres', qq{
		SELECT firstsight.receive($pid, v.visit_id, (SELECT min(consultant_id) FROM firstsight.consultant WHERE project_id = $pid),
		                          CASE WHEN v.visit_id % 4 = 0 THEN (SELECT agent_id FROM firstsight.agent WHERE project_id = $pid) END)
		FROM firstsight.visit v WHERE v.project_id = $pid AND v.visit_id % 2 = 0 ORDER BY v.visit_id;
	});
}

# the same ID card at both offices: identity 1 of office a (seen on day 0)
# comes to office b on day 2 and buys there; then deals at both offices
# (every fifth person, half of them through the agency).  $office{a,b} =
# { node, pid }.  Returns the buyer's person id at b.
sub cross_office_deals
{
	my (%office) = @_;
	my ($a, $b) = ($office{a}{node}, $office{b}{node});
	my $cap_a = $a->safe_psql('postgres', q{
		SELECT min(x.capture_id) FROM firstsight.capture x JOIN centre c ON (x.face OPERATOR(firstsight.<=>) c.face) < 0.01 WHERE c.id = 1});
	$a->safe_psql('postgres', "SELECT firstsight.bind_identity($office{a}{pid}, $cap_a, 'G1234567', '13812348000')");
	$b->safe_psql('postgres', qq{
		INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
		VALUES ($office{b}{pid}, 'desk', '2026-11-04 10:00+08', seen(30), 0.9, false)});
	my $cap_b = $b->safe_psql('postgres', q{SELECT max(capture_id) FROM firstsight.capture});
	my $buyer_b = $b->safe_psql('postgres', "SELECT firstsight.bind_identity($office{b}{pid}, $cap_b, 'G1234567', '13812348000')");
	for my $name (sort keys %office) {
		my ($n, $pid) = @{ $office{$name} }{qw(node pid)};
		$n->safe_psql('postgres', qq{
			INSERT INTO firstsight.deal (project_id, person_id, signed_at, price, channel_id, agent_id)
			SELECT $pid, p.person_id, timestamptz '2026-11-05 12:00+08', 1000000 + p.person_id,
			       CASE WHEN p.person_id % 2 = 0 THEN ch.channel_id END, CASE WHEN p.person_id % 2 = 0 THEN ag.agent_id END
			FROM firstsight.person p, firstsight.channel ch, firstsight.agent ag
			WHERE p.project_id = $pid AND ch.project_id = $pid AND ch.kind = 'agency' AND ag.project_id = $pid
			  AND (p.person_id % 5 = 0 OR p.person_id = @{[ $name eq 'b' ? $buyer_b : 0 ]});
		});
	}
	return $buyer_b;
}

# every table $publisher publishes, for one project at $node, row for row as
# text (published columns only): one line per table, its row count and an md5
sub facts_digest
{
	my ($publisher, $node, $pid) = @_;
	my $tables = $publisher->safe_psql('postgres', q{
		SELECT tablename || ':' || array_to_string(attnames, ',') FROM pg_publication_tables
		WHERE pubname = 'firstsight_facts' ORDER BY tablename});
	my @q;
	for my $line (split /\n/, $tables) {
		my ($t, $cols) = split /:/, $line;
		push @q, qq{SELECT '$t', count(*) || ' ' || coalesce(md5(string_agg(r, '|' ORDER BY r)), '-')
			FROM (SELECT ROW($cols)::text AS r FROM firstsight.$t WHERE project_id = $pid) s};
	}
	return $node->safe_psql('postgres', join("\nUNION ALL\n", @q) . "\nORDER BY 1");
}

# skip the whole test file when Citus is not installed next to firstsight
sub citus_skip_unless_installed
{
	my $pkglibdir = `pg_config --pkglibdir`;
	chomp $pkglibdir;
	Test::More::plan(skip_all => "Citus is not installed ($pkglibdir/citus.so not found): build Citus 13.2 for PostgreSQL 15 to run this test (docs/scale-out.md)")
		unless -e "$pkglibdir/citus.so";
}

# a started Citus cluster of a coordinator and two workers named
# ${prefix}_coordinator, _worker1, _worker2, Citus created and the workers
# added; %$init goes to init(), $conf is appended to postgresql.conf.
# Returns the coordinator, then the workers.
sub citus_cluster
{
	my ($prefix, $init, $conf) = @_;
	my @citus;
	for my $name (qw(coordinator worker1 worker2)) {
		my $n = PostgreSQL::Test::Cluster->new("${prefix}_$name");
		$n->init(%{ $init // {} });
		$n->append_conf('postgresql.conf', qq{fsync = off
shared_preload_libraries = 'citus'
citus.node_conninfo = 'sslmode=disable'
citus.enable_unsafe_triggers = on
citus.shard_count = 4
max_worker_processes = 24
} . ($conf // ''));
		# shard moves connect back to the coordinator by its name (localhost by default)
		$n->append_conf('postgresql.conf', "citus.local_hostname = '" . $n->host . "'\n");
		$n->start;
		$n->safe_psql('postgres', 'CREATE EXTENSION citus');
		push @citus, $n;
	}
	my ($coordinator, @workers) = @citus;
	$coordinator->safe_psql('postgres', "SELECT citus_set_coordinator_host('@{[ $coordinator->host ]}', @{[ $coordinator->port ]})");
	$coordinator->safe_psql('postgres', "SELECT citus_add_node('@{[ $_->host ]}', @{[ $_->port ]})") for @workers;
	return @citus;
}

1;
