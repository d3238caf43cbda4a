# embedding_hnsw: a live element that no search can reach is found by
# index_check and linked again by VACUUM, into the tree of kept links.
# Such islands came from inserts pruning the last links into a small group
# over a long time while kept links ran in circles (see src/hnsw/README.md);
# here one is made at once: with the server stopped,
# every link into one element is pointed at the entry point instead (as
# amcheck's tests corrupt pages), so the graph stays well-formed and only
# that element is cut off.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsHnsw;

my $node = hnsw_node('reach', "autovacuum = off\n");
$node->safe_psql('postgres', q{
	SELECT setseed(0.105);
	CREATE TABLE t (id int PRIMARY KEY, e embedding(16));
	INSERT INTO t SELECT i, (SELECT array_agg((random() - 0.5)::real)::real[]::embedding FROM generate_series(1, 16) WHERE i > 0)
		FROM generate_series(1, 2000) i;
	CREATE INDEX t_e ON t USING embedding_hnsw (e embedding_l2_ops);
});
my ($outside, $built) = outside_kept_tree($node, 't_e');
is($built, '', 'the built index is sound');
is($outside, 0, 'and its kept links reach every element from the entry point');

# the index file as written by a checkpoint; the server is stopped before it is changed
$node->safe_psql('postgres', 'CHECKPOINT');
my $file = $node->data_dir . '/' . $node->safe_psql('postgres', q{SELECT pg_relation_filepath('t_e')});
open my $fh, '+<:raw', $file or die "open $file: $!";
my $size = -s $file;
my $bs = 8192;
my $data;
read($fh, $data, $size) == $size or die "short read";

sub tid_at
{
	my ($pos) = @_;
	my ($hi, $lo, $posid) = unpack('v v v', substr($data, $pos, 6));
	return (($hi << 16) | $lo, $posid);
}

# metapage contents (after the 24-byte page header): m at 34, entry TID at 44
my $m = unpack('v', substr($data, 34, 2));
my ($eblk, $eoff) = tid_at(44);

# every element: its TID, level, heap TID and the position of its slots
my @elements;
for my $blk (1 .. $size / $bs - 1)
{
	my $page = $blk * $bs;
	my $lower = unpack('v', substr($data, $page + 12, 2));
	for my $i (0 .. ($lower - 24) / 4 - 1)
	{
		my $lp = unpack('V', substr($data, $page + 24 + 4 * $i, 4));
		my $tup = $page + ($lp & 0x7fff);
		my ($hb, $ho) = tid_at($tup);
		my $level = unpack('C', substr($data, $tup + 6, 1));
		push @elements, { blk => $blk, off => $i + 1, level => $level, hblk => $hb, hoff => $ho,
			slots => $tup + 12, nslots => 2 * $m + $level * $m };
	}
}
is(scalar(@elements), 2000, 'the index file holds 2,000 elements');

# the victim: an element of level 0 (levels are random) in the middle of the file
my @level0 = grep { $_->{level} == 0 && !($_->{blk} == $eblk && $_->{off} == $eoff) } @elements;
my $u = $level0[ int(@level0 / 2) ];
my ($hblk, $hoff) = ($u->{hblk}, $u->{hoff});
my $victim = $node->safe_psql('postgres', "SELECT id FROM t WHERE ctid = '($hblk,$hoff)'");
like($victim, qr/^\d+$/, "element ($u->{blk},$u->{off}) is the index entry of row $victim");
my $self_search = qq{SET enable_seqscan = off;
	SELECT id FROM t ORDER BY e <-> (SELECT e FROM t WHERE id = $victim) LIMIT 1};
is($node->safe_psql('postgres', $self_search), $victim, 'before: the search for its vector finds the row');
$node->stop;
my $after_stop;
seek($fh, 0, 0);
read($fh, $after_stop, $size) == $size or die "short read";
ok($after_stop eq $data, 'the shutdown left the index file as the checkpoint wrote it');

# every link into it now leads to the entry point
my $cut = 0;
for my $e (@elements)
{
	for my $s (0 .. $e->{nslots} - 1)
	{
		my $pos = $e->{slots} + 12 * $s;
		my ($b, $o) = tid_at($pos);
		next unless $b == $u->{blk} && $o == $u->{off};
		substr($data, $pos, 6) = pack('v v v', $eblk >> 16, $eblk & 0xffff, $eoff);
		$cut++;
	}
}
cmp_ok($cut, '>', 0, "$cut links into element ($u->{blk},$u->{off}) pointed at the entry point");
seek($fh, 0, 0);
print $fh $data;
close $fh;

$node->start;
my ($outside_cut, $problems) = outside_kept_tree($node, 't_e');
cmp_ok($outside_cut, ">=", 1, "index_check counts the cut-off element outside the tree of kept links ($outside_cut)");
like($problems, qr/^element \($u->{blk},$u->{off}\) of level 0, table row \($hblk,$hoff\), cannot be reached from the entry point$/m,
	'index_check names the cut-off element and its table row');
unlike($problems, qr/^(?!element \(\d+,\d+\) of level \d+, table row \(\d+,\d+\), cannot be reached)/m,
	'and reports nothing but unreachable elements (any others were reached only through it)');
isnt($node->safe_psql('postgres', $self_search), $victim, 'the search for its vector cannot find the row');

# VACUUM with nothing to remove still walks the graph and links it again
my ($ret, $out, $err) = $node->psql('postgres', 'SET client_min_messages = debug1; VACUUM t');
is($ret, 0, 'VACUUM ran');
# (more than one only if something was reached through the cut-off element alone and comes first)
like($err, qr/index "t_e": linked [1-9]\d* elements? into the tree of kept links/, 'VACUUM says it linked elements');
($outside, $built) = outside_kept_tree($node, 't_e');
is($built, '', 'after VACUUM the index is sound');
is($outside, 0, 'and its kept links reach every element again');
is($node->safe_psql('postgres', $self_search), $victim, 'after VACUUM the search finds the row again');
($ret, $out, $err) = $node->psql('postgres', 'SET client_min_messages = debug1; VACUUM t');
unlike($err, qr/into the tree of kept links/, 'a second VACUUM finds nothing to link');

done_testing();
