# embedding_hnsw parallel build: the leader and its workers insert into one
# shared graph.  With workers really launched (the DEBUG1 line says how many),
# the index is sound (index_check), a search for each row finds that row for
# at least 99.5% of the rows (a serial build of these 20,000 random 32-d rows
# misses about 1, a parallel one about 25: elements inserted at the same time
# do not see each other), and recall@10 is as good as a serial build's.  A build whose
# shared graph fills up (the table's statistics say far fewer rows than it
# has) writes what it built and inserts the rest on disk: same checks.  And a
# parallel CREATE INDEX CONCURRENTLY.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsHnsw;

my $dims = 32;
my $rows = 20000;

my $node = hnsw_node('hnsw_par',
	"fsync = off\nmax_worker_processes = 8\nmax_parallel_workers = 8\nmax_parallel_maintenance_workers = 2\n"
	  . "maintenance_work_mem = '256MB'\nautovacuum = off\n");
$node->safe_psql('postgres', qq{
	SELECT setseed(0.104);
	CREATE FUNCTION rvec(n int, salt bigint) RETURNS embedding LANGUAGE sql VOLATILE AS
		\$\$ SELECT array_agg((random() - 0.5)::real)::real[]::embedding FROM generate_series(1, n) WHERE salt IS NOT NULL \$\$;
	CREATE TABLE t (id int PRIMARY KEY, e embedding($dims)) WITH (parallel_workers = 2);
	INSERT INTO t SELECT i, rvec($dims, i) FROM generate_series(1, $rows) i;
	CREATE TABLE q (qid int, e embedding($dims));
	INSERT INTO q SELECT i, rvec($dims, -i) FROM generate_series(1, 200) i;
	SET max_parallel_workers_per_gather = 0;
	CREATE TABLE truth AS SELECT q.qid, ARRAY(SELECT t.id FROM t ORDER BY t.e <-> q.e LIMIT 10) AS top FROM q;
});

# a build; returns its stderr (NOTICE and DEBUG1 lines)
sub build
{
	my ($sql, $workers) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres', "SET max_parallel_maintenance_workers = $workers; SET client_min_messages = debug1; $sql",
		stdout => \$out, stderr => \$err, on_error_die => 1);
	return $err;
}

sub check_index
{
	my ($label, $table, $index, $n) = @_;
	my ($outside, $problems) = outside_kept_tree($node, $index);
	is($problems, '', "$label: index_check clean");
	is($outside, 0, "$label: the kept links form a tree from the entry point over every element");
	my $found = $node->safe_psql('postgres', qq{
		SET enable_seqscan = off; SET firstsight.hnsw_ef_search = 100;
		SELECT count(*) FROM $table r WHERE r.id = (SELECT s.id FROM $table s ORDER BY s.e <-> r.e LIMIT 1);
	});
	cmp_ok($found, '>=', 0.995 * $n, "$label: $found of $n rows found by a search for themselves");
}

sub recall10
{
	return $node->safe_psql('postgres', qq{
		SET enable_seqscan = off; SET firstsight.hnsw_ef_search = 100;
		SELECT round(avg((SELECT count(*) FROM unnest(f) x WHERE x = ANY(top))::numeric / 10), 3)
		FROM (SELECT g.top, ARRAY(SELECT t.id FROM t ORDER BY t.e <-> q.e LIMIT 10) f FROM q JOIN truth g USING (qid)) s;
	});
}

# serial, for the baseline
build("CREATE INDEX t_serial ON t USING embedding_hnsw (e embedding_l2_ops)", 0);
my $serial = recall10();
$node->safe_psql('postgres', 'DROP INDEX t_serial');

my $err = build("CREATE INDEX t_par ON t USING embedding_hnsw (e embedding_l2_ops)", 2);
like($err, qr/embedding_hnsw build using [12] parallel workers/, 'parallel build: workers launched') or diag($err);
unlike($err, qr/no longer fits/, 'parallel build: the graph fits maintenance_work_mem');
check_index('parallel build', 't', 't_par', $rows);
my $par = recall10();
cmp_ok($par, '>=', 0.9, "parallel build: recall\@10 at ef_search 100 ($par)");
cmp_ok($par, '>=', $serial - 0.03, "parallel build: recall\@10 $par, serial $serial");
is($node->safe_psql('postgres', "SELECT reltuples::int FROM pg_class WHERE relname = 't_par'"), $rows,
	'parallel build: the index counts every row');
$node->safe_psql('postgres', 'DROP INDEX t_par');

# statistics that say 300 rows where there are 6,000: the shared graph fills up
$node->safe_psql('postgres', qq{
	CREATE TABLE small (id int PRIMARY KEY, e embedding($dims)) WITH (parallel_workers = 2);
	INSERT INTO small SELECT id, e FROM t WHERE id <= 300;
	ANALYZE small;
	INSERT INTO small SELECT id, e FROM t WHERE id > 300 AND id <= 6000;
	ALTER TABLE small SET (parallel_workers = 2);
});
$err = build("CREATE INDEX small_par ON small USING embedding_hnsw (e embedding_l2_ops)", 2);
like($err, qr/embedding_hnsw build using \d parallel workers\nDETAIL:  The shared graph has room for 1330 elements/,
	'full graph: room as estimated')
  or diag($err);
like($err, qr/graph had room for 1330 elements, as the table's statistics promised, and the table has 6000 rows\n.*\nHINT:  ANALYZE the table/,
	'full graph: NOTICE says why and what to do');
check_index('full graph', 'small', 'small_par', 6000);

# CREATE INDEX CONCURRENTLY, in parallel
$err = build("CREATE INDEX CONCURRENTLY t_conc ON t USING embedding_hnsw (e embedding_l2_ops)", 2);
like($err, qr/embedding_hnsw build using [12] parallel workers/, 'concurrent build: workers launched') or diag($err);
check_index('concurrent build', 't', 't_conc', $rows);

$node->stop;
done_testing();
