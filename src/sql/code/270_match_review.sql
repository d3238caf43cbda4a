-- Matches of low confidence (issue 18): ingestion marks a capture's match
-- low confidence when it is less than low_confidence_margin inside its
-- threshold, or rests on a masked face of a person with no unmasked face.
-- The daily review reads them here, confirms them (confirm_matches) or moves
-- the wrong ones to a person of their own (split_person).

-- (the view match_review is in 430_access_hardening.sql: it is scoped by
-- reads_project, since capture has no row-level security once setup_roles ran)

-- the review confirmed these matches: they leave match_review; returns how many
CREATE OR REPLACE FUNCTION confirm_matches(project_id bigint, capture_ids bigint[]) RETURNS integer
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	n integer;
BEGIN
	PERFORM require_project(confirm_matches.project_id);	-- managers: their projects
	UPDATE capture c SET match_reviewed_at = now()
	WHERE c.project_id = confirm_matches.project_id AND c.capture_id = ANY (capture_ids)
	  AND c.match_low_confidence AND c.match_reviewed_at IS NULL;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
COMMENT ON FUNCTION confirm_matches(bigint, bigint[]) IS
	'mark low-confidence matches as confirmed by the review (they leave match_review); returns how many';
REVOKE EXECUTE ON FUNCTION confirm_matches(bigint, bigint[]) FROM PUBLIC;

-- explain_attribution's lines on masks: whether the first sighting (a visit)
-- rests on a masked match, and how close it was to its threshold
CREATE OR REPLACE FUNCTION explain_masked_sighting(p_project_id bigint, p_visit_id bigint) RETURNS SETOF text
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	v visit;
	all_masked boolean;
	m record;
BEGIN
	SELECT * INTO v FROM visit x WHERE x.project_id = p_project_id AND x.visit_id = p_visit_id;
	IF v.visit_id IS NULL THEN
		RETURN;
	END IF;
	SELECT bool_and(c.masked) INTO all_masked
	FROM capture c WHERE c.project_id = p_project_id AND c.visit_id = v.visit_id;
	-- the closest call among the masked matches that tie this visit to its person:
	-- its own captures' matches, and, when the person was masked throughout it,
	-- the matches of the person's later captures that rest on a masked face
	SELECT c.capture_id, c.visit_id, c.match_kind, c.match_distance, c.match_margin,
	       c.match_low_confidence, c.match_reviewed_at
	INTO m
	FROM capture c
	WHERE c.project_id = p_project_id AND c.person_id = v.person_id AND c.match_kind IN ('masked_unmasked', 'masked_masked')
	  AND (c.visit_id = v.visit_id OR all_masked)
	ORDER BY c.visit_id <> v.visit_id, c.match_margin, c.capture_id
	LIMIT 1;
	IF all_masked THEN
		RETURN NEXT format('first sighting (visit %s) saw person %s masked at every capture', v.visit_id, v.person_id);
	END IF;
	IF m.capture_id IS NOT NULL THEN
		RETURN NEXT format('first sighting rests on a masked match: capture %s (visit %s) matched as %s at distance %s, threshold %s, margin %s%s',
		                   m.capture_id, m.visit_id, replace(m.match_kind, '_', '-'),
		                   round(m.match_distance::numeric, 4), round((m.match_distance + m.match_margin)::numeric, 4),
		                   round(m.match_margin::numeric, 4),
		                   CASE WHEN m.match_reviewed_at IS NOT NULL THEN ' (low confidence, confirmed by review)'
		                        WHEN m.match_low_confidence THEN ' (low confidence, not yet reviewed)' ELSE '' END);
	END IF;
END
$$;
COMMENT ON FUNCTION explain_masked_sighting(bigint, bigint) IS
	'lines for explain_attribution: whether a first sighting rests on a masked match, and how close to its threshold it was';
