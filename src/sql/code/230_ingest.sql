-- Camera ingestion: a statement-level trigger with a transition table
-- validates every new capture, matches the whole statement as one batch
-- (gallery search per capture, OpenBLAS for the batch against itself), makes
-- persons and visits, improves the gallery and writes person_id, visit_id and
-- match_distance back, all in the inserting statement.

CREATE OR REPLACE FUNCTION face_clusters(faces embedding[], masked boolean[], max_distance float8, masked_max_distance float8,
                                         masked_masked_max_distance float8)
	RETURNS integer[]
	AS 'MODULE_PATHNAME', 'fs_face_clusters_kinds' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION face_clusters(embedding[], boolean[], float8, float8, float8) IS
	'for each face, the first 1-based position of its group of faces, each pair within the threshold of its kind (unmasked, masked-unmasked, masked-masked; OpenBLAS pairs, union-find)';

-- the nearest gallery face of each query face, by index when the gallery has one
-- (C: one kept SPI plan per project, see src/domain/gallery.c)
-- ef_search > 0 widens the index search for this call (at least that candidate
-- list, at most 1000); ingestion uses it before a capture becomes a new person
CREATE OR REPLACE FUNCTION gallery_nearest(project_id bigint, faces embedding[], ef_search integer DEFAULT 0)
	RETURNS TABLE (ord integer, person_id bigint, distance float8)
	AS 'MODULE_PATHNAME', 'fs_gallery_nearest' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION gallery_nearest(bigint, embedding[], integer) IS
	'nearest gallery face of each query face (1-based ord), by the project''s HNSW index when it has one; ef_search > 0 searches with at least that candidate list';

-- the same among the gallery's masked faces only (masked true) or its
-- unmasked ones: each kind of pair has its own threshold (an iterative
-- index scan, so a kind rare near the face is still found)
CREATE OR REPLACE FUNCTION gallery_nearest_kind(project_id bigint, faces embedding[], masked boolean, ef_search integer DEFAULT 0)
	RETURNS TABLE (ord integer, person_id bigint, distance float8)
	AS 'MODULE_PATHNAME', 'fs_gallery_nearest_kind' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION gallery_nearest_kind(bigint, embedding[], boolean, integer) IS
	'nearest masked (masked true) or unmasked gallery face of each query face (1-based ord), by the project''s HNSW index when it has one';

-- the same, exactly: one pass over the project's gallery, the whole batch
-- against each block of gallery faces with OpenBLAS (src/domain/gallery.c);
-- ingestion uses it for large batches (setting exact_search_faces)
CREATE OR REPLACE FUNCTION gallery_nearest_exact(project_id bigint, faces embedding[])
	RETURNS TABLE (ord integer, person_id bigint, distance float8)
	AS 'MODULE_PATHNAME', 'fs_gallery_nearest_exact' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION gallery_nearest_exact(bigint, embedding[]) IS
	'nearest gallery face of each query face (1-based ord) by an exact OpenBLAS search of the whole gallery';

-- both kinds from one exact pass: per query face its nearest unmasked
-- (masked false) and its nearest masked gallery face (true)
CREATE OR REPLACE FUNCTION gallery_nearest_exact_kinds(project_id bigint, faces embedding[])
	RETURNS TABLE (ord integer, masked boolean, person_id bigint, distance float8)
	AS 'MODULE_PATHNAME', 'fs_gallery_nearest_exact_kinds' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION gallery_nearest_exact_kinds(bigint, embedding[]) IS
	'nearest unmasked and nearest masked gallery face of each query face (1-based ord) by one exact OpenBLAS pass over the gallery';

-- the threshold of a kind of pair: capture masked or not, gallery face masked
-- or not.  A masked gallery face never attracts beyond the masked-masked
-- threshold, an unmasked capture included: the mask makes everybody's masked
-- faces alike, and a masked face that attracted unmasked captures as widely
-- as masked_match_distance would join whoever's unmasked face lands near it
CREATE OR REPLACE FUNCTION pair_threshold(capture_masked boolean, face_masked boolean,
                                          unmasked float8, masked_unmasked float8, masked_masked float8)
	RETURNS float8
	LANGUAGE sql IMMUTABLE PARALLEL SAFE	-- no SET clause: inlined (it names no object)
	RETURN CASE WHEN capture_masked AND face_masked THEN masked_masked
	            WHEN capture_masked THEN masked_unmasked
	            WHEN face_masked THEN least(masked_unmasked, masked_masked)
	            ELSE unmasked END;
COMMENT ON FUNCTION pair_threshold(boolean, boolean, float8, float8, float8) IS
	'the match threshold of a kind of pair: unmasked-unmasked, masked capture against an unmasked face, masked-masked; a masked face attracts an unmasked capture only within both masked thresholds';

-- the kind of a match (capture_match kind, calibrate's pair classes): capture
-- masked or not, gallery face (or other capture) masked or not
CREATE OR REPLACE FUNCTION pair_kind(capture_masked boolean, face_masked boolean) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE	-- no SET clause: inlined (it names no object)
	RETURN CASE WHEN capture_masked AND face_masked THEN 'masked_masked'
	            WHEN capture_masked OR face_masked THEN 'masked_unmasked' ELSE 'unmasked' END;
COMMENT ON FUNCTION pair_kind(boolean, boolean) IS
	'the kind of a pair of faces: unmasked, masked_unmasked or masked_masked';

-- recompute returning / previous visit for every visit of some persons
-- (PL/pgSQL: central ingestion on Citus runs it next to the shards, where
-- Citus plans no SQL function with parameters)
CREATE OR REPLACE FUNCTION refresh_visit_chain(p_project_id bigint, p_person_ids bigint[]) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	UPDATE visit v
	SET seen_before = c.prev_id IS NOT NULL, previous_visit_id = c.prev_id, previous_visit_at = c.prev_end
	FROM (SELECT visit_id,
	             lag(visit_id) OVER w AS prev_id,
	             lag(ended_at) OVER w AS prev_end
	      FROM visit
	      WHERE project_id = p_project_id AND person_id = ANY (p_person_ids)
	      WINDOW w AS (PARTITION BY person_id ORDER BY started_at, visit_id)) c
	WHERE v.project_id = p_project_id AND v.visit_id = c.visit_id
	  AND (v.previous_visit_id IS DISTINCT FROM c.prev_id OR v.previous_visit_at IS DISTINCT FROM c.prev_end
	       OR v.seen_before <> (c.prev_id IS NOT NULL));
END
$$;

-- step 6 of ingest_batch: the gallery.  Per person the best unmasked and
-- best masked exemplar, and a recent one per visit (arrays as ingest_batch
-- has them: capture ids, persons (NULL: no exemplar), times, qualities, masked flags, faces,
-- match distances and whether the matched gallery face was masked)
CREATE OR REPLACE FUNCTION ingest_gallery(p_project_id bigint, ids bigint[], persons bigint[], ts timestamptz[],
                                          quality real[], masks boolean[], faces embedding[], dist float8[],
                                          face_masked boolean[], recent_min float8, gap interval)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	-- best unmasked and best masked exemplar, and a recent one per visit;
	-- a match that rests on a masked face or a masked capture adds no
	-- exemplar (a masked capture of one person that joined another would
	-- otherwise let that person attract the first one's faces), except that
	-- an unmasked capture may become its person's unmasked exemplar (a person
	-- first seen masked gains the face it later shows unmasked)
	-- (rows that would not replace the stored exemplar are left out before the
	-- INSERT: its row triggers and the index insert attempt cost more than the check;
	-- a capture closer than recent_min_distance to the gallery face it matched
	-- is not stored as the recent exemplar: it adds nothing the gallery does
	-- not already match, and each one is an index insert)
	-- (the gallery partition by name: its keys are the conflict arbiters, the
	-- parent face has none, see src/sql/state/200_domain_tables.sql)
	-- (each dynamic INSERT is parsed and planned per call: most returning
	-- captures write no exemplar, so a kept-plan check of the same conditions
	-- on every capture of the batch, a superset of the rows the INSERT would
	-- write, comes first and skips it when nothing would be written)
	IF EXISTS (SELECT 1 FROM unnest(persons, quality, masks, dist) AS c(person_id, quality, masked, distance)
	           WHERE c.person_id IS NOT NULL AND (c.distance IS NULL OR NOT c.masked)
	             AND NOT EXISTS (SELECT 1 FROM face x WHERE x.project_id = p_project_id AND x.person_id = c.person_id
	                             AND x.kind = CASE WHEN c.masked THEN 'masked' ELSE 'unmasked' END
	                             AND NOT (c.quality > x.quality + 0.05))) THEN
	IF cardinality(ids) = 1 AND ingest_on_citus() THEN
	-- central ingestion on Citus, one capture: the check above decided, the
	-- row as VALUES (Citus plans no correlated subquery beside unnest)
	EXECUTE format($q$
	INSERT INTO %s AS f (project_id, person_id, kind, capture_id, captured_at, quality, masked, face)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT (project_id, person_id, kind) DO UPDATE
	SET capture_id = excluded.capture_id, captured_at = excluded.captured_at, quality = excluded.quality,
	    face = excluded.face
	WHERE excluded.quality > f.quality + 0.05$q$, gallery_table(p_project_id))
	USING p_project_id, persons[1], CASE WHEN masks[1] THEN 'masked' ELSE 'unmasked' END, ids[1], ts[1], quality[1], masks[1], faces[1];
	ELSE
	EXECUTE format($q$
	INSERT INTO %s AS f (project_id, person_id, kind, capture_id, captured_at, quality, masked, face)
	SELECT $1, c.person_id, c.kind, c.capture_id, c.captured_at, c.quality, c.masked, c.face
	FROM (SELECT DISTINCT ON (c.person_id, c.masked) c.*, CASE WHEN c.masked THEN 'masked' ELSE 'unmasked' END AS kind
	      FROM unnest($2, $3, $4, $5, $6, $7, $8)
	           AS c(capture_id, person_id, captured_at, quality, masked, face, distance)
	      WHERE c.person_id IS NOT NULL AND (c.distance IS NULL OR NOT c.masked)
	      ORDER BY c.person_id, c.masked, c.quality DESC, c.captured_at DESC) c
	WHERE NOT EXISTS (SELECT 1 FROM face x WHERE x.project_id = $1 AND x.person_id = c.person_id
	                  AND x.kind = c.kind AND NOT (c.quality > x.quality + 0.05))
	ON CONFLICT (project_id, person_id, kind) DO UPDATE
	SET capture_id = excluded.capture_id, captured_at = excluded.captured_at, quality = excluded.quality,
	    face = excluded.face
	WHERE excluded.quality > f.quality + 0.05$q$, gallery_table(p_project_id))
	USING p_project_id, ids, persons, ts, quality, masks, faces, dist;
	END IF;
	END IF;

	IF EXISTS (SELECT 1 FROM unnest(persons, ts, masks, dist, face_masked) AS c(person_id, captured_at, masked, distance, fm)
	           WHERE c.person_id IS NOT NULL AND (c.distance IS NULL OR NOT (c.masked OR c.fm))
	             AND (c.distance IS NULL OR c.distance >= recent_min)
	             AND NOT EXISTS (SELECT 1 FROM face x WHERE x.project_id = p_project_id AND x.person_id = c.person_id
	                             AND x.captured_at > c.captured_at - gap)) THEN
	IF cardinality(ids) = 1 AND ingest_on_citus() THEN
	EXECUTE format($q$
	INSERT INTO %s AS f (project_id, person_id, kind, capture_id, captured_at, quality, masked, face)
	VALUES ($1, $2, 'recent', $3, $4, $5, $6, $7)
	ON CONFLICT (project_id, person_id, kind) DO UPDATE
	SET capture_id = excluded.capture_id, captured_at = excluded.captured_at, quality = excluded.quality,
	    masked = excluded.masked, face = excluded.face$q$, gallery_table(p_project_id))
	USING p_project_id, persons[1], ids[1], ts[1], quality[1], masks[1], faces[1];
	ELSE
	EXECUTE format($q$
	INSERT INTO %s AS f (project_id, person_id, kind, capture_id, captured_at, quality, masked, face)
	SELECT $1, c.person_id, 'recent', c.capture_id, c.captured_at, c.quality, c.masked, c.face
	FROM (SELECT DISTINCT ON (c.person_id) c.*
	      FROM unnest($2, $3, $4, $5, $6, $7, $8, $9)
	           AS c(capture_id, person_id, captured_at, quality, masked, face, distance, fm)
	      WHERE c.person_id IS NOT NULL AND (c.distance IS NULL OR NOT (c.masked OR c.fm))
	      ORDER BY c.person_id, c.captured_at DESC, c.quality DESC) c
	WHERE (c.distance IS NULL OR c.distance >= $10)
	  AND NOT EXISTS (SELECT 1 FROM face x WHERE x.project_id = $1 AND x.person_id = c.person_id
	                  AND x.captured_at > c.captured_at - $11)
	ON CONFLICT (project_id, person_id, kind) DO UPDATE
	SET capture_id = excluded.capture_id, captured_at = excluded.captured_at, quality = excluded.quality,
	    masked = excluded.masked, face = excluded.face$q$, gallery_table(p_project_id))
	USING p_project_id, ids, persons, ts, quality, masks, faces, dist, face_masked, recent_min, gap;
	END IF;
	END IF;
END
$$;

-- ingest_batch's steps, each a function of its own (issue 15): the settings
-- (ingest_settings), the gallery search (ingest_search, ingest_search_exact),
-- the new-person decision under the project's lock (ingest_new_person_check,
-- ingest_make_persons), visits and the captures' results (ingest_visits), what
-- follows a visit being opened (ingest_visit_followups) and the gallery's
-- exemplars (ingest_gallery, above).  Arrays are ingest_batch's: one element
-- per capture, in captured_at order.

-- the project's ingestion settings in one query, the newest person and the
-- generation of pending new persons' faces (both read before any search:
-- ingest_new_person_check searches again when either has moved) and whether
-- the gallery has faces of each kind
CREATE OR REPLACE FUNCTION ingest_settings(p_project_id bigint,
                                           OUT thr float8, OUT mthr float8, OUT mmthr float8, OUT low_margin float8,
                                           OUT gap interval, OUT wide_ef integer, OUT step_ef integer,
                                           OUT exact_faces integer, OUT recent_min float8, OUT min_q real,
                                           OUT dims integer, OUT tz text, OUT last_person bigint,
                                           OUT has_masked boolean, OUT has_unmasked boolean, OUT np_generation bigint)
	LANGUAGE plpgsql STABLE	-- (plpgsql: its plan is kept; a sql function is planned per call)
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	SELECT max(v) FILTER (WHERE setting = 'match_distance')::float8,
	       max(v) FILTER (WHERE setting = 'masked_match_distance')::float8,
	       max(v) FILTER (WHERE setting = 'masked_masked_match_distance')::float8,
	       max(v) FILTER (WHERE setting = 'low_confidence_margin')::float8,
	       max(v) FILTER (WHERE setting = 'visit_gap')::interval,
	       max(v) FILTER (WHERE setting = 'new_person_ef_search')::integer,
	       max(v) FILTER (WHERE setting = 'new_person_ef_step')::integer,
	       max(v) FILTER (WHERE setting = 'exact_search_faces')::integer,
	       max(v) FILTER (WHERE setting = 'recent_min_distance')::float8,
	       -- (issue 16: captures below min_quality make no person and no exemplar)
	       coalesce(max(v) FILTER (WHERE setting = 'min_quality')::real, 0),
	       max(x.dims), max(x.time_zone),
	       (SELECT max(person_id) FROM person WHERE project_id = p_project_id),
	       EXISTS (SELECT 1 FROM face f WHERE f.project_id = p_project_id AND f.masked),
	       EXISTS (SELECT 1 FROM face f WHERE f.project_id = p_project_id AND NOT f.masked)
	INTO thr, mthr, mmthr, low_margin, gap, wide_ef, step_ef, exact_faces, recent_min, min_q, dims, tz, last_person,
	     has_masked, has_unmasked
	FROM (SELECT d.setting, p.dims, p.time_zone,
	             coalesce(s.value, CASE WHEN p.dims <= 128 AND d.small_dims_default IS NOT NULL	-- setting_default (central ingestion on Citus: no whole-row argument)
	                                    THEN d.small_dims_default ELSE d.default_value END) AS v
	      FROM project p
	      JOIN setting_definition d ON d.setting IN ('match_distance', 'masked_match_distance',
	                                                 'masked_masked_match_distance', 'low_confidence_margin', 'visit_gap',
	                                                 'new_person_ef_search', 'new_person_ef_step', 'exact_search_faces',
	                                                 'recent_min_distance', 'min_quality')
	      LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
	      WHERE p.project_id = p_project_id) x;
	-- (read before any search: see new_person_claim)
	np_generation := new_person_generation(p_project_id);
END
$$;
REVOKE ALL ON FUNCTION ingest_settings(bigint) FROM PUBLIC;

-- whether a batch is matched by one exact OpenBLAS pass over the gallery
-- instead of the index: at least 64 captures, and at most exact_faces gallery
-- rows per capture
CREATE OR REPLACE FUNCTION ingest_use_exact(p_project_id bigint, cnt integer, exact_faces integer, dims integer)
	RETURNS boolean
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF cnt < 64 OR NOT exact_faces > 0 THEN
		RETURN false;
	END IF;
	RETURN coalesce((SELECT cnt::float8 * exact_faces >= CASE WHEN c.reltuples >= 0 THEN c.reltuples
	                                                          ELSE pg_relation_size(c.oid) / (4.0 * dims + 64) END
	                 FROM pg_class c WHERE c.oid = to_regclass(format('firstsight.face_p%s', p_project_id))), false);
END
$$;
REVOKE ALL ON FUNCTION ingest_use_exact(bigint, integer, integer, integer) FROM PUBLIC;

-- one search of the gallery's index for some captures of the batch (positions
-- todo; NULL: every capture) with candidate list ef (0: the index's own).
-- Each kind of pair has its own threshold (a masked face of one person
-- attracts other masked faces only within masked_masked_match_distance); the
-- best evidence wins: the smallest distance relative to its threshold, kept
-- in persons, dist, lim (the threshold) and face_masked (the gallery face's
-- kind).  The gallery's unmasked faces are searched first; its masked faces
-- only for masked captures and for captures the unmasked search left without
-- a match at least low_margin inside its threshold (issue 21: the masked
-- search cost every capture a second index scan once one masked exemplar existed)
CREATE OR REPLACE FUNCTION ingest_search(p_project_id bigint, faces embedding[], masks boolean[], todo integer[],
                                         ef integer, thr float8, mthr float8, mmthr float8, low_margin float8,
                                         has_masked boolean, has_unmasked boolean,
                                         INOUT persons bigint[], INOUT dist float8[], INOUT lim float8[],
                                         INOUT face_masked boolean[])
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	r record;
	pos integer[] := coalesce(todo, (SELECT array_agg(j ORDER BY j) FROM generate_series(1, cardinality(faces)) j));
	k integer;
	t float8;
	-- central ingestion on Citus (615_central_ingest.sql): the search by a
	-- statement planned with its face (Citus plans no kept generic plan)
	on_citus boolean := ingest_on_citus();
BEGIN
	FOR m IN 0 .. 1 LOOP
		CONTINUE WHEN CASE WHEN m = 1 THEN NOT has_masked ELSE NOT has_unmasked END;
		IF m = 1 THEN
			SELECT array_agg(j ORDER BY j) INTO pos FROM unnest(pos) j
			WHERE masks[j] OR persons[j] IS NULL OR lim[j] - dist[j] < low_margin;
			EXIT WHEN pos IS NULL;
		END IF;
		FOR r IN SELECT n.ord, n.person_id, n.distance
		         FROM gallery_nearest_kind(p_project_id, (SELECT array_agg(faces[j] ORDER BY o) FROM unnest(pos) WITH ORDINALITY u(j, o)),
		                                   m = 1, ef) n
		         WHERE NOT on_citus
		         UNION ALL
		         SELECT n.ord, n.person_id, n.distance
		         FROM gallery_nearest_citus(p_project_id, (SELECT array_agg(faces[j] ORDER BY o) FROM unnest(pos) WITH ORDINALITY u(j, o)),
		                                    m = 1, ef) n
		         WHERE on_citus LOOP
			k := pos[r.ord];
			t := pair_threshold(masks[k], m = 1, thr, mthr, mmthr);
			IF r.distance <= t AND (persons[k] IS NULL OR r.distance * lim[k] < dist[k] * t) THEN
				persons[k] := r.person_id;
				dist[k] := r.distance;
				lim[k] := t;
				face_masked[k] := m = 1;
			END IF;
		END LOOP;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION ingest_search(bigint, embedding[], boolean[], integer[], integer, float8, float8, float8, float8, boolean, boolean, bigint[], float8[], float8[], boolean[]) FROM PUBLIC;

-- the same for the whole batch by one exact OpenBLAS pass over the gallery,
-- both kinds at once (nothing is missed: no wider search follows)
CREATE OR REPLACE FUNCTION ingest_search_exact(p_project_id bigint, faces embedding[], masks boolean[],
                                               thr float8, mthr float8, mmthr float8,
                                               INOUT persons bigint[], INOUT dist float8[], INOUT lim float8[],
                                               INOUT face_masked boolean[])
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	r record;
	t float8;
BEGIN
	FOR r IN SELECT e.ord, e.masked, e.person_id, e.distance FROM gallery_nearest_exact_kinds(p_project_id, faces) e LOOP
		t := pair_threshold(masks[r.ord], r.masked, thr, mthr, mmthr);
		IF r.distance <= t AND (persons[r.ord] IS NULL OR r.distance * lim[r.ord] < dist[r.ord] * t) THEN
			persons[r.ord] := r.person_id;
			dist[r.ord] := r.distance;
			lim[r.ord] := t;
			face_masked[r.ord] := r.masked;
		END IF;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION ingest_search_exact(bigint, embedding[], boolean[], float8, float8, float8, bigint[], float8[], float8[], boolean[]) FROM PUBLIC;

-- the positions of the captures still without a person (NULL: none)
CREATE OR REPLACE FUNCTION ingest_unmatched(persons bigint[], todo integer[] DEFAULT NULL) RETURNS integer[]
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN (SELECT array_agg(j ORDER BY j)
	        FROM unnest(coalesce(todo, (SELECT array_agg(o ORDER BY o) FROM generate_series(1, cardinality(persons)) o))) j
	        WHERE persons[j] IS NULL);
END
$$;
REVOKE ALL ON FUNCTION ingest_unmatched(bigint[], integer[]) FROM PUBLIC;

-- pending new persons' faces in shared memory (src/domain/newperson.c): the
-- project's generation, read before a search (-1: not available, firstsight
-- is not preloaded), and the publication of a decider's unmatched faces
CREATE OR REPLACE FUNCTION new_person_generation(project_id bigint) RETURNS bigint
	AS 'MODULE_PATHNAME', 'fs_new_person_generation' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION new_person_generation(bigint) IS
	'internal (ingestion): a counter of the transactions with pending new persons'' faces that ended, read before a search; -1 without shared memory';
CREATE OR REPLACE FUNCTION new_person_claim(project_id bigint, faces embedding[], masked boolean[], max_distance float8,
                                            masked_max_distance float8, masked_masked_max_distance float8,
                                            generation bigint) RETURNS text
	AS 'MODULE_PATHNAME', 'fs_new_person_claim' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION new_person_claim(bigint, embedding[], boolean[], float8, float8, float8, bigint) IS
	'internal (ingestion): publish faces about to become new persons until the transaction ends (claimed), unless a transaction with faces ended since generation (retry) or another one has a near face pending (waited for it to end)';
-- (not callable by others: a caller could hold slots or make cameras wait)
REVOKE ALL ON FUNCTION new_person_claim(bigint, embedding[], boolean[], float8, float8, float8, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION new_person_generation(bigint) FROM PUBLIC;

-- the new-person decision, part 1: make sure no person exists that the
-- search has not seen, then hold the decision.  A concurrent camera may just
-- have created the person, or be creating it.  With the pending faces in
-- shared memory (issue 21): the project's advisory lock in share mode (only
-- split_person and merge_persons take it exclusively), then loop: search
-- again (as widely as new_person_ef_search) when a person was made or a
-- transaction with pending faces ended since the last search, and publish
-- the still unmatched faces (new_person_claim) -- waiting only when another
-- camera's pending face is near one of them; cameras with unrelated faces
-- go on at once.  Without shared memory, or for more than 16 unmatched
-- faces: the lock in exclusive mode, held to commit (all new-person
-- decisions of the project one after the other), and one more search when
-- the project's newest person is no longer the one read before the first
-- search.  Returns the positions still without a person.
CREATE OR REPLACE FUNCTION ingest_new_person_check(p_project_id bigint, faces embedding[], masks boolean[], todo integer[],
                                                   wide_ef integer, thr float8, mthr float8, mmthr float8,
                                                   low_margin float8, last_person bigint, np_generation bigint, dims integer,
                                                   INOUT persons bigint[], INOUT dist float8[], INOUT lim float8[],
                                                   INOUT face_masked boolean[], OUT still integer[])
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	key bigint := hashtextextended('firstsight.new_person', p_project_id);
	pending boolean := np_generation >= 0 AND cardinality(todo) <= 16 AND dims <= 1024;
	g bigint := np_generation;
	newest bigint := last_person;
	again boolean := false;
	st text;
BEGIN
	still := todo;
	IF pending THEN
		PERFORM pg_advisory_xact_lock_shared(key);
	ELSE
		PERFORM pg_advisory_xact_lock(key);
	END IF;
	LOOP
		IF again OR (SELECT max(person_id) FROM person WHERE project_id = p_project_id) IS DISTINCT FROM newest
		   OR (pending AND new_person_generation(p_project_id) <> g) THEN
			-- (both read before the search)
			newest := (SELECT max(person_id) FROM person WHERE project_id = p_project_id);
			g := new_person_generation(p_project_id);
			-- (a concurrent camera may have stored the first face of a kind)
			SELECT * INTO persons, dist, lim, face_masked
			FROM ingest_search(p_project_id, faces, masks, still, wide_ef, thr, mthr, mmthr, low_margin,
			                   EXISTS (SELECT 1 FROM face f WHERE f.project_id = p_project_id AND f.masked),
			                   EXISTS (SELECT 1 FROM face f WHERE f.project_id = p_project_id AND NOT f.masked),
			                   persons, dist, lim, face_masked);
			still := ingest_unmatched(persons, still);
			EXIT WHEN still IS NULL;
		END IF;
		EXIT WHEN NOT pending;
		st := new_person_claim(p_project_id, (SELECT array_agg(faces[j] ORDER BY j) FROM unnest(still) j),
		                       (SELECT array_agg(masks[j] ORDER BY j) FROM unnest(still) j), thr, mthr, mmthr, g);
		EXIT WHEN st = 'claimed';
		IF st IS NULL OR st = 'full' THEN
			-- (this transaction's own earlier batches fill every slot: hold
			-- the lock exclusively, as without shared memory)
			pending := false;
			PERFORM pg_advisory_xact_lock(key);
		END IF;
		again := st = 'waited';
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION ingest_new_person_check(bigint, embedding[], boolean[], integer[], integer, float8, float8, float8, float8, bigint, bigint, integer, bigint[], float8[], float8[], boolean[]) FROM PUBLIC;

-- the new-person decision, part 2 (under the lock): the still unmatched
-- captures (positions todo) against each other (OpenBLAS), one new person per
-- group; the first capture of a group stands for the person's gallery face.
-- min_quality: a group makes a person only if one of its captures reaches it;
-- the others stay unidentified, with no person or visit.  Writes the person
-- rows and returns the new ids.
CREATE OR REPLACE FUNCTION ingest_make_persons(p_project_id bigint, faces embedding[], masks boolean[], ts timestamptz[],
                                               quality real[], todo integer[], thr float8, mthr float8, mmthr float8,
                                               min_q real, tz text,
                                               INOUT persons bigint[], INOUT dist float8[], INOUT lim float8[],
                                               INOUT face_masked boolean[], OUT new_ids bigint[])
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	labels integer[];
	good integer[];
	i integer;
BEGIN
	IF cardinality(todo) > 1 THEN
		labels := face_clusters((SELECT array_agg(faces[j] ORDER BY o) FROM unnest(todo) WITH ORDINALITY AS u(j, o)),
		                        (SELECT array_agg(masks[j] ORDER BY o) FROM unnest(todo) WITH ORDINALITY AS u(j, o)),
		                        thr, mthr, mmthr);
	ELSE
		labels := ARRAY[1];
	END IF;
	new_ids := array_fill(NULL::bigint, ARRAY[cardinality(todo)]);
	SELECT array_agg(DISTINCT labels[j]) INTO good
	FROM generate_series(1, cardinality(todo)) j WHERE quality[todo[j]] >= min_q;
	FOR k IN 1 .. cardinality(todo) LOOP
		i := todo[k];
		CONTINUE WHEN good IS NULL OR labels[k] <> ALL (good);
		IF labels[k] = k THEN
			-- (central ingestion on Citus: the project's counter, not this node's sequence)
			new_ids[k] := CASE WHEN ingest_on_citus() THEN project_counter_next(p_project_id, 'person', 1) + 1
			                   ELSE nextval('person_id_seq') END;
			persons[i] := new_ids[k];
		ELSE
			-- (a chain of pairs may leave it beyond the threshold: a negative
			-- margin, marked low confidence)
			persons[i] := new_ids[labels[k]];
			dist[i] := faces[i] <=> faces[todo[labels[k]]];
			face_masked[i] := masks[todo[labels[k]]];
			lim[i] := pair_threshold(masks[i], face_masked[i], thr, mthr, mmthr);
		END IF;
	END LOOP;
	new_ids := array_remove(new_ids, NULL);
	-- (with the day end of that last_seen: ingest_visits then moves the
	-- retention clock, and re-dates rows, only if the batch reaches a later day)
	INSERT INTO person (project_id, person_id, first_seen, last_seen, retention_day_end)
	SELECT p_project_id, c.person_id, min(c.captured_at), min(c.captured_at), end_of_day(min(c.captured_at), tz)
	FROM unnest(persons, ts) AS c(person_id, captured_at)
	WHERE c.person_id = ANY (new_ids)
	GROUP BY c.person_id;
END
$$;
REVOKE ALL ON FUNCTION ingest_make_persons(bigint, embedding[], boolean[], timestamptz[], real[], integer[], float8, float8, float8, real, text, bigint[], float8[], float8[], boolean[]) FROM PUBLIC;

-- visits by the gap rule, then captures, persons and visits in one statement.
-- Known persons are locked first so concurrent cameras extend one visit, not
-- two.  Each capture gets its expiry here, from its person's retention terms
-- with the last_seen this statement gives them (privacy: 400_privacy_retention.sql;
-- the person's older rows are re-dated by person_expiry only when the local
-- day of last_seen moves, so upd_person sets retention_day_end); each match
-- its kind and margin; low confidence: less than low_confidence_margin inside
-- its threshold, or resting on a masked face of a person with no unmasked face
-- (masked-only persons).  Unidentified captures (no person) get no visit.
-- Returns the persons whose visit chain needs recomputing (a visit opened
-- before a known one), the visits opened, and for the single-row path
-- (p_row: the capture is not written here) its visit, expiries and low
-- confidence.
CREATE OR REPLACE FUNCTION ingest_visits(p_project_id bigint, ids bigint[], persons bigint[], dist float8[], ts timestamptz[],
                                         cams text[], masks boolean[], face_masked boolean[], lim float8[],
                                         new_ids bigint[], gap interval, low_margin float8, tz text, p_row boolean,
                                         OUT chain bigint[], OUT opened bigint[], OUT row_visit bigint,
                                         OUT row_expiry timestamptz[], OUT row_low boolean)
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	SET plan_cache_mode = force_generic_plan	-- replanning the visit statement per capture costs ~1 ms
	AS $$
BEGIN
	IF ingest_on_citus() THEN
		-- central ingestion on Citus (one capture, from ingest_capture): the
		-- statement below one step at a time (Citus routes no data-modifying
		-- CTE with functions in CASE, and plans no generic plan with
		-- parameters), the same decisions; unidentified captures too
		PERFORM set_config('plan_cache_mode', 'auto', true);
		opened := ingest_one_citus(p_project_id, ids[1], persons[1], dist[1], ts[1], cams[1], masks[1], face_masked[1],
		                           lim[1], low_margin, gap, tz);
		RETURN;
	END IF;
	PERFORM 1 FROM person p
	WHERE p.project_id = p_project_id AND p.person_id = ANY (persons)
	  AND (new_ids IS NULL OR p.person_id <> ALL (new_ids))
	ORDER BY p.person_id FOR UPDATE;

	WITH c AS MATERIALIZED (
		SELECT c.*,
		       pair_kind(c.masked, c.fm) AS kind,
		       c.lim - c.distance AS margin,
		       c.lim - c.distance < low_margin
		       OR CASE WHEN c.fm THEN NOT EXISTS (SELECT 1 FROM face f WHERE f.project_id = p_project_id
		                                          AND f.person_id = c.person_id AND NOT f.masked)
		               ELSE false END AS low
		FROM unnest(ids, persons, dist, ts, cams, masks, face_masked, lim) WITH ORDINALITY
			AS c(capture_id, person_id, distance, captured_at, camera_id, masked, fm, lim, ord)
		WHERE c.person_id IS NOT NULL
	), l AS (
		SELECT c.*, lag(captured_at) OVER (PARTITION BY person_id ORDER BY captured_at, capture_id) AS lag_ts
		FROM c
	), g AS (
		SELECT l.*, count(*) FILTER (WHERE lag_ts IS NULL OR captured_at - lag_ts >= gap)
			OVER (PARTITION BY person_id ORDER BY captured_at, capture_id) AS grp
		FROM l
	), groups AS (
		SELECT person_id, grp, min(captured_at) AS s, max(captured_at) AS e, count(*)::integer AS n,
		       (array_agg(camera_id ORDER BY captured_at, capture_id))[1] AS first_cam,
		       (array_agg(capture_id ORDER BY captured_at, capture_id))[1] AS first_cap
		FROM g GROUP BY person_id, grp
	), assigned AS MATERIALIZED (
		SELECT groups.*, coalesce(v.visit_id, nextval('visit_id_seq')) AS visit_id, v.visit_id IS NULL AS is_new,
		       pv.visit_id AS prev_id, pv.started_at AS prev_start, pv.ended_at AS prev_end,
		       EXISTS (SELECT 1 FROM visit x WHERE x.project_id = p_project_id AND x.person_id = groups.person_id
		               AND x.started_at > groups.s) AS out_of_order
		FROM groups
		LEFT JOIN LATERAL (
			SELECT x.visit_id FROM visit x
			WHERE x.project_id = p_project_id AND x.person_id = groups.person_id
			  AND x.started_at - gap < groups.e AND x.ended_at + gap > groups.s
			ORDER BY x.started_at LIMIT 1) v ON true
		LEFT JOIN LATERAL (
			SELECT x.visit_id, x.started_at, x.ended_at FROM visit x
			WHERE x.project_id = p_project_id AND x.person_id = groups.person_id AND x.started_at < groups.s
			ORDER BY x.started_at DESC LIMIT 1) pv ON true
	), chained AS (
		SELECT a.*,
		       lag(visit_id) OVER w AS batch_prev_id, lag(e) OVER w AS batch_prev_end, lag(s) OVER w AS batch_prev_start
		FROM assigned a WINDOW w AS (PARTITION BY person_id ORDER BY s)
	), upd_visit AS (
		UPDATE visit v
		SET started_at = least(v.started_at, a.s),
		    ended_at = greatest(v.ended_at, a.e),
		    captures = v.captures + a.n,
		    first_camera_id = CASE WHEN a.s < v.started_at THEN a.first_cam ELSE v.first_camera_id END,
		    first_capture_id = CASE WHEN a.s < v.started_at THEN a.first_cap ELSE v.first_capture_id END
		FROM assigned a
		WHERE NOT a.is_new AND v.project_id = p_project_id AND v.visit_id = a.visit_id
	), ins_visit AS (
		INSERT INTO visit (project_id, visit_id, person_id, started_at, ended_at, captures,
		                   first_camera_id, first_capture_id, seen_before, previous_visit_id, previous_visit_at)
		SELECT p_project_id, a.visit_id, a.person_id, a.s, a.e, a.n, a.first_cam, a.first_cap,
		       coalesce(a.batch_prev_id, a.prev_id) IS NOT NULL,
		       CASE WHEN a.batch_prev_id IS NOT NULL AND (a.prev_id IS NULL OR a.batch_prev_start >= a.prev_start)
		            THEN a.batch_prev_id ELSE a.prev_id END,
		       CASE WHEN a.batch_prev_id IS NOT NULL AND (a.prev_id IS NULL OR a.batch_prev_start >= a.prev_start)
		            THEN a.batch_prev_end ELSE a.prev_end END
		FROM chained a WHERE a.is_new
	), terms AS MATERIALIZED (
		SELECT person_id, retention_terms(p_project_id, person_id, max(e)) AS t FROM assigned GROUP BY person_id
	), upd_capture AS (
		UPDATE capture x
		SET person_id = g.person_id, visit_id = a.visit_id, match_distance = g.distance,
		    match_kind = CASE WHEN g.distance IS NOT NULL THEN g.kind END, match_margin = g.margin,
		    match_low_confidence = g.low, match_reviewed_at = NULL,
		    expires_at = CASE WHEN x.face IS NOT NULL THEN expiry(tm.t, x.captured_at) END,
		    photo_expires_at = CASE WHEN x.photo IS NOT NULL THEN photo_expiry(tm.t, x.captured_at) END
		FROM g JOIN assigned a ON a.person_id = g.person_id AND a.grp = g.grp
		JOIN terms tm ON tm.person_id = g.person_id
		WHERE NOT p_row AND x.project_id = p_project_id AND x.capture_id = g.capture_id
	), upd_person AS (
		UPDATE person p
		SET first_seen = least(p.first_seen, s.s), last_seen = greatest(p.last_seen, s.e),
		    captures = p.captures + s.n, visits = p.visits + s.new_visits,
		    retention_day_end = end_of_day(greatest(p.last_seen, s.e), tz)
		FROM (SELECT person_id, min(s) AS s, max(e) AS e, sum(n) AS n, count(*) FILTER (WHERE is_new) AS new_visits
		      FROM assigned GROUP BY person_id) s
		WHERE p.project_id = p_project_id AND p.person_id = s.person_id
	)
	SELECT array_agg(DISTINCT person_id) FILTER (WHERE is_new AND out_of_order),
	       array_agg(visit_id) FILTER (WHERE is_new),
	       min(visit_id),
	       CASE WHEN p_row THEN (SELECT ARRAY[expiry(tm.t, ts[1]), photo_expiry(tm.t, ts[1])] FROM terms tm LIMIT 1) END,
	       CASE WHEN p_row THEN (SELECT c.low FROM c LIMIT 1) END
	INTO chain, opened, row_visit, row_expiry, row_low FROM assigned;
END
$$;
REVOKE ALL ON FUNCTION ingest_visits(bigint, bigint[], bigint[], float8[], timestamptz[], text[], boolean[], boolean[], float8[], bigint[], interval, float8, text, boolean) FROM PUBLIC;

-- what follows the visits: the visit chain of persons given a visit before a
-- known one, parties (同行) among the visits opened (issue 16), and
-- visitor.new / visitor.returned for them, in this transaction
-- (500_notifications.sql)
CREATE OR REPLACE FUNCTION ingest_visit_followups(p_project_id bigint, chain bigint[], opened bigint[], new_ids bigint[])
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF chain IS NOT NULL THEN
		PERFORM refresh_visit_chain(p_project_id, chain);
	END IF;
	IF opened IS NOT NULL THEN
		PERFORM assign_parties(p_project_id, opened);
		PERFORM emit_visit_events(p_project_id, opened, new_ids);
	END IF;
END
$$;
REVOKE ALL ON FUNCTION ingest_visit_followups(bigint, bigint[], bigint[], bigint[]) FROM PUBLIC;

-- the camera's common case in single-row statements (issue 21): one capture
-- (the single-row path) matched to a known person.  The same writes as
-- ingest_visits, ingest_visit_followups and ingest_gallery make for it,
-- without their batch statements over arrays (the visit statement's executor
-- start-up alone cost ~1 ms of a ~5 ms capture): the person locked first,
-- then the visit open at the capture's time extended, or a visit opened
-- (chained to the person's visit before it; parties and notifications as
-- for the batch), the person's counters and retention clock, and the
-- exemplars (ingest_gallery).  Returns the capture's visit, expiries and
-- low confidence.  capture_masked, face_masked: the capture's and its
-- matched gallery face's kinds; exemplar: the capture may be one (at least
-- min_quality).
CREATE OR REPLACE FUNCTION ingest_row_visit(p_project_id bigint, p_capture_id bigint, p_person_id bigint,
                                            p_distance float8, p_ts timestamptz, p_camera text, p_quality real,
                                            p_face embedding, capture_masked boolean, face_masked boolean,
                                            margin float8, low_margin float8, exemplar boolean, gap interval,
                                            recent_min float8,
                                            OUT visit_id bigint, OUT expires_at timestamptz,
                                            OUT photo_expires_at timestamptz, OUT low boolean)
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	SET plan_cache_mode = force_generic_plan
	AS $$
DECLARE
	t retention_terms;
	v bigint;
	opened boolean;
	later boolean;
BEGIN
	-- (the order of ingest_visits: the person, then the visit)
	PERFORM 1 FROM person p WHERE p.project_id = p_project_id AND p.person_id = p_person_id FOR UPDATE;
	-- (both read before the writes, as the visit statement reads them)
	low := margin < low_margin
	       OR (face_masked AND NOT EXISTS (SELECT 1 FROM face f WHERE f.project_id = p_project_id
	                                      AND f.person_id = p_person_id AND NOT f.masked));
	t := retention_terms(p_project_id, p_person_id, p_ts);
	SELECT x.visit_id INTO v FROM visit x
	WHERE x.project_id = p_project_id AND x.person_id = p_person_id
	  AND x.started_at - gap < p_ts AND x.ended_at + gap > p_ts
	ORDER BY x.started_at LIMIT 1;
	opened := v IS NULL;
	IF opened THEN
		later := EXISTS (SELECT 1 FROM visit x WHERE x.project_id = p_project_id AND x.person_id = p_person_id
		                 AND x.started_at > p_ts);
		INSERT INTO visit (project_id, visit_id, person_id, started_at, ended_at, captures,
		                   first_camera_id, first_capture_id, seen_before, previous_visit_id, previous_visit_at)
		SELECT p_project_id, nextval('visit_id_seq'), p_person_id, p_ts, p_ts, 1, p_camera, p_capture_id,
		       pv.visit_id IS NOT NULL, pv.visit_id, pv.ended_at
		FROM (SELECT 1) one
		LEFT JOIN LATERAL (
			SELECT x.visit_id, x.ended_at FROM visit x
			WHERE x.project_id = p_project_id AND x.person_id = p_person_id AND x.started_at < p_ts
			ORDER BY x.started_at DESC LIMIT 1) pv ON true
		RETURNING visit.visit_id INTO v;
	ELSE
		UPDATE visit x
		SET started_at = least(x.started_at, p_ts), ended_at = greatest(x.ended_at, p_ts), captures = x.captures + 1,
		    first_camera_id = CASE WHEN p_ts < x.started_at THEN p_camera ELSE x.first_camera_id END,
		    first_capture_id = CASE WHEN p_ts < x.started_at THEN p_capture_id ELSE x.first_capture_id END
		WHERE x.project_id = p_project_id AND x.visit_id = v;
	END IF;
	UPDATE person p
	SET first_seen = least(p.first_seen, p_ts), last_seen = greatest(p.last_seen, p_ts), captures = p.captures + 1,
	    visits = p.visits + opened::integer,
	    retention_day_end = end_of_day(greatest(p.last_seen, p_ts), t.time_zone)
	WHERE p.project_id = p_project_id AND p.person_id = p_person_id;
	visit_id := v;
	expires_at := expiry(t, p_ts);
	photo_expires_at := photo_expiry(t, p_ts);
	IF opened THEN
		PERFORM ingest_visit_followups(p_project_id, CASE WHEN later THEN ARRAY[p_person_id] END, ARRAY[v], NULL);
	END IF;
	-- the exemplars, as step 6 of ingest_batch writes them (its checks decide)
	IF exemplar THEN
		PERFORM ingest_gallery(p_project_id, ARRAY[p_capture_id], ARRAY[p_person_id], ARRAY[p_ts], ARRAY[p_quality],
		                       ARRAY[capture_masked], ARRAY[p_face], ARRAY[p_distance], ARRAY[face_masked], recent_min, gap);
	END IF;
END
$$;
REVOKE ALL ON FUNCTION ingest_row_visit(bigint, bigint, bigint, float8, timestamptz, text, real, embedding, boolean, boolean, float8, float8, boolean, interval, float8) FROM PUBLIC;

-- match one project's new captures (arrays in captured_at order) and record the results;
-- p_row: one capture not yet written (the single-row path, capture_ingest_row):
-- its person, visit, match distance and expiry (and its photo's, should it
-- have one) are returned instead of written to the capture
CREATE OR REPLACE FUNCTION ingest_batch(p_project_id bigint, ids bigint[], faces embedding[], masks boolean[],
                             ts timestamptz[], quality real[], cams text[], p_row boolean DEFAULT false)
	RETURNS TABLE (o_person_id bigint, o_visit_id bigint, o_distance float8,
	               o_expires_at timestamptz, o_photo_expires_at timestamptz,
	               o_kind text, o_margin float8, o_low_confidence boolean)
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	cnt integer := cardinality(ids);
	s record;
	use_exact boolean;
	persons bigint[] := array_fill(NULL::bigint, ARRAY[cnt]);
	dist float8[] := array_fill(NULL::float8, ARRAY[cnt]);
	-- per capture: the threshold of the pair its match rests on, whether the
	-- gallery face was masked
	lim float8[] := array_fill(NULL::float8, ARRAY[cnt]);
	face_masked boolean[] := array_fill(NULL::boolean, ARRAY[cnt]);
	todo integer[];
	new_ids bigint[];
	v record;
	k integer;
BEGIN
	s := ingest_settings(p_project_id);

	-- 1. each capture against the gallery: by the index, or, for a batch large
	-- against the gallery, by one exact OpenBLAS pass over it
	use_exact := ingest_use_exact(p_project_id, cnt, s.exact_faces, s.dims);
	IF use_exact THEN
		SELECT * INTO persons, dist, lim, face_masked
		FROM ingest_search_exact(p_project_id, faces, masks, s.thr, s.mthr, s.mmthr, persons, dist, lim, face_masked);
	ELSE
		SELECT * INTO persons, dist, lim, face_masked
		FROM ingest_search(p_project_id, faces, masks, NULL, 0, s.thr, s.mthr, s.mmthr, s.low_margin,
		                   s.has_masked, s.has_unmasked, persons, dist, lim, face_masked);
	END IF;

	-- 2. unmatched captures: the index may have missed the person (HNSW finds a
	-- near-duplicate's gallery face in most searches, not all), so search again
	-- with longer candidate lists, no lock held (only captures that would
	-- become new persons pay for it; skipped when new_person_ef_search is 0 or
	-- the search was exact, which misses nothing): first at new_person_ef_step,
	-- which finds most of the first search's misses for a fraction of the
	-- wider search's cost (skipped when 0 or not below new_person_ef_search),
	-- then at new_person_ef_search for what it left
	todo := ingest_unmatched(persons);
	IF todo IS NOT NULL AND s.wide_ef > 0 AND NOT use_exact THEN
		IF s.step_ef > 0 AND s.step_ef < s.wide_ef THEN
			SELECT * INTO persons, dist, lim, face_masked
			FROM ingest_search(p_project_id, faces, masks, todo, s.step_ef, s.thr, s.mthr, s.mmthr, s.low_margin,
			                   s.has_masked, s.has_unmasked, persons, dist, lim, face_masked);
			todo := ingest_unmatched(persons, todo);
		END IF;
		IF todo IS NOT NULL THEN
			SELECT * INTO persons, dist, lim, face_masked
			FROM ingest_search(p_project_id, faces, masks, todo, s.wide_ef, s.thr, s.mthr, s.mmthr, s.low_margin,
			                   s.has_masked, s.has_unmasked, persons, dist, lim, face_masked);
			todo := ingest_unmatched(persons, todo);
		END IF;
	END IF;

	-- a match that rests on a mask and does not stand out from the
	-- second-best person makes a new person (issue 18: 232_masked_evidence.sql;
	-- before the decision, so that these captures' faces are published too)
	FOREACH k IN ARRAY coalesce(masked_ambiguous(p_project_id, faces, masks, persons, dist, lim, face_masked,
	                                             s.thr, s.mthr, s.mmthr), '{}') LOOP
		persons[k] := NULL; dist[k] := NULL; lim[k] := NULL; face_masked[k] := NULL;
		todo := (SELECT array_agg(j ORDER BY j) FROM unnest(todo || k) j);
	END LOOP;

	-- the camera's common case, one capture matched to a known person: the
	-- same writes as steps 4-6 in single-row statements (ingest_row_visit)
	IF p_row AND persons[1] IS NOT NULL AND NOT ingest_on_citus() THEN
		v := ingest_row_visit(p_project_id, ids[1], persons[1], dist[1], ts[1], cams[1], quality[1], faces[1],
		                      masks[1], face_masked[1], lim[1] - dist[1], s.low_margin, quality[1] >= s.min_q,
		                      s.gap, s.recent_min);
		RETURN QUERY SELECT persons[1], v.visit_id, dist[1], v.expires_at, v.photo_expires_at,
		                    pair_kind(masks[1], face_masked[1]), lim[1] - dist[1], v.low;
		RETURN;
	END IF;

	-- 3. the new-person decision: look again when a concurrent camera made a
	-- person since, wait for a camera making a person of a near face, then
	-- one new person per group of still unmatched captures
	IF todo IS NOT NULL THEN
		SELECT * INTO persons, dist, lim, face_masked, todo
		FROM ingest_new_person_check(p_project_id, faces, masks, todo, s.wide_ef, s.thr, s.mthr, s.mmthr,
		                             s.low_margin, s.last_person, s.np_generation, s.dims,
		                             persons, dist, lim, face_masked);
	END IF;
	IF todo IS NOT NULL THEN
		SELECT * INTO persons, dist, lim, face_masked, new_ids
		FROM ingest_make_persons(p_project_id, faces, masks, ts, quality, todo, s.thr, s.mthr, s.mmthr, s.min_q, s.tz,
		                         persons, dist, lim, face_masked);
	END IF;

	-- 4. visits, and the captures' persons, visits, matches and expiries
	v := ingest_visits(p_project_id, ids, persons, dist, ts, cams, masks, face_masked, lim, new_ids,
	                   s.gap, s.low_margin, s.tz, p_row);
	-- unidentified captures (below min_quality, matching nobody): biometric
	-- data kept to the end of their local day, never past photo_retention
	IF array_position(persons, NULL) IS NOT NULL AND NOT ingest_on_citus() THEN	-- (on Citus: ingest_one_citus)
		IF p_row THEN
			v.row_expiry := ARRAY[end_of_day(ts[1], s.tz),
			                      least(end_of_day(ts[1], s.tz), ts[1] + project_setting_value(p_project_id, 'photo_retention')::interval)];
		ELSE
			PERFORM mark_unidentified(p_project_id, ids, persons);
		END IF;
	END IF;
	-- 5. visit chains, parties and notifications
	PERFORM ingest_visit_followups(p_project_id, v.chain, v.opened, new_ids);

	-- 6. the gallery's exemplars (captures below min_quality, and unidentified
	-- ones, are no exemplar)
	PERFORM ingest_gallery(p_project_id, ids,
	                       (SELECT array_agg(CASE WHEN quality[o] >= s.min_q THEN persons[o] END ORDER BY o)
	                        FROM generate_series(1, cnt) o),
	                       ts, quality, masks, faces, dist, face_masked, s.recent_min, s.gap);

	IF p_row THEN
		RETURN QUERY SELECT persons[1], v.row_visit, dist[1], v.row_expiry[1], v.row_expiry[2],
		                    CASE WHEN dist[1] IS NOT NULL THEN pair_kind(masks[1], face_masked[1]) END,
		                    lim[1] - dist[1], v.row_low;
	END IF;
END
$$;

-- 'zero' or 'overflow' for a face that can never be matched (a zero vector, or
-- one whose squared norm exceeds the float4 range), else NULL (src/domain/ingest.c)
CREATE OR REPLACE FUNCTION face_norm_problem(face embedding) RETURNS text
	AS 'MODULE_PATHNAME', 'fs_face_norm_problem' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION face_norm_problem(embedding) IS
	'why a face can never be matched: ''zero'' (no direction) or ''overflow'' (squared norm beyond float4); NULL when it can';

-- statement trigger: validate, then match each project's captures as one batch
CREATE OR REPLACE FUNCTION capture_ingest() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	bad record;
	b record;
BEGIN
	-- one pass groups the captures by project and checks them; only a statement
	-- with a bad capture runs the second query that finds its first bad capture
	FOR b IN
		SELECT n.project_id,
		       bool_or(bool_or(p.project_id IS NULL OR c.camera_id IS NULL OR n.face IS NULL OR dims(n.face) <> p.dims
		                       OR face_norm_problem(n.face) IS NOT NULL
		                       OR n.captured_at IS NULL
		                       OR n.captured_at > statement_timestamp() + coalesce(s.value, setting_default(d, p.dims))::interval
		                       OR n.quality IS NULL OR NOT (n.quality >= 0 AND n.quality <= 1)
		                       OR n.masked IS NULL OR n.person_id IS NOT NULL OR n.visit_id IS NOT NULL
		                       OR n.match_distance IS NOT NULL)) OVER () AS any_bad,
		       array_agg(n.capture_id ORDER BY n.captured_at, n.capture_id) AS ids,
		       array_agg(n.face ORDER BY n.captured_at, n.capture_id) AS faces,
		       array_agg(n.masked ORDER BY n.captured_at, n.capture_id) AS masks,
		       array_agg(n.captured_at ORDER BY n.captured_at, n.capture_id) AS ts,
		       array_agg(n.quality ORDER BY n.captured_at, n.capture_id) AS quality,
		       array_agg(n.camera_id ORDER BY n.captured_at, n.capture_id) AS cams
		FROM new_rows n
		LEFT JOIN project p ON p.project_id = n.project_id
		LEFT JOIN setting_definition d ON d.setting = 'max_clock_skew'
		LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
		LEFT JOIN camera c ON c.project_id = n.project_id AND c.camera_id = n.camera_id
		GROUP BY n.project_id ORDER BY n.project_id
	LOOP
		IF b.any_bad IS NOT FALSE THEN
			WITH ps AS (
				SELECT p.project_id, p.dims, coalesce(s.value, setting_default(d, p.dims))::interval AS skew
				FROM project p
				JOIN setting_definition d ON d.setting = 'max_clock_skew'
				LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
				WHERE p.project_id IN (SELECT DISTINCT project_id FROM new_rows)
			)
			SELECT n.project_id, n.capture_id, n.camera_id, n.captured_at, n.quality, n.masked,
			       n.person_id, n.visit_id, n.match_distance,
			       n.face IS NULL AS no_face, CASE WHEN n.face IS NOT NULL THEN dims(n.face) END AS face_dims,
			       face_norm_problem(n.face) AS norm_problem,
			       ps.dims, ps.skew, ps.project_id IS NOT NULL AS has_project, c.camera_id IS NOT NULL AS has_camera
			INTO bad
			FROM new_rows n
			LEFT JOIN ps ON ps.project_id = n.project_id
			LEFT JOIN camera c ON c.project_id = n.project_id AND c.camera_id = n.camera_id
			WHERE ps.project_id IS NULL OR c.camera_id IS NULL OR n.face IS NULL OR dims(n.face) <> ps.dims
			   OR face_norm_problem(n.face) IS NOT NULL
			   OR n.captured_at IS NULL OR n.captured_at > statement_timestamp() + ps.skew
			   OR n.quality IS NULL OR NOT (n.quality >= 0 AND n.quality <= 1)
			   OR n.masked IS NULL OR n.person_id IS NOT NULL OR n.visit_id IS NOT NULL OR n.match_distance IS NOT NULL
			ORDER BY n.capture_id LIMIT 1;
			IF FOUND THEN
				PERFORM capture_reject(bad);
			END IF;
		END IF;
		PERFORM ingest_batch(b.project_id, b.ids, b.faces, b.masks, b.ts, b.quality, b.cams);
	END LOOP;
	RETURN NULL;
END
$$;

-- raise the error for the first bad capture of a statement; shows no biometric data
CREATE OR REPLACE FUNCTION capture_reject(bad record) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	what text := format('The capture from camera %s at %s was refused; nothing from this statement was stored.',
	                    coalesce(quote_literal(bad.camera_id), 'NULL'), coalesce(bad.captured_at::text, 'NULL'));
BEGIN
	IF NOT bad.has_project THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', coalesce(bad.project_id::text, 'NULL')),
			DETAIL = what, HINT = 'Create the project with firstsight.create_project and give the camera its project_id.';
	ELSIF NOT bad.has_camera THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('camera %s is not registered in project %s', coalesce(quote_literal(bad.camera_id), 'NULL'), bad.project_id),
			DETAIL = what, HINT = 'Register it first: INSERT INTO firstsight.camera (project_id, camera_id, zone).';
	ELSIF bad.no_face THEN
		RAISE EXCEPTION USING ERRCODE = 'not_null_violation',
			MESSAGE = 'capture has no face embedding',
			DETAIL = what, HINT = 'Every capture needs a face embedding.';
	ELSIF bad.face_dims <> bad.dims THEN
		RAISE EXCEPTION USING ERRCODE = 'data_exception',
			MESSAGE = format('face embedding has %s dimensions, project %s expects %s', bad.face_dims, bad.project_id, bad.dims),
			DETAIL = what, HINT = 'The camera''s face model must match the dims given to firstsight.create_project.';
	ELSIF bad.norm_problem = 'zero' THEN
		RAISE EXCEPTION USING ERRCODE = 'data_exception',
			MESSAGE = 'face embedding is a zero vector',
			DETAIL = what, HINT = 'A face with no direction can never be matched; check the camera''s face model.';
	ELSIF bad.norm_problem IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'numeric_value_out_of_range',
			MESSAGE = 'face embedding is out of range: its squared norm exceeds the real (float4) range',
			DETAIL = what, HINT = 'Face models give elements of moderate size (unit vectors or near); check the camera''s face model.';
	ELSIF bad.captured_at IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'not_null_violation',
			MESSAGE = 'capture has no captured_at time',
			DETAIL = what, HINT = 'Send the time the camera saw the face.';
	ELSIF bad.captured_at > statement_timestamp() + bad.skew THEN
		RAISE EXCEPTION USING ERRCODE = 'datetime_field_overflow',
			MESSAGE = 'captured_at is in the future',
			DETAIL = what, HINT = format('Captures may be at most %s ahead of the server clock (setting max_clock_skew); check the camera''s clock.', bad.skew);
	ELSIF bad.quality IS NULL OR NOT (bad.quality >= 0 AND bad.quality <= 1) THEN
		RAISE EXCEPTION USING ERRCODE = 'check_violation',
			MESSAGE = format('capture quality %s is outside 0 to 1', coalesce(bad.quality::text, 'NULL')),
			DETAIL = what, HINT = 'Scale the camera''s quality score to the range 0 to 1.';
	ELSIF bad.masked IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'not_null_violation',
			MESSAGE = 'capture has a null masked flag',
			DETAIL = what, HINT = 'Send true or false, or leave the column out (false).';
	ELSE
		RAISE EXCEPTION USING ERRCODE = 'generated_always',
			MESSAGE = 'person_id, visit_id and match_distance are filled by firstsight',
			DETAIL = what, HINT = 'Leave these columns out of the INSERT or COPY.';
	END IF;
END
$$;

-- The single-row path (src/domain/ingest.c): a statement that inserts exactly
-- one capture (INSERT ... VALUES of one row, as a camera sends it) is matched
-- by a BEFORE ROW trigger that fills the row before it is written (one row
-- version instead of an insert and an update), and the statement trigger is
-- skipped for it.  Multi-row INSERTs and COPY stay one batch.
CREATE OR REPLACE FUNCTION ingest_single_row(rel regclass) RETURNS boolean
	AS 'MODULE_PATHNAME', 'fs_ingest_single_row' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ingest_single_row(regclass) IS
	'true once, for the row of a statement that inserts exactly one row into rel (capture ingestion''s single-row path)';
CREATE OR REPLACE FUNCTION ingest_row_done() RETURNS void
	AS 'MODULE_PATHNAME', 'fs_ingest_row_done' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ingest_row_done() IS 'the single-row path has filled the statement''s capture';
-- only capture_ingest_row (as the owner) says so: a caller who could would
-- make the next statement's batch trigger skip unfilled captures
REVOKE ALL ON FUNCTION ingest_row_done() FROM PUBLIC;
CREATE OR REPLACE FUNCTION ingest_statement_pending() RETURNS boolean
	AS 'MODULE_PATHNAME', 'fs_ingest_statement_pending' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ingest_statement_pending() IS 'false when the single-row path has filled the statement''s capture (the batch trigger is skipped)';

-- one capture, before it is written: the same checks and errors as the batch
-- (capture_reject), the same matching (ingest_batch with p_row)
CREATE OR REPLACE FUNCTION capture_ingest_row() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	-- (issue 21: one capture's statements, in every function it calls and the
	-- triggers its writes fire, keep one generic plan each instead of being
	-- planned again per capture, ~0.8 ms of a ~6 ms capture: their parameters
	-- are one capture's, so the custom plans are no better)
	SET plan_cache_mode = force_generic_plan
	AS $$
DECLARE
	bad record;
	r record;
BEGIN
	SELECT NEW.project_id, NEW.capture_id, NEW.camera_id, NEW.captured_at, NEW.quality, NEW.masked,
	       NEW.person_id, NEW.visit_id, NEW.match_distance,
	       NEW.face IS NULL AS no_face, CASE WHEN NEW.face IS NOT NULL THEN dims(NEW.face) END AS face_dims,
	       face_norm_problem(NEW.face) AS norm_problem,
	       p.dims, coalesce(s.value, setting_default(d, p.dims))::interval AS skew,
	       p.project_id IS NOT NULL AS has_project, c.camera_id IS NOT NULL AS has_camera
	INTO bad
	FROM (SELECT 1) one
	LEFT JOIN project p ON p.project_id = NEW.project_id
	LEFT JOIN setting_definition d ON d.setting = 'max_clock_skew'
	LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
	LEFT JOIN camera c ON c.project_id = NEW.project_id AND c.camera_id = NEW.camera_id;
	IF NOT bad.has_project OR NOT bad.has_camera OR bad.no_face OR bad.face_dims <> bad.dims
	   OR bad.norm_problem IS NOT NULL
	   OR NEW.captured_at IS NULL OR NEW.captured_at > statement_timestamp() + bad.skew
	   OR NEW.quality IS NULL OR NOT (NEW.quality >= 0 AND NEW.quality <= 1)
	   OR NEW.masked IS NULL OR NEW.person_id IS NOT NULL OR NEW.visit_id IS NOT NULL
	   OR NEW.match_distance IS NOT NULL THEN
		PERFORM capture_reject(bad);
	END IF;
	SELECT * INTO r
	FROM ingest_batch(NEW.project_id, ARRAY[NEW.capture_id], ARRAY[NEW.face], ARRAY[NEW.masked],
	                  ARRAY[NEW.captured_at], ARRAY[NEW.quality], ARRAY[NEW.camera_id], true);
	NEW.person_id := r.o_person_id;
	NEW.visit_id := r.o_visit_id;
	NEW.match_distance := r.o_distance;
	NEW.match_kind := r.o_kind;
	NEW.match_margin := r.o_margin;
	NEW.match_low_confidence := r.o_low_confidence;
	NEW.match_reviewed_at := NULL;
	NEW.expires_at := r.o_expires_at;
	NEW.photo_expires_at := CASE WHEN NEW.photo IS NOT NULL THEN r.o_photo_expires_at END;
	PERFORM ingest_row_done();
	RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER capture_ingest_row BEFORE INSERT ON capture
	FOR EACH ROW WHEN (firstsight.ingest_single_row('firstsight.capture'::regclass))
	EXECUTE FUNCTION capture_ingest_row();

CREATE OR REPLACE TRIGGER capture_ingest AFTER INSERT ON capture
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT WHEN (firstsight.ingest_statement_pending())
	EXECUTE FUNCTION capture_ingest();

-- Rows that did not come from a camera (a restore, a logical-replication
-- apply, a bulk load by the DBA) are written with session_replication_role =
-- replica: none of the triggers above fires, so they keep the person, visit
-- and distance they carry.  PostgreSQL lets only superusers set it; should a
-- superuser grant it to another role (GRANT SET ON PARAMETER), that role may
-- still load captures without ingestion only if it may write the columns
-- ingestion fills (a camera may not): this guard fires in every mode.
CREATE OR REPLACE FUNCTION capture_origin_guard() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF NOT has_column_privilege('firstsight.capture', 'person_id', 'INSERT') THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = 'captures without ingestion are for restores and replication only',
			DETAIL = format('Role %s inserted captures with session_replication_role = replica.', current_user),
			HINT = 'Cameras insert with session_replication_role = origin (the default).';
	END IF;
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER capture_origin_guard BEFORE INSERT ON capture
	FOR EACH STATEMENT
	WHEN (pg_catalog.current_setting('session_replication_role') OPERATOR(pg_catalog.=) 'replica')
	EXECUTE FUNCTION capture_origin_guard();
ALTER TABLE capture ENABLE ALWAYS TRIGGER capture_origin_guard;
