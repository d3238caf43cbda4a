# pgvector interoperability: casts both ways whichever extension came first,
# identical text and binary formats, and each extension drops cleanly.
# Skipped when pgvector is not installed on this machine.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('interop');
$node->init;
$node->start;

my $avail = $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'");
if ($avail ne '1')
{
	plan skip_all => 'pgvector is not installed';
}

sub sql { return $node->safe_psql('postgres', shift) }

sub cast_count
{
	return sql("SELECT count(*) FROM pg_cast WHERE (castsource, casttarget) IN "
		  . "((to_regtype('vector'), to_regtype('firstsight.embedding')), "
		  . "(to_regtype('firstsight.embedding'), to_regtype('vector')))");
}

# the same values through both types: text, binary COPY and casts
sub check_data_moves
{
	my $label = shift;
	sql(q{
		DROP TABLE IF EXISTS v, e, e2, v2;
		CREATE TABLE v (id int, x vector(5));
		INSERT INTO v SELECT i, ARRAY[i, -i * 0.5, 1e-7 * i, 3.4e38, i / 3.0]::real[]::vector FROM generate_series(1, 50) i;
		INSERT INTO v VALUES (51, NULL);
		CREATE TABLE e (id int, x firstsight.embedding(5));
		INSERT INTO e SELECT id, x FROM v;
		CREATE TABLE e2 (id int, x firstsight.embedding(5));
		CREATE TABLE v2 (id int, x vector(5));
	});
	my $same = sql("SELECT count(*) FROM v JOIN e USING (id) WHERE v.x::text IS NOT DISTINCT FROM e.x::text");
	is($same, '51', "$label: assignment cast keeps every value and its text form");

	my $dir = $node->basedir;
	sql("COPY v TO '$dir/v.bin' WITH (FORMAT binary)");
	sql("COPY e2 FROM '$dir/v.bin' WITH (FORMAT binary)");
	sql("COPY e2 TO '$dir/e.bin' WITH (FORMAT binary)");
	sql("COPY v2 FROM '$dir/e.bin' WITH (FORMAT binary)");
	is(sql("SELECT count(*) FROM v JOIN e2 USING (id) WHERE v.x::text IS NOT DISTINCT FROM e2.x::text"),
		'51', "$label: binary COPY from vector into embedding");
	is(sql("SELECT count(*) FROM v JOIN v2 USING (id) WHERE v.x = v2.x OR (v.x IS NULL AND v2.x IS NULL)"),
		'51', "$label: binary COPY from embedding back into vector");
	is(sql("SELECT '[1,2,3]'::vector::firstsight.embedding(3)::text || ' ' || '[4,5]'::firstsight.embedding::vector(2)::text"),
		'[1,2,3] [4,5]', "$label: explicit casts both ways");

	my ($ret, $out, $err) = $node->psql('postgres', "SELECT '[1,2,3]'::vector::firstsight.embedding(2)");
	like($err, qr/expected 2 dimensions, not 3/, "$label: embedding typmod checked on cast");
	($ret, $out, $err) = $node->psql('postgres', "SELECT '[1,2,3]'::firstsight.embedding::vector(2)");
	like($err, qr/expected 2 dimensions, not 3/, "$label: vector typmod checked on cast");
	# distances agree between the two extensions
	is(sql("SELECT count(*) FROM v a, v b, e c, e d WHERE a.id = c.id AND b.id = d.id AND a.id < 10 AND b.id < 10 "
		  . "AND abs((a.x <-> b.x) - (c.x OPERATOR(firstsight.<->) d.x)) > 1e-3 * greatest(a.x <-> b.x, 1)"),
		'0', "$label: L2 distances agree");
	sql("DROP TABLE v, e, e2, v2");
}

# firstsight first, then vector
sql("CREATE EXTENSION firstsight");
is(cast_count(), '0', 'no casts before pgvector exists');
sql("CREATE EXTENSION vector");
is(cast_count(), '2', 'casts created when vector arrives second');
check_data_moves('firstsight first');
sql("DROP EXTENSION vector");
is(cast_count(), '0', 'DROP EXTENSION vector without CASCADE removes the casts');
ok(sql("SELECT count(*) FROM pg_extension WHERE extname = 'firstsight'") eq '1', 'firstsight survives');

# vector first, then firstsight
sql("DROP EXTENSION firstsight");
sql("CREATE EXTENSION vector");
my $vector_casts = sql("SELECT count(*) FROM pg_cast WHERE castsource = 'vector'::regtype OR casttarget = 'vector'::regtype");
sql("CREATE EXTENSION firstsight");
is(cast_count(), '2', 'casts created when firstsight arrives second');
check_data_moves('vector first');
sql("DROP EXTENSION vector");
is(cast_count(), '0', 'vector dropped cleanly');
sql("CREATE EXTENSION vector");
is(cast_count(), '2', 'casts come back with vector');
sql("DROP EXTENSION firstsight");
is(sql("SELECT count(*) FROM pg_cast WHERE castsource = 'vector'::regtype OR casttarget = 'vector'::regtype"),
	$vector_casts, 'DROP EXTENSION firstsight removes its casts and leaves pgvector\'s own');
is(sql("SELECT count(*) FROM pg_extension WHERE extname = 'vector'"), '1', 'vector survives');

$node->stop;
done_testing();
