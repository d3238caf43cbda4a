-- Masked faces decided on the person's evidence (issue 18).
--
-- One threshold per kind of pair is not enough for a small (128-d) model: a
-- masked capture is compared with every person of the gallery, and the
-- different people's distances of a masked pair reach well under the same
-- person's.  What separates them is the second-best person: the right person
-- is nearly always the nearest, by a clear margin, when it is in the
-- gallery, and a capture whose person is not (first seen masked) lands near
-- several people alike.  Two steps:
--   masked_ambiguous: ingestion takes a match that rests on a mask only when
--     it stands out from the second-best person (setting masked_ratio);
--     the others become new persons.
--   consolidate_masked: afterwards, persons are joined on all their
--     captures: the average over every pair of their captures, each distance
--     scaled by its kind of pair, when the average is under 1 and clearly
--     below that to the second-nearest person (setting consolidate_ratio).
--     This joins what a mask split: a person first seen masked and the same
--     person seen unmasked later, several masked-only persons of one face.

-- the positions (1-based, as ingest_batch's arrays) of captures whose match
-- rests on a mask (masked capture or masked gallery face) and does not stand
-- out: distance / threshold above masked_ratio times the same for the
-- nearest gallery face of another person (either kind, each with the
-- threshold of its pair); NULL when none
CREATE OR REPLACE FUNCTION masked_ambiguous(p_project_id bigint, faces embedding[], masks boolean[], persons bigint[],
                                            dist float8[], lim float8[], face_masked boolean[],
                                            thr float8, mthr float8, mmthr float8)
	RETURNS integer[]
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	ratio float8;
	dims integer;
	bad integer[];
BEGIN
	-- most batches have no match resting on a mask: no further query
	IF NOT EXISTS (SELECT 1 FROM unnest(persons, masks, face_masked, dist) AS c(person_id, masked, fm, distance)
	               WHERE c.person_id IS NOT NULL AND c.distance IS NOT NULL AND (c.masked OR c.fm)) THEN
		RETURN NULL;
	END IF;
	ratio := project_setting_value(p_project_id, 'masked_ratio')::float8;
	IF ratio IS NULL OR ratio >= 1 THEN
		RETURN NULL;
	END IF;
	SELECT p.dims INTO dims FROM project p WHERE p.project_id = p_project_id;
	-- (the cast to the project's dimension matches the gallery's index expression)
	EXECUTE format($q$
	SELECT array_agg(c.ord::integer ORDER BY c.ord)
	FROM unnest($1, $2, $3, $4, $5, $6) WITH ORDINALITY AS c(face, masked, person_id, distance, lim, fm, ord)
	CROSS JOIN LATERAL (
		SELECT min(o.distance / pair_threshold(c.masked, k.masked, $7, $8, $9)) AS score
		FROM unnest(ARRAY[false, true]) AS k(masked)
		CROSS JOIN LATERAL (
			SELECT f.face OPERATOR(firstsight.<=>) c.face AS distance
			FROM %s f
			WHERE f.masked = k.masked AND f.person_id <> c.person_id
			ORDER BY f.face::firstsight.embedding(%s) OPERATOR(firstsight.<=>) c.face
			LIMIT 1) o) second
	WHERE c.person_id IS NOT NULL AND c.distance IS NOT NULL AND (c.masked OR c.fm)
	  AND c.distance / c.lim > $10 * second.score$q$, gallery_table(p_project_id), dims)
	INTO bad
	USING faces, masks, persons, dist, lim, face_masked, thr, mthr, mmthr, ratio;
	RETURN bad;
END
$$;
COMMENT ON FUNCTION masked_ambiguous(bigint, embedding[], boolean[], bigint[], float8[], float8[], boolean[], float8, float8, float8) IS
	'ingestion: positions of captures whose match rests on a mask and is not at most masked_ratio of the second-best person''s (relative to each pair''s threshold)';
REVOKE EXECUTE ON FUNCTION masked_ambiguous(bigint, embedding[], boolean[], bigint[], float8[], float8[], boolean[], float8, float8, float8) FROM PUBLIC;

-- join persons on all their captures (see the top of this file); returns the
-- merges.  since: only captures from then on (the cost grows with the square
-- of the captures read: 1,200 captures and 176 merges took 74 s at load 15);
-- a person joins at most one other per pass, passes repeat until one joins none
CREATE OR REPLACE FUNCTION consolidate_masked(project_id bigint, since timestamptz DEFAULT NULL, max_passes integer DEFAULT 20)
	RETURNS TABLE (kept_person_id bigint, merged_person_id bigint)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := consolidate_masked.project_id;
	u float8 := project_setting_value(pid, 'match_distance')::float8;
	mu float8 := project_setting_value(pid, 'consolidate_masked_distance')::float8;
	mm float8 := project_setting_value(pid, 'consolidate_masked_masked_distance')::float8;
	ratio float8 := project_setting_value(pid, 'consolidate_ratio')::float8;
	used bigint[];
	joined integer;
	k bigint;
	r record;
BEGIN
	IF u IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', pid);
	END IF;
	-- serialise with new-person creation, as merge_persons does
	PERFORM pg_advisory_xact_lock(hashtextextended('firstsight.new_person', pid));
	FOR pass IN 1 .. max_passes LOOP
		used := '{}';
		joined := 0;
		-- per pair of persons the average scaled distance of their captures;
		-- per person its nearest and second-nearest person; the person with
		-- fewer captures (of as many: more masked ones, the one in question)
		-- joins its nearest when the average is at most 1 and at most
		-- consolidate_ratio times its second-nearest's, and one of the two has
		-- a masked capture (unmasked persons are merge_persons' work)
		FOR r IN
			WITH c AS MATERIALIZED (
				SELECT x.person_id, x.masked, x.face FROM capture x
				WHERE x.project_id = pid AND x.person_id IS NOT NULL AND x.face IS NOT NULL
				  AND (since IS NULL OR x.captured_at >= since)
			), n AS (
				SELECT c.person_id, count(*) AS n, count(*) FILTER (WHERE c.masked) AS masked FROM c GROUP BY c.person_id
			), s AS MATERIALIZED (
				SELECT a.person_id AS pa, b.person_id AS pb,
				       avg((a.face OPERATOR(firstsight.<=>) b.face)
				           / CASE WHEN a.masked AND b.masked THEN mm WHEN a.masked OR b.masked THEN mu ELSE u END) AS score
				FROM c a JOIN c b ON a.person_id < b.person_id
				GROUP BY a.person_id, b.person_id
			), ranked AS (
				SELECT e.p, e.o, e.score,
				       row_number() OVER w AS rk, lead(e.score) OVER w AS second
				FROM (SELECT pa AS p, pb AS o, score FROM s UNION ALL SELECT pb, pa, score FROM s) e
				WINDOW w AS (PARTITION BY e.p ORDER BY e.score, e.o)
			)
			SELECT q.p AS small, q.o AS other
			FROM ranked q
			JOIN n np ON np.person_id = q.p
			JOIN n nb ON nb.person_id = q.o
			WHERE q.rk = 1 AND q.score <= 1 AND (q.second IS NULL OR q.score <= ratio * q.second)
			  AND (np.n, -np.masked, q.p) < (nb.n, -nb.masked, q.o) AND np.masked + nb.masked > 0
			ORDER BY q.score, q.p
		LOOP
			CONTINUE WHEN r.small = ANY (used) OR r.other = ANY (used);
			-- never join persons a manager split apart
			CONTINUE WHEN persons_distinct(pid, r.small, r.other);
			k := merge_person(pid, r.small, r.other);
			used := used || r.small || r.other;
			joined := joined + 1;
			kept_person_id := k;
			merged_person_id := CASE WHEN k = r.small THEN r.other ELSE r.small END;
			RETURN NEXT;
		END LOOP;
		EXIT WHEN joined = 0;
	END LOOP;
END
$$;
COMMENT ON FUNCTION consolidate_masked(bigint, timestamptz, integer) IS
	'join persons a mask split, on the average scaled distance of all their captures and its margin to the second-nearest person (settings consolidate_*); returns the merges';
REVOKE EXECUTE ON FUNCTION consolidate_masked(bigint, timestamptz, integer) FROM PUBLIC;
