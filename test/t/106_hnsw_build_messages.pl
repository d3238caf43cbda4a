# embedding_hnsw build messages a DBA can act on (pgvector's 012 and 045 say
# the same first lines): a parallel build says how many workers it used
# (DEBUG1), and a build whose graph outgrows maintenance_work_mem says so
# after how many tuples (NOTICE), how many rows go the slow way, and how
# much maintenance_work_mem would have held the graph (HINT); a build that
# fits says nothing.  The hinted setting is then enough.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsHnsw;

my $node = hnsw_node('hnsw_msg',
	"fsync = off\nmax_worker_processes = 8\nmax_parallel_workers = 8\nmax_parallel_maintenance_workers = 2\nautovacuum = off\n");
$node->safe_psql('postgres', q{
	CREATE TABLE small (v embedding(3));
	INSERT INTO small SELECT ARRAY[random(), random(), random()] FROM generate_series(1, 1000) i;
	CREATE TABLE big (v embedding(64));
	INSERT INTO big SELECT (SELECT array_agg(random()) FROM generate_series(1, 64) WHERE i > 0) FROM generate_series(1, 12000) i;
	ANALYZE big;
});

sub build
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "SET client_min_messages = debug1; $sql");
	is($ret, 0, 'build ran') or diag($err);
	return $err;
}

# pgvector's 045: parallel_workers = 1 on a 3 MB build: one worker, and this
# graph fits (pgvector's smaller shared graph spills after 0 tuples)
my $err = build(q{SET maintenance_work_mem = '3073kB'; ALTER TABLE small SET (parallel_workers = 1);
	CREATE INDEX ON small USING embedding_hnsw (v embedding_l2_ops)});
like($err, qr/embedding_hnsw build using 1 parallel workers/, 'parallel: workers said');
unlike($err, qr/no longer fits/, 'parallel: a graph that fits says nothing');

# a serial 4 MB build of 12,000 x 64 spills
$err = build(q{SET maintenance_work_mem = '4MB'; CREATE INDEX big_small_mem ON big USING embedding_hnsw (v embedding_l2_ops)});
unlike($err, qr/parallel workers/, 'serial: no workers');
like($err, qr/NOTICE:  embedding_hnsw graph no longer fits into maintenance_work_mem after (\d+) tuples/,
	'serial spill: NOTICE with the count');
like($err, qr/DETAIL:  The other rows of the table \(about \d+ of 1\d{4}\) are inserted one at a time/,
	'serial spill: DETAIL says how many go the slow way');
my ($mb) = $err =~ /HINT:  Set maintenance_work_mem to about (\d+) MB or more \(it is 4096 kB\)/;
ok(defined $mb && $mb > 4, 'serial spill: HINT names a larger setting') or diag($err);
is($node->safe_psql('postgres', "SELECT count(*) FROM firstsight.index_check('big_small_mem')"), '0', 'spilled build is sound');

# the hinted setting holds the whole graph
$err = build("SET maintenance_work_mem = '${mb}MB'; CREATE INDEX ON big USING embedding_hnsw (v embedding_l2_ops)");
unlike($err, qr/no longer fits/, 'with the hinted maintenance_work_mem: no spill') or diag($err);

# a parallel build of the same: workers said, and the spill too
$err = build(q{SET maintenance_work_mem = '4MB'; ALTER TABLE big SET (parallel_workers = 2);
	CREATE INDEX ON big USING embedding_hnsw (v embedding_l2_ops)});
like($err, qr/embedding_hnsw build using [12] parallel workers/, 'parallel spill: workers said');
like($err, qr/no longer fits into maintenance_work_mem after \d+ tuples\nDETAIL:  .*\nHINT:  Set maintenance_work_mem/,
	'parallel spill: NOTICE and HINT');

$node->stop;
done_testing();
