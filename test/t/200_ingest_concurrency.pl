# 16 camera clients insert captures of the same 40 faces at once, in random
# orders, one at a time, in batches of three and in batches of 64 (searched
# exactly with OpenBLAS, exact_search_faces): no errors, exactly one person
# per true identity, one visit per person, consistent counters.  Twice: with
# firstsight preloaded (new-person decisions publish their faces in shared
# memory and wait only for near ones, issue 21) and without (the project's
# new-person lock held to commit).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

for my $preload (1, 0)
{
my $what = $preload ? 'preloaded' : 'not preloaded';
my $node = PostgreSQL::Test::Cluster->new($preload ? 'ingest_preloaded' : 'ingest');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\nfsync = off\ntrack_functions = all\n"
	. ($preload ? "shared_preload_libraries = 'firstsight'\n" : ''));
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION firstsight;
	SELECT firstsight.create_project('concurrency', dims => 16);
	INSERT INTO firstsight.camera SELECT 1, 'cam' || i, 'entrance' FROM generate_series(0, 3) i;
	-- 40 true identities: random unit vectors (far apart in 16 dimensions)
	SELECT setseed(0.2024);
	CREATE TABLE centre AS
		SELECT id, firstsight.l2_normalize(array_agg(random() - 0.5 ORDER BY k)::real[]::firstsight.embedding) AS face
		FROM generate_series(1, 40) id, generate_series(1, 16) k GROUP BY id;
	-- a capture of identity f: the centre plus a little noise
	CREATE FUNCTION seen(f integer) RETURNS firstsight.embedding LANGUAGE sql VOLATILE AS $$
		SELECT firstsight.l2_normalize(c.face OPERATOR(firstsight.+) (SELECT array_agg((random() - 0.5) * 0.01)::real[]::firstsight.embedding
		                                         FROM generate_series(1, 16) WHERE f > 0))
		FROM centre c WHERE c.id = f $$;
});

my $single = $node->basedir . '/single.sql';
my $batch = $node->basedir . '/batch.sql';
my $exact = $node->basedir . '/exact.sql';
PostgreSQL::Test::Utils::append_to_file($single, q{
\set f random(1, 40)
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (1, 'cam' || (:client_id % 4), now() - interval '1 second', seen(:f), 0.8, false);
});
PostgreSQL::Test::Utils::append_to_file($batch, q{
\set a random(1, 40)
\set b random(1, 40)
\set c random(1, 40)
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (1, 'cam' || (:client_id % 4), now() - interval '1 second', seen(:a), 0.7, false),
       (1, 'cam' || (:client_id % 4), now() - interval '1 second', seen(:b), 0.9, false),
       (1, 'cam' || (:client_id % 4), now() - interval '1 second', seen(:c), 0.6, false);
});

# 64 captures: at least 64, and the gallery (at most 3 faces per person) has
# fewer than exact_search_faces (100) per capture, so the batch is searched exactly
PostgreSQL::Test::Utils::append_to_file($exact, q{
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
SELECT 1, 'cam' || (:client_id % 4), now() - interval '1 second', seen(1 + (random() * 39)::integer), 0.5, false
FROM generate_series(1, 64);
});

my ($out, $err);
my $ok = IPC::Run::run(
	[ 'pgbench', '-n', '-c', '16', '-j', '4', '-t', '40', '-f', "$single\@3", '-f', "$batch\@1", '-f', "$exact\@1",
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);
ok($ok, "pgbench ran ($what)") or diag($err);
like($out, qr/number of failed transactions: 0/, "zero failed transactions ($what)") if $out =~ /failed transactions/;
unlike($err, qr/ERROR|deadlock/i, "no errors reported ($what)") or diag($err);
like($out, qr/number of transactions actually processed: 640\/640/, "all 640 transactions done ($what)") or diag($out);

my $seen = $node->safe_psql('postgres', q{
	SELECT count(DISTINCT c.id) FROM firstsight.capture x JOIN centre c ON (x.face OPERATOR(firstsight.<=>) c.face) < 0.01});
my $persons = $node->safe_psql('postgres', q{SELECT count(*) FROM firstsight.person WHERE merged_into IS NULL});
is($persons, $seen, "one person per true identity ($seen identities seen, $what)");

# every capture of one identity went to one person, and persons never share identities
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (
		SELECT c.id FROM firstsight.capture x JOIN centre c ON (x.face OPERATOR(firstsight.<=>) c.face) < 0.01
		GROUP BY c.id HAVING count(DISTINCT x.person_id) > 1) s}), '0', "no identity split over two persons ($what)");
is($node->safe_psql('postgres', q{SELECT count(*) FROM firstsight.capture WHERE person_id IS NULL OR visit_id IS NULL}),
	'0', "every capture has a person and a visit ($what)");
# all captures are within one visit gap: one visit per person, no duplicate visit from a race
is($node->safe_psql('postgres', q{SELECT count(*) FROM firstsight.visit}), $persons, "one visit per person ($what)");
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM firstsight.person p
	WHERE p.captures <> (SELECT count(*) FROM firstsight.capture c WHERE c.person_id = p.person_id)
	   OR p.visits <> (SELECT count(*) FROM firstsight.visit v WHERE v.person_id = p.person_id)}),
	'0', "person counters agree with captures and visits ($what)");
# 640 transactions of one, three or 64 captures each (scripts are picked at random, weights 3:1:1)
my $n = $node->safe_psql('postgres', q{SELECT count(*) FROM firstsight.capture});
ok($n > 640 && $n <= 640 * 64, "captures of every transaction stored ($n, $what)");
ok($node->safe_psql('postgres', q{
	SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE funcname = 'gallery_nearest_exact_kinds'}) > 0,
	"some batches were searched exactly ($what)");
ok($node->safe_psql('postgres', q{SELECT max(n) FROM (SELECT count(*) n FROM firstsight.face GROUP BY person_id) s}) <= 3,
	"at most three gallery exemplars per person ($what)");

my $claims = $node->safe_psql('postgres', q{
	SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE funcname = 'new_person_claim'});
if ($preload)
{
	ok($claims > 0, "new-person decisions published their faces ($claims claims)");
}
else
{
	is($claims, '0', 'without shared memory, the lock held to commit');
}

$node->stop;
}
done_testing();
