-- Central ingestion on Citus (docs/scale-out.md, "Central ingestion on
-- Citus"): cameras of many projects insert into one Citus cluster.  Citus runs
-- a statement's triggers on the shards, where the capture triggers cannot
-- query the other tables, so on Citus a camera calls ingest_capture(), a
-- function distributed by its project id and colocated with capture: Citus
-- sends the call to the worker that holds the project's shards, and there
-- the function inserts the capture and runs ingestion's work (ingest_batch)
-- explicitly, with statements on the project's shards only, and ids drawn
-- from the project's own counters (project_counter).  On plain PostgreSQL the
-- same function is an INSERT through the capture triggers, as a camera's.

-- true in a database where capture is a Citus distributed table
CREATE OR REPLACE FUNCTION ingest_on_citus() RETURNS boolean
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
		RETURN false;
	END IF;
	RETURN EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition d WHERE d.logicalrelid = 'firstsight.capture'::regclass);
END
$$;
COMMENT ON FUNCTION ingest_on_citus() IS 'true where capture is a Citus distributed table (central ingestion draws ids from project_counter)';

-- a project's counter of one kind of id (capture, person, visit): adds
-- advance to it and returns its value before; a counter not yet made starts
-- after the largest id the project already has
CREATE OR REPLACE FUNCTION project_counter_next(p_project_id bigint, p_counter text, advance bigint) RETURNS bigint
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	v bigint;
BEGIN
	UPDATE project_counter k SET value = k.value + advance
	WHERE k.project_id = p_project_id AND k.counter = p_counter RETURNING k.value - advance INTO v;
	IF v IS NULL THEN
		EXECUTE format('SELECT coalesce(max(%I), 0) FROM firstsight.%I WHERE project_id = $1', p_counter || '_id', p_counter)
			INTO v USING p_project_id;
		INSERT INTO project_counter (project_id, counter, value) VALUES (p_project_id, p_counter, v)
		ON CONFLICT DO NOTHING;
		UPDATE project_counter k SET value = k.value + advance
		WHERE k.project_id = p_project_id AND k.counter = p_counter RETURNING k.value - advance INTO v;
	END IF;
	RETURN v;
END
$$;
REVOKE ALL ON FUNCTION project_counter_next(bigint, text, bigint) FROM PUBLIC;
COMMENT ON FUNCTION project_counter_next(bigint, text, bigint) IS
	'advance a project''s id counter (central ingestion on Citus) and return its value before';

-- one capture, ingested: what a camera's one-row INSERT does, returning what
-- ingestion decided.  The caller must be allowed to insert captures (the
-- capture columns a camera inserts) and, a camera, into this project
-- (grant_camera).  The checks are of the login role (session_user): a camera
-- logs in as itself, and a role that switched to a lesser one keeps no more
-- than its own rights.
CREATE OR REPLACE FUNCTION ingest_capture(p_project_id bigint, p_camera_id text, p_captured_at timestamptz,
                                          p_face embedding, p_quality real, p_masked boolean DEFAULT false,
                                          p_photo bytea DEFAULT NULL)
	RETURNS TABLE (capture_id bigint, person_id bigint, visit_id bigint, match_distance float8, match_kind text,
	               match_low_confidence boolean, expires_at timestamptz)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	who name := session_user;
	nested text;
	id bigint;
	bad record;
BEGIN
	IF NOT (has_column_privilege(who, 'firstsight.capture', 'face', 'INSERT')
	        AND has_column_privilege(who, 'firstsight.capture', 'project_id', 'INSERT')) THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = format('role "%s" may not insert captures', who),
			HINT = 'Cameras are members of firstsight_camera (firstsight.setup_roles).';
	END IF;
	PERFORM require_camera_projects(who, ARRAY[p_project_id]);
	IF NOT ingest_on_citus() THEN
		-- plain PostgreSQL: the camera's INSERT, matched by the capture triggers
		RETURN QUERY
		INSERT INTO capture AS x (project_id, camera_id, captured_at, face, quality, masked, photo)
		VALUES (p_project_id, p_camera_id, p_captured_at, p_face, p_quality, p_masked, p_photo)
		RETURNING x.capture_id, x.person_id, x.visit_id, x.match_distance, x.match_kind, x.match_low_confidence, x.expires_at;
		RETURN;
	END IF;
	-- Citus: on the worker of the project's shards; the checks of the capture
	-- triggers (capture_reject's errors), without a whole-row argument (a
	-- shard's row type is not the table's)
	SELECT p_project_id AS project_id, NULL::bigint AS capture_id, p_camera_id AS camera_id, p_captured_at AS captured_at,
	       p_quality AS quality, p_masked AS masked, NULL::bigint AS person_id, NULL::bigint AS visit_id,
	       NULL::float8 AS match_distance,
	       p_face IS NULL AS no_face, CASE WHEN p_face IS NOT NULL THEN dims(p_face) END AS face_dims,
	       face_norm_problem(p_face) AS norm_problem,
	       p.dims, coalesce(s.value, CASE WHEN p.dims <= 128 AND d.small_dims_default IS NOT NULL
	                                      THEN d.small_dims_default ELSE d.default_value END)::interval AS skew,
	       p.project_id IS NOT NULL AS has_project,
	       EXISTS (SELECT 1 FROM camera c WHERE c.project_id = p_project_id AND c.camera_id = p_camera_id) AS has_camera
	INTO bad
	FROM (SELECT 1) one
	LEFT JOIN project p ON p.project_id = p_project_id
	LEFT JOIN setting_definition d ON d.setting = 'max_clock_skew'
	LEFT JOIN project_setting s ON s.project_id = p_project_id AND s.setting = 'max_clock_skew';
	IF NOT bad.has_project OR NOT bad.has_camera OR bad.no_face OR bad.face_dims <> bad.dims
	   OR bad.norm_problem IS NOT NULL
	   OR p_captured_at IS NULL OR p_captured_at > statement_timestamp() + bad.skew
	   OR p_quality IS NULL OR NOT (p_quality >= 0 AND p_quality <= 1) OR p_masked IS NULL THEN
		PERFORM capture_reject(bad);
	END IF;
	-- the row triggers of the tables ingestion writes (the gallery's
	-- face_expiry, person_expiry) read other tables of the project: on the
	-- shards Citus refuses that unless nested execution is allowed, which is
	-- exact here (every statement reads this project's shards or a
	-- reference table, all on this node, in this transaction); for this call only
	nested := current_setting('citus.allow_nested_distributed_execution');
	PERFORM set_config('citus.allow_nested_distributed_execution', 'on', true);
	id := project_counter_next(p_project_id, 'capture', 1) + 1;
	INSERT INTO capture (project_id, capture_id, camera_id, captured_at, face, quality, masked, photo)
	VALUES (p_project_id, id, p_camera_id, p_captured_at, p_face, p_quality, p_masked, p_photo);
	PERFORM ingest_batch(p_project_id, ARRAY[id], ARRAY[p_face], ARRAY[p_masked], ARRAY[p_captured_at],
	                     ARRAY[p_quality], ARRAY[p_camera_id]);
	PERFORM set_config('citus.allow_nested_distributed_execution', nested, true);
	RETURN QUERY
	SELECT x.capture_id, x.person_id, x.visit_id, x.match_distance, x.match_kind, x.match_low_confidence, x.expires_at
	FROM capture x WHERE x.project_id = p_project_id AND x.capture_id = id;
END
$$;
COMMENT ON FUNCTION ingest_capture(bigint, text, timestamptz, embedding, real, boolean, bytea) IS
	'ingest one capture and return its match (person, visit, distance, kind, expiry); on Citus it runs on the project''s worker (central ingestion)';

-- at a Citus coordinator, after citus_distribute(), as the owner: central
-- ingestion.  Distributes ingest_capture() by its project id, colocated with
-- capture (a call runs on the worker of the project's shards), and disables
-- the triggers Citus would run on the shards, where they cannot work: the
-- capture triggers (ingest_capture does their work), the rollup triggers
-- (they read and write the project's other tables; rebuild_rollups() recomputes
-- the rollups) and project_retention_defaults (create_project inserts the
-- defaults itself on Citus).  Returns what it did.  Run it again after
-- ALTER EXTENSION firstsight UPDATE (the update makes the triggers again).
CREATE OR REPLACE FUNCTION citus_central_ingestion()
	RETURNS TABLE (object text, done text)
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	t regclass;
	g name;
BEGIN
	IF NOT ingest_on_citus() THEN
		RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
			MESSAGE = 'capture is not a Citus distributed table',
			HINT = 'Run firstsight.citus_distribute() at the Citus coordinator first.';
	END IF;
	-- foreign keys to reference tables: one connection per node for the whole transaction
	PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
	FOR t, g IN SELECT tg.tgrelid::regclass, tg.tgname FROM pg_trigger tg
	            WHERE NOT tg.tgisinternal AND tg.tgenabled <> 'D'
	              AND (tg.tgrelid, tg.tgname) IN (('firstsight.capture'::regclass, 'capture_ingest'),
	                                             ('firstsight.capture'::regclass, 'capture_ingest_row'),
	                                             ('firstsight.capture'::regclass, 'capture_camera_projects'),
	                                             ('firstsight.visit'::regclass, 'rollup_visit_insert'),
	                                             ('firstsight.visit'::regclass, 'rollup_visit_update'),
	                                             ('firstsight.visit'::regclass, 'rollup_visit_delete'),
	                                             ('firstsight.person'::regclass, 'rollup_person_insert'),
	                                             ('firstsight.person'::regclass, 'rollup_person_update'),
	                                             ('firstsight.person'::regclass, 'rollup_person_delete'),
	                                             ('firstsight.project'::regclass, 'project_retention_defaults'))
	            ORDER BY 1::text, 2 LOOP
		EXECUTE format('ALTER TABLE %s DISABLE TRIGGER %I', t, g);
		object := format('trigger %s on %s', g, t); done := 'disabled';
		RETURN NEXT;
	END LOOP;
	PERFORM create_distributed_function('firstsight.ingest_capture(bigint, text, timestamptz, firstsight.embedding, real, boolean, bytea)',
	                                    distribution_arg_name => 'p_project_id', colocate_with => 'firstsight.capture');
	object := 'function ingest_capture'; done := 'distributed by p_project_id, colocated with capture';
	RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION citus_central_ingestion() FROM PUBLIC;
COMMENT ON FUNCTION citus_central_ingestion() IS
	'at a Citus coordinator: central ingestion (ingest_capture runs on the project''s worker; the shard-side triggers it replaces are disabled)';

-- step 5 of ingest_batch for one capture on Citus (central ingestion): its
-- visit by the gap rule, then the capture, the visit and the person, each by
-- a statement on the project's shards (values computed first: Citus routes
-- no modification with a non-immutable function inside CASE).  An
-- unidentified capture (no person) gets the end of its local day as expiry.
-- Returns the visit it opened (NULL: none).
CREATE OR REPLACE FUNCTION ingest_one_citus(p_project_id bigint, p_capture_id bigint, p_person_id bigint, p_distance float8,
                                            p_at timestamptz, p_camera_id text, p_masked boolean, p_face_masked boolean,
                                            p_lim float8, low_margin float8, gap interval, tz text)
	RETURNS bigint[]
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	t retention_terms;
	v_id bigint;
	pv record;
	out_of_order boolean;
	is_new boolean := false;
	low boolean;
	keep interval;
	e1 timestamptz;
	e2 timestamptz;
	last_seen timestamptz;
	day_end timestamptz;
BEGIN
	IF p_person_id IS NULL THEN
		-- unidentified (mark_unidentified): biometric data to the end of the local day, the photo never past photo_retention
		keep := project_setting_value(p_project_id, 'photo_retention')::interval;
		e1 := end_of_day(p_at, tz);
		e2 := least(e1, p_at + keep);
		UPDATE capture x SET expires_at = CASE WHEN x.face IS NOT NULL THEN e1 END,
		                     photo_expires_at = CASE WHEN x.photo IS NOT NULL THEN e2 END
		WHERE x.project_id = p_project_id AND x.capture_id = p_capture_id;
		RETURN NULL;
	END IF;
	-- the retention terms as of before this capture's writes (as in ingest_batch's one statement)
	t := retention_terms(p_project_id, p_person_id, p_at);
	e1 := expiry(t, p_at);
	e2 := photo_expiry(t, p_at);
	low := p_lim - p_distance < low_margin
	       OR CASE WHEN p_face_masked THEN NOT EXISTS (SELECT 1 FROM face f WHERE f.project_id = p_project_id
	                                                  AND f.person_id = p_person_id AND NOT f.masked)
	               ELSE false END;
	SELECT x.visit_id INTO v_id FROM visit x
	WHERE x.project_id = p_project_id AND x.person_id = p_person_id
	  AND x.started_at - gap < p_at AND x.ended_at + gap > p_at
	ORDER BY x.started_at LIMIT 1;
	IF v_id IS NOT NULL THEN
		UPDATE visit v
		SET started_at = least(v.started_at, p_at), ended_at = greatest(v.ended_at, p_at), captures = v.captures + 1,
		    first_camera_id = CASE WHEN p_at < v.started_at THEN p_camera_id ELSE v.first_camera_id END,
		    first_capture_id = CASE WHEN p_at < v.started_at THEN p_capture_id ELSE v.first_capture_id END
		WHERE v.project_id = p_project_id AND v.visit_id = v_id;
	ELSE
		SELECT x.visit_id, x.started_at, x.ended_at INTO pv FROM visit x
		WHERE x.project_id = p_project_id AND x.person_id = p_person_id AND x.started_at < p_at
		ORDER BY x.started_at DESC LIMIT 1;
		out_of_order := EXISTS (SELECT 1 FROM visit x WHERE x.project_id = p_project_id AND x.person_id = p_person_id
		                        AND x.started_at > p_at);
		v_id := project_counter_next(p_project_id, 'visit', 1) + 1;
		is_new := true;
		INSERT INTO visit (project_id, visit_id, person_id, started_at, ended_at, captures,
		                   first_camera_id, first_capture_id, seen_before, previous_visit_id, previous_visit_at)
		VALUES (p_project_id, v_id, p_person_id, p_at, p_at, 1, p_camera_id, p_capture_id,
		        pv.visit_id IS NOT NULL, pv.visit_id, pv.ended_at);
	END IF;
	UPDATE capture x
	SET person_id = p_person_id, visit_id = v_id, match_distance = p_distance,
	    match_kind = CASE WHEN p_distance IS NOT NULL THEN pair_kind(p_masked, p_face_masked) END,
	    match_margin = p_lim - p_distance, match_low_confidence = low, match_reviewed_at = NULL,
	    expires_at = CASE WHEN x.face IS NOT NULL THEN e1 END,
	    photo_expires_at = CASE WHEN x.photo IS NOT NULL THEN e2 END
	WHERE x.project_id = p_project_id AND x.capture_id = p_capture_id;
	SELECT greatest(p.last_seen, p_at) INTO last_seen FROM person p WHERE p.project_id = p_project_id AND p.person_id = p_person_id;
	day_end := end_of_day(last_seen, tz);
	UPDATE person p
	SET first_seen = least(p.first_seen, p_at), last_seen = greatest(p.last_seen, p_at),
	    captures = p.captures + 1, visits = p.visits + CASE WHEN is_new THEN 1 ELSE 0 END,
	    retention_day_end = day_end
	WHERE p.project_id = p_project_id AND p.person_id = p_person_id;
	IF out_of_order THEN
		PERFORM refresh_visit_chain(p_project_id, ARRAY[p_person_id]);
	END IF;
	RETURN CASE WHEN is_new THEN ARRAY[v_id] END;
END
$$;
REVOKE ALL ON FUNCTION ingest_one_citus(bigint, bigint, bigint, float8, timestamptz, text, boolean, boolean, float8, float8, interval, text) FROM PUBLIC;

-- gallery_nearest_kind for central ingestion on Citus: the same search of
-- each face, by a statement planned with its face (Citus plans no generic
-- plan with parameters, which the C function keeps per project)
CREATE OR REPLACE FUNCTION gallery_nearest_citus(p_project_id bigint, faces embedding[], p_masked boolean, ef_search integer DEFAULT 0)
	RETURNS TABLE (ord integer, person_id bigint, distance float8)
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	SET firstsight.hnsw_iterative_scan = 'relaxed_order'
	AS $$
DECLARE
	old_ef text := current_setting('firstsight.hnsw_ef_search', true);
	q text;
BEGIN
	IF cardinality(faces) IS NULL OR faces[1] IS NULL THEN
		RETURN QUERY SELECT o::integer, NULL::bigint, NULL::float8 FROM generate_series(1, coalesce(cardinality(faces), 0)) o;
		RETURN;
	END IF;
	IF ef_search > 0 AND (old_ef IS NULL OR ef_search > old_ef::integer) THEN
		PERFORM set_config('firstsight.hnsw_ef_search', least(ef_search, 1000)::text, true);
	END IF;
	q := format('SELECT f.person_id, f.face OPERATOR(firstsight.<=>) $1 FROM firstsight.%I f WHERE %s f.masked'
	            ' ORDER BY f.face::firstsight.embedding(%s) OPERATOR(firstsight.<=>) $1 LIMIT 1',
	            'face_p' || p_project_id, CASE WHEN p_masked THEN '' ELSE 'NOT' END, dims(faces[1]));
	FOR i IN 1 .. cardinality(faces) LOOP
		ord := i; person_id := NULL; distance := NULL;
		EXECUTE q INTO person_id, distance USING faces[i];
		RETURN NEXT;
	END LOOP;
	IF old_ef IS NOT NULL THEN
		PERFORM set_config('firstsight.hnsw_ef_search', old_ef, true);
	END IF;
END
$$;
