# embedding_hnsw scans beside autovacuum (issue 19).  A row deleted while
# another transaction's snapshot may still see it stays in the index after
# VACUUM (it is "dead but not yet removable"); autovacuum's ANALYZE holds
# such a snapshot now and then.  Without iterative scan, those elements
# took places among the ef_search nearest, and the live rows beyond them
# were not returned: hnsw_vacuum (delete all, VACUUM, insert 2) returned 1
# row, hnsw_vacuum_reuse (all but one deleted) 0.
#
# First the two cases with a prepared transaction holding the horizon back
# (what autovacuum's snapshot did by chance), then rounds of hnsw_vacuum's
# steps on a cluster with aggressive autovacuum: every round returns every
# live row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsHnsw;

my $rounds = 30;

my $node = hnsw_node('hnsw_autovacuum', qq{
fsync = off
max_prepared_transactions = 2
autovacuum_naptime = 1
autovacuum_vacuum_threshold = 5
autovacuum_analyze_threshold = 5
autovacuum_vacuum_scale_factor = 0.01
autovacuum_analyze_scale_factor = 0.01
autovacuum_vacuum_insert_threshold = 5
autovacuum_vacuum_insert_scale_factor = 0.01
autovacuum_vacuum_cost_delay = 0
log_autovacuum_min_duration = 0
});

# hnsw_vacuum's steps up to the last DELETE; $hold: a transaction keeps the
# deleted rows visible to it while VACUUM runs
sub vacuum_steps
{
	my ($hold) = @_;
	my $sql = q{
		DROP TABLE IF EXISTS hnsw_vac;
		CREATE TABLE hnsw_vac (id int, e embedding(4));
		INSERT INTO hnsw_vac SELECT i, ARRAY[sin(i), cos(i), sin(i * 0.7), cos(i * 1.9)] FROM generate_series(1, 1000) i;
		CREATE INDEX hnsw_vac_idx ON hnsw_vac USING embedding_hnsw (e embedding_l2_ops) WITH (m = 4, ef_construction = 16);
		DELETE FROM hnsw_vac WHERE id % 3 <> 0;
		VACUUM hnsw_vac;
		INSERT INTO hnsw_vac SELECT i, ARRAY[i, 0, 0, 0] FROM generate_series(2001, 2050) i;
	};
	$sql .= q{ BEGIN; SELECT txid_current(); PREPARE TRANSACTION 'hold'; } if $hold;
	$sql .= q{
		DELETE FROM hnsw_vac;
		VACUUM hnsw_vac;
		INSERT INTO hnsw_vac VALUES (1, '[1,0,0,0]'), (2, '[0,1,0,0]');
	};
	$node->safe_psql('postgres', $sql);
	my $got = $node->safe_psql('postgres', q{
		SET enable_seqscan = off;
		SET firstsight.hnsw_ef_search = 100;
		SELECT string_agg(id::text, ',' ORDER BY id) FROM (SELECT id FROM hnsw_vac ORDER BY e <-> '[0.9,0,0,0]' LIMIT 3) s;
	});
	$node->safe_psql('postgres', q{COMMIT PREPARED 'hold'}) if $hold;
	return $got;
}

# 1. delete all, VACUUM while a snapshot still sees the rows, insert 2
is(vacuum_steps(1), '1,2', 'delete all, VACUUM beside an older snapshot, insert 2: both rows are returned');

# 2. all but one deleted (hnsw_vacuum_reuse's last step)
$node->safe_psql('postgres', q{
	CREATE TABLE hnsw_reuse (i int4, v embedding(3));
	INSERT INTO hnsw_reuse SELECT i, ARRAY[i % 17, i % 301, i % 777] FROM generate_series(1, 10000) i;
	CREATE INDEX hnsw_reuse_idx ON hnsw_reuse USING embedding_hnsw (v embedding_l2_ops);
	BEGIN; SELECT txid_current(); PREPARE TRANSACTION 'hold';
	DELETE FROM hnsw_reuse WHERE i != 123;
	VACUUM hnsw_reuse;
});
my $one = $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SET firstsight.hnsw_ef_search = 100;
	SELECT string_agg(i::text, ',') FROM (SELECT i FROM hnsw_reuse ORDER BY v <-> '[0,0,0]' LIMIT 10) s;
});
is($one, '123', 'all but one deleted, VACUUM beside an older snapshot: the one is returned');
# the same with iterative scan and with a filter (visible rows the filter
# throws away still count: the ef_search bound of a plain scan is kept)
is($node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SET firstsight.hnsw_iterative_scan = relaxed_order;
	SELECT string_agg(i::text, ',') FROM (SELECT i FROM hnsw_reuse ORDER BY v <-> '[0,0,0]' LIMIT 10) s;
}), '123', 'the same with relaxed_order');
$node->safe_psql('postgres', q{COMMIT PREPARED 'hold'; DELETE FROM hnsw_reuse; INSERT INTO hnsw_reuse SELECT i, ARRAY[i % 17, i % 301, i % 777] FROM generate_series(1, 2000) i;});
cmp_ok($node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SET firstsight.hnsw_ef_search = 10;
	SELECT count(*) FROM (SELECT i FROM hnsw_reuse WHERE i % 1000 = 7 ORDER BY v <-> '[0,0,0]' LIMIT 5) s;
}), '<=', 1, 'a filter that throws visible rows away still ends a plain scan at ef_search rows');
$node->safe_psql('postgres', 'DROP TABLE hnsw_reuse');

# 3. rounds beside aggressive autovacuum, nothing held by the test
my $bad = 0;
for my $r (1 .. $rounds)
{
	my $got = vacuum_steps(0);
	if ($got ne '1,2')
	{
		$bad++;
		diag("round $r returned '$got'");
	}
}
is($bad, 0, "$rounds rounds of delete all, VACUUM, insert 2 beside autovacuum: every round returns both rows");

$node->stop;
done_testing();
