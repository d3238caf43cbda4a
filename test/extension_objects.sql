-- test/extension_objects.sql: every object of the firstsight extension with
-- its full definition, one sorted line each, so that two databases (a fresh
-- install and an upgraded one) can be compared with diff.  Covers functions
-- (definition, owner, grants, settings), tables (columns, defaults,
-- constraints, indexes, storage options, RLS), views, triggers, policies,
-- sequences, types, operators, casts, comments, event triggers, the
-- extension's own tables' configuration and the rows of its setting tables,
-- and what setup_roles() grants on them.  Per-project gallery partitions
-- (face_pN, made by create_project) are left out: they are data.
\pset format unaligned
\pset tuples_only on
\pset pager off
WITH members AS (
	SELECT d.classid, d.objid, d.objsubid
	FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'firstsight' AND d.deptype = 'e'
),
rels AS (
	SELECT c.oid, c.relname, c.relkind FROM pg_class c
	WHERE c.relnamespace = 'firstsight'::regnamespace
	  -- a project's gallery partition and its index are the project's, not the extension's
	  AND c.relname !~ '^face_p[0-9]+(_|$)'
),
lines AS (
	-- every member, described
	SELECT 'member ' || pg_describe_object(classid, objid, objsubid) AS l FROM members
	UNION ALL
	-- functions and procedures: full definition, owner, grants
	SELECT 'function ' || p.oid::regprocedure::text || E'\n' ||
	       CASE WHEN p.prokind = 'a' THEN 'aggregate' ELSE pg_get_functiondef(p.oid) END ||
	       E'\n  owner ' || pg_get_userbyid(p.proowner) || ' acl ' || coalesce(p.proacl::text, 'default') ||
	       ' leakproof ' || p.proleakproof || ' parallel ' || p.proparallel::text || ' cost ' || p.procost
	FROM pg_proc p WHERE p.pronamespace = 'firstsight'::regnamespace
	UNION ALL
	-- relations: kind, owner, options, grants, RLS
	SELECT 'relation ' || r.relname || ' kind ' || c.relkind::text || ' owner ' || pg_get_userbyid(c.relowner) ||
	       ' acl ' || coalesce(c.relacl::text, 'default') || ' options ' || coalesce(c.reloptions::text, '') ||
	       ' rls ' || c.relrowsecurity || ' force ' || c.relforcerowsecurity || ' persistence ' || c.relpersistence::text ||
	       ' replident ' || c.relreplident::text
	FROM rels r JOIN pg_class c ON c.oid = r.oid
	UNION ALL
	-- columns (types, defaults, not null, storage, column grants)
	SELECT 'column ' || r.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ||
	       CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ||
	       coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '') || ' storage ' || a.attstorage::text ||
	       ' acl ' || coalesce(a.attacl::text, 'default') || ' generated ' || a.attgenerated::text || ' identity ' || a.attidentity::text
	FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
	LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
	UNION ALL
	-- constraints
	SELECT 'constraint ' || r.relname || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
	FROM rels r JOIN pg_constraint co ON co.conrelid = r.oid
	UNION ALL
	-- indexes
	SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM rels r JOIN pg_index i ON i.indrelid = r.oid
	UNION ALL
	-- views
	SELECT 'view ' || r.relname || E'\n' || pg_get_viewdef(r.oid, true) FROM rels r WHERE r.relkind IN ('v', 'm')
	UNION ALL
	-- triggers
	SELECT 'trigger ' || pg_get_triggerdef(t.oid, true) || ' enabled ' || t.tgenabled::text
	FROM pg_trigger t JOIN rels r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
	UNION ALL
	-- row-level security policies
	SELECT 'policy ' || tablename || ' ' || policyname || ' ' || permissive || ' ' || roles::text || ' ' || cmd ||
	       ' using ' || coalesce(qual, '') || ' check ' || coalesce(with_check, '')
	FROM pg_policies WHERE schemaname = 'firstsight'
	UNION ALL
	-- sequences (not their current value: that is data)
	SELECT 'sequence ' || s.seqrelid::regclass::text || ' ' || format_type(s.seqtypid, NULL) || ' start ' || s.seqstart ||
	       ' inc ' || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' || s.seqcache ||
	       ' cycle ' || s.seqcycle
	FROM pg_sequence s JOIN rels r ON r.oid = s.seqrelid
	UNION ALL
	-- types
	SELECT 'type ' || t.oid::regtype::text || ' ' || t.typtype::text || ' len ' || t.typlen || ' align ' || t.typalign::text ||
	       ' storage ' || t.typstorage::text || ' owner ' || pg_get_userbyid(t.typowner) || ' acl ' || coalesce(t.typacl::text, 'default')
	FROM pg_type t WHERE t.typnamespace = 'firstsight'::regnamespace
	  AND (t.typrelid = 0 OR t.typrelid IN (SELECT oid FROM rels))
	  AND NOT (t.typelem <> 0 AND t.typname ~ '^_face_p[0-9]+')
	UNION ALL
	-- operators
	SELECT 'operator ' || o.oid::regoperator::text || ' ' || o.oprcode::text || ' commutator ' || o.oprcom::regoperator::text ||
	       ' negator ' || o.oprnegate::regoperator::text || ' restrict ' || o.oprrest::text || ' join ' || o.oprjoin::text
	FROM pg_operator o WHERE o.oprnamespace = 'firstsight'::regnamespace
	UNION ALL
	-- operator classes and their members
	SELECT 'opclass ' || am.amname || ' ' || oc.opcname || ' default ' || oc.opcdefault || ' ' ||
	       coalesce((SELECT string_agg('op ' || ao.amopstrategy || ' ' || ao.amopopr::regoperator::text || ' ' || ao.amoppurpose::text, ', ' ORDER BY ao.amopstrategy)
	                 FROM pg_amop ao WHERE ao.amopfamily = oc.opcfamily), '') || ' ' ||
	       coalesce((SELECT string_agg('proc ' || ap.amprocnum || ' ' || ap.amproc::regprocedure::text, ', ' ORDER BY ap.amprocnum)
	                 FROM pg_amproc ap WHERE ap.amprocfamily = oc.opcfamily), '')
	FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod WHERE oc.opcnamespace = 'firstsight'::regnamespace
	UNION ALL
	-- casts involving the extension's types
	SELECT 'cast ' || format_type(c.castsource, NULL) || ' -> ' || format_type(c.casttarget, NULL) || ' ' ||
	       coalesce(c.castfunc::regprocedure::text, 'binary') || ' ' || c.castcontext::text || ' ' || c.castmethod::text
	FROM pg_cast c JOIN members m ON m.classid = 'pg_cast'::regclass AND m.objid = c.oid
	UNION ALL
	-- event triggers
	SELECT 'event trigger ' || evtname || ' ' || evtevent || ' ' || evtfoid::regproc::text || ' ' || evtenabled::text ||
	       ' ' || coalesce(evttags::text, '')
	FROM pg_event_trigger e JOIN members m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = e.oid
	UNION ALL
	-- comments on anything in the schema
	SELECT 'comment ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || d.description
	FROM pg_description d
	WHERE (d.classoid = 'pg_proc'::regclass AND d.objoid IN (SELECT oid FROM pg_proc WHERE pronamespace = 'firstsight'::regnamespace))
	   OR (d.classoid = 'pg_class'::regclass AND d.objoid IN (SELECT oid FROM rels))
	   OR (d.classoid = 'pg_type'::regclass AND d.objoid IN (SELECT oid FROM pg_type WHERE typnamespace = 'firstsight'::regnamespace))
	   OR (d.classoid = 'pg_operator'::regclass AND d.objoid IN (SELECT oid FROM pg_operator WHERE oprnamespace = 'firstsight'::regnamespace))
	UNION ALL
	-- the extension's configuration: which tables pg_dump dumps, with their filters
	SELECT 'config ' || c::regclass::text || ' ' || coalesce(e.extcondition[i], '')
	FROM pg_extension e, unnest(e.extconfig) WITH ORDINALITY AS x(c, i) WHERE e.extname = 'firstsight'
	UNION ALL
	-- the rows the extension itself installs (settings and their defaults, retention defaults)
	SELECT 'setting ' || row_to_json(s)::text FROM firstsight.setting_definition s
	UNION ALL
	SELECT 'retention default ' || row_to_json(r)::text FROM firstsight.retention_default r
	UNION ALL
	-- the access method
	SELECT 'access method ' || amname || ' ' || amhandler::text || ' ' || amtype::text FROM pg_am WHERE amname = 'embedding_hnsw'
	UNION ALL
	-- the schema's own grants
	SELECT 'schema firstsight owner ' || pg_get_userbyid(nspowner) || ' acl ' || coalesce(nspacl::text, 'default')
	FROM pg_namespace WHERE nspname = 'firstsight'
	UNION ALL
	SELECT 'extension ' || extname || ' ' || extversion || ' relocatable ' || extrelocatable
	FROM pg_extension WHERE extname = 'firstsight'
)
SELECT l FROM lines ORDER BY l COLLATE "C";
