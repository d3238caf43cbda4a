-- Threshold calibration from identity-verified captures.

-- proposed match thresholds for unmasked and masked faces, with expected rates
CREATE OR REPLACE FUNCTION calibrate(project_id bigint, target_false_match_rate float8 DEFAULT 0.001, max_captures integer DEFAULT 2000)
	RETURNS TABLE (masked boolean, current_distance float8, proposed_distance float8,
	               same_pairs bigint, different_pairs bigint,
	               true_match_rate float8, false_match_rate float8,
	               same_max float8, different_min float8, note text)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := calibrate.project_id;
	faces embedding[];
	masks boolean[];
	ids bytea[];
BEGIN
	IF NOT EXISTS (SELECT 1 FROM project p WHERE p.project_id = pid) THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = format('project %s does not exist', pid);
	END IF;
	IF target_false_match_rate IS NULL OR NOT (target_false_match_rate > 0 AND target_false_match_rate < 1) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'target_false_match_rate must be between 0 and 1',
			HINT = 'For example 0.001: one false match in a thousand comparisons of different people.';
	END IF;
	-- captures whose person is known for sure: persons with a bound ID card, labelled by the card
	SELECT array_agg(c.face ORDER BY c.capture_id), array_agg(c.masked ORDER BY c.capture_id),
	       array_agg(b.card ORDER BY c.capture_id)
	INTO faces, masks, ids
	FROM (SELECT DISTINCT ON (current_person(pid, i.person_id)) current_person(pid, i.person_id) AS person_id, i.id_card_hash AS card
	      FROM identity i WHERE i.project_id = pid AND i.id_card_hash IS NOT NULL
	      ORDER BY current_person(pid, i.person_id), i.bound_at) b
	CROSS JOIN LATERAL (
		SELECT c.* FROM capture c
		WHERE c.project_id = pid AND c.person_id = b.person_id AND c.face IS NOT NULL
		ORDER BY c.captured_at DESC LIMIT greatest(1, max_captures / 50)) c;

	RETURN QUERY
	WITH pairs AS (
		SELECT (masks[s.i] OR masks[s.j]) AS masked, ids[s.i] = ids[s.j] AS same, s.distance
		FROM similarity_pairs(coalesce(faces[1:max_captures], '{}'), coalesce(faces[1:max_captures], '{}'), 2.0) s
		WHERE s.i < s.j
	), classes AS (
		SELECT m AS masked FROM unnest(ARRAY[false, true]) m
	), stats AS (
		SELECT k.masked,
		       count(p.*) FILTER (WHERE p.same) AS same_n,
		       count(p.*) FILTER (WHERE NOT p.same) AS diff_n,
		       max(p.distance) FILTER (WHERE p.same) AS same_max,
		       min(p.distance) FILTER (WHERE NOT p.same) AS diff_min,
		       percentile_cont(target_false_match_rate) WITHIN GROUP (ORDER BY p.distance) FILTER (WHERE NOT p.same) AS diff_q
		FROM classes k LEFT JOIN pairs p ON p.masked = k.masked
		GROUP BY k.masked
	), proposal AS (
		SELECT s.*,
		       CASE WHEN s.same_n = 0 OR s.diff_n = 0 THEN NULL
		            WHEN s.same_max < s.diff_min THEN (s.same_max + s.diff_min) / 2
		            ELSE s.diff_q END AS t
		FROM stats s
	)
	SELECT pr.masked,
	       project_setting_value(pid, CASE WHEN pr.masked THEN 'masked_match_distance' ELSE 'match_distance' END)::float8,
	       round(pr.t::numeric, 4)::float8,
	       pr.same_n, pr.diff_n,
	       (SELECT avg((p.distance <= pr.t)::integer) FROM pairs p WHERE p.masked = pr.masked AND p.same)::float8,
	       (SELECT avg((p.distance <= pr.t)::integer) FROM pairs p WHERE p.masked = pr.masked AND NOT p.same)::float8,
	       pr.same_max, pr.diff_min,
	       CASE WHEN pr.same_n = 0 OR pr.diff_n = 0
	            THEN 'not enough identity-verified captures: bind ID cards of at least two persons with several captures each'
	            WHEN pr.same_max < pr.diff_min THEN 'same and different persons separate cleanly: midway between them'
	            ELSE format('distributions overlap: threshold at the %s quantile of different-person distances', target_false_match_rate)
	       END
	FROM proposal pr ORDER BY pr.masked;
END
$$;
COMMENT ON FUNCTION calibrate(bigint, float8, integer) IS
	'propose unmasked and masked match thresholds from ID-card-verified captures, with expected true and false match rates';
