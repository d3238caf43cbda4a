-- Deciding a deal's attribution.  decide_attribution walks the buyers'
-- visits in time order and keeps the owner (natural or an agency) and the
-- owning consultant, recording every fact it used in the evidence; the flags
-- come from the same walk.  attribute_deal stores the result as a new version.

-- a channel's name for timelines
CREATE OR REPLACE FUNCTION channel_label(p_project_id bigint, p_channel_id bigint) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT coalesce((SELECT c.name FROM channel c WHERE c.project_id = p_project_id AND c.channel_id = p_channel_id),
	                      'no channel') $$;

-- the abnormal_cycle bound, in sample standard deviations, for a channel history of n
-- deals: the two-sided prediction interval of a new deal with the coverage of
-- sigma standard deviations of a normal distribution.  The mean and standard
-- deviation are estimated from n deals, so the bound is Student's t quantile with
-- n - 1 degrees of freedom (Cornish-Fisher expansion of the normal quantile sigma,
-- within 0.1% for 10 or more deals) widened by sqrt(1 + 1/n); it tends to sigma as
-- n grows (20 deals, sigma 2: 2.19; 50: 2.07; 200: 2.02)
CREATE OR REPLACE FUNCTION abnormal_cycle_bound(sigma float8, n bigint) RETURNS float8
	LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
	AS $$
	SELECT (z + (z ^ 3 + z) / (4 * nu) + (5 * z ^ 5 + 16 * z ^ 3 + 3 * z) / (96 * nu ^ 2)
	          + (3 * z ^ 7 + 19 * z ^ 5 + 17 * z ^ 3 - 15 * z) / (384 * nu ^ 3)) * sqrt(1 + 1.0 / n)
	FROM (SELECT sigma AS z, greatest(n - 1, 1)::float8 AS nu) s
	$$;
COMMENT ON FUNCTION abnormal_cycle_bound(float8, bigint) IS
	'abnormal_cycle: the prediction-interval bound in sample standard deviations for a history of n deals';

-- the current owner-of-the-buyers decision for one deal (version and decided_at left to the caller)
CREATE OR REPLACE FUNCTION decide_attribution(p_project_id bigint, p_deal_id bigint) RETURNS attribution
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	d deal;
	pr project;
	tz text;
	st jsonb;
	mode text;
	nat_days integer;
	cons_days integer;
	validity interval;
	sigma float8;
	win_days integer;
	min_deals integer;
	thr float8;
	chnames jsonb;			-- channel_id -> name
	natural_ch bigint;
	claimed_ch bigint;
	claimed_kind text;
	buyers bigint[];
	full_hashes bytea[];
	masked_hashes bytea[];
	v record;
	r record;
	vch bigint;
	counts boolean;
	rep_id bigint;
	-- the matching reports, in filing order (for the per-visit check)
	rp_ids bigint[] := '{}';
	rp_ch bigint[] := '{}';
	rp_at timestamptz[] := '{}';
	rp_exp timestamptz[] := '{}';
	k integer;
	agents_seen bigint[] := '{}';
	-- owner state
	own_kind text;			-- NULL before the first visit, 'natural' or 'agency'
	own_ch bigint;
	own_agent bigint;
	own_until timestamptz;
	own_from timestamptz;
	own_from_first boolean := false;	-- natural ownership from the very first touch
	rule text;
	cons bigint;
	cons_until timestamptz;
	fv_id bigint;
	fv_at timestamptz;
	fv_zone text;
	fv_person bigint;
	fv_counted boolean;
	own_rep bigint;
	flags text[] := '{}';
	visits jsonb[] := '{}';
	reports jsonb[] := '{}';
	windows jsonb[] := '{}';
	timeline jsonb[] := '{}';
	elsewhere jsonb := '[]';
	ent_ch bigint;
	ent_agent bigint;
	ent_cons bigint;
	rate numeric;
	a attribution;
	n integer;
	mean float8;
	sd float8;
	bound float8;
	cycle numeric;
	chname text;
BEGIN
	SELECT * INTO d FROM deal WHERE project_id = p_project_id AND deal_id = p_deal_id;
	IF d.deal_id IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('deal %s of project %s does not exist', p_deal_id, p_project_id);
	END IF;
	SELECT * INTO pr FROM project WHERE project_id = p_project_id;
	tz := pr.time_zone;
	-- the settings in one query
	SELECT jsonb_object_agg(sdef.setting, coalesce(ps.value, setting_default(sdef, pr.dims))) INTO st
	FROM setting_definition sdef
	LEFT JOIN project_setting ps ON ps.project_id = p_project_id AND ps.setting = sdef.setting
	WHERE sdef.setting IN ('attribution_mode', 'natural_ownership_days', 'consultant_ownership_days', 'report_validity',
	                     'abnormal_cycle_sigma', 'abnormal_cycle_window_days', 'abnormal_cycle_min_deals', 'match_distance');
	mode := st->>'attribution_mode';
	nat_days := (st->>'natural_ownership_days')::integer;
	cons_days := (st->>'consultant_ownership_days')::integer;
	validity := (st->>'report_validity')::interval;
	sigma := (st->>'abnormal_cycle_sigma')::float8;
	win_days := (st->>'abnormal_cycle_window_days')::integer;
	min_deals := (st->>'abnormal_cycle_min_deals')::integer;
	thr := (st->>'match_distance')::float8;
	-- the channels in one query
	SELECT jsonb_object_agg(c.channel_id::text, c.name), min(c.channel_id) FILTER (WHERE c.kind = 'natural')
	INTO chnames, natural_ch
	FROM channel c WHERE c.project_id = p_project_id;
	claimed_ch := coalesce(d.channel_id, (SELECT ag.channel_id FROM agent ag WHERE ag.project_id = p_project_id AND ag.agent_id = d.agent_id));
	SELECT c.kind INTO claimed_kind FROM channel c WHERE c.project_id = p_project_id AND c.channel_id = claimed_ch;

	-- the buyers as they are now (merged persons followed)
	SELECT array_agg(DISTINCT cp ORDER BY cp) INTO buyers
	FROM (SELECT CASE WHEN p.merged_into IS NULL THEN p.person_id ELSE current_person(p_project_id, p.person_id) END AS cp
	      FROM person p WHERE p.project_id = p_project_id AND p.person_id = ANY (d.person_id || d.co_buyer_ids)) s
	WHERE cp IS NOT NULL;
	SELECT array_agg(i.phone_hash) FILTER (WHERE i.phone_hash IS NOT NULL),
	       array_agg(i.phone_masked_hash) FILTER (WHERE i.phone_masked_hash IS NOT NULL)
	INTO full_hashes, masked_hashes
	FROM identity i WHERE i.project_id = p_project_id AND i.person_id = ANY (buyers);

	timeline := timeline || jsonb_build_object('at', d.signed_at, 'event',
		format('deal %s signed by person %s, price %s; claimed channel %s, agent %s, consultant %s',
		       d.deal_id, array_to_string(buyers, ', person '), d.price,
		       CASE WHEN d.channel_id IS NULL THEN '-' ELSE coalesce(chnames->>d.channel_id::text, 'no channel') END, coalesce(d.agent_id::text, '-'),
		       coalesce(d.consultant_id::text, '-')));

	-- reports matching a buyer's phone: full reports on the full number, masked ones on the masked digits
	IF full_hashes IS NOT NULL OR masked_hashes IS NOT NULL THEN
		FOR r IN
			SELECT rp.report_id, rp.agent_id, ag.channel_id, rp.reported_at, rp.phone_hash IS NULL AS masked,
			       report_expiry(rp.reported_at, ch.report_cutoff, validity, tz) AS expires_at
			FROM report rp
			JOIN agent ag ON ag.project_id = rp.project_id AND ag.agent_id = rp.agent_id
			JOIN channel ch ON ch.project_id = ag.project_id AND ch.channel_id = ag.channel_id
			WHERE rp.project_id = p_project_id AND rp.reported_at <= d.signed_at
			  AND ((rp.phone_hash IS NOT NULL AND rp.phone_hash = ANY (full_hashes))
			       OR (rp.phone_hash IS NULL AND rp.phone_masked_hash = ANY (masked_hashes)))
			ORDER BY rp.reported_at, rp.report_id
		LOOP
			rp_ids := rp_ids || r.report_id; rp_ch := rp_ch || r.channel_id;
			rp_at := rp_at || r.reported_at; rp_exp := rp_exp || r.expires_at;
			reports := reports || jsonb_build_object('report_id', r.report_id, 'agent_id', r.agent_id,
				'channel_id', r.channel_id, 'reported_at', r.reported_at, 'expires_at', r.expires_at, 'masked', r.masked);
			timeline := timeline || jsonb_build_object('at', r.reported_at, 'event',
				format('report %s filed by agent %s (%s) on a %s phone, valid until %s',
				       r.report_id, r.agent_id, coalesce(chnames->>r.channel_id::text, 'no channel'), CASE WHEN r.masked THEN 'masked' ELSE 'full' END,
				       local_text(r.expires_at, tz)));
		END LOOP;
	END IF;

	FOR v IN
		SELECT x.visit_id, x.person_id, x.started_at, x.consultant_id, x.agent_id, ag.channel_id AS agent_channel,
		       cam.zone, ch.protection_days
		FROM visit x
		LEFT JOIN agent ag ON ag.project_id = x.project_id AND ag.agent_id = x.agent_id
		LEFT JOIN channel ch ON ch.project_id = ag.project_id AND ch.channel_id = ag.channel_id
		LEFT JOIN camera cam ON cam.project_id = x.project_id AND cam.camera_id = x.first_camera_id
		WHERE x.project_id = p_project_id AND x.person_id = ANY (buyers) AND x.started_at <= d.signed_at
		ORDER BY x.started_at, x.visit_id
	LOOP

		vch := v.agent_channel;
		counts := false;
		rep_id := NULL;
		IF v.agent_id IS NOT NULL THEN
			agents_seen := agents_seen || v.agent_id;
			IF mode = 'first_visit' THEN
				counts := true;
			ELSE
				-- the earliest report by an agent of the same channel, before the visit and still valid at it
				FOR k IN 1 .. coalesce(array_length(rp_ids, 1), 0) LOOP
					IF rp_ch[k] = vch AND rp_at[k] < v.started_at AND v.started_at < rp_exp[k] THEN
						rep_id := rp_ids[k];
						EXIT;
					END IF;
				END LOOP;
				counts := rep_id IS NOT NULL;
			END IF;
		END IF;
		IF fv_id IS NULL THEN
			fv_id := v.visit_id; fv_at := v.started_at; fv_zone := v.zone;
			fv_person := v.person_id; fv_counted := counts;
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

		IF own_kind IS NULL OR v.started_at >= own_until THEN
			-- first touch, or the previous ownership lapsed: this visit decides
			IF own_kind IS NOT NULL THEN
				timeline := timeline || jsonb_build_object('at', own_until, 'event',
					format('%s lapsed', CASE WHEN own_kind = 'natural' THEN 'natural ownership' ELSE format('%s protection', coalesce(chnames->>own_ch::text, 'no channel')) END));
			END IF;
			IF counts THEN
				rule := CASE WHEN own_kind IS NULL THEN 'first_touch_agency'
				             WHEN own_kind = 'natural' THEN 'agency_after_natural_lapse'
				             ELSE 'agency_after_protection_lapse' END;
				own_kind := 'agency'; own_ch := vch; own_agent := v.agent_id; own_from := v.started_at; own_rep := rep_id;
				own_until := local_days_end(v.started_at, v.protection_days, tz);
				windows := windows || jsonb_build_object('channel_id', vch, 'agent_id', v.agent_id,
					'visit_id', v.visit_id, 'from', v.started_at, 'until', own_until);
				timeline := timeline || jsonb_build_object('at', v.started_at, 'event',
					format('%s (agent %s) owns the buyer; protected for %s days, until %s',
					       coalesce(chnames->>vch::text, 'no channel'), v.agent_id, v.protection_days, local_text(own_until, tz)));
			ELSE
				own_from_first := own_kind IS NULL;
				rule := 'first_touch_natural';
				own_kind := 'natural'; own_ch := natural_ch; own_agent := NULL; own_from := v.started_at;
				own_until := local_days_end(v.started_at, nat_days, tz);
				timeline := timeline || jsonb_build_object('at', v.started_at, 'event', 'natural visitor: the buyer is owned by the natural channel');
			END IF;
		ELSIF own_kind = 'natural' THEN
			own_until := local_days_end(v.started_at, nat_days, tz);	-- each visit renews natural ownership
			IF counts OR v.agent_id IS NOT NULL THEN
				timeline := timeline || jsonb_build_object('at', v.started_at, 'event',
					format('%s brings a buyer already owned by the natural channel: no ownership change', coalesce(chnames->>vch::text, 'no channel')));
			END IF;
		ELSIF counts AND vch <> own_ch THEN
			flags := flags || 'protection_conflict'::text;
			timeline := timeline || jsonb_build_object('at', v.started_at, 'event',
				format('protection conflict: %s claims a buyer protected by %s until %s',
				       coalesce(chnames->>vch::text, 'no channel'), coalesce(chnames->>own_ch::text, 'no channel'), local_text(own_until, tz)));
		END IF;

		-- the consultant who first received the person owns them for cons_days
		IF v.consultant_id IS NOT NULL AND (cons IS NULL OR v.started_at >= cons_until) THEN
			cons := v.consultant_id;
			cons_until := local_days_end(v.started_at, cons_days, tz);
			timeline := timeline || jsonb_build_object('at', v.started_at, 'event',
				format('consultant %s owns the buyer until %s', cons, local_text(cons_until, tz)));
		END IF;
	END LOOP;

	-- the decision at signing
	IF own_kind IS NULL THEN
		rule := 'no_recorded_visit';
		ent_ch := natural_ch;
	ELSIF own_kind = 'agency' AND d.signed_at >= own_until THEN
		rule := 'protection_expired';
		ent_ch := natural_ch;
		timeline := timeline || jsonb_build_object('at', own_until, 'event',
			format('%s protection ended before the deal', coalesce(chnames->>own_ch::text, 'no channel')));
	ELSE
		ent_ch := own_ch;
		ent_agent := own_agent;
	END IF;
	IF cons IS NOT NULL AND d.signed_at < cons_until THEN
		ent_cons := cons;
		IF d.consultant_id IS NOT NULL AND d.consultant_id <> cons THEN
			flags := flags || 'consultant_conflict'::text;
		END IF;
	ELSE
		ent_cons := coalesce(d.consultant_id, cons);
	END IF;
	SELECT commission_rate INTO rate FROM channel WHERE project_id = p_project_id AND channel_id = ent_ch;

	-- flags
	IF own_kind = 'natural' AND own_from_first AND rule = 'first_touch_natural'
	   AND (claimed_kind IS DISTINCT FROM 'natural' AND (d.channel_id IS NOT NULL OR d.agent_id IS NOT NULL)) THEN
		flags := flags || 'flying_order'::text;
	END IF;
	IF d.agent_id IS NOT NULL THEN
		IF NOT d.agent_id = ANY (agents_seen) THEN
			flags := flags || 'hanging_order_suspect'::text;
		ELSIF NOT fv_counted THEN
			-- a report of the claimed agent's channel filed after a natural first visit, not the one that won ownership
			FOR k IN 1 .. coalesce(array_length(rp_ids, 1), 0) LOOP
				IF rp_at[k] > fv_at AND rp_ids[k] IS DISTINCT FROM own_rep
				   AND rp_ch[k] = (SELECT ag.channel_id FROM agent ag WHERE ag.project_id = p_project_id AND ag.agent_id = d.agent_id) THEN
					flags := flags || 'hanging_order_suspect'::text;
					EXIT;
				END IF;
			END LOOP;
		END IF;
	END IF;
	IF own_kind = 'agency' AND rule <> 'protection_expired' AND claimed_kind IS NOT NULL AND claimed_kind <> 'natural'
	   AND claimed_ch <> own_ch AND NOT 'protection_conflict' = ANY (flags) THEN
		flags := flags || 'protection_conflict'::text;
	END IF;

	-- abnormal cycle against the channel's earlier deals: outside the prediction interval
	-- of sigma standard deviations around their mean (abnormal_cycle_bound)
	IF fv_id IS NOT NULL THEN
		cycle := round((extract(epoch FROM d.signed_at - fv_at) / 86400)::numeric, 3);
		SELECT count(*), avg(at.cycle_days), stddev_samp(at.cycle_days) INTO n, mean, sd
		FROM attribution at
		WHERE at.project_id = p_project_id AND at.is_current AND at.entitled_channel_id = ent_ch
		  AND at.deal_id <> d.deal_id AND at.cycle_days IS NOT NULL
		  AND at.signed_at < d.signed_at AND at.signed_at >= d.signed_at - make_interval(days => win_days);
		IF n >= min_deals AND n >= 2 AND sd > 0 THEN
			bound := abnormal_cycle_bound(sigma, n) * sd;
			IF abs(cycle - mean) > bound THEN
				flags := flags || 'abnormal_cycle'::text;
				timeline := timeline || jsonb_build_object('at', d.signed_at, 'event',
					format('first visit to deal: %s days; %s mean %s days, standard deviation %s, over %s deals: outside mean +- %s days',
					       round(cycle, 1), coalesce(chnames->>ent_ch::text, 'no channel'), round(mean::numeric, 1), round(sd::numeric, 1), n,
					       round(bound::numeric, 1)));
			END IF;
		END IF;
	END IF;

	-- seen earlier at another project of the same group: by ID card, or by face
	IF pr.group_name IS NOT NULL AND fv_id IS NOT NULL THEN
		SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object('project_id', o.project_id, 'person_id', o.person_id, 'by', o.by)), '[]')
		INTO elsewhere
		FROM (
			SELECT i2.project_id, i2.person_id, 'id_card' AS by
			FROM identity i
			JOIN project q ON q.group_name = pr.group_name AND q.project_id <> p_project_id
			JOIN identity i2 ON i2.project_id = q.project_id AND i2.id_card_hash = i.id_card_hash
			JOIN person p2 ON p2.project_id = i2.project_id AND p2.person_id = i2.person_id
			WHERE i.project_id = p_project_id AND i.person_id = ANY (buyers) AND i.id_card_hash IS NOT NULL
			  AND p2.first_seen < fv_at
			UNION ALL
			-- by face: the buyers' unmasked exemplars against each sister gallery of the same
			-- dimension, nearest neighbour by that gallery's index; no embedding leaves this query
			SELECT q.project_id, n.person_id, 'face'
			FROM project q
			CROSS JOIN LATERAL gallery_nearest(q.project_id,
				ARRAY(SELECT f.face FROM face f WHERE f.project_id = p_project_id AND f.person_id = ANY (buyers) AND NOT f.masked)) n
			JOIN person p2 ON p2.project_id = q.project_id AND p2.person_id = n.person_id
			WHERE q.group_name = pr.group_name AND q.project_id <> p_project_id AND q.dims = pr.dims
			  AND n.distance <= thr AND p2.first_seen < fv_at) o;
		IF jsonb_array_length(elsewhere) > 0 THEN
			flags := flags || 'prior_visit_elsewhere'::text;
			timeline := timeline || jsonb_build_object('at', fv_at, 'event',
				format('the buyer was seen earlier at project %s of group %s',
				       (SELECT string_agg(DISTINCT e->>'project_id', ', ') FROM jsonb_array_elements(elsewhere) e), pr.group_name));
		END IF;
	END IF;

	chname := chnames->>ent_ch::text;
	a.project_id := p_project_id;
	a.deal_id := d.deal_id;
	a.entitled_channel_id := ent_ch;
	a.entitled_agent_id := ent_agent;
	a.entitled_consultant_id := ent_cons;
	a.commission := round(coalesce(rate, 0) * d.price, 2);
	a.rule := rule;
	a.flags := ARRAY(SELECT DISTINCT f FROM unnest(flags) f ORDER BY f);
	a.signed_at := d.signed_at;
	a.first_visit_at := fv_at;
	a.cycle_days := cycle;
	timeline := timeline || jsonb_build_object('at', d.signed_at, 'event',
		format('decision: %s, agent %s, consultant %s, commission %s, rule %s',
		       chname, coalesce(ent_agent::text, '-'), coalesce(ent_cons::text, '-'),
		       round(coalesce(rate, 0) * d.price, 2), rule));
	a.evidence := jsonb_build_object(
		'buyers', to_jsonb(buyers),
		'mode', mode,
		'time_zone', tz,
		'first_sighting', CASE WHEN fv_id IS NULL THEN NULL
		                       ELSE jsonb_build_object('at', fv_at, 'zone', fv_zone,
		                                               'visit_id', fv_id, 'person_id', fv_person) END,
		'visits', to_jsonb(visits),
		'reports', to_jsonb(reports),
		'protection_windows', to_jsonb(windows),
		'consultant', CASE WHEN cons IS NULL THEN NULL ELSE jsonb_build_object('consultant_id', cons, 'until', cons_until) END,
		'seen_elsewhere', elsewhere,
		'timeline', to_jsonb(timeline));
	RETURN a;
END
$$;

-- decide a deal and store the decision as a new version; returns the version
CREATE OR REPLACE FUNCTION attribute_deal(p_project_id bigint, p_deal_id bigint, p_reason text DEFAULT 'deal inserted') RETURNS integer
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	a attribution := decide_attribution(p_project_id, p_deal_id);
	prev attribution;
	payload jsonb;
BEGIN
	SELECT * INTO prev FROM attribution
	WHERE project_id = p_project_id AND deal_id = p_deal_id AND is_current FOR UPDATE;
	a.version := coalesce(prev.version, 0) + 1;
	a.decided_at := clock_timestamp();
	a.is_current := true;
	a.reason := p_reason;
	UPDATE attribution SET is_current = false
	WHERE project_id = p_project_id AND deal_id = p_deal_id AND is_current;
	INSERT INTO attribution SELECT a.*;
	payload := jsonb_build_object('project_id', p_project_id, 'deal_id', p_deal_id, 'version', a.version,
		'channel_id', a.entitled_channel_id, 'agent_id', a.entitled_agent_id,
		'consultant_id', a.entitled_consultant_id, 'commission', a.commission, 'rule', a.rule, 'flags', to_jsonb(a.flags),
		'previous_version', prev.version, 'previous_channel_id', prev.entitled_channel_id);
	PERFORM attribution_emit(p_project_id, 'deal.attributed', p_deal_id::text, payload);
	IF cardinality(a.flags) > 0 THEN
		PERFORM attribution_emit(p_project_id, 'deal.flagged', p_deal_id::text, payload);
	END IF;
	RETURN a.version;
END
$$;
COMMENT ON FUNCTION attribute_deal(bigint, bigint, text) IS 'decide a deal''s attribution and store it as a new version';

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

-- decide again every deal signed in [from_ts, to_ts); new versions only where the decision changed
CREATE OR REPLACE FUNCTION reattribute(project_id bigint, from_ts timestamptz, to_ts timestamptz)
	RETURNS TABLE (deal_id bigint, version integer, entitled_channel_id bigint, previous_channel_id bigint, changed boolean)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := reattribute.project_id;
	dl record;
	a attribution;
	cur attribution;
	tz text := (SELECT p.time_zone FROM project p WHERE p.project_id = reattribute.project_id);
BEGIN
	IF NOT EXISTS (SELECT 1 FROM project p WHERE p.project_id = pid) THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', pid);
	END IF;
	FOR dl IN SELECT x.deal_id FROM deal x WHERE x.project_id = pid AND x.signed_at >= from_ts AND x.signed_at < to_ts
	          ORDER BY x.signed_at, x.deal_id LOOP
		SELECT * INTO cur FROM attribution t WHERE t.project_id = pid AND t.deal_id = dl.deal_id AND t.is_current;
		a := decide_attribution(pid, dl.deal_id);
		deal_id := dl.deal_id;
		previous_channel_id := cur.entitled_channel_id;
		changed := cur.version IS NULL
			OR (a.entitled_channel_id, a.entitled_agent_id, a.entitled_consultant_id, a.commission, a.rule, a.flags)
			   IS DISTINCT FROM (cur.entitled_channel_id, cur.entitled_agent_id, cur.entitled_consultant_id, cur.commission, cur.rule, cur.flags)
			OR a.evidence - 'timeline' IS DISTINCT FROM cur.evidence - 'timeline';
		IF changed THEN
			version := attribute_deal(pid, dl.deal_id, format('reattribute %s to %s', local_text(from_ts, tz), local_text(to_ts, tz)));
		ELSE
			version := cur.version;
		END IF;
		entitled_channel_id := a.entitled_channel_id;
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
	SELECT * INTO a FROM attribution t
	WHERE t.project_id = explain_attribution.project_id AND t.deal_id = explain_attribution.deal_id AND t.is_current;
	IF a.deal_id IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'no_data_found',
			MESSAGE = format('deal %s of project %s has no attribution', explain_attribution.deal_id, explain_attribution.project_id),
			HINT = 'Deals are attributed when inserted; firstsight.reattribute decides older ones again.';
	END IF;
	SELECT p.time_zone INTO tz FROM project p WHERE p.project_id = a.project_id;
	RETURN NEXT format('deal %s, attribution version %s (%s), mode %s, times in %s',
	                   a.deal_id, a.version, coalesce(a.reason, '-'), a.evidence->>'mode', tz);
	RETURN QUERY
		SELECT local_text((e->>'at')::timestamptz, tz) || '  ' || (e->>'event')
		FROM jsonb_array_elements(a.evidence->'timeline') WITH ORDINALITY AS t(e, ord)
		ORDER BY (e->>'at')::timestamptz, ord;
	RETURN QUERY SELECT * FROM explain_masked_sighting(a.project_id, (a.evidence->'first_sighting'->>'visit_id')::bigint);
	RETURN NEXT 'flags: ' || CASE WHEN cardinality(a.flags) = 0 THEN 'none' ELSE array_to_string(a.flags, ', ') END;
END
$$;
COMMENT ON FUNCTION explain_attribution(bigint, bigint) IS 'a readable timeline of the facts behind a deal''s current attribution, for the dispute meeting';
