# embedding_hnsw recall before and after heavy deletion, and erasure.
# 20,000 rows of 64 dimensions in 1,000 clusters (a unit centre per identity
# plus noise).  recall@1 and recall@10 against exact search at ef_search 40
# and 100; then half the rows are deleted and VACUUMed: recall@1 at
# ef_search 100 stays >= 0.95, index_check is clean, no deleted row comes back
# from an index scan, and the bytes of a deleted vector are gone from the
# index file ("erasure removes embeddings and their index entries").
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsHnsw;

my $dims = 64;
my $n = 20000;
my $marker = 12345.678;    # every element of one distinctive, later deleted, vector

my $node = hnsw_node('hnsw_recall', "fsync = off\nmaintenance_work_mem = 256MB\nshared_buffers = 128MB\n");
$node->safe_psql('postgres', qq{
	SELECT setseed(0.103);
	CREATE FUNCTION rvec(n int, scale real, salt int) RETURNS embedding LANGUAGE sql VOLATILE AS
		\$\$ SELECT array_agg(((random() - 0.5) * scale)::real)::real[]::embedding FROM generate_series(1, n) WHERE salt IS NOT NULL \$\$;
	CREATE TABLE centre AS SELECT c, l2_normalize(rvec($dims, 1, c)) AS v FROM generate_series(1, 1000) c;
	-- a capture of identity c: its centre plus noise of norm about 0.45
	CREATE TABLE t (id int PRIMARY KEY, e embedding($dims));
	INSERT INTO t SELECT i, c.v + rvec($dims, 0.2, i) FROM generate_series(1, $n) i JOIN centre c ON c.c = 1 + i % 1000;
	-- the marker: a deleted row whose bytes are easy to find
	UPDATE t SET e = array_fill(${marker}::real, ARRAY[$dims])::real[]::embedding WHERE id = 2;
	-- queries: new captures of 200 identities
	CREATE TABLE q AS SELECT i AS qid, c.v + rvec($dims, 0.2, -i) AS v FROM generate_series(1, 200) i JOIN centre c ON c.c = 1 + (i * 37) % 1000;
	-- deleted rows' own vectors, to look for them after the delete
	CREATE TABLE dq AS SELECT id AS qid, e AS v FROM t WHERE id % 2 = 0 AND id % 67 = 0;
	VACUUM ANALYZE t;
});
my $t0 = time;
$node->safe_psql('postgres', 'CREATE INDEX t_e ON t USING embedding_hnsw (e) WITH (m = 16, ef_construction = 64)');
note(sprintf('built the index on %d rows in %d s', $n, time - $t0));

my $relpath = $node->safe_psql('postgres', q{SELECT pg_relation_filepath('t_e')});
my $pattern = pack('f<', $marker) x 2;

sub index_file_has_marker
{
	$node->safe_psql('postgres', 'CHECKPOINT');
	my $data = PostgreSQL::Test::Utils::slurp_file($node->data_dir . '/' . $relpath);
	my $count = () = $data =~ /\Q$pattern\E/g;
	return ($count, length($data));
}

my ($before_count, $size) = index_file_has_marker();
cmp_ok($before_count, '>', 0, "the marker vector's bytes are in the index file before the delete ($before_count hits in $size bytes)");

# recall@1 and recall@10 at an ef_search, against exact search (computed once per table state into exact)
sub exact
{
	$node->safe_psql('postgres', q{
		DROP TABLE IF EXISTS exact;
		SET enable_indexscan = off;
		CREATE TABLE exact AS SELECT qid, x.id, x.rn FROM q, LATERAL (
			SELECT id, row_number() OVER (ORDER BY d) rn FROM (SELECT id, e <-> q.v AS d FROM t ORDER BY e <-> q.v LIMIT 10) s) x;
	});
}

sub recall
{
	my $ef = shift;
	my $r = $node->safe_psql('postgres', qq{
		SET enable_seqscan = off; SET firstsight.hnsw_ef_search = $ef;
		CREATE TEMP TABLE approx AS SELECT qid, x.id, x.rn FROM q, LATERAL (
			SELECT id, row_number() OVER (ORDER BY d) rn FROM (SELECT id, e <-> q.v AS d FROM t ORDER BY e <-> q.v LIMIT 10) s) x;
		SELECT round(avg((a.id = e.id)::int), 4) FROM approx a JOIN exact e USING (qid) WHERE a.rn = 1 AND e.rn = 1;
		SELECT round((SELECT count(*) FROM approx JOIN exact USING (qid, id))::numeric / (SELECT count(*) FROM exact), 4);
	});
	return split /\n/, $r;
}

like($node->safe_psql('postgres', q{SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY e <-> (SELECT v FROM q WHERE qid = 1) LIMIT 10}),
	qr/Index Scan using t_e/, 'queries use the index');

my %fig;
exact();
for my $ef (40, 100)
{
	@{ $fig{"before $ef"} } = recall($ef);
	note(sprintf('before delete, ef_search %d: recall@1 %s, recall@10 %s', $ef, @{ $fig{"before $ef"} }));
}
cmp_ok($fig{'before 100'}[0], '>=', 0.95, "recall\@1 at ef_search 100 before the delete: $fig{'before 100'}[0]");
cmp_ok($fig{'before 100'}[1], '>=', 0.9, "recall\@10 at ef_search 100 before the delete: $fig{'before 100'}[1]");

# delete half, look for deleted rows before the VACUUM (dead heap tuples in the graph)
$node->safe_psql('postgres', 'DELETE FROM t WHERE id % 2 = 0');
my $ghost_sql = q{SET enable_seqscan = off; SET firstsight.hnsw_ef_search = 100;
	SELECT count(*) FILTER (WHERE x.id % 2 = 0), count(*), count(DISTINCT dq.qid) FROM dq, LATERAL (SELECT id FROM t ORDER BY e <-> dq.v LIMIT 10) x};
my ($ghosts, $returned, $nq) = split /\|/, $node->safe_psql('postgres', $ghost_sql);
is($ghosts, '0', "no deleted row returned before VACUUM ($nq deleted rows' own vectors as queries)");
is($returned, 10 * $nq, 'every query still returns 10 rows before VACUUM');

$t0 = time;
$node->safe_psql('postgres', 'VACUUM t');
note(sprintf('VACUUM after deleting %d rows: %d s', $n / 2, time - $t0));
my ($outside, $problems) = outside_kept_tree($node, 't_e');
is($problems, '', 'index_check clean after the delete and VACUUM');
is($outside, 0, 'VACUUM left the kept links a tree over every element');

($ghosts, $returned, $nq) = split /\|/, $node->safe_psql('postgres', $ghost_sql);
is($ghosts, '0', "no deleted row returned after VACUUM ($nq deleted rows' own vectors as queries)");
is($returned, 10 * $nq, 'every query still returns 10 rows after VACUUM');
is($node->safe_psql('postgres', q{SET enable_seqscan = off; SET firstsight.hnsw_ef_search = 100;
	SELECT count(*) FROM t, LATERAL (SELECT t2.e <-> t.e AS d FROM t t2 ORDER BY t2.e <-> t.e LIMIT 1) x
	WHERE t.id % 50 = 1 AND (x.d IS NULL OR x.d <> 0)}), '0', 'remaining rows (every 50th) still find themselves after VACUUM');

exact();
for my $ef (40, 100)
{
	@{ $fig{"after $ef"} } = recall($ef);
	note(sprintf('after delete + VACUUM, ef_search %d: recall@1 %s, recall@10 %s', $ef, @{ $fig{"after $ef"} }));
}
cmp_ok($fig{'after 100'}[0], '>=', 0.95, "recall\@1 at ef_search 100 after deleting 50% and VACUUM: $fig{'after 100'}[0]");
cmp_ok($fig{'after 100'}[1], '>=', 0.9, "recall\@10 at ef_search 100 after deleting 50% and VACUUM: $fig{'after 100'}[1]");
note(sprintf('recall@1/@10: before ef40 %s/%s ef100 %s/%s; after ef40 %s/%s ef100 %s/%s',
	map { @{ $fig{$_} } } 'before 40', 'before 100', 'after 40', 'after 100'));

# erasure: the marker vector's bytes are no longer in the index file
my ($after_count, $size_after) = index_file_has_marker();
is($after_count, 0, "the deleted marker vector's bytes are gone from the index file after VACUUM ($size_after bytes searched)");
my $single = pack('f<', $marker);
my $data = PostgreSQL::Test::Utils::slurp_file($node->data_dir . '/' . $relpath);
my $singles = () = $data =~ /\Q$single\E/g;
is($singles, 0, 'not even one element of the marker vector is left in the index file');

$node->stop;
done_testing();
