# FsHnsw: helpers of the embedding_hnsw TAP tests.  test/run puts test/perl
# on prove's include path.
package FsHnsw;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(hnsw_node outside_kept_tree);

# a started node named $name with $conf appended to postgresql.conf, the
# extension created and firstsight on the database's search_path
sub hnsw_node
{
	my ($name, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', $conf);
	$node->start;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION firstsight;
		ALTER DATABASE postgres SET search_path = public, firstsight;
	});
	return $node;
}

# how many live elements of $index index_check counts outside the tree of
# kept links (its NOTICE; 0 when it says nothing), and its problem rows
sub outside_kept_tree
{
	my ($node, $index) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres', "SELECT string_agg(p, E'\\n') FROM firstsight.index_check('$index') p",
		stdout => \$out, stderr => \$err, on_error_die => 1);
	return ($err =~ /(\d+) live elements? (?:is|are) outside the tree of kept links/ ? $1 : 0, $out);
}

1;
