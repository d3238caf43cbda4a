# Erasure and the gallery index: 100,000 gallery faces, half of them erased
# (a thousand by erase_person, the rest by enforce_retention), then VACUUM.
# No erased embedding may come back from any index scan (each erased face is
# looked up by its own vector), and matching the remaining persons keeps its
# recall.  Runs on the HNSW index when embedding_hnsw is installed, on exact
# search otherwise (it says which).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $n = $ENV{FS_ERASURE_FACES} // 100000;
my $queries = 1000;

my $t_setup = time;
my $node = PostgreSQL::Test::Cluster->new('erasure_index');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\nshared_buffers = 256MB\nmaintenance_work_mem = 256MB\n");
$node->start;

$node->safe_psql('postgres', qq{
	CREATE EXTENSION firstsight;
	SELECT firstsight.create_project('erasure index', dims => 16);
	SELECT setseed(0.606);
	-- persons and their gallery faces, loaded directly (ingestion is not under test here)
	SET session_replication_role = replica;
	INSERT INTO firstsight.person (project_id, person_id, first_seen, last_seen, visits, captures)
	SELECT 1, i, '2024-03-01', '2024-03-01', 1, 1 FROM generate_series(1, $n) i;
	CREATE TABLE truth AS
		SELECT i AS person_id, firstsight.l2_normalize(array_agg(random() - 0.5 ORDER BY k)::real[]::firstsight.embedding) AS face
		FROM generate_series(1, $n) i, generate_series(1, 16) k GROUP BY i;
	INSERT INTO firstsight.face (project_id, person_id, kind, capture_id, captured_at, quality, masked, face, expires_at)
	SELECT 1, person_id, 'unmasked', person_id, '2024-03-01', 0.9, false, face, '2100-01-01' FROM truth;
	RESET session_replication_role;
	-- the queries: a noisy capture of 1000 persons that stay and of 1000 that will be erased
	CREATE TABLE probe AS
		SELECT t.person_id, t.person_id % 2 = 0 AS erased,
		       firstsight.l2_normalize(t.face OPERATOR(firstsight.+)
		           (SELECT array_agg((random() - 0.5) * 0.02)::real[]::firstsight.embedding FROM generate_series(1, 16) WHERE t.person_id > 0)) AS face
		FROM truth t WHERE t.person_id % 50 IN (1, 2) ORDER BY t.person_id LIMIT 2 * $queries;
	ANALYZE;
});
my $indexed = $node->safe_psql('postgres', q{SELECT firstsight.create_gallery_index(1)});
diag(sprintf('%d gallery faces loaded (into the index create_project made, when there is one) in %d s', $n, time - $t_setup));
diag($indexed eq 't' ? 'gallery has an embedding_hnsw index: index scans'
                     : 'embedding_hnsw is not installed: exact search (sequential scan)');

# top-1 person for each probe, as ingestion's gallery search does it
my $topk = q{
	SELECT p.person_id AS truth, p.erased, g.person_id AS found
	FROM probe p LEFT JOIN LATERAL (
		SELECT f.person_id FROM firstsight.face_p1 f
		ORDER BY f.face::firstsight.embedding(16) OPERATOR(firstsight.<=>) p.face LIMIT 5) g ON true};
my $settings = $indexed eq 't' ? 'SET enable_seqscan = off;' : '';
my $recall_before = $node->safe_psql('postgres', qq{$settings
	WITH r AS (SELECT truth, bool_or(found = truth) AS hit FROM ($topk) x WHERE NOT erased GROUP BY truth)
	SELECT round(avg(hit::int), 4) FROM r});
diag("recall\@5 of the remaining persons before erasure: $recall_before");

# erase half: a thousand persons on request, the rest by retention
my $t0 = time;
$node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT firstsight.erase_person(1, person_id, 'bulk request test')
	                      FROM firstsight.person WHERE person_id % 2 = 0 ORDER BY person_id LIMIT 1000) e});
$node->safe_psql('postgres', q{
	UPDATE firstsight.face SET expires_at = '2024-04-01' WHERE person_id % 2 = 0});
$node->safe_psql('postgres', q{CALL firstsight.enforce_retention_all(10000, share => 1)});
diag(sprintf('erased %d faces in %d s', $n / 2, time - $t0));
is($node->safe_psql('postgres', q{SELECT count(*) FROM firstsight.face WHERE person_id % 2 = 0}), '0', 'half the faces erased');
is($node->safe_psql('postgres', q{SELECT count(*) FROM firstsight.face}), $n / 2, 'the other half stays');
is($node->safe_psql('postgres', q{SELECT count(*) FROM firstsight.erasure_log}), '1000', 'a log row per erase_person');
my $t_vacuum = time;
$node->safe_psql('postgres', q{VACUUM firstsight.face_p1});
diag(sprintf('VACUUM in %d s', time - $t_vacuum));
my $t_checks = time;

# no erased embedding from any scan: each erased person's own vector finds only remaining persons
my $leaks = $node->safe_psql('postgres', qq{$settings
	SELECT count(*) FROM ($topk) x WHERE x.found % 2 = 0});
is($leaks, '0', 'no erased face returned by a gallery scan, even for its own vector');
my $erased_queries = $node->safe_psql('postgres', qq{$settings
	SELECT count(*) FROM (
		SELECT t.person_id, g.person_id AS found FROM truth t
		CROSS JOIN LATERAL (SELECT f.person_id FROM firstsight.face_p1 f
		                    ORDER BY f.face::firstsight.embedding(16) OPERATOR(firstsight.<=>) t.face LIMIT 1) g
		WHERE t.person_id % 2 = 0 AND t.person_id % 10 = 0) x WHERE x.found % 2 = 0});
is($erased_queries, '0', 'nearest neighbour of 10,000 erased vectors is never an erased face');
if ($indexed eq 't') {
	my $plan = $node->safe_psql('postgres', qq{$settings EXPLAIN (COSTS OFF) $topk});
	like($plan, qr/Index Scan/, 'the checks used the index');
}

my $recall_after = $node->safe_psql('postgres', qq{$settings
	WITH r AS (SELECT truth, bool_or(found = truth) AS hit FROM ($topk) x WHERE NOT erased GROUP BY truth)
	SELECT round(avg(hit::int), 4) FROM r});
diag("recall\@5 of the remaining persons after erasure and VACUUM: $recall_after");
cmp_ok($recall_after, '>=', $recall_before - 0.01, 'recall of the remaining persons kept');
cmp_ok($recall_after, '>=', 0.95, 'recall of the remaining persons at least 0.95');

# the remaining persons still match through ingestion's own gallery search
my $matched = $node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE g.person_id = p.person_id) FROM probe p,
	LATERAL firstsight.gallery_nearest(1, ARRAY[p.face]) g WHERE NOT p.erased});
my $remaining = $node->safe_psql('postgres', q{SELECT count(*) FROM probe WHERE NOT erased});
cmp_ok($matched, '>=', 0.95 * $remaining, "gallery_nearest finds $matched of $remaining remaining persons");
diag(sprintf('checks after VACUUM in %d s', time - $t_checks));

$node->stop;
done_testing();
