# FsDay: a day of a sales office for the restore and replica TAP tests, and
# the state they compare: rows of every firstsight table and sequence
# positions.  test/run puts test/perl on prove's include path.
package FsDay;

use strict;
use warnings;
use Exporter 'import';

use IPC::Run;

our @EXPORT = qw(fill_day table_state sequence_state security_state state_diff returning_capture_sql
  run_restore office_works);

# The day, in a database with the extension and nothing else: two projects
# (two gallery partitions with their HNSW indexes), a webhook, 40 visitors
# (every fourth comes back), bound ID card and phones, reports, receptions,
# three deals (one of them re-decided after a late reception: two
# attribution versions), consent, an erasure, an audited read, a retention
# run, deliveries delivered, failed and dead, the roles with a manager's
# grant.  Visitors' faces stay in public.visitor, so a test can make a face
# come back after a restore.  Times are relative to now (the day was 20 days
# ago, the deals 5 days ago), so nothing of the day is past its retention.
my $day_sql = q{
SET search_path = firstsight, public;
SELECT setseed(0.5);
SELECT create_project('Riverside sales office', 'Asia/Shanghai', 32);
SELECT create_project('Hillside sales office', 'Asia/Shanghai', 16);
INSERT INTO camera (project_id, camera_id, zone) VALUES
	(1, 'entrance-1', 'entrance'), (1, 'desk-1', 'sign_in'), (1, 'sand-1', 'sand_table'),
	(2, 'entrance-1', 'entrance');
INSERT INTO webhook (project_id, url) VALUES (1, 'https://apps.example.com/firstsight');
INSERT INTO consultant (project_id, name) VALUES (1, 'Wang'), (1, 'Li');
INSERT INTO channel (project_id, kind, name, commission_rate, protection_days)
	VALUES (1, 'agency', 'Lianjia', 0.03, 90), (1, 'agency', 'Woai', 0.02, 30);
INSERT INTO agent (project_id, channel_id, name)
	SELECT 1, channel_id, name || ' agent' FROM channel WHERE project_id = 1 AND kind = 'agency';
CREATE TABLE public.visitor AS
	SELECT v, l2_normalize(array_agg(random() - 0.5)::embedding) AS face, v % 4 = 0 AS comes_back
	FROM generate_series(1, 40) v, generate_series(1, 32) k GROUP BY v;
CREATE FUNCTION public.seen(f embedding) RETURNS embedding LANGUAGE sql VOLATILE
	AS $$ SELECT firstsight.l2_normalize(f OPERATOR(firstsight.+) (SELECT array_agg((random() - 0.5) * 0.02)::firstsight.embedding
	       FROM generate_series(1, firstsight.dims(f)) WHERE f IS NOT NULL)) $$;
CREATE TABLE public.day AS SELECT date_trunc('day', now() - interval '20 days') + interval '1 hour' AS morning;
-- morning: each visitor at the entrance and the desk, a photo at the desk
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked, photo)
SELECT 1, cam, d.morning + v * interval '5 minutes' + o * interval '2 minutes', seen(face), 0.8, false,
       CASE WHEN cam = 'desk-1' THEN '\xffd8ffe0'::bytea END
FROM visitor, day d, unnest(ARRAY['entrance-1', 'desk-1']) WITH ORDINALITY AS c(cam, o)
ORDER BY v, o;
-- afternoon: every fourth comes back
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
SELECT 1, 'sand-1', d.morning + interval '7 hours' + v * interval '1 minute', seen(face), 0.8, false
FROM visitor, day d WHERE comes_back;
-- the other office: a few faces of its own model
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
SELECT 2, 'entrance-1', d.morning + v * interval '3 minutes',
       l2_normalize(array_agg(random() - 0.5)::embedding), 0.7, false
FROM generate_series(1, 10) v, generate_series(1, 16) k, day d GROUP BY v, d.morning;
CREATE TABLE public.who AS
	SELECT v.v AS visitor, (SELECT c.person_id FROM capture c WHERE c.project_id = 1
	                        ORDER BY c.face <=> v.face LIMIT 1) AS person_id,
	       (SELECT max(c.capture_id) FROM capture c WHERE c.project_id = 1 AND c.camera_id = 'desk-1'
	        AND c.person_id = (SELECT c2.person_id FROM capture c2 WHERE c2.project_id = 1
	                           ORDER BY c2.face <=> v.face LIMIT 1)) AS desk_capture
	FROM visitor v;
SELECT bind_identity(1, (SELECT desk_capture FROM who WHERE visitor = 4), '11010519491231002X', '138 1234 8000');
SELECT bind_identity(1, (SELECT desk_capture FROM who WHERE visitor = w), NULL, '139 0000 00' || lpad(w::text, 2, '0'))
FROM unnest(ARRAY[8, 12]) w;
SELECT file_report(1, (SELECT min(agent_id) FROM agent WHERE project_id = 1), '13900000008', now());
SELECT file_report(1, (SELECT max(agent_id) FROM agent WHERE project_id = 1), '139****0012', now());
SELECT count(receive(1, v.visit_id, (SELECT min(consultant_id) FROM consultant WHERE project_id = 1),
                     CASE WHEN w.visitor = 8 THEN (SELECT min(agent_id) FROM agent WHERE project_id = 1) END))
FROM visit v JOIN who w ON w.person_id = v.person_id WHERE v.project_id = 1 AND NOT v.seen_before;
INSERT INTO deal (project_id, person_id, signed_at, price, channel_id, agent_id, consultant_id)
SELECT 1, w.person_id, now() - interval '5 days' + w.visitor * interval '1 minute', 2000000 + w.visitor * 1000,
       CASE WHEN w.visitor IN (8, 12) THEN (SELECT min(channel_id) FROM channel WHERE project_id = 1 AND kind = 'agency') END,
       CASE WHEN w.visitor IN (8, 12) THEN (SELECT min(agent_id) FROM agent WHERE project_id = 1) END,
       (SELECT min(consultant_id) FROM consultant WHERE project_id = 1)
FROM who w WHERE w.visitor IN (4, 8, 12);
-- a late reception change: deal of visitor 12 is decided again
SELECT receive(1, v.visit_id, (SELECT max(consultant_id) FROM consultant WHERE project_id = 1), NULL)
FROM visit v JOIN who w ON w.person_id = v.person_id WHERE v.project_id = 1 AND w.visitor = 12 AND NOT v.seen_before;
SELECT count(*) FROM reattribute(1, now() - interval '30 days', now());
SELECT record_consent(1, (SELECT person_id FROM who WHERE visitor = 4), true, 'kiosk', 'face,photo', 'form 17');
SELECT record_consent(1, (SELECT person_id FROM who WHERE visitor = 9), false, 'app', 'face', NULL);
SELECT erase_person(1, (SELECT person_id FROM who WHERE visitor = 3), 'visitor asked');
SELECT face_embedding(1, (SELECT desk_capture FROM who WHERE visitor = 4), 'restore test audit') IS NOT NULL;
SELECT enforce_retention();
UPDATE outbox_delivery SET attempts = 1, last_attempt_at = now(), last_status = 200, delivered_at = now() WHERE event_id % 3 = 0;
UPDATE outbox_delivery SET attempts = 2, last_attempt_at = now(), last_status = 503, last_error = 'HTTP 503' WHERE event_id % 3 = 1;
UPDATE outbox_delivery SET attempts = 12, last_attempt_at = now(), last_status = 500, dead = true WHERE event_id % 7 = 2;
SELECT setup_roles();
CREATE ROLE office_manager LOGIN IN ROLE firstsight_manager;
CREATE ROLE office_camera LOGIN IN ROLE firstsight_camera;
SELECT grant_project('office_manager', 1);
};

# fill $db of $node with the day (the extension created first)
sub fill_day
{
	my ($node, $db) = @_;
	$node->safe_psql($db, "CREATE EXTENSION firstsight;\n$day_sql", timeout => 180);
	return;
}

# one line per table of schema firstsight and of public (the gallery
# partitions included): name, rows, and an md5 of the sorted rows
sub table_state
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{
		SELECT string_agg(format('%s %s', c.oid::regclass,
		                         (xpath('/row/s/text()', query_to_xml(
		                             format('SELECT count(*) || '' '' || coalesce(md5(string_agg(t::text, '','' ORDER BY t::text)), ''-'') AS s FROM %s t',
		                                    c.oid::regclass), false, true, '')))[1]::text),
		                  E'\n' ORDER BY c.oid::regclass::text)
		FROM pg_class c
		WHERE c.relkind = 'r' AND c.relnamespace IN ('firstsight'::regnamespace, 'public'::regnamespace)});
}

# one line per sequence of schema firstsight: name, last value, is_called
sub sequence_state
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{
		SELECT string_agg(format('%s %s %s', s.schemaname || '.' || s.sequencename,
		                         coalesce(s.last_value::text, 'unset'),
		                         (xpath('/row/c/text()', query_to_xml(
		                             format('SELECT is_called AS c FROM %I.%I', s.schemaname, s.sequencename),
		                             false, true, '')))[1]::text), E'\n' ORDER BY s.sequencename)
		FROM pg_sequences s WHERE s.schemaname = 'firstsight'});
}

# the lines of two states that differ, or '' when they are the same
sub state_diff
{
	my ($a, $b) = @_;
	my %a = map { $_ => 1 } split /\n/, $a;
	my %b = map { $_ => 1 } split /\n/, $b;
	my @d = ((map { "- $_" } grep { !$b{$_} } sort keys %a), (map { "+ $_" } grep { !$a{$_} } sort keys %b));
	return join("\n", @d);
}

# a camera INSERT of visitor $v of the day coming back now (ingestion
# fills the row after the INSERT), then whether the capture got the
# visitor's person of the day, and its id
sub returning_capture_sql
{
	my ($v) = @_;
	return qq{
		INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
		SELECT 1, 'entrance-1', now(), public.seen(face), 0.8, false FROM public.visitor WHERE v = $v;
		SELECT c.person_id = w.person_id, c.capture_id FROM firstsight.capture c, public.who w
		WHERE c.project_id = 1 AND c.capture_id = currval('firstsight.capture_id_seq') AND w.visitor = $v};
}


# run a pg_dump, pg_restore or psql command line against $node, as a
# restoring DBA does: with PGOPTIONS='-c session_replication_role=replica'
# unless $origin; returns its exit code and its stderr
sub run_restore
{
	my ($node, $cmd, $origin) = @_;
	local %ENV = %ENV;
	$ENV{PGHOST} = $node->host;
	$ENV{PGPORT} = $node->port;
	$ENV{PGOPTIONS} = $origin ? '' : '-c session_replication_role=replica';
	my ($out, $err) = ('', '');
	IPC::Run::run($cmd, '>', \$out, '2>', \$err);
	return ($? >> 8, $err);
}

# one line per grant, policy and row-level security switch of schema
# firstsight: what setup_roles() made
sub security_state
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{
		SELECT string_agg(l, E'\n' ORDER BY l) FROM (
			SELECT format('relation %s acl %s rls %s', c.relname, coalesce(c.relacl, acldefault('r', c.relowner)), c.relrowsecurity) AS l
			FROM pg_class c WHERE c.relnamespace = 'firstsight'::regnamespace
			UNION ALL
			SELECT format('column %s.%s acl %s', c.relname, a.attname, a.attacl)
			FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
			WHERE c.relnamespace = 'firstsight'::regnamespace AND a.attacl IS NOT NULL
			UNION ALL
			SELECT format('function %s acl %s', p.oid::regprocedure, p.proacl)
			FROM pg_proc p WHERE p.pronamespace = 'firstsight'::regnamespace
			UNION ALL
			SELECT format('policy %s.%s %s %s %s %s', tablename, policyname, cmd, roles,
			              regexp_replace(qual, '\s+', ' ', 'g'), with_check)
			FROM pg_policies WHERE schemaname = 'firstsight') x});
}

# the checks of an office that keeps working after a restore into $db: the
# grants and row-level security back, the policies once setup_roles() runs
# again (a manager sees nothing before, their project after), both gallery indexes sound, rollups exact, the
# phone bound before the dump hashing the same, a returning face matched to
# its person and ids continuing past the restored ones; one test per check,
# named after $what
sub office_works
{
	my ($node, $db, $what, $security_before, $max_capture) = @_;
	# grants and the row-level security switch come back; the policies of
	# extension tables are not in a dump: until setup_roles() runs again a
	# manager sees no row (row-level security on, no policy), never all rows
	my $d = state_diff(join("\n", grep { !/^policy / } split /\n/, $security_before),
		join("\n", grep { !/^policy / } split /\n/, security_state($node, $db)));
	Test::More::is($d, '', "$what: grants and row-level security are restored") or Test::More::diag($d);
	my $seen = q{SELECT (SELECT count(*) FROM firstsight.person) || ' ' || (SELECT count(DISTINCT project_id) FROM firstsight.visit)};
	Test::More::is($node->safe_psql($db, "SET ROLE office_manager; $seen"), '0 0',
		"$what: before setup_roles() the manager of project 1 sees no row");
	$node->safe_psql($db, 'SELECT firstsight.setup_roles()');
	$d = state_diff($security_before, security_state($node, $db));
	Test::More::is($d, '', "$what: setup_roles() brings the policies back") or Test::More::diag($d);
	Test::More::is($node->safe_psql($db, "SET ROLE office_manager; $seen"),
		$node->safe_psql($db, q{SELECT (SELECT count(*) FROM firstsight.person WHERE project_id = 1) || ' 1'}),
		"$what: then the manager sees project 1's rows only");
	Test::More::is($node->safe_psql($db, q{
		SELECT count(*) FROM firstsight.index_check('firstsight.face_p1_hnsw')}) .
		$node->safe_psql($db, q{SELECT count(*) FROM firstsight.index_check('firstsight.face_p2_hnsw')}),
		'00', "$what: index_check finds no problem in either gallery index");
	Test::More::is($node->safe_psql($db, 'SELECT count(*) FROM firstsight.rollup_check()'), '0',
		"$what: rollups agree with the facts");
	Test::More::is($node->safe_psql($db, q{
		SELECT count(*) FROM firstsight.identity i
		WHERE i.phone_hash = firstsight.identity_hash('phone', firstsight.normalize_phone('139 0000 0008'))}),
		'1', "$what: the phone bound before the dump hashes the same");
	my ($same, $id) = split /\|/, $node->safe_psql($db, returning_capture_sql(5));
	Test::More::is($same, 't', "$what: a returning face matches its person of the day");
	Test::More::cmp_ok($id, '>', $max_capture, "$what: the new capture's id continues past the restored ones");
	return;
}

1;
