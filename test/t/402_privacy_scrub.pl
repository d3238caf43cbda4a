# Erased biometric bytes leave the data files (issue 14, item 8).  Faces with
# recognisable bytes (norm exactly 1, so the cosine gallery index stores the
# same floats) and photos with a per-person marker go in; after erase_person
# and VACUUM, pageinspect's get_raw_page still finds the erased faces and
# photos in the free space of capture, the gallery partition and the photo
# TOAST table, on the primary and on a streaming standby.  After
# scrub_biometrics (run by the privacy officer) no page of any heap, TOAST or
# index of capture and the gallery holds them, on the primary and, by replay
# of the scrub's WAL, on the standby; a retention run (enforce_retention_all)
# scrubs by itself what it erased; the kept persons' rows are intact and
# amcheck / index_check find nothing wrong; a second scrub writes nothing;
# and a crash right after a scrub replays it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "autovacuum = off\nfirstsight.retention_interval = off\n");
$primary->start;
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres', q{
	CREATE EXTENSION firstsight;
	ALTER DATABASE postgres SET search_path = public, firstsight;
});
$primary->safe_psql('postgres', q{
	CREATE EXTENSION pageinspect;
	CREATE EXTENSION amcheck;
	SELECT firstsight.setup_roles();
	CREATE ROLE officer LOGIN IN ROLE firstsight_privacy_officer;
	CREATE ROLE mallory LOGIN IN ROLE firstsight_analyst;	-- reads the BI views
	-- person n's face: +-0.5 (3 times) and +-0.25 (4 times), signs by n, on
	-- dimensions 7n..7n+6 of 40 (norm exactly 1, persons far apart)
	CREATE FUNCTION face_of(n int) RETURNS firstsight.embedding LANGUAGE sql AS $$
		SELECT ('[' || string_agg(CASE WHEN i / 7 = n THEN
		            (CASE WHEN (n >> (i % 7)) & 1 = 1 THEN -1 ELSE 1 END * CASE WHEN i % 7 < 3 THEN 0.5 ELSE 0.25 END)::text
		            ELSE '0' END, ',' ORDER BY i) || ']')::firstsight.embedding
		FROM generate_series(0, 39) i $$;
	-- the 28 bytes of person n's nonzero floats as stored: float4send is
	-- big-endian, the pages little-endian (x86-64 and aarch64)
	CREATE FUNCTION face_bytes(n int) RETURNS bytea LANGUAGE sql AS $$
		SELECT string_agg(substr(b, 4, 1) || substr(b, 3, 1) || substr(b, 2, 1) || substr(b, 1, 1), ''::bytea ORDER BY i)
		FROM (SELECT i, float4send(((face_of(n)::real[])[i + 1])) AS b FROM generate_series(7 * n, 7 * n + 6) i) f $$;
	-- a 4 kB photo: the person's marker, repeated (stored external, uncompressed)
	CREATE FUNCTION photo_of(n int) RETURNS bytea LANGUAGE sql AS $$
		SELECT convert_to(repeat(format('PHOTO-OF-PERSON-%s;', n), 200), 'UTF8') $$;
	-- pages of rel holding pattern
	CREATE FUNCTION pages_with(rel regclass, pattern bytea) RETURNS bigint LANGUAGE sql AS $$
		SELECT count(*) FROM generate_series(0, pg_relation_size(rel) / current_setting('block_size')::int - 1) b
		WHERE position(pattern IN get_raw_page(rel::text, 'main', b)) > 0 $$;
	-- every relation with pages of capture and the gallery: heap, TOAST, indexes
	CREATE FUNCTION biometric_relations() RETURNS SETOF regclass LANGUAGE sql AS $$
		WITH t AS (SELECT 'firstsight.capture'::regclass::oid AS oid
		           UNION ALL SELECT inhrelid FROM pg_inherits WHERE inhparent = 'firstsight.face'::regclass),
		     h AS (SELECT oid FROM t
		           UNION ALL SELECT c.reltoastrelid FROM pg_class c JOIN t USING (oid) WHERE c.reltoastrelid <> 0)
		SELECT oid::regclass FROM h
		UNION ALL SELECT i.indexrelid::regclass FROM pg_index i JOIN h ON i.indrelid = h.oid $$;
	-- pages holding the persons' face or photo bytes, by kind of relation
	CREATE FUNCTION leftovers(persons int[]) RETURNS text LANGUAGE sql AS $$
		SELECT string_agg(kind || '=' || pages, ' ' ORDER BY kind) FROM (
			SELECT CASE WHEN c.relkind = 'i' THEN a.amname WHEN c.relkind = 't' THEN 'toast' ELSE 'heap' END AS kind,
			       sum(pages_with(r, face_bytes(n)) + pages_with(r, convert_to(format('PHOTO-OF-PERSON-%s;', n), 'UTF8'))) AS pages
			FROM biometric_relations() r JOIN pg_class c ON c.oid = r LEFT JOIN pg_am a ON a.oid = c.relam
			CROSS JOIN unnest(persons) n
			GROUP BY 1) k $$;
	-- amcheck over every relation: heap and TOAST (verify_heapam), btree, embedding_hnsw
	CREATE FUNCTION check_all() RETURNS text LANGUAGE plpgsql AS $$
	DECLARE
		r regclass;
		am text;
		bad bigint := 0;
		n int := 0;
	BEGIN
		FOR r, am IN SELECT b, a.amname FROM biometric_relations() b JOIN pg_class c ON c.oid = b
		             LEFT JOIN pg_am a ON a.oid = c.relam LOOP
			n := n + 1;
			IF am = 'heap' THEN
				bad := bad + (SELECT count(*) FROM verify_heapam(r, check_toast => true));
			ELSIF am = 'btree' THEN
				PERFORM bt_index_check(r, true);
			ELSIF am = 'embedding_hnsw' THEN
				bad := bad + (SELECT count(*) FROM firstsight.index_check(r));
			END IF;
		END LOOP;
		RETURN format('%s relations, %s problems', n, bad);
	END $$;
});

# persons 0..3 seen an hour ago, person 4 forty days ago (already past the
# visitor's 30 days): three captures each, with photos.  No exemplar is held
# for the attribution windows (exemplar_hold, issue 15): this test is about
# the bytes retention erases, and a held exemplar is kept on purpose.
$primary->safe_psql('postgres', q{
	SELECT firstsight.create_project('Scrub', 'UTC', 40);
	SELECT firstsight.configure(1, 'exemplar_hold', 'off');
	INSERT INTO firstsight.camera VALUES (1, 'gate', 'entrance');
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, photo)
	SELECT 1, 'gate', now() - CASE WHEN n = 4 THEN interval '40 days' ELSE interval '1 hour' END + make_interval(mins => n * 3 + k),
	       face_of(n), 0.9, false, photo_of(n)
	FROM generate_series(0, 4) n, generate_series(0, 2) k ORDER BY n, k;
});
is($primary->safe_psql('postgres',
	'SELECT count(DISTINCT person_id) || \' persons, \' || count(*) || \' captures\' FROM firstsight.capture'),
	'5 persons, 15 captures', 'five persons planted');
my $planted = $primary->safe_psql('postgres', q{SELECT leftovers('{0,1,2,3,4}')});
like($planted, qr/^btree=0 embedding_hnsw=[1-9]\d* heap=[1-9]\d* toast=[1-9]\d*$/,
	"the pattern finder sees the planted faces and photos ($planted)");
my $kept_before = $primary->safe_psql('postgres', q{SELECT leftovers('{2,3}')});

# erasure by request, and VACUUM, as before
$primary->safe_psql('postgres', q{
	SELECT firstsight.erase_person(1, c.person_id, 'request 1')
	FROM (SELECT DISTINCT person_id FROM firstsight.capture WHERE face = face_of(0) OR face = face_of(1)) c;
	VACUUM firstsight.capture, firstsight.face;
});
my $erased = $primary->safe_psql('postgres', q{SELECT leftovers('{0,1}')});
like($erased, qr/heap=[1-9]/, "after erase_person and VACUUM the erased faces are still in heap pages ($erased)");
like($erased, qr/toast=[1-9]/, 'and the erased photos in TOAST pages');
$primary->wait_for_catchup($standby);
my $erased_standby = $standby->safe_psql('postgres', q{SELECT leftovers('{0,1}')});
like($erased_standby, qr/heap=[1-9]/, "so are they on the standby ($erased_standby)");

# who may scrub
my ($rc, $out, $err) = $primary->psql('postgres', 'SELECT * FROM firstsight.scrub_biometrics()',
	extra_params => ['-U', 'mallory']);
like($err, qr/permission denied for function scrub_biometrics/, 'a plain role cannot run scrub_biometrics');
($rc, $out, $err) = $primary->psql('postgres', q{SELECT * FROM firstsight.scrub_free_space('firstsight.capture')},
	extra_params => ['-U', 'mallory']);
like($err, qr/permission denied for function scrub_free_space/, 'nor scrub_free_space');
($rc, $out, $err) = $primary->psql('postgres', q{SELECT * FROM firstsight.scrub_free_space('firstsight.capture')},
	extra_params => ['-U', 'officer']);
like($err, qr/permission denied/, 'the privacy officer scrubs only through scrub_biometrics');

# the privacy officer scrubs
my $scrub = $primary->safe_psql('postgres',
	q{SELECT count(*) FILTER (WHERE pages_scrubbed > 0) || ' of ' || count(*) || ' relations' FROM firstsight.scrub_biometrics()},
	extra_params => ['-U', 'officer']);
like($scrub, qr/^[1-9]\d* of \d+ relations$/, "the privacy officer ran scrub_biometrics ($scrub)");
is($primary->safe_psql('postgres', q{SELECT leftovers('{0,1}')}), 'btree=0 embedding_hnsw=0 heap=0 toast=0',
	'after the scrub no page holds an erased face or photo');
is($primary->safe_psql('postgres', q{SELECT leftovers('{2,3}')}), $kept_before, 'the kept persons\' bytes are all still there');
is($primary->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE face = face_of(2) AND photo = photo_of(2)) || ' ' ||
	       count(*) FILTER (WHERE face = face_of(3) AND photo = photo_of(3)) || ' ' ||
	       count(*) FILTER (WHERE face IS NULL AND photo IS NULL AND erased_at IS NOT NULL)
	FROM firstsight.capture}), '3 3 6', 'kept captures intact, erased captures erased');
is($primary->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT count(*) FROM (SELECT person_id FROM firstsight.face_p1 ORDER BY face::firstsight.embedding(40) <=> face_of(2) LIMIT 3) s
	WHERE person_id = (SELECT person_id FROM firstsight.capture WHERE face = face_of(2) LIMIT 1)}), '1',
	'the gallery index still finds a kept person first');
like($primary->safe_psql('postgres', 'SELECT check_all()'), qr/^\d+ relations, 0 problems$/, 'amcheck and index_check find nothing');
is($primary->safe_psql('postgres', 'SELECT sum(pages_scrubbed) FROM firstsight.scrub_biometrics()'), '0',
	'a second scrub changes no page');

$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', q{SELECT leftovers('{0,1}')}), 'btree=0 embedding_hnsw=0 heap=0 toast=0',
	'the standby replayed the scrub: no page holds an erased face or photo');
is($standby->safe_psql('postgres', q{SELECT leftovers('{2,3}')}), $kept_before, 'and the kept persons\' bytes are there');
is($standby->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE face = face_of(2) AND photo = photo_of(2)) FROM firstsight.capture}), '3',
	'the standby reads the kept captures');
($rc, $out, $err) = $standby->psql('postgres', 'SELECT * FROM firstsight.scrub_biometrics()');
like($err, qr/cannot scrub during recovery/, 'a scrub on the standby is refused, not a PANIC');
($rc, $out, $err) = $primary->psql('postgres',
	'SET default_transaction_read_only = on; SELECT * FROM firstsight.scrub_biometrics()');
like($err, qr/cannot execute scrub_free_space\(\) in a read-only transaction/, 'nor in a read-only transaction');

# a retention run erases person 4 and scrubs what it erased without a VACUUM
# (the scrub prunes what no snapshot sees); the gallery index entry goes at
# the next VACUUM, and the scrub after it leaves nothing
$primary->safe_psql('postgres', 'CALL firstsight.enforce_retention_all()');
my $run = $primary->safe_psql('postgres', q{SELECT leftovers('{4}')});
like($run, qr/heap=0 toast=0$/, "enforce_retention_all scrubbed the expired faces and photos from heap and TOAST ($run)");
$primary->safe_psql('postgres', 'VACUUM firstsight.capture, firstsight.face');
$primary->safe_psql('postgres', 'SELECT firstsight.scrub_biometrics()');
is($primary->safe_psql('postgres', q{SELECT leftovers('{4}')}), 'btree=0 embedding_hnsw=0 heap=0 toast=0',
	'after VACUUM and a scrub nothing of the expired person is left');

# crash right after a scrub: recovery replays the scrubbed page images
$primary->safe_psql('postgres', q{
	CHECKPOINT;
	SELECT firstsight.erase_person(1, c.person_id, 'request 2')
	FROM (SELECT DISTINCT person_id FROM firstsight.capture WHERE face = face_of(2)) c;
	VACUUM firstsight.capture, firstsight.face;
});
like($primary->safe_psql('postgres', q{SELECT leftovers('{2}')}), qr/heap=[1-9]|toast=[1-9]/, 'person 2 erased, bytes in free space');
$primary->safe_psql('postgres', 'SELECT firstsight.scrub_biometrics()');
is($primary->safe_psql('postgres', q{SELECT leftovers('{2}')}), 'btree=0 embedding_hnsw=0 heap=0 toast=0',
	'scrubbed before the crash');
$primary->stop('immediate');
$primary->start;
is($primary->safe_psql('postgres', q{SELECT leftovers('{2}')}), 'btree=0 embedding_hnsw=0 heap=0 toast=0',
	'after a crash and recovery the scrub holds');
like($primary->safe_psql('postgres', 'SELECT check_all()'), qr/^\d+ relations, 0 problems$/, 'amcheck still finds nothing');
is($primary->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE face = face_of(3) AND photo = photo_of(3)) FROM firstsight.capture}), '3',
	'person 3 intact after recovery');

done_testing();
