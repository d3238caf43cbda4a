# embedding_hnsw scans across a VACUUM (issue 19, "why no scan lock is
# needed").  A scan holds no lock between its searches; VACUUM may delete
# elements it met, clear their links and free their slots meanwhile.  An
# iterative scan resumes from the elements it left out: when those were
# the deleted rows around the query, they had become dead ends, and a
# cursor that VACUUM ran beside between two FETCHes returned none of the
# 300 live rows beyond them (1 row in all: the one it had returned before).
# The scan now sees that it met a freed slot and searches again from the
# entry point.
#
# The case, as a careless application would make it: a cursor over the
# gallery ordered by distance to a face, rows fetched a few at a time;
# meanwhile retention deletes the old captures near that face and VACUUM
# removes them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsHnsw;

my $node = hnsw_node('hnsw_scan_vacuum', qq{
fsync = off
autovacuum = off
});

foreach my $m (4, 8, 16)
{
	# D: 300 captures around the query (deleted before the cursor opens, so
	# VACUUM may remove them while it is open); V: one live row next to the
	# query; L: 300 live rows far away
	$node->safe_psql('postgres', qq{
		DROP TABLE IF EXISTS sv;
		CREATE TABLE sv (id int, v embedding(2));
		INSERT INTO sv SELECT i, ARRAY[cos(i) * (i % 7 + 1) * 0.01, sin(i) * (i % 5 + 1) * 0.01]
			FROM generate_series(1, 300) i;
		INSERT INTO sv VALUES (1000, '[0.0001,0]');
		INSERT INTO sv SELECT 2000 + i, ARRAY[100 + cos(i) * (i % 7 + 1), 100 + sin(i) * (i % 5 + 1)]
			FROM generate_series(1, 300) i;
		CREATE INDEX sv_idx ON sv USING embedding_hnsw (v embedding_l2_ops) WITH (m = $m, ef_construction = 32);
		DELETE FROM sv WHERE id <= 300;
	});

	foreach my $vacuum (0, 1)
	{
		my $a = $node->background_psql('postgres', on_error_stop => 1);
		$a->query_safe(q{
			SET enable_seqscan = off;
			SET firstsight.hnsw_iterative_scan = relaxed_order;
			SET firstsight.hnsw_ef_search = 10;
			BEGIN;
			DECLARE c CURSOR FOR SELECT id FROM sv ORDER BY v <-> '[0,0]';
		});
		is($a->query_safe('FETCH 1 FROM c'), '1000', "m = $m: the first row is the live one next to the query");
		$node->safe_psql('postgres', 'VACUUM sv') if $vacuum;
		my $rest = $a->query_safe(q{FETCH ALL FROM c});
		my @ids = grep { /\d/ } split /\n/, $rest;
		my %seen = map { $_ => 1 } @ids;
		my $far = grep { $_ > 2000 } keys %seen;
		is(scalar(@ids), 300,
			"m = $m, " . ($vacuum ? 'VACUUM between the FETCHes' : 'no VACUUM')
			  . ': the rest of the cursor is the 300 live rows beyond the deleted ones');
		is($far, scalar(@ids), "m = $m: no row returned twice, none deleted");
		$a->query_safe('COMMIT');
		$a->quit;
	}
	my ($outside, $problems) = outside_kept_tree($node, 'sv_idx');
	is($problems, '', "m = $m: index_check finds no problem after the VACUUM");
}

done_testing();
