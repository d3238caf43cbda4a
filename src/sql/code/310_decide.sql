-- Deciding a deal's attribution.  decide_attribution walks the buyers'
-- visits in time order and keeps the owner (natural or an agency) and the
-- owning consultant, recording every fact it used in the evidence; the flags
-- come from the same walk.  attribute_deal stores the result as a new version.

-- a channel's name for timelines
-- (PL/pgSQL: explain_attribution calls it at headquarters on Citus too, which
-- plans no SQL function with parameters)
CREATE OR REPLACE FUNCTION channel_label(p_project_id bigint, p_channel_id bigint) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ BEGIN RETURN coalesce((SELECT c.name FROM channel c WHERE c.project_id = p_project_id AND c.channel_id = p_channel_id),
	                            'no channel'); END $$;

-- the abnormal_cycle bound, in sample standard deviations, for a channel history of n
-- deals: the two-sided prediction interval of a new deal with the coverage of
-- sigma standard deviations of a normal distribution.  The mean and standard
-- deviation are estimated from n deals, so the bound is Student's t quantile with
-- n - 1 degrees of freedom (Cornish-Fisher expansion of the normal quantile sigma,
-- within 0.1% for 10 or more deals) widened by sqrt(1 + 1/n); it tends to sigma as
-- n grows (20 deals, sigma 2: 2.19; 50: 2.07; 200: 2.02)
CREATE OR REPLACE FUNCTION abnormal_cycle_bound(sigma float8, n bigint) RETURNS float8
	LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
	SET search_path = firstsight, pg_catalog, pg_temp	-- called once per decision: no need to be inlined
	AS $$
	SELECT (z + (z ^ 3 + z) / (4 * nu) + (5 * z ^ 5 + 16 * z ^ 3 + 3 * z) / (96 * nu ^ 2)
	          + (3 * z ^ 7 + 19 * z ^ 5 + 17 * z ^ 3 - 15 * z) / (384 * nu ^ 3)) * sqrt(1 + 1.0 / n)
	FROM (SELECT sigma AS z, greatest(n - 1, 1)::float8 AS nu) s
	$$;
COMMENT ON FUNCTION abnormal_cycle_bound(float8, bigint) IS
	'abnormal_cycle: the prediction-interval bound in sample standard deviations for a history of n deals';

-- the settings, time zone and channel names a decision reads, in one object
-- (PL/pgSQL, and setting_default's rule written out: central ingestion on
-- Citus runs it next to the shards, for the notification of a returning
-- visitor, where Citus plans no SQL function with parameters and a whole-row
-- argument gets the shard's row type)
CREATE OR REPLACE FUNCTION decision_settings(p_project_id bigint) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	channels jsonb;
	natural_channel bigint;
BEGIN
	SELECT jsonb_object_agg(c.channel_id::text, c.name) INTO channels FROM channel c WHERE c.project_id = p_project_id;
	SELECT min(c.channel_id) INTO natural_channel FROM channel c WHERE c.project_id = p_project_id AND c.kind = 'natural';
	RETURN (
	SELECT jsonb_object_agg(sdef.setting, coalesce(ps.value, CASE WHEN pr.dims <= 128 AND sdef.small_dims_default IS NOT NULL
	                                                            THEN sdef.small_dims_default ELSE sdef.default_value END))
	       || jsonb_build_object('time_zone', pr.time_zone, 'group_name', pr.group_name, 'dims', pr.dims,
	              'channels', channels, 'natural_channel', natural_channel)
	FROM project pr
	CROSS JOIN setting_definition sdef
	LEFT JOIN project_setting ps ON ps.project_id = p_project_id AND ps.setting = sdef.setting
	WHERE pr.project_id = p_project_id
	  AND sdef.setting IN ('attribution_mode', 'natural_ownership_days', 'consultant_ownership_days', 'report_validity',
	                       'abnormal_cycle_sigma', 'abnormal_cycle_window_days', 'abnormal_cycle_min_deals', 'match_distance',
	                       'deal_backdate_tolerance')
	GROUP BY pr.project_id);
END
$$;

-- the buyers of a deal as persons now (merged persons followed), with every
-- person sharing a full phone hash or an ID-card hash with one of them: the
-- same buyer for the decision.  Masked-phone hashes never link (thousands
-- share one); persons a manager split apart are never linked.
CREATE OR REPLACE FUNCTION decision_buyers(p_project_id bigint, p_person_ids bigint[], OUT buyers bigint[], OUT linked jsonb)
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	WITH RECURSIVE named AS (
		SELECT DISTINCT current_person(p_project_id, x) AS person_id FROM unnest(p_person_ids) x
	), lk(person_id, via, by) AS (
		SELECT n.person_id, NULL::bigint, NULL::text FROM named n WHERE n.person_id IS NOT NULL
		UNION
		SELECT current_person(p_project_id, i2.person_id), lk.person_id,
		       CASE WHEN i2.id_card_hash = i.id_card_hash THEN 'id_card' ELSE 'phone' END
		FROM lk
		JOIN identity i ON i.project_id = p_project_id AND i.person_id = lk.person_id
		JOIN identity i2 ON i2.project_id = p_project_id AND i2.person_id <> i.person_id
		                AND (i2.phone_hash = i.phone_hash OR i2.id_card_hash = i.id_card_hash)
		WHERE NOT persons_distinct(p_project_id, current_person(p_project_id, i.person_id), current_person(p_project_id, i2.person_id))
	), one AS (
		SELECT DISTINCT ON (lk.person_id) lk.person_id, lk.via, lk.by
		FROM lk WHERE lk.person_id IS NOT NULL
		ORDER BY lk.person_id, lk.via NULLS FIRST, lk.by
	)
	SELECT array_agg(one.person_id ORDER BY one.person_id),
	       coalesce(jsonb_agg(jsonb_build_object('person_id', one.person_id, 'with', one.via, 'by', one.by)
	                          ORDER BY one.person_id) FILTER (WHERE one.via IS NOT NULL), '[]')
	FROM one
	$$;

-- some persons (as they are now) with every person linked to them by a full
-- phone or an ID-card hash, as a decision links buyers: the persons whose
-- deals a change of one of them can move
CREATE OR REPLACE FUNCTION linked_persons(p_project_id bigint, p_person_ids bigint[]) RETURNS bigint[]
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT coalesce((SELECT b.buyers FROM decision_buyers(p_project_id, p_person_ids) b), '{}') $$;

-- the reports matching a buyer's phone (full reports on the full number,
-- masked ones on the masked digits) that were filed, or claim to have been
-- filed, by signing.  A report counts from filed_at, the database's time
-- (report.created_at); claimed_at is the caller's reported_at, shown only.
CREATE OR REPLACE FUNCTION decision_reports(p_project_id bigint, p_buyers bigint[], p_signed_at timestamptz,
                                            p_validity interval, p_tz text)
	RETURNS TABLE (report_id bigint, agent_id bigint, channel_id bigint, filed_at timestamptz, claimed_at timestamptz,
	               masked boolean, expires_at timestamptz, verdict text)
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	WITH h AS (
		SELECT array_agg(i.phone_hash) FILTER (WHERE i.phone_hash IS NOT NULL) AS full_hashes,
		       array_agg(i.phone_masked_hash) FILTER (WHERE i.phone_masked_hash IS NOT NULL) AS masked_hashes
		FROM identity i WHERE i.project_id = p_project_id AND i.person_id = ANY (p_buyers))
	SELECT rp.report_id, rp.agent_id, ag.channel_id, rp.created_at, rp.reported_at, rp.phone_hash IS NULL,
	       report_expiry(rp.created_at, ch.report_cutoff, p_validity, p_tz), rp.verdict
	FROM h, report rp
	JOIN agent ag ON ag.project_id = rp.project_id AND ag.agent_id = rp.agent_id
	JOIN channel ch ON ch.project_id = ag.project_id AND ch.channel_id = ag.channel_id
	WHERE rp.project_id = p_project_id AND least(rp.created_at, rp.reported_at) <= p_signed_at
	  AND ((rp.phone_hash IS NOT NULL AND rp.phone_hash = ANY (h.full_hashes))
	       OR (rp.phone_hash IS NULL AND rp.phone_masked_hash = ANY (h.masked_hashes)))
	ORDER BY rp.created_at, rp.report_id
	$$;

-- who made a change, for timelines: the login, the application and the
-- actor the sales app named (firstsight.actor)
CREATE OR REPLACE FUNCTION change_who(p_by name, p_application text, p_actor text) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT p_by || coalesce(' via ' || nullif(p_application, ''), '') || coalesce(' for ' || nullif(p_actor, ''), '') $$;

-- what a binding binds, from the kinds of hashes history kept
CREATE OR REPLACE FUNCTION binding_kinds(p_hashes jsonb) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$
	SELECT coalesce(NULLIF(pg_catalog.array_to_string(ARRAY[
		CASE WHEN p_hashes OPERATOR(pg_catalog.?) 'id_card_hash' THEN 'an ID card' END,
		CASE WHEN p_hashes OPERATOR(pg_catalog.?) 'phone_hash' THEN 'a full phone'
		     WHEN p_hashes OPERATOR(pg_catalog.?) 'phone_masked_hash' THEN 'a masked phone' END], ' and '), ''), 'no hash')
	$$;

-- the recorded changes a decision shows: receptions of its visits changed
-- after they were first recorded, or first recorded after the deal's first
-- decision; updates of the deal; bindings of its buyers (the persons linked
-- by hashes included) recorded, changed or deleted after its first
-- decision; merges and splits of its buyers; visits of its buyers whose
-- start or person was changed by hand, which were deleted, or which were
-- inserted by hand after its first decision
CREATE OR REPLACE FUNCTION decision_changes(p_project_id bigint, p_deal_id bigint, p_buyers bigint[], p_visit_ids bigint[],
                                            p_signed_at timestamptz)
	RETURNS SETOF jsonb
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT jsonb_build_object('at', h.changed_at, 'event',
		CASE h.subject
		WHEN 'reception' THEN
			format('reception of visit %s changed by %s: consultant %s -> %s, agent %s -> %s%s',
			       h.subject_id, change_who(h.changed_by, h.application, h.actor),
			       coalesce(h.old->>'consultant_id', '-'), coalesce(h.new->>'consultant_id', '-'),
			       coalesce(h.old->>'agent_id', '-'), coalesce(h.new->>'agent_id', '-'),
			       CASE WHEN h.changed_at > p_signed_at THEN ' (after the deal was signed)' ELSE '' END)
		WHEN 'deal' THEN
			CASE WHEN h.action = 'delete'
			THEN format('an earlier deal %s was deleted by %s; its %s decisions are kept in change_log (the last: %s, agent %s, commission %s)',
			            h.subject_id, change_who(h.changed_by, h.application, h.actor),
			            coalesce(jsonb_array_length(h.old->'attributions'), 0),
			            channel_label(p_project_id, (h.old->'attributions'->-1->>'entitled_channel_id')::bigint),
			            coalesce(h.old->'attributions'->-1->>'entitled_agent_id', '-'), coalesce(h.old->'attributions'->-1->>'commission', '-'))
			ELSE
			format('deal %s changed by %s: %s', h.subject_id, change_who(h.changed_by, h.application, h.actor),
			       (SELECT string_agg(format('%s %s -> %s', k, coalesce(h.old->>k, '-'), coalesce(h.new->>k, '-')), ', ' ORDER BY k)
			        FROM jsonb_object_keys(h.new) k WHERE k <> 'created_at' AND h.old->k IS DISTINCT FROM h.new->k)) END
		WHEN 'binding' THEN
			format('binding %s (%s) %s by %s%s', h.subject_id, binding_kinds(coalesce(h.new, h.old)->'hashes'),
			       CASE WHEN h.action = 'update' AND h.old->>'person_id' IS DISTINCT FROM h.new->>'person_id'
			            THEN format('moved from person %s to person %s', h.old->>'person_id', h.new->>'person_id')
			            ELSE format('of person %s %s', coalesce(h.new, h.old)->>'person_id',
			                        CASE h.action WHEN 'insert' THEN 'recorded' WHEN 'delete' THEN 'deleted' ELSE 'changed' END) END,
			       change_who(h.changed_by, h.application, h.actor),
			       CASE WHEN h.changed_at > p_signed_at THEN ' (after the deal was signed)' ELSE '' END)
		WHEN 'visit' THEN
			CASE WHEN h.action = 'insert'
			THEN format('visit %s of person %s (started %s%s) was inserted by hand by %s%s',
			            h.subject_id, h.new->>'person_id', local_text((h.new->>'started_at')::timestamptz, tz.time_zone),
			            CASE WHEN h.new->>'agent_id' IS NOT NULL THEN format(', agent %s', h.new->>'agent_id') ELSE '' END,
			            change_who(h.changed_by, h.application, h.actor),
			            CASE WHEN h.changed_at > p_signed_at THEN ' (after the deal was signed)' ELSE '' END)
			WHEN h.action = 'delete'
			THEN format('visit %s of person %s (started %s) was deleted by %s%s',
			            h.subject_id, h.old->>'person_id', local_text((h.old->>'started_at')::timestamptz, tz.time_zone),
			            change_who(h.changed_by, h.application, h.actor),
			            CASE WHEN h.changed_at > p_signed_at THEN ' (after the deal was signed)' ELSE '' END)
			ELSE
			format('visit %s changed by %s: %s%s', h.subject_id, change_who(h.changed_by, h.application, h.actor),
			       concat_ws(', ',
			           CASE WHEN h.old->>'started_at' IS DISTINCT FROM h.new->>'started_at'
			                THEN format('started %s -> %s', local_text((h.old->>'started_at')::timestamptz, tz.time_zone),
			                            local_text((h.new->>'started_at')::timestamptz, tz.time_zone)) END,
			           CASE WHEN h.old->>'person_id' IS DISTINCT FROM h.new->>'person_id'
			                THEN format('person %s -> %s', h.old->>'person_id', h.new->>'person_id') END),
			       CASE WHEN h.changed_at > p_signed_at THEN ' (after the deal was signed)' ELSE '' END) END
		WHEN 'person' THEN
			CASE WHEN h.action = 'update'
			THEN format('person %s changed by hand by %s: merged into %s -> %s', h.subject_id, change_who(h.changed_by, h.application, h.actor),
			            coalesce(h.old->>'merged_into', '-'), coalesce(h.new->>'merged_into', '-'))
			ELSE format('person %s: %s by %s (%s)', h.subject_id, h.action, change_who(h.changed_by, h.application, h.actor), h.new::text) END
		ELSE
			format('person %s: %s by %s (%s)', h.subject_id, h.action, change_who(h.changed_by, h.application, h.actor), h.new::text)
		END)
	FROM (SELECT p.time_zone FROM project p WHERE p.project_id = p_project_id) tz, change_log h
	WHERE h.project_id = p_project_id
	  AND ((h.subject = 'reception' AND h.subject_id = ANY (p_visit_ids::text[])
	        AND (h.old->>'consultant_id' IS NOT NULL OR h.old->>'agent_id' IS NOT NULL
	             OR h.changed_at > (SELECT min(a.decided_at) FROM attribution a
	                                WHERE a.project_id = p_project_id AND a.deal_id = p_deal_id)))
	       OR (h.subject = 'deal' AND h.subject_id = p_deal_id::text AND h.action IN ('update', 'delete'))
	       OR (h.subject = 'binding' AND (h.old->>'person_id' = ANY (p_buyers::text[]) OR h.new->>'person_id' = ANY (p_buyers::text[]))
	           AND h.changed_at > (SELECT min(a.decided_at) FROM attribution a
	                               WHERE a.project_id = p_project_id AND a.deal_id = p_deal_id))
	       OR (h.subject = 'person' AND h.action IN ('merge', 'split') AND h.subject_id = ANY (p_buyers::text[]))
	       -- a merged_into set or cleared by hand, on a buyer's side
	       OR (h.subject = 'person' AND h.action = 'update'
	           AND (h.subject_id = ANY (p_buyers::text[]) OR h.old->>'merged_into' = ANY (p_buyers::text[])
	                OR h.new->>'merged_into' = ANY (p_buyers::text[])))
	       -- a visit of the buyers edited by hand (its start, or moved to or from them) or deleted;
	       -- one inserted by hand, when after the deal's first decision (before it, like a
	       -- binding, it is one of the facts the first decision was made on)
	       OR (h.subject = 'visit' AND (h.subject_id = ANY (p_visit_ids::text[])
	                                    OR h.old->>'person_id' = ANY (p_buyers::text[]) OR h.new->>'person_id' = ANY (p_buyers::text[]))
	           AND (h.action <> 'insert'
	                OR h.changed_at > (SELECT min(a.decided_at) FROM attribution a
	                                   WHERE a.project_id = p_project_id AND a.deal_id = p_deal_id))))
	ORDER BY h.change_id
	$$;

-- abnormal cycle: the first-visit-to-deal days, and an explanation when they lie
-- outside the prediction interval of sigma standard deviations around the mean
-- of the entitled channel's earlier deals (abnormal_cycle_bound)
CREATE OR REPLACE FUNCTION decision_cycle(p_project_id bigint, p_deal_id bigint, p_signed_at timestamptz, p_first_visit_at timestamptz,
                                          p_channel_id bigint, p_channel_name text, st jsonb,
                                          OUT cycle numeric, OUT abnormal text)
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	n integer;
	mean float8;
	sd float8;
	bound float8;
BEGIN
	IF p_first_visit_at IS NULL THEN
		RETURN;
	END IF;
	cycle := round((extract(epoch FROM p_signed_at - p_first_visit_at) / 86400)::numeric, 3);
	SELECT count(*), avg(at.cycle_days), stddev_samp(at.cycle_days) INTO n, mean, sd
	FROM attribution at
	WHERE at.project_id = p_project_id AND at.is_current AND at.entitled_channel_id = p_channel_id
	  AND at.deal_id <> p_deal_id AND at.cycle_days IS NOT NULL
	  AND at.signed_at < p_signed_at
	  AND at.signed_at >= p_signed_at - make_interval(days => (st->>'abnormal_cycle_window_days')::integer);
	IF n >= (st->>'abnormal_cycle_min_deals')::integer AND n >= 2 AND sd > 0 THEN
		bound := abnormal_cycle_bound((st->>'abnormal_cycle_sigma')::float8, n) * sd;
		IF abs(cycle - mean) > bound THEN
			abnormal := format('first visit to deal: %s days; %s mean %s days, standard deviation %s, over %s deals: outside mean +- %s days',
			                   round(cycle, 1), coalesce(p_channel_name, 'no channel'), round(mean::numeric, 1), round(sd::numeric, 1), n,
			                   round(bound::numeric, 1));
		END IF;
	END IF;
END
$$;

-- the buyers seen before their first visit here at another project of the
-- group: sightings kept from earlier decisions (facts that outlive either
-- project's faces), by ID-card binding, and by face (the buyers' unmasked
-- exemplars against each sister gallery of the same dimension, nearest
-- neighbour by that gallery's index; no embedding leaves this query)
CREATE OR REPLACE FUNCTION decision_elsewhere(p_project_id bigint, p_buyers bigint[], p_first_visit_at timestamptz, st jsonb)
	RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object('project_id', o.project_id, 'person_id', o.person_id, 'by', o.by,
	                                             'buyer', o.buyer, 'first_seen', o.first_seen)
	                          ORDER BY o.project_id, o.person_id, o.by, o.buyer), '[]')
	FROM (
		SELECT DISTINCT ON (project_id, person_id, by) * FROM (
			SELECT s.other_project_id AS project_id, s.other_person_id AS person_id, s.found_by AS by,
			       current_person(p_project_id, s.person_id) AS buyer, s.other_first_seen AS first_seen
			FROM sighting_elsewhere s
			JOIN project q ON q.project_id = s.other_project_id AND q.group_name = st->>'group_name'
			WHERE s.project_id = p_project_id AND s.other_first_seen < p_first_visit_at
			  AND current_person(p_project_id, s.person_id) = ANY (p_buyers)
			UNION ALL
			SELECT i2.project_id, i2.person_id, 'id_card', i.person_id, p2.first_seen
			FROM identity i
			JOIN project q ON q.group_name = st->>'group_name' AND q.project_id <> p_project_id
			JOIN identity i2 ON i2.project_id = q.project_id AND i2.id_card_hash = i.id_card_hash
			JOIN person p2 ON p2.project_id = i2.project_id AND p2.person_id = i2.person_id
			WHERE i.project_id = p_project_id AND i.person_id = ANY (p_buyers) AND i.id_card_hash IS NOT NULL
			  AND p2.first_seen < p_first_visit_at
			UNION ALL
			SELECT q.project_id, n.person_id, 'face', b.person_id, p2.first_seen
			FROM project q
			CROSS JOIN unnest(p_buyers) b(person_id)
			CROSS JOIN LATERAL gallery_nearest(q.project_id,
				ARRAY(SELECT f.face FROM face f WHERE f.project_id = p_project_id AND f.person_id = b.person_id AND NOT f.masked)) n
			JOIN person p2 ON p2.project_id = q.project_id AND p2.person_id = n.person_id
			WHERE q.group_name = st->>'group_name' AND q.project_id <> p_project_id AND q.dims = (st->>'dims')::integer
			  AND n.distance <= (st->>'match_distance')::float8 AND p2.first_seen < p_first_visit_at) a
		ORDER BY project_id, person_id, by, buyer) o
	WHERE st->>'group_name' IS NOT NULL AND p_first_visit_at IS NOT NULL
	$$;

-- the buyers' visits up to signing walked in time order: whether each counts
-- for an agency (p_reports: the matching reports in filing order), the owner
-- (natural or an agency) and its window, the owning consultant, the first
-- sighting, protection conflicts, and the visits, windows and timeline lines
CREATE OR REPLACE FUNCTION decision_walk(p_project_id bigint, p_buyers bigint[], p_signed_at timestamptz, st jsonb, p_reports jsonb)
	RETURNS decision_walk
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	w decision_walk;
	tz text := st->>'time_zone';
	chnames jsonb := coalesce(st->'channels', '{}');
	mode text := st->>'attribution_mode';
	v record;
	r jsonb;
	vch bigint;
	counts boolean;
	rep_id bigint;
	visits jsonb[] := '{}';
	windows jsonb[] := '{}';
	timeline jsonb[] := '{}';
BEGIN
	w.agents_seen := '{}';
	w.visit_ids := '{}';
	w.flags := '{}';
	w.owner_from_first := false;
	FOR v IN
		SELECT x.visit_id, x.person_id, x.started_at, x.consultant_id, x.agent_id, ag.channel_id AS agent_channel,
		       cam.zone, ch.protection_days
		FROM visit x
		LEFT JOIN agent ag ON ag.project_id = x.project_id AND ag.agent_id = x.agent_id
		LEFT JOIN channel ch ON ch.project_id = ag.project_id AND ch.channel_id = ag.channel_id
		LEFT JOIN camera cam ON cam.project_id = x.project_id AND cam.camera_id = x.first_camera_id
		WHERE x.project_id = p_project_id AND x.person_id = ANY (p_buyers) AND x.started_at <= p_signed_at
		ORDER BY x.started_at, x.visit_id
	LOOP
		vch := v.agent_channel;
		counts := false;
		rep_id := NULL;
		w.visit_ids := w.visit_ids || v.visit_id;
		IF v.agent_id IS NOT NULL THEN
			w.agents_seen := w.agents_seen || v.agent_id;
			IF mode = 'first_visit' THEN
				counts := true;
			ELSE
				-- the earliest report by an agent of the same channel, filed before the visit and still valid at it
				FOR r IN SELECT e FROM jsonb_array_elements(p_reports) e LOOP
					IF (r->>'channel_id')::bigint = vch
					   AND report_covers((r->>'filed_at')::timestamptz, (r->>'expires_at')::timestamptz, v.started_at) THEN
						rep_id := (r->>'report_id')::bigint;
						EXIT;
					END IF;
				END LOOP;
				counts := rep_id IS NOT NULL;
			END IF;
		END IF;
		IF w.first_visit_id IS NULL THEN
			w.first_visit_id := v.visit_id; w.first_visit_at := v.started_at; w.first_zone := v.zone;
			w.first_person_id := v.person_id; w.first_counted := counts;
		END IF;
		visits := visits || jsonb_build_object('visit_id', v.visit_id, 'person_id', v.person_id,
			'started_at', v.started_at, 'zone', v.zone, 'consultant_id', v.consultant_id,
			'agent_id', v.agent_id, 'channel_id', vch, 'counted_for_agency', counts, 'report_id', rep_id);
		timeline := timeline || jsonb_build_object('at', v.started_at, 'event',
			format('visit %s of person %s (first seen at %s), received by consultant %s, %s%s',
			       v.visit_id, v.person_id, coalesce(v.zone, 'unknown camera'), coalesce(v.consultant_id::text, '-'),
			       CASE WHEN v.agent_id IS NULL THEN 'came alone'
			            ELSE format('accompanied by agent %s (%s)', v.agent_id, coalesce(chnames->>vch::text, 'no channel')) END,
			       CASE WHEN v.agent_id IS NULL THEN ''
			            WHEN mode = 'first_visit' THEN ': counts for the agency (first_visit mode)'
			            WHEN counts THEN format(': counts for the agency under report %s', rep_id)
			            ELSE ': no valid report before this visit, counts as natural' END));

		IF w.owner_kind IS NULL OR v.started_at >= w.owner_until THEN
			-- first touch, or the previous ownership lapsed: this visit decides
			IF w.owner_kind IS NOT NULL THEN
				timeline := timeline || jsonb_build_object('at', w.owner_until, 'event',
					format('%s lapsed', CASE WHEN w.owner_kind = 'natural' THEN 'natural ownership'
					                         ELSE format('%s protection', coalesce(chnames->>w.owner_channel_id::text, 'no channel')) END));
			END IF;
			IF counts THEN
				w.rule := CASE WHEN w.owner_kind IS NULL THEN 'first_touch_agency'
				               WHEN w.owner_kind = 'natural' THEN 'agency_after_natural_lapse'
				               ELSE 'agency_after_protection_lapse' END;
				w.owner_kind := 'agency'; w.owner_channel_id := vch; w.owner_agent_id := v.agent_id; w.owner_report_id := rep_id;
				w.owner_until := local_days_end(v.started_at, v.protection_days, tz);
				windows := windows || jsonb_build_object('channel_id', vch, 'agent_id', v.agent_id,
					'visit_id', v.visit_id, 'from', v.started_at, 'until', w.owner_until);
				timeline := timeline || jsonb_build_object('at', v.started_at, 'event',
					format('%s (agent %s) owns the buyer; protected for %s days, until %s',
					       coalesce(chnames->>vch::text, 'no channel'), v.agent_id, v.protection_days, local_text(w.owner_until, tz)));
			ELSE
				w.owner_from_first := w.owner_kind IS NULL;
				w.rule := 'first_touch_natural';
				w.owner_kind := 'natural'; w.owner_channel_id := (st->>'natural_channel')::bigint; w.owner_agent_id := NULL;
				w.owner_until := local_days_end(v.started_at, (st->>'natural_ownership_days')::integer, tz);
				timeline := timeline || jsonb_build_object('at', v.started_at, 'event', 'natural visitor: the buyer is owned by the natural channel');
			END IF;
		ELSIF w.owner_kind = 'natural' THEN
			w.owner_until := local_days_end(v.started_at, (st->>'natural_ownership_days')::integer, tz);	-- each visit renews natural ownership
			IF counts OR v.agent_id IS NOT NULL THEN
				timeline := timeline || jsonb_build_object('at', v.started_at, 'event',
					format('%s brings a buyer already owned by the natural channel: no ownership change', coalesce(chnames->>vch::text, 'no channel')));
			END IF;
		ELSIF counts AND vch <> w.owner_channel_id THEN
			w.flags := w.flags || 'protection_conflict'::text;
			timeline := timeline || jsonb_build_object('at', v.started_at, 'event',
				format('protection conflict: %s claims a buyer protected by %s until %s',
				       coalesce(chnames->>vch::text, 'no channel'), coalesce(chnames->>w.owner_channel_id::text, 'no channel'),
				       local_text(w.owner_until, tz)));
		END IF;

		-- the consultant who first received the person owns them for consultant_ownership_days
		IF v.consultant_id IS NOT NULL AND (w.consultant_id IS NULL OR v.started_at >= w.consultant_until) THEN
			w.consultant_id := v.consultant_id;
			w.consultant_until := local_days_end(v.started_at, (st->>'consultant_ownership_days')::integer, tz);
			timeline := timeline || jsonb_build_object('at', v.started_at, 'event',
				format('consultant %s owns the buyer until %s', w.consultant_id, local_text(w.consultant_until, tz)));
		END IF;
	END LOOP;
	w.visits := to_jsonb(visits);
	w.windows := to_jsonb(windows);
	w.timeline := to_jsonb(timeline);
	RETURN w;
END
$$;

-- the flags of the claim at signing: flying_order, hanging_order_suspect, a
-- claimed protection_conflict, claim_mismatch; with their timeline lines
CREATE OR REPLACE FUNCTION decision_claim_flags(d deal, w decision_walk, st jsonb, p_reports jsonb,
                                                p_entitled_channel_id bigint, p_entitled_agent_id bigint,
                                                OUT flags text[], OUT events jsonb)
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	chnames jsonb := coalesce(st->'channels', '{}');
	natural_ch bigint := (st->>'natural_channel')::bigint;
	claimed_ch bigint := coalesce(d.channel_id, (SELECT ag.channel_id FROM agent ag WHERE ag.project_id = d.project_id AND ag.agent_id = d.agent_id));
	claimed_kind text := (SELECT c.kind FROM channel c WHERE c.project_id = d.project_id AND c.channel_id = claimed_ch);
BEGIN
	flags := '{}';
	events := '[]';
	IF w.owner_kind = 'natural' AND w.owner_from_first AND w.rule = 'first_touch_natural'
	   AND (claimed_kind IS DISTINCT FROM 'natural' AND (d.channel_id IS NOT NULL OR d.agent_id IS NOT NULL)) THEN
		flags := flags || 'flying_order'::text;
	END IF;
	IF d.agent_id IS NOT NULL THEN
		IF NOT d.agent_id = ANY (w.agents_seen) THEN
			flags := flags || 'hanging_order_suspect'::text;
		ELSIF NOT w.first_counted AND EXISTS (
			-- a report of the claimed agent's channel filed after a natural first visit, not the one that won ownership
			SELECT 1 FROM jsonb_array_elements(p_reports) r
			WHERE (r->>'filed_at')::timestamptz > w.first_visit_at AND (r->>'channel_id')::bigint = claimed_ch
			  AND (r->>'report_id')::bigint IS DISTINCT FROM w.owner_report_id) THEN
			flags := flags || 'hanging_order_suspect'::text;
		END IF;
	END IF;
	IF w.owner_kind = 'agency' AND w.rule <> 'protection_expired' AND claimed_kind IS NOT NULL AND claimed_kind <> 'natural'
	   AND claimed_ch <> w.owner_channel_id AND NOT 'protection_conflict' = ANY (w.flags) THEN
		flags := flags || 'protection_conflict'::text;
	END IF;
	-- a claim that differs from the entitlement: a dispute is certain
	IF coalesce(claimed_ch, natural_ch) IS DISTINCT FROM p_entitled_channel_id
	   OR (d.agent_id IS NOT NULL AND d.agent_id IS DISTINCT FROM p_entitled_agent_id) THEN
		flags := flags || 'claim_mismatch'::text;
		events := events || jsonb_build_object('at', d.signed_at, 'event',
			format('the claim (%s, agent %s) differs from the entitlement (%s, agent %s)',
			       coalesce(chnames->>coalesce(claimed_ch, natural_ch)::text, 'no channel'), coalesce(d.agent_id::text, '-'),
			       coalesce(chnames->>p_entitled_channel_id::text, 'no channel'), coalesce(p_entitled_agent_id::text, '-')));
	END IF;
END
$$;

-- the deal's own lines for the timeline: who signed, the price, the claim,
-- and the persons linked to the buyers by identity hashes
CREATE OR REPLACE FUNCTION decision_deal_events(d deal, st jsonb, p_linked jsonb) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT jsonb_build_array(jsonb_build_object('at', d.signed_at, 'event',
		format('deal %s signed by person %s, price %s; claimed channel %s, agent %s, consultant %s',
		       d.deal_id, array_to_string(ARRAY(SELECT DISTINCT current_person(d.project_id, x) FROM unnest(d.person_id || d.co_buyer_ids) x ORDER BY 1), ', person '),
		       d.price,
		       CASE WHEN d.channel_id IS NULL THEN '-' ELSE coalesce(st->'channels'->>d.channel_id::text, 'no channel') END, coalesce(d.agent_id::text, '-'),
		       coalesce(d.consultant_id::text, '-'))))
	       || coalesce((SELECT jsonb_agg(jsonb_build_object('at', d.signed_at, 'event',
		      format('person %s shares %s with person %s: the same buyer for this decision',
		             l->>'person_id', CASE WHEN l->>'by' = 'id_card' THEN 'an ID card' ELSE 'a full phone number' END, l->>'with'))
		      ORDER BY n)
		    FROM jsonb_array_elements(p_linked) WITH ORDINALITY e(l, n)), '[]')
	$$;

-- the matching reports as evidence (decision_reports), with their timeline
-- lines: the filing time, the verdict at filing, the claimed time when it
-- differs, a filing after the deal
CREATE OR REPLACE FUNCTION decision_report_evidence(d deal, p_buyers bigint[], st jsonb, OUT reports jsonb, OUT events jsonb)
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object('report_id', r.report_id, 'agent_id', r.agent_id,
			'channel_id', r.channel_id, 'filed_at', r.filed_at, 'reported_at', r.claimed_at, 'expires_at', r.expires_at,
			'masked', r.masked, 'verdict', r.verdict) ORDER BY r.n), '[]'),
	       coalesce(jsonb_agg(jsonb_build_object('at', r.filed_at, 'event',
			format('report %s filed by agent %s (%s) on a %s phone, valid until %s%s%s%s',
			       r.report_id, r.agent_id, coalesce(st->'channels'->>r.channel_id::text, 'no channel'), CASE WHEN r.masked THEN 'masked' ELSE 'full' END,
			       local_text(r.expires_at, st->>'time_zone'),
			       CASE WHEN r.verdict IS NOT NULL AND r.verdict <> 'accepted' THEN format('; verdict at filing: %s', r.verdict) ELSE '' END,
			       CASE WHEN abs(extract(epoch FROM r.claimed_at - r.filed_at)) >= 60
			            THEN format('; the agency claims it was made at %s', local_text(r.claimed_at, st->>'time_zone')) ELSE '' END,
			       CASE WHEN r.filed_at > d.signed_at THEN '; filed after the deal was signed' ELSE '' END)) ORDER BY r.n), '[]')
	FROM decision_reports(d.project_id, p_buyers, d.signed_at, (st->>'report_validity')::interval, st->>'time_zone')
	     WITH ORDINALITY r(report_id, agent_id, channel_id, filed_at, claimed_at, masked, expires_at, verdict, n)
	$$;

-- the entitlement at signing from the walk: the owner unless its protection
-- ended before signing (protection_expired) or nobody was seen
-- (no_recorded_visit); the consultant who owns the buyer at signing, else
-- the deal's (consultant_conflict when the deal names another)
CREATE OR REPLACE FUNCTION decision_entitlement(d deal, w decision_walk, st jsonb,
                                               OUT rule text, OUT channel_id bigint, OUT agent_id bigint, OUT consultant_id bigint,
                                               OUT flags text[], OUT events jsonb)
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	flags := '{}';
	events := '[]';
	rule := w.rule;
	IF w.owner_kind IS NULL THEN
		rule := 'no_recorded_visit';
		channel_id := (st->>'natural_channel')::bigint;
	ELSIF w.owner_kind = 'agency' AND d.signed_at >= w.owner_until THEN
		rule := 'protection_expired';
		channel_id := (st->>'natural_channel')::bigint;
		events := events || jsonb_build_object('at', w.owner_until, 'event',
			format('%s protection ended before the deal', coalesce(st->'channels'->>w.owner_channel_id::text, 'no channel')));
	ELSE
		channel_id := w.owner_channel_id;
		agent_id := w.owner_agent_id;
	END IF;
	IF w.consultant_id IS NOT NULL AND d.signed_at < w.consultant_until THEN
		consultant_id := w.consultant_id;
		IF d.consultant_id IS NOT NULL AND d.consultant_id <> w.consultant_id THEN
			flags := flags || 'consultant_conflict'::text;
		END IF;
	ELSE
		consultant_id := coalesce(d.consultant_id, w.consultant_id);
	END IF;
END
$$;

-- a back-dated deal: signed_at is the sales app's claim and stays the
-- cut-off the rules use (sales enter deals a day or two late honestly); when
-- it lies more than deal_backdate_tolerance before the deal's entry
-- (created_at, the database's time of the first entry, kept by every
-- UPDATE), the deal is decided again as at its entry.  Only what happened
-- between the two times can differ: the buyers' visits then, and the end of
-- the owning agency's protection; without either nothing is decided again.
-- When the entitled channel, agent or commission would differ: the flag
-- backdated_deal, and a timeline line with what lies between
CREATE OR REPLACE FUNCTION decision_backdate(d deal, p_buyers bigint[], st jsonb, w decision_walk,
                                             p_channel_id bigint, p_agent_id bigint, p_commission numeric,
                                             OUT flags text[], OUT events jsonb, OUT evidence jsonb)
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	tz text := st->>'time_zone';
	chnames jsonb := coalesce(st->'channels', '{}');
	tolerance interval := coalesce(st->>'deal_backdate_tolerance', '2 days')::interval;
	d2 deal := d;
	reports jsonb;
	w2 decision_walk;
	ent record;
	commission numeric;
	between_them text[] := '{}';
	x jsonb;
BEGIN
	flags := '{}';
	events := '[]';
	IF d.created_at IS NULL OR d.signed_at >= d.created_at - tolerance THEN
		RETURN;
	END IF;
	IF NOT (w.owner_kind = 'agency' AND w.owner_until > d.signed_at AND w.owner_until <= d.created_at)
	   AND NOT EXISTS (SELECT 1 FROM visit v WHERE v.project_id = d.project_id AND v.person_id = ANY (p_buyers)
	                   AND v.started_at > d.signed_at AND v.started_at <= d.created_at) THEN
		RETURN;
	END IF;
	d2.signed_at := d.created_at;
	SELECT x2.reports INTO reports FROM decision_report_evidence(d2, p_buyers, st) x2;
	w2 := decision_walk(d.project_id, p_buyers, d.created_at, st, reports);
	SELECT * INTO ent FROM decision_entitlement(d2, w2, st);
	commission := round(coalesce((SELECT c.commission_rate FROM channel c WHERE c.project_id = d.project_id AND c.channel_id = ent.channel_id), 0)
	                    * d.price, 2);
	IF (ent.channel_id, ent.agent_id, commission) IS NOT DISTINCT FROM (p_channel_id, p_agent_id, p_commission) THEN
		RETURN;
	END IF;
	-- what lies between the claimed signing and the entry
	FOR x IN SELECT e FROM jsonb_array_elements(w2.visits) e
	         WHERE (e->>'started_at')::timestamptz > d.signed_at ORDER BY (e->>'started_at')::timestamptz, (e->>'visit_id')::bigint LOOP
		between_them := between_them || format('visit %s of person %s at %s%s', x->>'visit_id', x->>'person_id',
			local_text((x->>'started_at')::timestamptz, tz),
			CASE WHEN x->>'agent_id' IS NULL THEN ', came alone'
			     WHEN (x->>'counted_for_agency')::boolean
			     THEN format(' with agent %s (%s)%s', x->>'agent_id', coalesce(chnames->>(x->>'channel_id'), 'no channel'),
			                 CASE WHEN x->>'report_id' IS NOT NULL THEN format(' under report %s', x->>'report_id') ELSE '' END)
			     ELSE format(' with agent %s (%s), no valid report', x->>'agent_id', coalesce(chnames->>(x->>'channel_id'), 'no channel')) END);
	END LOOP;
	FOR x IN SELECT e FROM jsonb_array_elements(reports) e
	         WHERE (e->>'filed_at')::timestamptz > d.signed_at AND (e->>'filed_at')::timestamptz <= d.created_at
	         ORDER BY (e->>'filed_at')::timestamptz, (e->>'report_id')::bigint LOOP
		between_them := between_them || format('report %s filed by agent %s (%s) at %s', x->>'report_id', x->>'agent_id',
			coalesce(chnames->>(x->>'channel_id'), 'no channel'), local_text((x->>'filed_at')::timestamptz, tz));
	END LOOP;
	IF w.owner_kind = 'agency' AND w.owner_until > d.signed_at AND w.owner_until <= d.created_at THEN
		between_them := between_them || format('%s protection (agent %s) ended at %s',
			coalesce(chnames->>w.owner_channel_id::text, 'no channel'), coalesce(w.owner_agent_id::text, '-'), local_text(w.owner_until, tz));
	END IF;
	flags := ARRAY['backdated_deal'];
	evidence := jsonb_build_object('entered_at', d.created_at, 'signed_at', d.signed_at, 'tolerance', st->>'deal_backdate_tolerance',
		'as_entered', jsonb_build_object('channel_id', ent.channel_id, 'agent_id', ent.agent_id, 'commission', commission, 'rule', ent.rule),
		'between', to_jsonb(between_them));
	events := jsonb_build_array(jsonb_build_object('at', d.created_at, 'event',
		format('back-dated deal: deal %s entered %s claiming signing at %s, %s days earlier (tolerance %s); between them: %s; decided as at its entry: %s, agent %s, commission %s (rule %s) instead of %s, agent %s, commission %s',
		       d.deal_id, local_text(d.created_at, tz), local_text(d.signed_at, tz),
		       round((extract(epoch FROM d.created_at - d.signed_at) / 86400)::numeric, 1), st->>'deal_backdate_tolerance',
		       coalesce(array_to_string(between_them, '; '), 'nothing'),
		       coalesce(chnames->>ent.channel_id::text, 'no channel'), coalesce(ent.agent_id::text, '-'), commission, ent.rule,
		       coalesce(chnames->>p_channel_id::text, 'no channel'), coalesce(p_agent_id::text, '-'), p_commission)));
END
$$;

-- the current owner-of-the-buyers decision for one deal (version and decided_at
-- left to the caller), in its steps: the settings, the buyers (with the persons
-- linked by identity hashes), the matching reports, the walk over the visits,
-- the entitlement at signing, the flags of the claim, the cycle, sightings at
-- sister projects and the recorded changes; then the evidence
CREATE OR REPLACE FUNCTION decide_attribution(p_project_id bigint, p_deal_id bigint) RETURNS attribution
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	d deal;
	st jsonb;
	tz text;
	chnames jsonb;			-- channel_id -> name
	buyers bigint[];
	linked jsonb;
	reports jsonb;
	report_events jsonb;
	timeline jsonb := '[]';
	w decision_walk;
	ent record;
	rule text;
	flags text[];
	claim record;
	elsewhere jsonb;
	ent_ch bigint;
	ent_agent bigint;
	ent_cons bigint;
	rate numeric;
	a attribution;
	cyc record;
	bd record;
	chname text;
BEGIN
	SELECT * INTO d FROM deal WHERE project_id = p_project_id AND deal_id = p_deal_id;
	IF d.deal_id IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('deal %s of project %s does not exist', p_deal_id, p_project_id);
	END IF;
	st := decision_settings(p_project_id);
	tz := st->>'time_zone';
	chnames := coalesce(st->'channels', '{}');

	SELECT b.buyers, b.linked INTO buyers, linked FROM decision_buyers(p_project_id, d.person_id || d.co_buyer_ids) b;
	timeline := timeline || decision_deal_events(d, st, linked);
	SELECT x.reports, x.events INTO reports, report_events FROM decision_report_evidence(d, buyers, st) x;
	timeline := timeline || report_events;

	w := decision_walk(p_project_id, buyers, d.signed_at, st, reports);
	timeline := timeline || w.timeline;

	SELECT * INTO ent FROM decision_entitlement(d, w, st);
	w.rule := ent.rule;
	rule := ent.rule;
	ent_ch := ent.channel_id;
	ent_agent := ent.agent_id;
	ent_cons := ent.consultant_id;
	flags := w.flags || ent.flags;
	timeline := timeline || ent.events;
	SELECT commission_rate INTO rate FROM channel WHERE project_id = p_project_id AND channel_id = ent_ch;

	SELECT * INTO claim FROM decision_claim_flags(d, w, st, reports, ent_ch, ent_agent);
	flags := flags || claim.flags;
	timeline := timeline || claim.events;

	chname := chnames->>ent_ch::text;
	SELECT * INTO cyc FROM decision_cycle(p_project_id, d.deal_id, d.signed_at, w.first_visit_at, ent_ch, chname, st);
	IF cyc.abnormal IS NOT NULL THEN
		flags := flags || 'abnormal_cycle'::text;
		timeline := timeline || jsonb_build_object('at', d.signed_at, 'event', cyc.abnormal);
	END IF;

	elsewhere := decision_elsewhere(p_project_id, buyers, w.first_visit_at, st);
	IF jsonb_array_length(elsewhere) > 0 THEN
		flags := flags || 'prior_visit_elsewhere'::text;
		timeline := timeline || jsonb_build_object('at', w.first_visit_at, 'event',
			format('the buyer was seen earlier at project %s of group %s',
			       (SELECT string_agg(DISTINCT e->>'project_id', ', ') FROM jsonb_array_elements(elsewhere) e), st->>'group_name'));
	END IF;

	timeline := timeline || coalesce((SELECT jsonb_agg(c.e ORDER BY c.n)
	                                  FROM decision_changes(p_project_id, d.deal_id, buyers, w.visit_ids, d.signed_at) WITH ORDINALITY c(e, n)), '[]');

	a.project_id := p_project_id;
	a.deal_id := d.deal_id;
	a.entitled_channel_id := ent_ch;
	a.entitled_agent_id := ent_agent;
	a.entitled_consultant_id := ent_cons;
	a.commission := round(coalesce(rate, 0) * d.price, 2);
	-- signed at the claimed time, entered much later: decided as at the entry too
	SELECT * INTO bd FROM decision_backdate(d, buyers, st, w, ent_ch, ent_agent, a.commission);
	flags := flags || bd.flags;
	timeline := timeline || bd.events;
	a.rule := rule;
	a.flags := ARRAY(SELECT DISTINCT f FROM unnest(flags) f ORDER BY f);
	a.signed_at := d.signed_at;
	a.first_visit_at := w.first_visit_at;
	a.cycle_days := cyc.cycle;
	timeline := timeline || jsonb_build_object('at', d.signed_at, 'event',
		format('decision: %s, agent %s, consultant %s, commission %s, rule %s',
		       chname, coalesce(ent_agent::text, '-'), coalesce(ent_cons::text, '-'), a.commission, rule));
	a.evidence := jsonb_build_object(
		'buyers', to_jsonb(buyers),
		'linked_by_identity', linked,
		'mode', st->>'attribution_mode',
		'time_zone', tz,
		'first_sighting', CASE WHEN w.first_visit_id IS NULL THEN NULL
		                       ELSE jsonb_build_object('at', w.first_visit_at, 'zone', w.first_zone,
		                                               'visit_id', w.first_visit_id, 'person_id', w.first_person_id) END,
		'visits', w.visits,
		'reports', reports,
		'protection_windows', w.windows,
		'consultant', CASE WHEN w.consultant_id IS NULL THEN NULL
		                   ELSE jsonb_build_object('consultant_id', w.consultant_id, 'until', w.consultant_until) END,
		'seen_elsewhere', elsewhere,
		'timeline', timeline);
	IF bd.evidence IS NOT NULL THEN
		a.evidence := a.evidence || jsonb_build_object('backdated', bd.evidence);
	END IF;
	RETURN a;
END
$$;

-- a re-decision of a decided deal: late_change when it changes the entitled
-- channel, agent or commission (kept on later versions), with who made the
-- change that caused it, in the evidence and the timeline
CREATE OR REPLACE FUNCTION with_late_change(a attribution, prev attribution, p_reason text) RETURNS attribution
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	changes jsonb := coalesce(prev.evidence->'late_changes', '[]');
	c jsonb;
BEGIN
	IF prev.version IS NULL THEN
		RETURN a;
	END IF;
	IF (a.entitled_channel_id, a.entitled_agent_id, a.commission)
	   IS DISTINCT FROM (prev.entitled_channel_id, prev.entitled_agent_id, prev.commission) THEN
		changes := changes || jsonb_build_object('at', statement_timestamp(), 'reason', p_reason,
			'by', session_user, 'application', nullif(current_setting('application_name'), ''),
			'actor', nullif(current_setting('firstsight.actor', true), ''),
			'from_version', prev.version,
			'from', jsonb_build_object('channel_id', prev.entitled_channel_id, 'agent_id', prev.entitled_agent_id, 'commission', prev.commission),
			'to', jsonb_build_object('channel_id', a.entitled_channel_id, 'agent_id', a.entitled_agent_id, 'commission', a.commission));
	END IF;
	IF jsonb_array_length(changes) = 0 THEN
		RETURN a;
	END IF;
	a.flags := ARRAY(SELECT DISTINCT f FROM unnest(a.flags || 'late_change'::text) f ORDER BY f);
	a.evidence := jsonb_set(a.evidence, '{late_changes}', changes);
	FOR c IN SELECT * FROM jsonb_array_elements(changes) LOOP
		a.evidence := jsonb_set(a.evidence, '{timeline}', (a.evidence->'timeline') || jsonb_build_object('at', c->'at', 'event',
			format('late change (%s) by %s after version %s: %s, agent %s, commission %s -> %s, agent %s, commission %s',
			       c->>'reason', change_who((c->>'by')::name, c->>'application', c->>'actor'), c->>'from_version',
			       channel_label(a.project_id, (c->'from'->>'channel_id')::bigint), coalesce(c->'from'->>'agent_id', '-'), c->'from'->>'commission',
			       channel_label(a.project_id, (c->'to'->>'channel_id')::bigint), coalesce(c->'to'->>'agent_id', '-'), c->'to'->>'commission')));
	END LOOP;
	RETURN a;
END
$$;

-- decide a deal again and store the decision as a new version when it
-- differs from the current one (always when p_always); nothing is overwritten
CREATE OR REPLACE FUNCTION store_decision(p_project_id bigint, p_deal_id bigint, p_reason text, p_always boolean,
                                          OUT version integer, OUT changed boolean,
                                          OUT entitled_channel_id bigint, OUT previous_channel_id bigint)
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	prev attribution;
	a attribution;
	payload jsonb;
BEGIN
	SELECT * INTO prev FROM attribution t
	WHERE t.project_id = p_project_id AND t.deal_id = p_deal_id AND t.is_current FOR UPDATE;
	a := with_late_change(decide_attribution(p_project_id, p_deal_id), prev, p_reason);
	entitled_channel_id := a.entitled_channel_id;
	previous_channel_id := prev.entitled_channel_id;
	changed := prev.version IS NULL
		OR (a.entitled_channel_id, a.entitled_agent_id, a.entitled_consultant_id, a.commission, a.rule, a.flags)
		   IS DISTINCT FROM (prev.entitled_channel_id, prev.entitled_agent_id, prev.entitled_consultant_id, prev.commission, prev.rule, prev.flags)
		OR a.evidence - 'timeline' IS DISTINCT FROM prev.evidence - 'timeline';
	IF NOT changed AND NOT p_always THEN
		version := prev.version;
		RETURN;
	END IF;
	a.version := coalesce(prev.version, 0) + 1;
	a.decided_at := clock_timestamp();
	a.is_current := true;
	a.reason := p_reason;
	UPDATE attribution t SET is_current = false
	WHERE t.project_id = p_project_id AND t.deal_id = p_deal_id AND t.is_current;
	INSERT INTO attribution SELECT a.*;
	-- sightings at sister projects are facts from now on (faces there may expire)
	INSERT INTO sighting_elsewhere (project_id, person_id, other_project_id, other_person_id, found_by, other_first_seen)
	SELECT p_project_id, (e->>'buyer')::bigint, (e->>'project_id')::bigint, (e->>'person_id')::bigint, e->>'by', (e->>'first_seen')::timestamptz
	FROM jsonb_array_elements(a.evidence->'seen_elsewhere') e
	ON CONFLICT DO NOTHING;
	version := a.version;
	payload := jsonb_build_object('project_id', p_project_id, 'deal_id', p_deal_id, 'version', a.version,
		'channel_id', a.entitled_channel_id, 'agent_id', a.entitled_agent_id,
		'consultant_id', a.entitled_consultant_id, 'commission', a.commission, 'rule', a.rule, 'flags', to_jsonb(a.flags),
		'previous_version', prev.version, 'previous_channel_id', prev.entitled_channel_id);
	PERFORM attribution_emit(p_project_id, 'deal.attributed', p_deal_id::text, payload);
	IF cardinality(a.flags) > 0 THEN
		PERFORM attribution_emit(p_project_id, 'deal.flagged', p_deal_id::text, payload);
	END IF;
END
$$;

-- decide a deal and store the decision as a new version; returns the version
CREATE OR REPLACE FUNCTION attribute_deal(p_project_id bigint, p_deal_id bigint, p_reason text DEFAULT 'deal inserted') RETURNS integer
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT (store_decision(p_project_id, p_deal_id, p_reason, true)).version $$;
COMMENT ON FUNCTION attribute_deal(bigint, bigint, text) IS 'decide a deal''s attribution and store it as a new version';

-- decide again the decided deals naming some persons or a person linked to
-- them by a hash (as buyer or co-buyer, merged persons followed); a changed
-- decision becomes a new version
CREATE OR REPLACE FUNCTION redecide_deals(p_project_id bigint, p_person_ids bigint[], p_reason text) RETURNS integer
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	persons bigint[];
	dl bigint;
	n integer := 0;
BEGIN
	-- the persons now, every person linked to them by a hash (a deal of a
	-- linked person is decided from their visits too), and every person
	-- merged into one of them
	persons := linked_persons(p_project_id, p_person_ids);
	IF cardinality(persons) = 0 THEN
		RETURN 0;
	END IF;
	persons := persons || ARRAY(SELECT p.person_id FROM person p
	                            WHERE p.project_id = p_project_id AND p.merged_into IS NOT NULL
	                              AND current_person(p_project_id, p.person_id) = ANY (persons));
	FOR dl IN SELECT x.deal_id FROM deal x
	          WHERE x.project_id = p_project_id AND (x.person_id = ANY (persons) OR x.co_buyer_ids && persons)
	            AND EXISTS (SELECT 1 FROM attribution t WHERE t.project_id = x.project_id AND t.deal_id = x.deal_id)
	          ORDER BY x.signed_at, x.deal_id LOOP
		IF (store_decision(p_project_id, dl, p_reason, false)).changed THEN
			n := n + 1;
		END IF;
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION redecide_deals(bigint, bigint[], text) IS
	'decide again the decided deals naming some persons, or persons linked to them by a hash, after a change; a changed decision becomes a new version (late_change when money moves)';

-- a correction (merge, split) is under way: the per-row re-decisions wait for its end
-- (firstsight.correction, settable by the extension's own functions only; src/domain/history.c)
CREATE OR REPLACE FUNCTION in_correction() RETURNS boolean
	AS 'MODULE_PATHNAME', 'fs_in_correction' LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION deal_attribute() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM attribute_deal(NEW.project_id, NEW.deal_id);
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER deal_attribute AFTER INSERT ON deal FOR EACH ROW EXECUTE FUNCTION deal_attribute();

-- a deal's price, claim, buyers or signing time changed: decide it again
CREATE OR REPLACE FUNCTION deal_redecide() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF NOT in_correction() THEN
		PERFORM store_decision(NEW.project_id, NEW.deal_id, 'deal updated', false);
	END IF;
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER deal_redecide AFTER UPDATE ON deal FOR EACH ROW
	WHEN ((OLD.price, OLD.channel_id, OLD.agent_id, OLD.consultant_id, OLD.person_id, OLD.co_buyer_ids, OLD.signed_at)
	      IS DISTINCT FROM (NEW.price, NEW.channel_id, NEW.agent_id, NEW.consultant_id, NEW.person_id, NEW.co_buyer_ids, NEW.signed_at))
	EXECUTE FUNCTION deal_redecide();

-- decide again every deal signed in [from_ts, to_ts); new versions only where the decision changed
CREATE OR REPLACE FUNCTION reattribute(project_id bigint, from_ts timestamptz, to_ts timestamptz)
	RETURNS TABLE (deal_id bigint, version integer, entitled_channel_id bigint, previous_channel_id bigint, changed boolean)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := reattribute.project_id;
	dl record;
	s record;
	tz text := (SELECT p.time_zone FROM project p WHERE p.project_id = reattribute.project_id);
BEGIN
	PERFORM require_project(pid);	-- managers: their projects (issue 16)
	IF NOT EXISTS (SELECT 1 FROM project p WHERE p.project_id = pid) THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', pid);
	END IF;
	FOR dl IN SELECT x.deal_id FROM deal x WHERE x.project_id = pid AND x.signed_at >= from_ts AND x.signed_at < to_ts
	          ORDER BY x.signed_at, x.deal_id LOOP
		s := store_decision(pid, dl.deal_id, format('reattribute %s to %s', local_text(from_ts, tz), local_text(to_ts, tz)), false);
		deal_id := dl.deal_id;
		version := s.version;
		entitled_channel_id := s.entitled_channel_id;
		previous_channel_id := s.previous_channel_id;
		changed := s.changed;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION reattribute(bigint, timestamptz, timestamptz) IS
	'decide again the deals signed in [from_ts, to_ts) after corrections; a changed decision becomes a new version, never an overwrite';

-- a readable timeline of the facts behind a deal's current decision
CREATE OR REPLACE FUNCTION explain_attribution(project_id bigint, deal_id bigint) RETURNS SETOF text
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	a attribution;
	tz text;
BEGIN
	PERFORM require_project(explain_attribution.project_id);	-- managers, analysts: their projects (issue 16)
	SELECT * INTO a FROM attribution t
	WHERE t.project_id = explain_attribution.project_id AND t.deal_id = explain_attribution.deal_id AND t.is_current;
	IF a.deal_id IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'no_data_found',
			MESSAGE = format('deal %s of project %s has no attribution', explain_attribution.deal_id, explain_attribution.project_id),
			HINT = 'Deals are attributed when inserted; firstsight.reattribute decides older ones again.';
	END IF;
	SELECT p.time_zone INTO tz FROM project p WHERE p.project_id = a.project_id;
	-- names, not ids (issue 16): consultants, agents and channels by name,
	-- the project by name, the buyers, the first sighting and sister
	-- sightings in lines of their own, and every flag with its reason
	RETURN NEXT format('deal %s of %s, attribution version %s (%s), mode %s, times in %s',
	                   a.deal_id, coalesce((SELECT p.name FROM project p WHERE p.project_id = a.project_id), 'project ' || a.project_id), a.version, coalesce(a.reason, '-'), a.evidence->>'mode', tz);
	RETURN QUERY
		SELECT local_text((e->>'at')::timestamptz, tz) || '  ' || timeline_named(a.project_id, e->>'event')
		FROM jsonb_array_elements(a.evidence->'timeline') WITH ORDINALITY AS t(e, ord)
		ORDER BY (e->>'at')::timestamptz, ord;
	RETURN QUERY SELECT * FROM explain_people(a);
	RETURN QUERY SELECT * FROM explain_masked_sighting(a.project_id, (a.evidence->'first_sighting'->>'visit_id')::bigint);
	RETURN NEXT format('rule %s: %s', a.rule, label_text('rule', a.rule));
	RETURN NEXT 'flags: ' || CASE WHEN cardinality(a.flags) = 0 THEN 'none' ELSE array_to_string(a.flags, ', ') END;
	RETURN QUERY SELECT explain_flag(a, f) FROM unnest(a.flags) f;
END
$$;
COMMENT ON FUNCTION explain_attribution(bigint, bigint) IS 'a readable timeline of the facts behind a deal''s current attribution, for the dispute meeting';
