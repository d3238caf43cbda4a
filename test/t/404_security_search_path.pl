# Issue 14 item 2: a database owner who is not a superuser must not run code
# as the superuser through objects in `public`.  The operators and functions
# firstsight's code names are collected mechanically: every operator symbol
# and every name called as a function in the SQL text of firstsight's SQL and
# PL/pgSQL functions and procedures, and in the C query strings of the worker
# and the domain code, that pg_catalog also has.  For each, the database owner
# creates in `public` same-named shadows for the argument types one implicit
# cast away from pg_catalog's own (a better match than pg_catalog's when an
# argument has that type, as public.*(numeric,integer) is for numeric *
# integer).  Every shadow advances a sequence (not undone by a rollback),
# warns "shadow ran" and tries ALTER ROLE ... SUPERUSER.  Then the superuser,
# with the database's default search_path, runs ingestion (INSERT and COPY),
# attribution, consent, erasure, enforce_retention, CALL enforce_retention_all
# and setup_roles, and the background worker (connected to that database)
# delivers webhooks and runs retention.  No shadow may run.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FsWebhookReceiver;

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $node = PostgreSQL::Test::Cluster->new('shadow');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'firstsight'
firstsight.worker_database = 'shadowdb'
firstsight.webhook_allowed_hosts = '127.0.0.1:$port'
firstsight.worker_naptime = 3600
firstsight.webhook_retry_base = 100
firstsight.retention_interval = off
track_functions = 'all'
});
$node->start;
my $out = $node->basedir . '/received.jsonl';
my $rpid = start_receiver($port, $out);

# the victim's database belongs to an ordinary role; the superuser installs firstsight
$node->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN;
	CREATE DATABASE shadowdb OWNER mallory;
});
$node->safe_psql('shadowdb', qq{
	CREATE EXTENSION firstsight;
	SELECT firstsight.create_project('shadow', dims => 4);
	INSERT INTO firstsight.camera VALUES (1, 'c1', 'entrance');
	INSERT INTO firstsight.webhook (project_id, url, secret) VALUES (1, 'http://127.0.0.1:$port/a', 'secret-0123456789');
});

# --- the names, from the code's text ---------------------------------------
my $dir = $ENV{TESTDIR} // '.';
my $text = $node->safe_psql('shadowdb', q{
	SELECT string_agg(p.prosrc, E'\n') FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
	WHERE p.pronamespace = 'firstsight'::regnamespace AND l.lanname IN ('sql', 'plpgsql')});
for my $c (glob("$dir/src/worker/*.c"), glob("$dir/src/domain/*.c"))
{
	open(my $f, '<', $c) or die "$c: $!";
	local $/;
	my $src = <$f>;
	close $f;
	# C string literals (adjacent ones joined by the compiler; joining all is a superset)
	$text .= "\n" . join(' ', $src =~ /"((?:[^"\\\n]|\\.)*)"/g);
}
$text =~ s/--[^\n]*//g;
my %ops = map { $_ => 1 } ($text =~ /([-+*\/<>=~!@#%^&|`?]+)/g);
# an operator token may run into the next one (a<-b): take every prefix too
for my $o (keys %ops) { $ops{ substr($o, 0, $_) } = 1 for 1 .. length($o) - 1; }
my %fns = map { lc($_) => 1 } ($text =~ /\b([A-Za-z_][A-Za-z0-9_]*)\s*\(/g);
my $oplist = join(',', map { my $s = $_; $s =~ s/'/''/g; "'$s'" } sort keys %ops);
my $fnlist = join(',', map { "'$_'" } sort keys %fns);

# --- the shadows, made by the database owner ---------------------------------
# types an argument may have: pg_catalog's base types that firstsight's code
# handles, and firstsight's own (when the owner may name them)
my $made = $node->safe_psql('shadowdb', qq{
	SET ROLE mallory;
	SET search_path = pg_catalog, pg_temp;	-- the generator itself must not meet its shadows
	CREATE SEQUENCE public.shadow_seq;
	GRANT USAGE, SELECT, UPDATE ON SEQUENCE public.shadow_seq TO PUBLIC;
	CREATE TABLE public.shadow_made (kind text, name text, sig text);
	DO \$do\$
	DECLARE
		types regtype[] := ARRAY['int2', 'int4', 'int8', 'numeric', 'float4', 'float8', 'text', 'varchar', 'bpchar',
		                          'name', 'bool', 'oid', 'timestamptz', 'timestamp', 'date', 'time', 'interval',
		                          'jsonb', 'json', 'bytea', 'regclass', 'text[]', 'int8[]', 'int4[]']::regtype[];
		body text := \$b\$ BEGIN PERFORM pg_catalog.nextval('public.shadow_seq');
			RAISE WARNING 'shadow ran: %%', %L;
			BEGIN ALTER ROLE mallory SUPERUSER; EXCEPTION WHEN OTHERS THEN NULL; END;
			RETURN%s; END \$b\$;
		r record;
		n int := 0;
	BEGIN
		IF has_schema_privilege('firstsight', 'USAGE') THEN
			types := types || 'firstsight.embedding'::regtype;
		END IF;
		-- operators: each pg_catalog operator of a name the code uses, one side replaced
		FOR r IN
			WITH o AS (SELECT o.oprname, o.oprleft, o.oprright, o.oprresult FROM pg_operator o
			           WHERE o.oprnamespace = 'pg_catalog'::regnamespace AND o.oprname IN ($oplist)
			             AND (o.oprleft = 0 OR o.oprleft = ANY (types)) AND o.oprright = ANY (types)),
			     c AS (SELECT o.oprname, CASE WHEN o.oprleft = 0 THEN 0 ELSE t END AS l, o.oprright AS r, o.oprresult
			           FROM o, unnest(types) t
			           UNION SELECT o.oprname, o.oprleft, t, o.oprresult FROM o, unnest(types) t)
			SELECT DISTINCT ON (c.oprname, c.l, c.r) c.* FROM c
			WHERE NOT EXISTS (SELECT 1 FROM pg_operator x WHERE x.oprname = c.oprname AND x.oprleft = c.l AND x.oprright = c.r
			                  AND x.oprnamespace = 'pg_catalog'::regnamespace)
			  AND c.oprresult NOT IN ('anyelement'::regtype, 'anyarray'::regtype, 'anycompatible'::regtype,
			                          'anycompatiblearray'::regtype, 'anynonarray'::regtype, 'anyrange'::regtype,
			                          'anymultirange'::regtype)
			ORDER BY c.oprname, c.l, c.r
		LOOP
			n := n + 1;
			EXECUTE format('CREATE FUNCTION public.shadow_op_%s(%s) RETURNS %s LANGUAGE plpgsql AS %L', n,
				CASE WHEN r.l = 0 THEN r.r::regtype::text ELSE r.l::regtype || ', ' || r.r::regtype END,
				r.oprresult::regtype, format(body, format('%s(%s,%s)', r.oprname, r.l::regtype, r.r::regtype), ' NULL'));
			EXECUTE format('CREATE OPERATOR public.%s (%s RIGHTARG = %s, FUNCTION = public.shadow_op_%s)', r.oprname,
				CASE WHEN r.l = 0 THEN '' ELSE 'LEFTARG = ' || r.l::regtype || ',' END, r.r::regtype, n);
			INSERT INTO public.shadow_made VALUES ('operator', r.oprname, r.l::regtype || ',' || r.r::regtype);
		END LOOP;
		-- functions: each pg_catalog function of a name the code calls, one argument replaced
		FOR r IN
			WITH f AS (SELECT p.proname, p.proargtypes::oid[] AS args, p.prorettype, p.proretset FROM pg_proc p
			           WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname IN ($fnlist)
			             AND p.pronargs BETWEEN 1 AND 4 AND p.provariadic = 0
			             AND p.proargtypes::oid[] <@ types::oid[]
			             AND p.prorettype IN (SELECT oid FROM pg_type WHERE typtype <> 'p' OR typname IN ('void', 'record'))
			             AND NOT (p.prorettype = 'record'::regtype AND NOT p.proretset)),
			     c AS (SELECT f.proname, f.args[1:i - 1] || t::oid || f.args[i + 1:] AS args, f.prorettype, f.proretset
			           FROM f, generate_subscripts(f.args, 1) i, unnest(types) t)
			SELECT DISTINCT ON (c.proname, c.args) c.* FROM c
			WHERE NOT EXISTS (SELECT 1 FROM pg_proc x WHERE x.proname = c.proname AND x.proargtypes::oid[] = c.args
			                  AND x.pronamespace = 'pg_catalog'::regnamespace)
			ORDER BY c.proname, c.args
		LOOP
			IF r.prorettype = 'record'::regtype THEN
				CONTINUE;	-- a set of records needs a column list at every call: nothing firstsight's code could call
			END IF;
			EXECUTE format('CREATE FUNCTION public.%I(%s) RETURNS %s%s LANGUAGE plpgsql AS %L', r.proname,
				(SELECT string_agg(a::regtype::text, ', ' ORDER BY o) FROM unnest(r.args) WITH ORDINALITY u(a, o)),
				CASE WHEN r.proretset THEN 'SETOF ' ELSE '' END, r.prorettype::regtype,
				format(body, format('%s(%s)', r.proname, r.args::regtype[]),
				       CASE WHEN r.proretset OR r.prorettype = 'void'::regtype THEN '' ELSE ' NULL' END));
			INSERT INTO public.shadow_made VALUES ('function', r.proname, r.args::regtype[]::text);
		END LOOP;
	END
	\$do\$;
	SELECT count(*) FILTER (WHERE kind = 'operator') || ' ' || count(DISTINCT name) FILTER (WHERE kind = 'operator')
	       || ' ' || count(*) FILTER (WHERE kind = 'function') || ' ' || count(DISTINCT name) FILTER (WHERE kind = 'function')
	FROM public.shadow_made;
});
my ($nop, $nopname, $nfn, $nfnname) = split / /, $made;
diag("shadows: $nop operators of $nopname names, $nfn functions of $nfnname names");
ok($nopname >= 15 && $nfnname >= 30, "the owner made shadows for the code's operators ($nopname names) and functions ($nfnname names)");

# the shadows work: the same kind of statement a careless function would run picks one
my ($rc, $o, $e) = $node->psql('shadowdb', 'SELECT 2.5::numeric * 2');
like($e, qr/shadow ran: \*\(numeric,integer\)/, 'a statement with public on the search path runs the shadow *(numeric,integer)');
$node->safe_psql('postgres', q{ALTER ROLE mallory NOSUPERUSER});
$node->safe_psql('shadowdb', q{SELECT pg_catalog.setval('public.shadow_seq', 1, false)});
my $logstart = -s $node->logfile;

# --- the superuser runs firstsight with the default search_path --------------
my $day = '2024-03-01';
$node->safe_psql('shadowdb', qq{
	SHOW search_path;
	SELECT firstsight.setup_roles();
	SELECT firstsight.configure(1, 'match_distance', '0.2');
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, photo)
	VALUES (1, 'c1', now() - interval '3 days', '[1,0,0,0]', 0.9, false, '\\x0102'),
	       (1, 'c1', now() - interval '3 days' + interval '1 minute', '[1,0.01,0,0]', 0.8, true, NULL),
	       (1, 'c1', now() - interval '3 days', '[0,1,0,0]', 0.9, false, '\\x0304');
	COPY firstsight.capture (project_id, camera_id, captured_at, face, quality, masked) FROM STDIN;
1	c1	$day 10:00:00+08	[0,0,1,0]	0.7	f
1	c1	$day 10:00:05+08	[0,0,1,0.01]	0.7	f
1	c1	$day 11:30:00+08	[0,0,0,1]	0.9	t
\\.
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
	SELECT 1, 'c1', now() - interval '1 hour' + i::float8 * interval '1 second', ('[0.5,0.5,' || i::text || ',1]')::firstsight.embedding, 0.9, false
	FROM generate_series(1, 3) i;
	INSERT INTO firstsight.consultant (project_id, name) VALUES (1, 'Wang');
	INSERT INTO firstsight.channel (project_id, kind, name, commission_rate) VALUES (1, 'agency', 'Lianjia', 0.03);
	INSERT INTO firstsight.agent (project_id, channel_id, name)
	SELECT 1, channel_id, 'Zhao' FROM firstsight.channel WHERE kind = 'agency';
	INSERT INTO firstsight.deal (project_id, person_id, signed_at, price, channel_id, agent_id, consultant_id)
	SELECT 1, c.person_id, now() - interval '1 hour', 1500000.50, a.channel_id, a.agent_id, k.consultant_id
	FROM firstsight.capture c, firstsight.agent a, firstsight.consultant k
	WHERE c.captured_at = '$day 10:00:00+08';
	SELECT firstsight.record_consent(1, person_id, true, 'kiosk', 'face,photo', 'form 1')
	FROM firstsight.capture WHERE captured_at = '$day 11:30:00+08';
	SELECT firstsight.erase_person(1, person_id, 'request 7')
	FROM firstsight.capture WHERE face::text = '[0,1,0,0]';
	SELECT firstsight.enforce_retention(2);
	CALL firstsight.enforce_retention_all(batch_size => 3, share => 1);
	SELECT firstsight.emit_event(1, 'visitor.returned', 'person:1', '{"person_id": 1}');
});
my $done = $node->safe_psql('shadowdb', q{
	SELECT count(*) FROM firstsight.capture WHERE person_id IS NOT NULL});
is($done, '9', 'ingestion matched all 9 captures (INSERT and COPY)');
is($node->safe_psql('shadowdb', q{SELECT count(*) FROM firstsight.attribution}), '1', 'the deal was attributed');
ok($node->safe_psql('shadowdb', q{SELECT count(*) FROM firstsight.retention_log}) >= 1, 'retention erased something');

# the worker: retention on schedule and webhook delivery
$node->safe_psql('shadowdb', q{
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, photo)
	VALUES (1, 'c1', now() - interval '2 days', '[0.1,0.2,0.3,0.4]', 0.9, false, '\x0506')});
my $runs = $node->safe_psql('shadowdb', q{SELECT count(*) FROM firstsight.retention_log});
$node->append_conf('postgresql.conf', "firstsight.retention_interval = '1s'\n");
$node->reload;
ok($node->poll_query_until('shadowdb', qq{SELECT count(*) > $runs FROM firstsight.retention_log}),
	'the worker ran enforce_retention');
ok($node->poll_query_until('shadowdb', q{
	SELECT count(*) = 0 FROM firstsight.outbox_delivery WHERE delivered_at IS NULL AND NOT dead}),
	'the worker delivered every event');
is($node->safe_psql('shadowdb', q{SELECT count(*) FROM firstsight.outbox_delivery WHERE dead}), '0', 'none failed');

# --- no shadow ran --------------------------------------------------------------
is($node->safe_psql('shadowdb', q{SELECT is_called FROM public.shadow_seq}), 'f',
	'no shadow ran (the sequence a shadow advances was never called)');
my $log = slurp_file($node->logfile, $logstart);
my %ran = map { $_ => 1 } ($log =~ /shadow ran: ([^\n]+)/g);
is(join('; ', sort keys %ran), '', 'the server log names no shadow that ran');
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'the database owner is still not a superuser');

# the worker as a named role (firstsight.worker_role): a login role granted
# firstsight_worker by setup_roles, no superuser, does the same work
$node->safe_psql('postgres', q{CREATE ROLE fs_worker_login LOGIN IN ROLE firstsight_worker});
$node->append_conf('postgresql.conf', "firstsight.worker_role = 'fs_worker_login'\n");
$node->reload;
ok($node->poll_query_until('shadowdb', q{
	SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type LIKE 'firstsight%' AND usename = 'fs_worker_login'}),
	'with worker_role set the worker reconnects as that role');
$runs = $node->safe_psql('shadowdb', q{SELECT count(*) FROM firstsight.retention_log});
$node->safe_psql('shadowdb', q{
	INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked, photo)
	VALUES (1, 'c1', now() - interval '2 days', '[0.4,0.3,0.2,0.1]', 0.9, false, '\x0708')});
ok($node->poll_query_until('shadowdb', qq{SELECT count(*) > $runs FROM firstsight.retention_log}),
	'as that role the worker runs enforce_retention');
ok($node->poll_query_until('shadowdb', q{
	SELECT count(*) = 0 FROM firstsight.outbox_delivery WHERE delivered_at IS NULL AND NOT dead}),
	'and delivers every event');
is($node->safe_psql('shadowdb', q{SELECT is_called FROM public.shadow_seq}), 'f', 'still no shadow ran');

kill 'TERM', $rpid;
waitpid($rpid, 0);
done_testing();
