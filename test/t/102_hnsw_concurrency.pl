# embedding_hnsw under concurrency: 8 pgbench clients, six inserting random
# vectors and two running index scans, then inserts and deletes while VACUUM
# runs again and again.  No errors of any kind (no deadlock, no "could not"),
# index_check clean (and the kept links a tree from the entry point over
# every element), every row found by an index search for itself, and
# recall@10 of the index against exact search at ef_search 100 at least 0.9.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsHnsw;

my $dims = 32;

my $node = hnsw_node('hnsw_conc', "fsync = off\nmax_connections = 40\nlog_statement = none\n");
$node->safe_psql('postgres', qq{
	SELECT setseed(0.102);
	CREATE FUNCTION rvec(n int, salt bigint) RETURNS embedding LANGUAGE sql VOLATILE AS
		\$\$ SELECT array_agg((random() - 0.5)::real)::real[]::embedding FROM generate_series(1, n) WHERE salt IS NOT NULL \$\$;
	CREATE TABLE t (id bigserial PRIMARY KEY, e embedding($dims));
	INSERT INTO t (e) SELECT rvec($dims, i) FROM generate_series(1, 300) i;
	CREATE INDEX t_e ON t USING embedding_hnsw (e) WITH (m = 12, ef_construction = 64);
});

my $dir = $node->basedir;
PostgreSQL::Test::Utils::append_to_file("$dir/insert.sql", qq{
INSERT INTO t (e) SELECT rvec($dims, g) FROM generate_series(1, 1 + :client_id % 3) g;
});
PostgreSQL::Test::Utils::append_to_file("$dir/search.sql", qq{
SET enable_seqscan = off;
SELECT id FROM t ORDER BY e <-> rvec($dims, :client_id) LIMIT 10;
});
PostgreSQL::Test::Utils::append_to_file("$dir/delete.sql", q{
\set k random(1, 100000)
DELETE FROM t WHERE id IN (SELECT id FROM t WHERE id % 97 = :k % 97 LIMIT 3);
});

sub clean_run
{
	my ($label, $ok, $out, $err, $expect) = @_;
	ok($ok, "$label: pgbench succeeded") or diag($err);
	like($out, qr/number of transactions actually processed: $expect\/$expect/, "$label: all $expect transactions done")
	  or diag($out);
	unlike($err, qr/ERROR|deadlock|could not|FATAL|PANIC/i, "$label: no errors") or diag($err);
}

# pgbench with @args while another session runs $sql over and over until it
# ends; $fault->($exit, $stdout, $stderr) names what is wrong with one run
# ('' when nothing).  Returns pgbench's success, output and errors, the
# number of runs and the faults found.
sub beside_pgbench
{
	my ($sql, $fault, @args) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ 'pgbench', '-n', '-h', $node->host, '-p', $node->port, @args, 'postgres' ],
		'>', \$out, '2>', \$err);
	my ($runs, @faults) = (0);
	while ($h->pumpable)
	{
		my $f = $fault->($node->psql('postgres', $sql));
		push @faults, $f if $f ne '';
		$runs++;
		$h->pump_nb;
	}
	my $ok = $h->finish;
	return ($ok, $out, $err, $runs, @faults);
}

# phase 1: 6 inserting and 2 searching clients at once (weights 3:1 over 8
# clients), while index_check runs over and over: it must see a consistent
# index (it waits for the inserts in progress and holds off new ones)
my ($ok1, $out1, $err1, $checks, @check_problems) = beside_pgbench(
	q{SELECT string_agg(p, E'\n') FROM firstsight.index_check('t_e') p},
	sub { my ($ret, $cout, $cerr) = @_; return join("\n", grep { $_ ne '' } ($ret != 0 ? "exit $ret: $cerr" : ''), $cout); },
	'-c', '8', '-j', '2', '-t', '150', '-f', "$dir/insert.sql\@3", '-f', "$dir/search.sql\@1");
clean_run('inserts with scans', $ok1, $out1, $err1, 1200);
note("$checks index_checks ran concurrently with phase 1");
cmp_ok($checks, '>=', 2, 'index_check ran at least twice during the inserts');
is(scalar(@check_problems), 0, 'index_check during concurrent inserts finds no problem')
  or diag(join("\n", @check_problems[0 .. ($#check_problems < 5 ? $#check_problems : 4)]));
# each new element's kept link comes from a neighbour in the tree, and a new
# entry point keeps a link to the old one
is((outside_kept_tree($node, 't_e'))[0], 0, 'after concurrent inserts the kept links still reach every element');

# phase 2: inserts and deletes while VACUUM runs over and over
my ($ok2, $out2, $err2, $vacuums, @vacuum_errors) = beside_pgbench(
	'VACUUM t',
	sub { my ($ret, $vout, $verr) = @_; return ($ret != 0 || $verr =~ /ERROR|could not|deadlock|WARNING/) ? "exit $ret: $verr" : ''; },
	'-c', '6', '-j', '2', '-t', '150', '-f', "$dir/insert.sql\@3", '-f', "$dir/delete.sql\@1", '-f', "$dir/search.sql\@1");
is(scalar(@vacuum_errors), 0, 'every concurrent VACUUM succeeded without a message') or diag(join("\n", @vacuum_errors));
note("$vacuums VACUUMs ran concurrently with phase 2");
cmp_ok($vacuums, '>=', 2, 'VACUUM ran at least twice during the inserts');
clean_run('inserts, deletes and scans with VACUUM', $ok2, $out2, $err2, 900);
$node->safe_psql('postgres', 'VACUUM t');

my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile);
my @bad = grep { /ERROR|FATAL|PANIC|deadlock|could not/ } split /\n/, $log;
is(scalar(@bad), 0, 'server log has no errors') or diag(join("\n", @bad[0 .. ($#bad < 20 ? $#bad : 19)]));

my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
note("$rows rows at the end");
my ($outside, $problems) = outside_kept_tree($node, 't_e');
is($problems, '', 'index_check clean after concurrent inserts, scans, deletes and VACUUMs');
is($outside, 0, 'and the kept links reach every element from the entry point');

# every row is found by an index search for its own vector
my $self = q{SELECT count(*) FROM t, LATERAL (SELECT t2.e <-> t.e AS d FROM t t2 ORDER BY t2.e <-> t.e LIMIT 1) x
	WHERE x.d IS NULL OR x.d <> 0};
like($node->safe_psql('postgres', "SET enable_seqscan = off; EXPLAIN (COSTS OFF) $self"), qr/Index Scan using t_e/,
	'the self search is an index scan');
my $lost = $node->safe_psql('postgres', "SET enable_seqscan = off; SET firstsight.hnsw_ef_search = 100; $self");
is($lost, '0', "every one of the $rows rows is found by an index search for itself");

# recall@10 at ef_search 100 against exact search, over 100 query vectors
my $recall = $node->safe_psql('postgres', qq{
	SELECT setseed(0.5);
	CREATE TEMP TABLE q AS SELECT i AS qid, rvec($dims, i) AS v FROM generate_series(1, 100) i;
	SET enable_seqscan = off; SET firstsight.hnsw_ef_search = 100;
	CREATE TEMP TABLE approx AS SELECT qid, x.id FROM q, LATERAL (SELECT id FROM t ORDER BY e <-> q.v LIMIT 10) x;
	SET enable_seqscan = on; SET enable_indexscan = off;
	CREATE TEMP TABLE exact AS SELECT qid, x.id FROM q, LATERAL (SELECT id FROM t ORDER BY e <-> q.v LIMIT 10) x;
	SELECT round((SELECT count(*) FROM approx JOIN exact USING (qid, id))::numeric / (SELECT count(*) FROM exact), 4)});
($recall) = $recall =~ /([\d.]+)\s*$/;
note("recall\@10 at ef_search 100: $recall");
cmp_ok($recall, '>=', 0.9, "recall\@10 at ef_search 100 is $recall (>= 0.9)");

$node->stop;
done_testing();
