-- Threshold calibration from identity-verified captures.

-- proposed match thresholds per kind of pair (unmasked-unmasked,
-- masked-unmasked, masked-masked), with expected true and false match rates
CREATE OR REPLACE FUNCTION calibrate(project_id bigint, target_false_match_rate float8 DEFAULT 0.001,
                                     max_captures integer DEFAULT 2000, min_pairs integer DEFAULT 30)
	RETURNS TABLE (pair_kind text, setting text, current_distance float8, proposed_distance float8,
	               same_pairs bigint, different_pairs bigint,
	               true_match_rate float8, false_match_rate float8,
	               current_true_match_rate float8, current_false_match_rate float8,
	               same_median float8, same_p95 float8, same_max float8,
	               different_min float8, different_p5 float8, different_median float8, note text)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := calibrate.project_id;
	faces embedding[];
	masks boolean[];
	ids bytea[];
	need_diff bigint;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM project p WHERE p.project_id = pid) THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = format('project %s does not exist', pid);
	END IF;
	IF target_false_match_rate IS NULL OR NOT (target_false_match_rate > 0 AND target_false_match_rate < 1) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'target_false_match_rate must be between 0 and 1',
			HINT = 'For example 0.001: one false match in a thousand comparisons of different people.';
	END IF;
	IF min_pairs IS NULL OR min_pairs < 1 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'min_pairs must be at least 1',
			HINT = 'The default, 30, asks for 30 same-person and 30 different-person pairs of a kind before proposing its threshold.';
	END IF;
	-- where the distributions overlap, the threshold is a quantile of the
	-- different-person distances: it needs enough of them to show one false
	-- match at the target rate
	need_diff := greatest(min_pairs, ceil(1 / target_false_match_rate)::bigint);
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
	WITH pairs AS MATERIALIZED (
		SELECT pair_kind(masks[s.i], masks[s.j]) AS kind,
		       ids[s.i] = ids[s.j] AS same, s.distance
		FROM similarity_pairs(coalesce(faces[1:max_captures], '{}'), coalesce(faces[1:max_captures], '{}'), 2.0) s
		WHERE s.i < s.j
	), classes AS (
		SELECT k.kind, k.setting, k.ord,
		       project_setting_value(pid, k.setting)::float8 AS cur
		FROM (VALUES ('unmasked', 'match_distance', 1), ('masked_unmasked', 'masked_match_distance', 2),
		             ('masked_masked', 'masked_masked_match_distance', 3)) k(kind, setting, ord)
	), stats AS (
		SELECT k.kind, k.setting, k.ord, k.cur,
		       count(p.*) FILTER (WHERE p.same) AS same_n,
		       count(p.*) FILTER (WHERE NOT p.same) AS diff_n,
		       percentile_cont(0.5) WITHIN GROUP (ORDER BY p.distance) FILTER (WHERE p.same) AS same_p50,
		       percentile_cont(0.95) WITHIN GROUP (ORDER BY p.distance) FILTER (WHERE p.same) AS same_p95,
		       max(p.distance) FILTER (WHERE p.same) AS same_max,
		       min(p.distance) FILTER (WHERE NOT p.same) AS diff_min,
		       percentile_cont(0.05) WITHIN GROUP (ORDER BY p.distance) FILTER (WHERE NOT p.same) AS diff_p5,
		       percentile_cont(0.5) WITHIN GROUP (ORDER BY p.distance) FILTER (WHERE NOT p.same) AS diff_p50,
		       percentile_cont(target_false_match_rate) WITHIN GROUP (ORDER BY p.distance) FILTER (WHERE NOT p.same) AS diff_q
		FROM classes k LEFT JOIN pairs p ON p.kind = k.kind
		GROUP BY k.kind, k.setting, k.ord, k.cur
	), proposal AS (
		SELECT s.*,
		       CASE WHEN s.same_n < min_pairs OR s.diff_n < min_pairs THEN NULL
		            WHEN s.same_max < s.diff_min THEN (s.same_max + s.diff_min) / 2
		            WHEN s.diff_n < need_diff THEN NULL
		            ELSE s.diff_q END AS t
		FROM stats s
	)
	SELECT pr.kind, pr.setting, pr.cur, round(pr.t::numeric, 4)::float8,
	       pr.same_n, pr.diff_n,
	       (SELECT avg((p.distance <= round(pr.t::numeric, 4))::integer) FROM pairs p WHERE p.kind = pr.kind AND p.same)::float8,
	       (SELECT avg((p.distance <= round(pr.t::numeric, 4))::integer) FROM pairs p WHERE p.kind = pr.kind AND NOT p.same)::float8,
	       (SELECT avg((p.distance <= pr.cur)::integer) FROM pairs p WHERE p.kind = pr.kind AND p.same)::float8,
	       (SELECT avg((p.distance <= pr.cur)::integer) FROM pairs p WHERE p.kind = pr.kind AND NOT p.same)::float8,
	       pr.same_p50, pr.same_p95, pr.same_max, pr.diff_min, pr.diff_p5, pr.diff_p50,
	       CASE WHEN pr.same_n < min_pairs OR pr.diff_n < min_pairs
	            THEN format('too few pairs to propose: %s same-person and %s different-person, at least %s of each needed; bind the ID cards of more persons with several %s captures',
	                        pr.same_n, pr.diff_n, min_pairs,
	                        CASE pr.kind WHEN 'unmasked' THEN 'unmasked' WHEN 'masked_masked' THEN 'masked' ELSE 'masked and unmasked' END)
	            WHEN pr.same_max < pr.diff_min THEN 'same and different persons separate cleanly: midway between them'
	            WHEN pr.diff_n < need_diff
	            THEN format('distributions overlap and %s different-person pairs cannot show a false match rate of %s: at least %s needed',
	                        pr.diff_n, target_false_match_rate, need_diff)
	            ELSE format('distributions overlap: threshold at the %s quantile of different-person distances', target_false_match_rate)
	       END
	FROM proposal pr ORDER BY pr.ord;
END
$$;
COMMENT ON FUNCTION calibrate(bigint, float8, integer, integer) IS
	'propose a match threshold per kind of pair (unmasked, masked-unmasked, masked-masked) from ID-card-verified captures, with expected true and false match rates; refuses a kind with fewer than min_pairs pairs';
REVOKE EXECUTE ON FUNCTION calibrate(bigint, float8, integer, integer) FROM PUBLIC;
