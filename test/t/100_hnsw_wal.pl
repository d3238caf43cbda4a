# embedding_hnsw and WAL: a streaming replica holds the same index as the
# primary.  Rows go in before and after the build, some are deleted and
# VACUUMed (marking, erasing, link repair), more go in afterwards.  With
# wal_consistency_checking = 'generic' every generic WAL record the index
# writes carries a full page image that the replica compares with the page it
# rebuilt by replaying the record: any difference stops the replica with
# "inconsistent page found".  Then, on the replica: index_check finds nothing
# and index scans return the same top-k ids as on the primary.  Finally the
# primary itself crashes and replays its WAL.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# a replica that dies on an inconsistent page never catches up: do not wait 3 minutes for it
$PostgreSQL::Test::Utils::timeout_default = 90;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "wal_consistency_checking = 'generic'\n");
$primary->start;
is($primary->safe_psql('postgres', 'SHOW wal_consistency_checking'), 'generic',
	'primary runs with wal_consistency_checking = generic');

$primary->backup('b');
my $replica = PostgreSQL::Test::Cluster->new('replica');
$replica->init_from_backup($primary, 'b', has_streaming => 1);
$replica->start;

my $dims = 24;
$primary->safe_psql('postgres', qq{
	CREATE EXTENSION firstsight;
	ALTER DATABASE postgres SET search_path = public, firstsight;
});
$primary->safe_psql('postgres', qq{
	SELECT setseed(0.1003);
	CREATE FUNCTION rvec(n int, salt int) RETURNS embedding LANGUAGE sql VOLATILE AS
		\$\$ SELECT array_agg((random() - 0.5)::real)::real[]::embedding FROM generate_series(1, n) WHERE salt IS NOT NULL \$\$;
	CREATE TABLE t (id int PRIMARY KEY, e embedding($dims));
	INSERT INTO t SELECT i, rvec($dims, i) FROM generate_series(1, 1500) i;
	INSERT INTO t VALUES (1501, NULL);                       -- skipped by the index
	INSERT INTO t SELECT i, array_fill(0, ARRAY[$dims])::real[]::embedding FROM generate_series(1502, 1503) i;  -- zero vectors
	CREATE INDEX t_cos ON t USING embedding_hnsw (e embedding_cosine_ops) WITH (m = 8, ef_construction = 40);
	CREATE INDEX t_l2 ON t USING embedding_hnsw (e) WITH (m = 12);
	-- inserts through the on-disk insert path, in several transactions
	INSERT INTO t SELECT i, rvec($dims, i) FROM generate_series(2001, 2600) i;
	INSERT INTO t SELECT i, rvec($dims, i) FROM generate_series(2601, 3000) i;
	BEGIN; INSERT INTO t SELECT i, rvec($dims, i) FROM generate_series(3001, 3100) i; ROLLBACK;
	DELETE FROM t WHERE id % 3 = 0 OR id BETWEEN 2200 AND 2400;
	VACUUM t;
	INSERT INTO t SELECT i, rvec($dims, i) FROM generate_series(4001, 4300) i;
	DELETE FROM t WHERE id % 7 = 0;
	VACUUM t;
	CREATE TABLE q AS SELECT i AS qid, rvec($dims, i) AS v FROM generate_series(1, 25) i;
	ANALYZE t;
});
my $rows = $primary->safe_psql('postgres', 'SELECT count(*) FROM t');
note("table has $rows rows after deletes and vacuums");

$primary->wait_for_catchup($replica, 'replay');
ok(1, 'replica replayed all index WAL');
my $log = PostgreSQL::Test::Utils::slurp_file($replica->logfile);
unlike($log, qr/inconsistent page found/, 'no inconsistent page during replay on the replica')
  or diag(join("\n", grep { /inconsistent|FATAL|PANIC/ } split /\n/, $log));

is($replica->safe_psql('postgres', 'SELECT count(*) FROM t'), $rows, 'replica has the rows');
for my $idx ('t_cos', 't_l2')
{
	is($primary->safe_psql('postgres', "SELECT string_agg(p, E'\\n') FROM firstsight.index_check('$idx') p"),
		'', "index_check($idx) clean on the primary");
	is($replica->safe_psql('postgres', "SELECT string_agg(p, E'\\n') FROM firstsight.index_check('$idx') p"),
		'', "index_check($idx) clean on the replica");
}

# the top 10 of each query, through the index, as one string per operator
my %ops = ('<=>' => 't_cos', '<->' => 't_l2');
for my $op (sort keys %ops)
{
	my $sql = qq{SET enable_seqscan = off; SET firstsight.hnsw_ef_search = 60;
		SELECT string_agg(ids, ' ' ORDER BY qid) FROM (
			SELECT qid, (SELECT string_agg(id::text, ',' ORDER BY n) FROM (
				SELECT id, row_number() OVER () n FROM (SELECT id FROM t ORDER BY e $op q.v LIMIT 10) s) s2) ids
			FROM q) x};
	my $plan = $replica->safe_psql('postgres', qq{SET enable_seqscan = off;
		EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY e $op (SELECT v FROM q WHERE qid = 1) LIMIT 10});
	like($plan, qr/Index Scan using $ops{$op}/, "replica plans an index scan on $ops{$op}");
	my $p = $primary->safe_psql('postgres', $sql);
	my $r = $replica->safe_psql('postgres', $sql);
	is(scalar(grep { scalar(split /,/) == 10 } split / /, $p), 25, "$op: 10 ids for each of 25 queries on the primary");
	is($r, $p, "$op: replica returns the same top-10 ids as the primary");
	# and they are good answers: recall@10 against exact search (the replica is read-only: exact on the primary)
	my $exact = $primary->safe_psql('postgres', "SET enable_indexscan = off; " . ($sql =~ s/^SET enable_seqscan = off;//r));
	my @pi = split / /, $r;
	my @ei = split / /, $exact;
	my ($hit, $all) = (0, 0);
	for my $i (0 .. $#ei)
	{
		my %want = map { $_ => 1 } split /,/, $ei[$i];
		$all += scalar(keys %want);
		$hit += scalar(grep { $want{$_} } split /,/, ($pi[$i] // ''));
	}
	my $recall = $all ? sprintf('%.3f', $hit / $all) : 0;
	note("$op: recall\@10 at ef_search 60 on the replica: $recall");
	cmp_ok($recall, '>=', 0.9, "$op: replica index scans find the true neighbours (recall\@10 $recall)");
}

# no deleted row comes back on the replica
is($replica->safe_psql('postgres', q{SET enable_seqscan = off;
	SELECT count(*) FROM q, LATERAL (SELECT id FROM t ORDER BY e <-> q.v LIMIT 50) x
	WHERE x.id % 7 = 0 OR (x.id % 3 = 0 AND x.id < 4000) OR x.id BETWEEN 2200 AND 2400 OR x.id BETWEEN 3001 AND 3100}),
	'0', 'no deleted or rolled-back row from a replica index scan');

# more WAL after the replica is known good, then crash recovery of the primary itself
$primary->safe_psql('postgres', qq{
	INSERT INTO t SELECT i, rvec($dims, i) FROM generate_series(5001, 5400) i;
	DELETE FROM t WHERE id BETWEEN 5001 AND 5100;
	VACUUM t;
	INSERT INTO t SELECT i, rvec($dims, i) FROM generate_series(5401, 5500) i;
});
$primary->wait_for_catchup($replica, 'replay');
$primary->stop('immediate');
$primary->start;
ok(1, 'primary recovered from an immediate stop');
$log = PostgreSQL::Test::Utils::slurp_file($replica->logfile) . PostgreSQL::Test::Utils::slurp_file($primary->logfile);
unlike($log, qr/inconsistent page found/, 'no inconsistent page in replica replay or primary crash recovery');
for my $node ($primary, $replica)
{
	is($node->safe_psql('postgres', q{SELECT string_agg(p, E'\n') FROM (SELECT firstsight.index_check('t_cos') p UNION ALL SELECT firstsight.index_check('t_l2')) x}),
		'', $node->name . ': index_check clean after further inserts, vacuum and recovery');
	# every row of the last batch finds itself
	is($node->safe_psql('postgres', q{SET enable_seqscan = off; SET firstsight.hnsw_ef_search = 100;
		SELECT count(*) FROM t, LATERAL (SELECT t2.id FROM t t2 ORDER BY t2.e <-> t.e LIMIT 1) x
		WHERE t.id > 5100 AND x.id <> t.id}), '0', $node->name . ': each new row is its own nearest neighbour');
}

$replica->stop;
$primary->stop;
done_testing();
