-- Headquarters on Citus (docs/scale-out.md).  A Citus coordinator with
-- firstsight (created there, Citus puts it on the workers) places every table
-- with citus_distribute(): the facts distributed by project_id and colocated,
-- the small tables without a project as reference tables.  Logical replication
-- from the offices cannot write into a distributed table (the apply worker
-- writes the coordinator's shell table, which queries never read), so
-- citus_hq_forwarding() puts a forwarding trigger (ENABLE ALWAYS) on each
-- published table: the shell table is the local staging table, and each row
-- the apply worker writes there is written again, by an ordinary statement,
-- into the shards.  Nothing here runs unless called, and nothing needs Citus
-- until then.

-- where each table of firstsight goes on a Citus cluster, and why
CREATE OR REPLACE FUNCTION citus_table_plan()
	RETURNS TABLE (table_name regclass, placement text, reason text)
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT c.oid::regclass,
	       CASE WHEN r.reason IS NOT NULL OR a.attname IS NULL THEN 'reference' ELSE 'distributed' END,
	       coalesce(r.reason, CASE WHEN a.attname IS NULL THEN 'no project_id: one copy on every node'
	                               ELSE 'facts of one project: distributed by project_id, colocated with capture' END)
	FROM pg_class c
	LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'project_id' AND NOT a.attisdropped
	LEFT JOIN (VALUES
		('project', 'one row per office, joined by every view: a copy on every node joins with any shard'),
		('project_access', 'the per-project grants the policies read: the policy function reads the copy on its own node'),
		('camera_access', 'cameras'' grants, read by the camera policy on every node'),
		('channel_access', 'agency portals'' grants, read by their policy on every node (its key is the role)'),
		('retention_log', 'no project_id: one row per retention sweep of the cluster'),
		('subject_request_log', 'the privacy officer''s requests: a lookup by phone or ID card spans projects (its key is the request)'),
		('setting_definition', 'the extension''s own rows, read with every project''s settings'),
		('label', 'the extension''s own rows: names of rule, flag and worklist codes, read with any project''s rows'),
		('retention_default', 'the extension''s own rows'),
		('hash_key', 'one key for the whole cluster (each node would draw its own)'),
		('group_key', 'one group key for the whole cluster')) r(t, reason) ON r.t = c.relname
	WHERE c.relnamespace = 'firstsight'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
	$$;
COMMENT ON FUNCTION citus_table_plan() IS 'where each table goes on a Citus cluster (distributed by project_id or reference) and why';

-- at a Citus coordinator, as the owner: place every table as citus_table_plan()
-- says (tables already placed are left alone), reference tables first, then
-- the distributed ones in the order their foreign keys need; give the tables
-- without a primary key (two rollups, keyed by a nullable agent) REPLICA
-- IDENTITY FULL so that online shard moves can replicate their updates.
-- Returns what it did.  Needs citus.enable_unsafe_triggers = on (the tables
-- carry triggers) in postgresql.conf of every node.
CREATE OR REPLACE FUNCTION citus_distribute()
	RETURNS TABLE (table_name regclass, placement text, done text)
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	t regclass;
	how text;
	g text;
	fks text[];
	first_dist regclass;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
			MESSAGE = 'citus is not installed in this database',
			HINT = 'Run this at a Citus coordinator, after CREATE EXTENSION citus and citus_add_node for each worker.';
	END IF;
	IF current_setting('citus.enable_unsafe_triggers') <> 'on' THEN
		RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
			MESSAGE = 'citus.enable_unsafe_triggers is off',
			DETAIL = 'The tables of firstsight carry triggers, which Citus distributes only with that setting.',
			HINT = 'Set citus.enable_unsafe_triggers = on in postgresql.conf of the coordinator and of every worker.';
	END IF;
	-- foreign keys to reference tables: Citus needs one connection per node for the whole transaction
	PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
	-- replica identities for shard moves
	FOR t IN SELECT c.oid FROM pg_class c
	         WHERE c.relnamespace = 'firstsight'::regnamespace AND c.relkind = 'r' AND c.relreplident = 'd'
	           AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) LOOP
		EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', t);
		table_name := t; placement := 'replica identity'; done := 'REPLICA IDENTITY FULL (no primary key)';
		RETURN NEXT;
	END LOOP;
	-- Citus turns every local table a foreign key ties to a new reference table
	-- into a "citus local table", which an extension's views forbid: the
	-- foreign keys between tables not yet placed are set aside and made again
	-- once every table is placed (distributed to distributed by project_id,
	-- or to a reference table, both of which Citus keeps)
	-- (a reference table's key to a distributed one cannot be kept: left out)
	SELECT array_agg(format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname,
	                        pg_get_constraintdef(k.oid)) ORDER BY k.conrelid::regclass::text, k.conname)
	INTO fks FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
	WHERE k.contype = 'f' AND c.relnamespace = 'firstsight'::regnamespace
	  AND NOT EXISTS (SELECT 1 FROM citus_table_plan() a, citus_table_plan() b
	                  WHERE a.table_name = k.conrelid AND a.placement = 'reference'
	                    AND b.table_name = k.confrelid AND b.placement = 'distributed')
	  AND NOT (EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = k.conrelid)
	           AND EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = k.confrelid));
	FOR t, g IN SELECT k.conrelid::regclass, k.conname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
	            WHERE k.contype = 'f' AND c.relnamespace = 'firstsight'::regnamespace
	              AND NOT (EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = k.conrelid)
	                       AND EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = k.confrelid))
	              AND k.conparentid = 0 LOOP
		EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', t, g);
		-- the workers' copies of the extension's tables have it too (Citus
		-- keeps them as the tables' shells and would find it there twice)
		EXECUTE format('SELECT run_command_on_workers(%L)', format('ALTER TABLE firstsight.%I DROP CONSTRAINT IF EXISTS %I', (SELECT c.relname FROM pg_class c WHERE c.oid = t), g));
	END LOOP;
	FOR t IN SELECT p.table_name FROM citus_table_plan() p
	         WHERE p.placement = 'reference' AND NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = p.table_name)
	         ORDER BY p.table_name::text LOOP
		EXECUTE format('SELECT create_reference_table(%L)', t);
		table_name := t; placement := 'reference'; done := 'create_reference_table';
		RETURN NEXT;
	END LOOP;
	SELECT d.logicalrelid INTO first_dist FROM pg_dist_partition d
	WHERE d.logicalrelid = 'firstsight.capture'::regclass AND d.partmethod = 'h';
	IF first_dist IS NULL THEN
		EXECUTE format('SELECT create_distributed_table(%L, %L)', 'firstsight.capture', 'project_id');
		first_dist := 'firstsight.capture'::regclass;
		table_name := first_dist; placement := 'distributed'; done := 'by project_id';
		RETURN NEXT;
	END IF;
	FOR t IN SELECT p.table_name FROM citus_table_plan() p
	         WHERE p.placement = 'distributed' AND NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = p.table_name)
	         ORDER BY p.table_name::text LOOP
		EXECUTE format('SELECT create_distributed_table(%L, %L, colocate_with => %L)', t, 'project_id', first_dist::text);
		table_name := t; placement := 'distributed'; done := format('by project_id, colocated with %s', first_dist);
		RETURN NEXT;
	END LOOP;
	FOREACH g IN ARRAY coalesce(fks, '{}') LOOP
		EXECUTE g;
	END LOOP;
	IF cardinality(fks) > 0 THEN
		table_name := NULL; placement := 'foreign keys'; done := format('%s made again', cardinality(fks));
		RETURN NEXT;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION citus_distribute() FROM PUBLIC;
COMMENT ON FUNCTION citus_distribute() IS
	'at a Citus coordinator: distribute the facts by project_id (colocated), make the small tables reference tables (citus_table_plan)';

-- the forwarding trigger of headquarters on Citus: a row the subscription's
-- apply worker wrote into the coordinator's shell table (TG_ARGV[0]) is
-- written into the distributed table by an ordinary one-shard statement; the
-- shell keeps its copy, so that later updates and deletes from the office
-- find it.  The trigger is on the distributed table, so Citus puts it on each
-- shard too: there it does nothing (the row is already where it belongs).
CREATE OR REPLACE FUNCTION citus_forward() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	target regclass := TG_ARGV[0]::regclass;
	cols text;
	sets text;
	keys text;
BEGIN
	IF TG_RELID <> target THEN
		RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	END IF;
	SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
	       string_agg(format('(($1).%I)', a.attname), ', ' ORDER BY a.attnum),
	       string_agg(format('%1$I = ($1).%1$I', a.attname), ', ' ORDER BY a.attnum)
	           FILTER (WHERE a.attname <> 'project_id')
	INTO cols, keys, sets
	FROM pg_attribute a WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped;
	IF TG_OP = 'INSERT' THEN
		EXECUTE format('INSERT INTO %s AS t (%s) VALUES (%s)', target, cols, keys) USING NEW;
		RETURN NEW;
	END IF;
	-- the row as the office had it: its primary key
	SELECT string_agg(format('t.%1$I = ($2).%1$I', a.attname), ' AND ') INTO keys
	FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
	WHERE i.indrelid = target AND i.indisprimary;
	IF TG_OP = 'UPDATE' THEN
		EXECUTE format('UPDATE %s AS t SET %s WHERE %s', target, sets, keys) USING NEW, OLD;
		RETURN NEW;
	END IF;
	EXECUTE format('DELETE FROM %s AS t WHERE %s', target, keys) USING NULL::text, OLD;
	RETURN OLD;
END
$$;
REVOKE ALL ON FUNCTION citus_forward() FROM PUBLIC;

-- at headquarters on Citus, as the owner, after citus_distribute() and before
-- the subscriptions: the forwarding trigger on every published table, and the
-- triggers that fire for cameras and apps only (ENABLE ORIGIN) disabled on the
-- distributed tables: forwarded rows reach the shards through ordinary
-- connections, where session_replication_role is origin, and headquarters
-- runs no ingestion, attribution or history for replicated rows (as a plain
-- PostgreSQL headquarters, whose apply runs as replica).  The guards that
-- fire always (append-only records, the capture guard) stay.  The foreign
-- keys are dropped: the offices checked them, and the initial copy of a
-- subscription copies the tables in any order (a plain headquarters does not
-- check them either).  Run it again after ALTER EXTENSION firstsight UPDATE
-- (the update re-creates triggers).
CREATE OR REPLACE FUNCTION citus_hq_forwarding()
	RETURNS TABLE (table_name regclass, forwarding text, triggers_disabled text[], foreign_keys_dropped text[])
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	t regclass;
	off text[];
	fks text[];
	g text;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')
	   OR NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = 'firstsight.capture'::regclass) THEN
		RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
			MESSAGE = 'firstsight is not distributed on Citus here',
			HINT = 'Run firstsight.citus_distribute() at the coordinator first.';
	END IF;
	PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
	FOR t IN SELECT d.logicalrelid FROM pg_dist_partition d
	         JOIN pg_class c ON c.oid = d.logicalrelid
	         WHERE c.relnamespace = 'firstsight'::regnamespace ORDER BY d.logicalrelid::text LOOP
		SELECT array_agg(tg.tgname ORDER BY tg.tgname) INTO off FROM pg_trigger tg
		WHERE tg.tgrelid = t AND NOT tg.tgisinternal AND tg.tgenabled = 'O' AND tg.tgname <> 'citus_forward';
		FOREACH g IN ARRAY coalesce(off, '{}') LOOP
			EXECUTE format('ALTER TABLE %s DISABLE TRIGGER %I', t, g);
		END LOOP;
		SELECT array_agg(k.conname ORDER BY k.conname) INTO fks FROM pg_constraint k
		WHERE k.conrelid = t AND k.contype = 'f' AND k.conparentid = 0;
		FOREACH g IN ARRAY coalesce(fks, '{}') LOOP
			EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', t, g);
		END LOOP;
		table_name := t; triggers_disabled := coalesce(off, '{}'); forwarding := NULL; foreign_keys_dropped := coalesce(fks, '{}');
		IF t IN (SELECT f.table_name FROM facts_publication_tables() f) THEN
			EXECUTE format('CREATE OR REPLACE TRIGGER citus_forward BEFORE INSERT OR UPDATE OR DELETE ON %s
			                FOR EACH ROW EXECUTE FUNCTION firstsight.citus_forward(%L)', t, t::text);
			EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER citus_forward', t);
			forwarding := 'citus_forward';
		END IF;
		RETURN NEXT;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION citus_hq_forwarding() FROM PUBLIC;
COMMENT ON FUNCTION citus_hq_forwarding() IS
	'at headquarters on Citus: forwarding triggers from the subscription to the shards, origin-only triggers disabled, foreign keys dropped';
