-- Person maintenance: merging duplicates (by hand, or found with OpenBLAS
-- over the gallery; identity hashes link persons, they never merge them)
-- and splitting wrongly joined captures.

-- recompute a person's gallery exemplars from their captures
CREATE OR REPLACE FUNCTION rebuild_gallery(p_project_id bigint, p_person_id bigint) RETURNS void
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	DELETE FROM face WHERE project_id = p_project_id AND person_id = p_person_id;
	INSERT INTO face (project_id, person_id, kind, capture_id, captured_at, quality, masked, face)
	SELECT DISTINCT ON (c.masked) p_project_id, p_person_id, CASE WHEN c.masked THEN 'masked' ELSE 'unmasked' END,
	       c.capture_id, c.captured_at, c.quality, c.masked, c.face
	FROM capture c WHERE c.project_id = p_project_id AND c.person_id = p_person_id AND c.face IS NOT NULL
	ORDER BY c.masked, c.quality DESC, c.captured_at DESC;
	INSERT INTO face (project_id, person_id, kind, capture_id, captured_at, quality, masked, face)
	SELECT p_project_id, p_person_id, 'recent', c.capture_id, c.captured_at, c.quality, c.masked, c.face
	FROM capture c WHERE c.project_id = p_project_id AND c.person_id = p_person_id AND c.face IS NOT NULL
	  AND c.capture_id NOT IN (SELECT capture_id FROM face WHERE project_id = p_project_id AND person_id = p_person_id)
	ORDER BY c.captured_at DESC LIMIT 1;
	$$;

-- join a person's visits that are now less than the visit gap apart; refresh the chain and counters
CREATE OR REPLACE FUNCTION tidy_person(p_project_id bigint, p_person_id bigint) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	gap interval := project_setting_value(p_project_id, 'visit_gap')::interval;
	cur visit;
	nxt visit;
BEGIN
	FOR nxt IN SELECT * FROM visit WHERE project_id = p_project_id AND person_id = p_person_id
	         ORDER BY started_at, visit_id LOOP
		IF cur.visit_id IS NOT NULL AND nxt.started_at - cur.ended_at < gap THEN
			UPDATE capture SET visit_id = cur.visit_id WHERE project_id = p_project_id AND visit_id = nxt.visit_id;
			UPDATE visit SET ended_at = greatest(cur.ended_at, nxt.ended_at),
			                 consultant_id = coalesce(cur.consultant_id, nxt.consultant_id),
			                 agent_id = coalesce(cur.agent_id, nxt.agent_id),
			                 received_at = coalesce(cur.received_at, nxt.received_at)
			WHERE project_id = p_project_id AND visit_id = cur.visit_id
			RETURNING * INTO cur;
			DELETE FROM visit WHERE project_id = p_project_id AND visit_id = nxt.visit_id;
		ELSE
			cur := nxt;
		END IF;
	END LOOP;
	-- counters and first camera from the captures themselves
	UPDATE visit x SET captures = s.n, started_at = s.s, ended_at = s.e,
	                   first_capture_id = s.first_cap, first_camera_id = s.first_cam
	FROM (SELECT visit_id, count(*)::integer AS n, min(captured_at) AS s, max(captured_at) AS e,
	             (array_agg(capture_id ORDER BY captured_at, capture_id))[1] AS first_cap,
	             (array_agg(camera_id ORDER BY captured_at, capture_id))[1] AS first_cam
	      FROM capture WHERE project_id = p_project_id AND person_id = p_person_id GROUP BY visit_id) s
	WHERE x.project_id = p_project_id AND x.visit_id = s.visit_id;
	DELETE FROM visit x WHERE x.project_id = p_project_id AND x.person_id = p_person_id
	  AND NOT EXISTS (SELECT 1 FROM capture c WHERE c.project_id = p_project_id AND c.visit_id = x.visit_id);
	PERFORM refresh_visit_chain(p_project_id, ARRAY[p_person_id]);
	UPDATE person p SET
		visits = (SELECT count(*) FROM visit v WHERE v.project_id = p_project_id AND v.person_id = p_person_id),
		captures = (SELECT count(*) FROM capture c WHERE c.project_id = p_project_id AND c.person_id = p_person_id),
		first_seen = coalesce((SELECT min(started_at) FROM visit v WHERE v.project_id = p_project_id AND v.person_id = p_person_id), p.first_seen),
		last_seen = coalesce((SELECT max(ended_at) FROM visit v WHERE v.project_id = p_project_id AND v.person_id = p_person_id), p.last_seen)
	WHERE p.project_id = p_project_id AND p.person_id = p_person_id;
	-- captures moved in (merge, split) take this person's expiry; the update
	-- above re-dates them only when it moves the retention clock
	PERFORM refresh_expiry(p_project_id, p_person_id);
	-- the parties (同行) of the days of the person's visits (issue 16)
	PERFORM assign_parties(p_project_id, d.day)
	FROM (SELECT DISTINCT (v.started_at AT TIME ZONE pr.time_zone)::date AS day
	      FROM visit v JOIN project pr ON pr.project_id = v.project_id
	      WHERE v.project_id = p_project_id AND v.person_id = p_person_id) d;
END
$$;

-- merge two persons; the one seen first is kept (returned), the other keeps merged_into
CREATE OR REPLACE FUNCTION merge_person(project_id bigint, person_a bigint, person_b bigint) RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := merge_person.project_id;
	a person;
	b person;
	keep person;
	gone person;
	outer_correction text := coalesce(current_setting('firstsight.correction', true), 'off');
BEGIN
	PERFORM 1 FROM person p WHERE p.project_id = pid AND p.person_id IN (person_a, person_b)
	ORDER BY p.person_id FOR UPDATE;
	SELECT * INTO a FROM person p WHERE p.project_id = pid AND p.person_id = person_a;
	SELECT * INTO b FROM person p WHERE p.project_id = pid AND p.person_id = person_b;
	IF a.person_id IS NULL OR b.person_id IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('person %s of project %s does not exist', CASE WHEN a.person_id IS NULL THEN person_a ELSE person_b END, pid);
	END IF;
	IF a.merged_into IS NOT NULL OR b.merged_into IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
			MESSAGE = format('person %s was already merged into person %s',
			                 CASE WHEN a.merged_into IS NOT NULL THEN a.person_id ELSE b.person_id END,
			                 coalesce(a.merged_into, b.merged_into)),
			HINT = 'Merge the person it was merged into instead.';
	END IF;
	IF a.person_id = b.person_id THEN
		RETURN a.person_id;
	END IF;
	IF (b.first_seen, b.person_id) < (a.first_seen, a.person_id) THEN
		keep := b; gone := a;
	ELSE
		keep := a; gone := b;
	END IF;
	-- the moves below change visits, bindings and deals: their triggers record
	-- the changes and leave the re-decision to the end of the merge
	PERFORM set_config('firstsight.correction', 'on', true);
	UPDATE capture SET person_id = keep.person_id WHERE capture.project_id = pid AND person_id = gone.person_id;
	UPDATE visit SET person_id = keep.person_id WHERE visit.project_id = pid AND person_id = gone.person_id;
	UPDATE identity SET person_id = keep.person_id WHERE identity.project_id = pid AND person_id = gone.person_id;
	UPDATE deal SET person_id = keep.person_id WHERE deal.project_id = pid AND person_id = gone.person_id;
	UPDATE person SET merged_into = keep.person_id WHERE person.project_id = pid AND merged_into = gone.person_id;
	UPDATE person SET merged_into = keep.person_id, merged_at = now(), visits = 0, captures = 0
	WHERE person.project_id = pid AND person_id = gone.person_id;
	DELETE FROM face WHERE face.project_id = pid AND person_id = gone.person_id;
	PERFORM rebuild_gallery(pid, keep.person_id);
	PERFORM tidy_person(pid, keep.person_id);
	PERFORM record_change(pid, 'person', keep.person_id::text, 'merge', NULL,
	                      jsonb_build_object('kept', keep.person_id, 'merged', gone.person_id));
	PERFORM set_config('firstsight.correction', outer_correction, true);
	IF outer_correction <> 'on' THEN
		PERFORM redecide_deals(pid, ARRAY[keep.person_id], format('persons %s and %s merged', keep.person_id, gone.person_id));
	END IF;
	RETURN keep.person_id;
END
$$;
COMMENT ON FUNCTION merge_person(bigint, bigint, bigint) IS
	'merge two persons: captures, visits, bindings and deals move to the one seen first; their decided deals are decided again; returns it';

-- were these two persons (as they are now) split apart by a manager?
CREATE OR REPLACE FUNCTION persons_distinct(p_project_id bigint, p_a bigint, p_b bigint) RETURNS boolean
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN EXISTS (SELECT 1 FROM person_distinct pd
	               WHERE pd.project_id = p_project_id
	                 AND ((current_person(p_project_id, pd.person_id) = p_a AND current_person(p_project_id, pd.other_person_id) = p_b)
	                      OR (current_person(p_project_id, pd.person_id) = p_b AND current_person(p_project_id, pd.other_person_id) = p_a)));
END
$$;

-- move some captures of a person to a new person; returns the new person
CREATE OR REPLACE FUNCTION split_person(project_id bigint, person_id bigint, capture_ids bigint[]) RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := split_person.project_id;
	old bigint := split_person.person_id;
	gap interval := project_setting_value(pid, 'visit_gap')::interval;
	moved integer;
	total integer;
	newp bigint;
	outer_correction text := coalesce(current_setting('firstsight.correction', true), 'off');
BEGIN
	-- new persons are made under the project's new-person lock (ingestion's
	-- re-check relies on it: a person made without it could be missed); taken
	-- before the person's row lock, in the order ingestion takes them
	PERFORM pg_advisory_xact_lock(hashtextextended('firstsight.new_person', pid));
	PERFORM 1 FROM person p WHERE p.project_id = pid AND p.person_id = old AND p.merged_into IS NULL FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('person %s of project %s does not exist or was merged', old, pid);
	END IF;
	SELECT count(*) FILTER (WHERE c.capture_id = ANY (capture_ids)), count(*) INTO moved, total
	FROM capture c WHERE c.project_id = pid AND c.person_id = old;
	IF moved IS DISTINCT FROM cardinality(capture_ids) OR moved = 0 OR moved = total THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'split_person needs some, but not all, of the person''s captures',
			DETAIL = format('%s of the %s capture ids given belong to person %s, who has %s captures.',
			                moved, cardinality(capture_ids), old, total);
	END IF;
	INSERT INTO person (project_id, first_seen, last_seen, category)
	SELECT pid, min(captured_at), max(captured_at), (SELECT category FROM person WHERE person.project_id = pid AND person.person_id = old)
	FROM capture c WHERE c.project_id = pid AND c.capture_id = ANY (capture_ids)
	RETURNING person.person_id INTO newp;
	PERFORM set_config('firstsight.correction', 'on', true);
	-- the moved captures form their own visits by the gap rule; each keeps the
	-- reception (consultant, agent) of the visit its first capture came from
	WITH c AS (
		SELECT capture_id, captured_at, camera_id, visit_id AS old_visit_id,
		       count(*) FILTER (WHERE lag_ts IS NULL OR captured_at - lag_ts >= gap) OVER (ORDER BY captured_at, capture_id) AS grp
		FROM (SELECT x.*, lag(captured_at) OVER (ORDER BY captured_at, capture_id) AS lag_ts
		      FROM capture x WHERE x.project_id = pid AND x.capture_id = ANY (capture_ids)) x
	), g AS (
		SELECT grp, nextval('visit_id_seq') AS visit_id,
		       (array_agg(old_visit_id ORDER BY captured_at, capture_id))[1] AS old_visit_id
		FROM c GROUP BY grp
	), ins AS (
		INSERT INTO visit (project_id, visit_id, person_id, started_at, ended_at, consultant_id, agent_id, received_at)
		SELECT pid, g.visit_id, newp, min(c.captured_at), max(c.captured_at), o.consultant_id, o.agent_id, o.received_at
		FROM c JOIN g USING (grp)
		LEFT JOIN visit o ON o.project_id = pid AND o.visit_id = g.old_visit_id
		GROUP BY g.visit_id, o.consultant_id, o.agent_id, o.received_at
	)
	UPDATE capture x SET person_id = newp, visit_id = g.visit_id
	FROM c JOIN g USING (grp) WHERE x.project_id = pid AND x.capture_id = c.capture_id;
	PERFORM rebuild_gallery(pid, old);
	PERFORM rebuild_gallery(pid, newp);
	PERFORM tidy_person(pid, old);
	PERFORM tidy_person(pid, newp);
	-- a manager's split says "not the same person": automatic merging never undoes it
	INSERT INTO person_distinct (project_id, person_id, other_person_id)
	VALUES (pid, least(old, newp), greatest(old, newp)) ON CONFLICT DO NOTHING;
	PERFORM record_change(pid, 'person', old::text, 'split', NULL,
	                      jsonb_build_object('split_from', old, 'new_person', newp, 'captures', moved));
	PERFORM record_change(pid, 'person', newp::text, 'split', NULL,
	                      jsonb_build_object('split_from', old, 'new_person', newp, 'captures', moved));
	PERFORM set_config('firstsight.correction', outer_correction, true);
	IF outer_correction <> 'on' THEN
		PERFORM redecide_deals(pid, ARRAY[old, newp], format('person %s split into %s and %s', old, old, newp));
	END IF;
	RETURN newp;
END
$$;
COMMENT ON FUNCTION split_person(bigint, bigint, bigint[]) IS
	'move the given captures of a person to a new person (with their own visits and receptions), recorded as not the same person; returns the new person';

-- find near-duplicate persons over the gallery (OpenBLAS) and merge them
CREATE OR REPLACE FUNCTION merge_persons(project_id bigint, max_distance float8 DEFAULT NULL, masked_max_distance float8 DEFAULT NULL,
                                         masked_masked_max_distance float8 DEFAULT NULL)
	RETURNS TABLE (kept_person_id bigint, merged_person_id bigint)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := merge_persons.project_id;
	thr float8 := coalesce(max_distance, project_setting_value(pid, 'match_distance')::float8);
	mthr float8 := coalesce(masked_max_distance, project_setting_value(pid, 'masked_match_distance')::float8);
	mmthr float8 := coalesce(masked_masked_max_distance, project_setting_value(pid, 'masked_masked_match_distance')::float8);
	persons bigint[];
	faces embedding[];
	masks boolean[];
	labels integer[];
	r record;
	k bigint;
	merged bigint[];
BEGIN
	IF thr IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', pid);
	END IF;
	-- serialise with new-person creation so a merge never races ingestion's re-check
	PERFORM pg_advisory_xact_lock(hashtextextended('firstsight.new_person', pid));
	SELECT array_agg(f.person_id ORDER BY f.face_id), array_agg(f.face ORDER BY f.face_id),
	       array_agg(f.masked ORDER BY f.face_id)
	INTO persons, faces, masks
	FROM face f WHERE f.project_id = pid;
	IF persons IS NULL THEN
		RETURN;
	END IF;
	-- each pair of gallery faces within the threshold of its kind: a masked
	-- face joins another person's (masked or not) only within
	-- masked_masked_match_distance, as in ingestion (pair_threshold)
	labels := face_clusters(faces, masks, thr, least(mthr, mmthr), mmthr);
	FOR r IN
		WITH m AS (SELECT labels[i] AS label, persons[i] AS person_id FROM generate_subscripts(labels, 1) i)
		SELECT m.label, array_agg(DISTINCT m.person_id) AS members
		FROM m GROUP BY m.label HAVING count(DISTINCT m.person_id) > 1 ORDER BY m.label
	LOOP
		k := r.members[1];
		merged := '{}';
		FOR i IN 2 .. cardinality(r.members) LOOP
			-- never join persons a manager split apart
			CONTINUE WHEN persons_distinct(pid, current_person(pid, k), current_person(pid, r.members[i]));
			k := merge_person(pid, current_person(pid, k), current_person(pid, r.members[i]));
			merged := merged || r.members[i];
		END LOOP;
		RETURN QUERY SELECT k, x FROM unnest(merged || r.members[1]) x WHERE x <> k ORDER BY x;
	END LOOP;
END
$$;
COMMENT ON FUNCTION merge_persons(bigint, float8, float8, float8) IS
	'merge persons whose gallery faces are within the match threshold of their kind of pair (OpenBLAS over the gallery); returns the merges';
-- recreated by the 0.2.0 upgrade (new argument): not PUBLIC's until setup_roles() runs again
REVOKE EXECUTE ON FUNCTION merge_persons(bigint, float8, float8, float8) FROM PUBLIC;
