-- The people at the sales office (issue 16): who owns a visitor at the door
-- (截客 prevention), the end-of-day review (归属确认), the dispute meeting's
-- names and reasons, and a named attribution report.  Labels (table label,
-- src/sql/state/440_door_review.sql) give every rule, flag and worklist code a
-- Chinese and an English name.  Nothing here reads or returns biometric data.

COMMENT ON TABLE label IS 'human labels (Chinese, English) of rule, flag, worklist, channel kind and verdict codes';
GRANT SELECT ON label TO PUBLIC;

-- a code's label, 'zh / en' (the code itself when it has none)
CREATE OR REPLACE FUNCTION label_text(p_kind text, p_code text) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ BEGIN RETURN coalesce((SELECT l.zh || ' / ' || l.en FROM label l WHERE l.kind = p_kind AND l.code = p_code), p_code); END $$;
COMMENT ON FUNCTION label_text(text, text) IS 'a rule, flag or worklist code''s label as ''zh / en'' (the code when it has none)';

-- names for timelines: 'Wang (1)'; the id alone when it names nobody.
-- (PL/pgSQL, not SQL: Citus plans no SQL function with parameters over its
-- tables, and explain_attribution runs at headquarters on Citus too)
CREATE OR REPLACE FUNCTION consultant_named(p_project_id bigint, p_consultant_id bigint) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ BEGIN RETURN coalesce((SELECT k.name || ' (' || k.consultant_id || ')' FROM consultant k
	                             WHERE k.project_id = p_project_id AND k.consultant_id = p_consultant_id), p_consultant_id::text, '-'); END $$;
CREATE OR REPLACE FUNCTION agent_named(p_project_id bigint, p_agent_id bigint) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ BEGIN RETURN coalesce((SELECT a.name || ' (' || a.agent_id || ', ' || c.name || ')' FROM agent a
	                             JOIN channel c ON c.project_id = a.project_id AND c.channel_id = a.channel_id
	                             WHERE a.project_id = p_project_id AND a.agent_id = p_agent_id), p_agent_id::text, '-'); END $$;
CREATE OR REPLACE FUNCTION project_named(p_project_id bigint) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ BEGIN RETURN coalesce((SELECT p.name || ' (' || p.project_id || ')' FROM project p WHERE p.project_id = p_project_id),
	                            p_project_id::text); END $$;

-- who owns a person at a moment, by the attribution rules (the same walk a
-- deal's decision makes, with no deal): the owning channel and agent and
-- until when, the owning consultant and until when, and when the person was
-- seen.  owner_kind: 'agency', 'natural', or NULL when nobody holds them (never
-- seen, or the last owner's window ended: the next visit decides).  Internal:
-- door_lookup and visitor.returned call it (p_settings: decision_settings, when
-- the caller has it for many persons); NULL for an unknown person.
CREATE OR REPLACE FUNCTION door_state(p_project_id bigint, p_person_id bigint, p_at timestamptz, p_settings jsonb DEFAULT NULL) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := current_person(p_project_id, p_person_id);
	st jsonb;
	buyers bigint[];
	reports jsonb;
	w decision_walk;
	holds boolean;
	seen record;
BEGIN
	IF pid IS NULL OR NOT EXISTS (SELECT 1 FROM person p WHERE p.project_id = p_project_id AND p.person_id = pid) THEN
		RETURN NULL;
	END IF;
	st := coalesce(p_settings, decision_settings(p_project_id));
	-- a person with no binding links to nobody and matches no report (the common
	-- case at the door: skip the searches)
	IF EXISTS (SELECT 1 FROM identity i WHERE i.project_id = p_project_id AND i.person_id = pid) THEN
		buyers := (decision_buyers(p_project_id, ARRAY[pid])).buyers;
		SELECT coalesce(jsonb_agg(jsonb_build_object('report_id', r.report_id, 'agent_id', r.agent_id, 'channel_id', r.channel_id,
		                                             'filed_at', r.filed_at, 'reported_at', r.claimed_at, 'expires_at', r.expires_at,
		                                             'masked', r.masked, 'verdict', r.verdict) ORDER BY r.filed_at, r.report_id), '[]')
		INTO reports
		FROM decision_reports(p_project_id, buyers, p_at, (st->>'report_validity')::interval, st->>'time_zone') r;
	ELSE
		buyers := ARRAY[pid];
		reports := '[]';
	END IF;
	w := decision_walk(p_project_id, buyers, p_at, st, reports);
	holds := w.owner_kind IS NOT NULL AND p_at < w.owner_until;
	SELECT count(*) AS visits, min(v.started_at) AS first_at,
	       (array_agg(v.started_at ORDER BY v.started_at DESC))[2] AS previous_at,
	       max(v.started_at) AS last_at
	INTO seen
	FROM visit v WHERE v.project_id = p_project_id AND v.person_id = ANY (buyers) AND v.started_at <= p_at;
	RETURN jsonb_build_object(
		'person_id', pid,
		'visits', seen.visits,
		'seen_before', seen.visits > 1,
		'first_seen_at', seen.first_at,
		'previous_visit_at', seen.previous_at,
		'last_visit_at', seen.last_at,
		'owner_kind', CASE WHEN holds THEN w.owner_kind END,
		'owner_channel_id', CASE WHEN holds THEN w.owner_channel_id END,
		'owner_channel', CASE WHEN holds THEN channel_label(p_project_id, w.owner_channel_id) END,
		'owner_agent_id', CASE WHEN holds THEN w.owner_agent_id END,
		'owner_agent', CASE WHEN holds THEN (SELECT a.name FROM agent a WHERE a.project_id = p_project_id AND a.agent_id = w.owner_agent_id) END,
		'owner_until', CASE WHEN holds THEN w.owner_until END,
		'owner_rule', CASE WHEN holds THEN w.rule END,
		'consultant_id', CASE WHEN p_at < w.consultant_until THEN w.consultant_id END,
		'consultant', CASE WHEN p_at < w.consultant_until
		                   THEN (SELECT k.name FROM consultant k WHERE k.project_id = p_project_id AND k.consultant_id = w.consultant_id) END,
		'consultant_until', CASE WHEN p_at < w.consultant_until THEN w.consultant_until END,
		'bought', EXISTS (SELECT 1 FROM deal x WHERE x.project_id = p_project_id
		                  AND (x.person_id = ANY (buyers) OR x.co_buyer_ids && buyers)));
END
$$;
COMMENT ON FUNCTION door_state(bigint, bigint, timestamptz, jsonb) IS
	'internal: who owns a person at a moment (channel, agent, consultant, until when) and when they were seen, as jsonb';
REVOKE ALL ON FUNCTION door_state(bigint, bigint, timestamptz, jsonb) FROM PUBLIC;

-- at the door (截客): who owns this visitor now, for the sales app
-- (capture_id instead of person_id: the person of that capture, the face the
-- camera at the door has just seen; at: as of another moment, for a replay)
CREATE OR REPLACE FUNCTION door_lookup(project_id bigint, person_id bigint DEFAULT NULL, capture_id bigint DEFAULT NULL,
	at timestamptz DEFAULT now(),
	OUT person_id_now bigint, OUT visits bigint, OUT seen_before boolean, OUT first_seen_at timestamptz,
	OUT previous_visit_at timestamptz, OUT last_visit_at timestamptz,
	OUT owner_kind text, OUT owner_channel_id bigint, OUT owner_channel text, OUT owner_agent_id bigint, OUT owner_agent text,
	OUT owner_until timestamptz, OUT owner_rule text, OUT owner_rule_label text,
	OUT consultant_id bigint, OUT consultant text, OUT consultant_until timestamptz, OUT bought boolean)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	s jsonb;
	pid bigint := door_lookup.person_id;
BEGIN
	PERFORM require_project(door_lookup.project_id);
	IF door_lookup.capture_id IS NOT NULL THEN
		SELECT c.person_id INTO pid FROM capture c
		WHERE c.project_id = door_lookup.project_id AND c.capture_id = door_lookup.capture_id;
		IF pid IS NULL THEN
			RAISE EXCEPTION USING ERRCODE = 'no_data_found',
				MESSAGE = format('capture %s of project %s does not exist or has no person', door_lookup.capture_id, door_lookup.project_id);
		END IF;
	END IF;
	s := door_state(door_lookup.project_id, pid, coalesce(door_lookup.at, now()));
	IF s IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'no_data_found',
			MESSAGE = format('person %s of project %s does not exist', coalesce(pid::text, 'NULL'), door_lookup.project_id),
			HINT = 'Use the person_id of a visitor.new or visitor.returned event, or give the capture_id.';
	END IF;
	person_id_now := (s->>'person_id')::bigint;
	visits := (s->>'visits')::bigint;
	seen_before := (s->>'seen_before')::boolean;
	first_seen_at := (s->>'first_seen_at')::timestamptz;
	previous_visit_at := (s->>'previous_visit_at')::timestamptz;
	last_visit_at := (s->>'last_visit_at')::timestamptz;
	owner_kind := s->>'owner_kind';
	owner_channel_id := (s->>'owner_channel_id')::bigint;
	owner_channel := s->>'owner_channel';
	owner_agent_id := (s->>'owner_agent_id')::bigint;
	owner_agent := s->>'owner_agent';
	owner_until := (s->>'owner_until')::timestamptz;
	owner_rule := s->>'owner_rule';
	owner_rule_label := CASE WHEN owner_rule IS NOT NULL THEN label_text('rule', owner_rule) END;
	consultant_id := (s->>'consultant_id')::bigint;
	consultant := s->>'consultant';
	consultant_until := (s->>'consultant_until')::timestamptz;
	bought := (s->>'bought')::boolean;
END
$$;
COMMENT ON FUNCTION door_lookup(bigint, bigint, bigint, timestamptz) IS
	'at the door (截客): who owns this visitor now (channel, agent, consultant, until when), seen before and when; for the sales app';


-- the sentence for who holds a person (door_state), for worklists
CREATE OR REPLACE FUNCTION door_state_text(p_project_id bigint, s jsonb, tz text) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT CASE WHEN s->>'owner_kind' = 'agency'
	            THEN format('owned by %s (agent %s) until %s', s->>'owner_channel',
	                        agent_named(p_project_id, (s->>'owner_agent_id')::bigint), local_text((s->>'owner_until')::timestamptz, tz))
	            WHEN s->>'owner_kind' = 'natural'
	            THEN format('a natural visitor until %s', local_text((s->>'owner_until')::timestamptz, tz))
	            ELSE 'nobody holds them: the next visit decides' END
	       || CASE WHEN s->>'consultant_id' IS NOT NULL
	               THEN format('; consultant %s owns them until %s', consultant_named(p_project_id, (s->>'consultant_id')::bigint),
	                           local_text((s->>'consultant_until')::timestamptz, tz))
	               ELSE '; no consultant owns them' END
	$$;

-- the end-of-day review (归属确认) of one project and local day: what needs a
-- decision or a correction, each item with the call that resolves it.  Kinds
-- (label kind 'worklist'): unreceived_visit, unreported_visit (accompanied,
-- no valid report: counts as natural), returning_visitor (with who owns them),
-- report_lapsing (within a day after the day, no visit since filing),
-- low_confidence_match
-- (match_review), possible_duplicate (unmasked gallery faces of two persons
-- within match_distance + low_confidence_margin, one seen that day)
CREATE OR REPLACE FUNCTION daily_worklist(project_id bigint, day date)
	RETURNS TABLE (kind text, kind_label text, at timestamp, person_id bigint, visit_id bigint, ref_id bigint,
	               description text, action text)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := daily_worklist.project_id;
	tz text;
	d0 timestamptz;
	d1 timestamptz;
	asof timestamptz;
	st jsonb;
	v record;
	s jsonb;
BEGIN
	PERFORM require_project(pid);
	SELECT p.time_zone INTO tz FROM project p WHERE p.project_id = pid;
	IF tz IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = format('project %s does not exist', pid);
	END IF;
	IF day IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed', MESSAGE = 'the worklist needs a day',
			HINT = 'Give the local day, for example (now() AT TIME ZONE ''Asia/Shanghai'')::date.';
	END IF;
	d0 := day::timestamp AT TIME ZONE tz;
	d1 := (day + 1)::timestamp AT TIME ZONE tz;
	asof := least(now(), d1);
	st := decision_settings(pid);

	-- visits nobody received; for a known visitor, the consultant who owns them
	FOR v IN SELECT x.visit_id, x.person_id, x.started_at, x.first_camera_id, c.zone
	         FROM visit x LEFT JOIN camera c ON c.project_id = x.project_id AND c.camera_id = x.first_camera_id
	         WHERE x.project_id = pid AND x.started_at >= d0 AND x.started_at < d1 AND x.consultant_id IS NULL
	         ORDER BY x.started_at, x.visit_id LOOP
		s := door_state(pid, v.person_id, v.started_at, st);
		kind := 'unreceived_visit'; kind_label := label_text('worklist', kind); at := v.started_at AT TIME ZONE tz; person_id := v.person_id; visit_id := v.visit_id; ref_id := NULL;
		description := format('visit %s of person %s at %s (%s), not received; %s', v.visit_id, v.person_id,
		                      local_text(v.started_at, tz), coalesce(v.zone, 'unknown camera'), door_state_text(pid, s, tz));
		action := format('SELECT firstsight.receive(%s, %s, %s, %s);', pid, v.visit_id,
		                 coalesce(s->>'consultant_id', '<consultant_id>'), '<agent_id or NULL>');
		RETURN NEXT;
	END LOOP;

	-- accompanied visits no valid report covers (report_protection mode): they count as natural
	IF st->>'attribution_mode' = 'report_protection' THEN
		FOR v IN SELECT x.visit_id, x.person_id, x.started_at, x.consultant_id, x.agent_id, x.first_camera_id,
		                EXISTS (SELECT 1 FROM identity i WHERE i.project_id = pid AND i.person_id = x.person_id
		                        AND (i.phone_hash IS NOT NULL OR i.phone_masked_hash IS NOT NULL)) AS has_phone,
		                (SELECT max(c.capture_id) FROM capture c WHERE c.project_id = pid AND c.visit_id = x.visit_id) AS capture_id
		         FROM visit x
		         JOIN agent ag ON ag.project_id = x.project_id AND ag.agent_id = x.agent_id
		         WHERE x.project_id = pid AND x.started_at >= d0 AND x.started_at < d1
		           AND NOT EXISTS (
		               SELECT 1 FROM report rp
		               JOIN agent ra ON ra.project_id = rp.project_id AND ra.agent_id = rp.agent_id AND ra.channel_id = ag.channel_id
		               JOIN channel rc ON rc.project_id = ra.project_id AND rc.channel_id = ra.channel_id
		               JOIN identity i ON i.project_id = rp.project_id AND i.person_id = x.person_id
		                              AND ((rp.phone_hash IS NOT NULL AND rp.phone_hash = i.phone_hash)
		                                   OR (rp.phone_hash IS NULL AND rp.phone_masked_hash = i.phone_masked_hash))
		               WHERE rp.project_id = pid AND rp.created_at < x.started_at
		                 AND report_covers(rp.created_at, report_expiry(rp.created_at, rc.report_cutoff, (st->>'report_validity')::interval, tz),
		                                   x.started_at))
		         ORDER BY x.started_at, x.visit_id LOOP
			kind := 'unreported_visit'; kind_label := label_text('worklist', kind); at := v.started_at AT TIME ZONE tz; person_id := v.person_id; visit_id := v.visit_id; ref_id := v.agent_id;
			IF v.has_phone THEN
				description := format('visit %s of person %s at %s came with agent %s, but no report of that channel was valid at it: it counts as a natural visit',
				                      v.visit_id, v.person_id, local_text(v.started_at, tz), agent_named(pid, v.agent_id));
				action := format('SELECT firstsight.receive(%s, %s, %s, NULL);', pid, v.visit_id, coalesce(v.consultant_id::text, '<consultant_id>'));
			ELSE
				description := format('visit %s of person %s at %s came with agent %s, and no phone is bound to the person: no report can match them',
				                      v.visit_id, v.person_id, local_text(v.started_at, tz), agent_named(pid, v.agent_id));
				action := format('SELECT firstsight.bind_identity(%s, %s, NULL, ''<phone>'');', pid, coalesce(v.capture_id::text, '<capture_id>'));
			END IF;
			RETURN NEXT;
		END LOOP;
	END IF;

	-- returning visitors and who owns them now (at the end of the day)
	FOR v IN SELECT x.visit_id, x.person_id, x.started_at, x.consultant_id, x.agent_id
	         FROM visit x
	         WHERE x.project_id = pid AND x.started_at >= d0 AND x.started_at < d1 AND x.seen_before
	         ORDER BY x.started_at, x.visit_id LOOP
		s := door_state(pid, v.person_id, asof, st);
		kind := 'returning_visitor'; kind_label := label_text('worklist', kind); at := v.started_at AT TIME ZONE tz; person_id := v.person_id; visit_id := v.visit_id; ref_id := NULL;
		description := format('person %s came back at %s (visit %s; first seen %s, %s visits), received by consultant %s; %s',
		                      v.person_id, local_text(v.started_at, tz), v.visit_id, local_text((s->>'first_seen_at')::timestamptz, tz),
		                      s->>'visits', consultant_named(pid, v.consultant_id), door_state_text(pid, s, tz));
		action := CASE WHEN s->>'consultant_id' IS NOT NULL AND v.consultant_id IS DISTINCT FROM (s->>'consultant_id')::bigint
		               THEN format('SELECT firstsight.receive(%s, %s, %s, %s);', pid, v.visit_id, s->>'consultant_id', coalesce(v.agent_id::text, 'NULL'))
		               ELSE format('SELECT * FROM firstsight.door_lookup(%s, %s);', pid, v.person_id) END;
		RETURN NEXT;
	END LOOP;

	-- reports that lapse within a day after this one, the customer not seen since filing
	FOR v IN SELECT rp.report_id, rp.agent_id, rp.phone_hash IS NULL AS masked, rp.created_at,
	                report_expiry(rp.created_at, rc.report_cutoff, (st->>'report_validity')::interval, tz) AS expires_at
	         FROM report rp
	         JOIN agent ra ON ra.project_id = rp.project_id AND ra.agent_id = rp.agent_id
	         JOIN channel rc ON rc.project_id = ra.project_id AND rc.channel_id = ra.channel_id
	         WHERE rp.project_id = pid AND rp.created_at < d1 AND rp.verdict IS DISTINCT FROM 'visited'
	           AND report_expiry(rp.created_at, rc.report_cutoff, (st->>'report_validity')::interval, tz) >= d1
	           AND report_expiry(rp.created_at, rc.report_cutoff, (st->>'report_validity')::interval, tz) < d1 + interval '1 day'
	           AND NOT EXISTS (SELECT 1 FROM identity i JOIN visit x ON x.project_id = i.project_id AND x.person_id = i.person_id
	                           WHERE i.project_id = pid AND x.started_at > rp.created_at
	                             AND ((rp.phone_hash IS NOT NULL AND i.phone_hash = rp.phone_hash)
	                                  OR (rp.phone_hash IS NULL AND i.phone_masked_hash = rp.phone_masked_hash)))
	         ORDER BY 5, rp.report_id LOOP
		kind := 'report_lapsing'; kind_label := label_text('worklist', kind); at := v.expires_at AT TIME ZONE tz; person_id := NULL; visit_id := NULL; ref_id := v.report_id;
		description := format('report %s by agent %s on a %s phone, filed %s, lapses at %s; the customer has not come since',
		                      v.report_id, agent_named(pid, v.agent_id), CASE WHEN v.masked THEN 'masked' ELSE 'full' END,
		                      local_text(v.created_at, tz), local_text(v.expires_at, tz));
		action := format('-- no call: the agency brings the customer before %s, or the report lapses', local_text(v.expires_at, tz));
		RETURN NEXT;
	END LOOP;

	-- matches of low confidence made that day, not yet reviewed
	FOR v IN SELECT c.capture_id, c.person_id, c.visit_id, c.captured_at, c.camera_id, c.masked, c.match_kind,
	                c.match_distance, c.match_distance + c.match_margin AS threshold
	         FROM capture c
	         WHERE c.project_id = pid AND c.captured_at >= d0 AND c.captured_at < d1
	           AND c.match_low_confidence AND c.match_reviewed_at IS NULL
	         ORDER BY c.captured_at, c.capture_id LOOP
		kind := 'low_confidence_match'; kind_label := label_text('worklist', kind); at := v.captured_at AT TIME ZONE tz; person_id := v.person_id; visit_id := v.visit_id; ref_id := v.capture_id;
		description := format('capture %s (camera %s%s) matched person %s as %s at distance %s, threshold %s: confirm, or split it off',
		                      v.capture_id, v.camera_id, CASE WHEN v.masked THEN ', masked' ELSE '' END, v.person_id,
		                      replace(coalesce(v.match_kind, 'unknown'), '_', '-'), round(v.match_distance::numeric, 4), round(v.threshold::numeric, 4));
		action := format('SELECT firstsight.confirm_matches(%s, ARRAY[%s]); -- or: SELECT firstsight.split_person(%s, %s, ARRAY[%s]);',
		                 pid, v.capture_id, pid, v.person_id, v.capture_id);
		RETURN NEXT;
	END LOOP;

	-- persons that may be one: a person seen that day whose unmasked gallery
	-- face is near another person's (among its five nearest; not split apart by a manager)
	FOR v IN SELECT DISTINCT ON (least(f.person_id, n.person_id), greatest(f.person_id, n.person_id))
	                least(f.person_id, n.person_id) AS a, greatest(f.person_id, n.person_id) AS b, n.distance
	         FROM (SELECT DISTINCT x.person_id FROM visit x WHERE x.project_id = pid AND x.started_at >= d0 AND x.started_at < d1) sp
	         JOIN face f ON f.project_id = pid AND f.person_id = sp.person_id AND NOT f.masked
	         CROSS JOIN LATERAL (
	             SELECT g.person_id, f.face <=> g.face AS distance FROM face g
	             WHERE g.project_id = pid AND NOT g.masked AND g.person_id <> f.person_id
	             ORDER BY f.face <=> g.face LIMIT 5) n
	         WHERE n.distance <= (st->>'match_distance')::float8 + project_setting_value(pid, 'low_confidence_margin')::float8
	           AND NOT persons_distinct(pid, f.person_id, n.person_id)
	         ORDER BY least(f.person_id, n.person_id), greatest(f.person_id, n.person_id), n.distance LOOP
		kind := 'possible_duplicate'; kind_label := label_text('worklist', kind); at := NULL; person_id := v.a; visit_id := NULL; ref_id := v.b;
		description := format('persons %s and %s look alike (unmasked faces at distance %s, threshold %s): merge them if they are one visitor',
		                      v.a, v.b, round(v.distance::numeric, 4), round((st->>'match_distance')::numeric, 4));
		action := format('SELECT firstsight.merge_person(%s, %s, %s);', pid, v.a, v.b);
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION daily_worklist(bigint, date) IS
	'the end-of-day review (归属确认) of a project''s local day: each item with its kind, ids, a description and the call that resolves it';

-- the labels of some flags, 'zh / en' each, joined by '; ' (lang: 'zh', 'en' or NULL for both).
-- On Citus attribution_report calls it next to the shards, where it reads
-- label, a reference table, from the node's own copy (exact): Citus refuses
-- that nested read unless the setting is on, for this function only (without
-- Citus the setting means nothing)
CREATE OR REPLACE FUNCTION flag_labels(p_flags text[], p_lang text DEFAULT NULL) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	SET citus.allow_nested_distributed_execution = on
	AS $$
	SELECT string_agg(CASE p_lang WHEN 'zh' THEN coalesce(l.zh, f) WHEN 'en' THEN coalesce(l.en, f)
	                  ELSE coalesce(l.zh || ' / ' || l.en, f) END, '; ' ORDER BY o)
	FROM unnest(p_flags) WITH ORDINALITY u(f, o)
	LEFT JOIN label l ON l.kind = 'flag' AND l.code = u.f
	$$;

-- the attribution report with names: one row per deal's current decision
CREATE OR REPLACE VIEW attribution_report WITH (security_barrier = true) AS
	SELECT a.project_id, p.name AS project, a.deal_id, (a.signed_at AT TIME ZONE p.time_zone) AS signed_local, x.price,
	       x.person_id AS buyer_person_id, x.co_buyer_ids,
	       coalesce(x.channel_id, ca.channel_id) AS claimed_channel_id, cc.name AS claimed_channel,
	       x.agent_id AS claimed_agent_id, ca.name AS claimed_agent,
	       x.consultant_id AS claimed_consultant_id, xk.name AS claimed_consultant,
	       a.entitled_channel_id, ec.name AS entitled_channel, ec.kind AS entitled_channel_kind,
	       a.entitled_agent_id, ea.name AS entitled_agent,
	       a.entitled_consultant_id, ek.name AS entitled_consultant,
	       a.commission, a.rule, rl.zh AS rule_zh, rl.en AS rule_en,
	       a.flags, flag_labels(a.flags, 'zh') AS flags_zh, flag_labels(a.flags, 'en') AS flags_en,
	       a.version, a.decided_at
	FROM attribution a
	JOIN project p ON p.project_id = a.project_id
	JOIN deal x ON x.project_id = a.project_id AND x.deal_id = a.deal_id
	JOIN channel ec ON ec.project_id = a.project_id AND ec.channel_id = a.entitled_channel_id
	LEFT JOIN agent ca ON ca.project_id = x.project_id AND ca.agent_id = x.agent_id
	LEFT JOIN channel cc ON cc.project_id = x.project_id AND cc.channel_id = coalesce(x.channel_id, ca.channel_id)
	LEFT JOIN consultant xk ON xk.project_id = x.project_id AND xk.consultant_id = x.consultant_id
	LEFT JOIN agent ea ON ea.project_id = a.project_id AND ea.agent_id = a.entitled_agent_id
	LEFT JOIN consultant ek ON ek.project_id = a.project_id AND ek.consultant_id = a.entitled_consultant_id
	LEFT JOIN label rl ON rl.kind = 'rule' AND rl.code = a.rule
	WHERE a.is_current AND reads_project(a.project_id);
COMMENT ON VIEW attribution_report IS
	'each deal''s current attribution with names: claimed against entitled channel, agent and consultant, commission, rule and flags with their Chinese and English labels; managers see their projects';
COMMENT ON COLUMN attribution_report.signed_local IS 'signing time in the project''s time zone';
COMMENT ON COLUMN attribution_report.claimed_channel_id IS 'the channel the deal was entered with (else its agent''s channel; NULL: none claimed)';
COMMENT ON COLUMN attribution_report.entitled_channel IS 'the channel the rules entitle';
COMMENT ON COLUMN attribution_report.commission IS 'commission owed to the entitled channel (rate x price)';
COMMENT ON COLUMN attribution_report.rule_zh IS 'the deciding rule in Chinese (table label)';
COMMENT ON COLUMN attribution_report.rule_en IS 'the deciding rule in English (table label)';
COMMENT ON COLUMN attribution_report.flags_zh IS 'the flags in Chinese, joined by ''; ''';
COMMENT ON COLUMN attribution_report.flags_en IS 'the flags in English, joined by ''; ''';

-- a timeline line with names: 'consultant 1' -> 'consultant Wang (1)',
-- 'agent 21 (Lianjia)' -> 'agent Zhao (21, Lianjia)', also both sides of a
-- change ('consultant 3 -> 2'); ids that name nobody stay as they are.  Read
-- time, so decisions stored before names were shown get them too.
CREATE OR REPLACE FUNCTION timeline_named(p_project_id bigint, p_line text) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pat constant text := '\m(consultant|agent) (\d+|-)(?: -> (\d+|-))?(?: \(([^)]*)\))?';
	rest text := p_line;
	done text := '';
	whole text;
	m text[];
	named text;
	at integer;
BEGIN
	LOOP
		m := regexp_match(rest, '(' || pat || ')');
		EXIT WHEN m IS NULL;
		whole := m[1];
		at := strpos(rest, whole);
		named := m[2] || ' ' || CASE WHEN m[3] = '-' THEN '-' WHEN m[2] = 'agent' THEN agent_named(p_project_id, m[3]::bigint)
		                             ELSE consultant_named(p_project_id, m[3]::bigint) END;
		IF m[4] IS NOT NULL THEN
			named := named || ' -> ' || CASE WHEN m[4] = '-' THEN '-' WHEN m[2] = 'agent' THEN agent_named(p_project_id, m[4]::bigint)
			                                 ELSE consultant_named(p_project_id, m[4]::bigint) END;
		END IF;
		-- an agent's '(channel)' is in its name now; any other parenthesis stays
		IF m[5] IS NOT NULL AND NOT (m[2] = 'agent' AND m[4] IS NULL AND m[3] <> '-' AND named LIKE '%, ' || m[5] || ')') THEN
			named := named || ' (' || m[5] || ')';
		END IF;
		done := done || substr(rest, 1, at - 1) || named;
		rest := substr(rest, at + length(whole));
	END LOOP;
	RETURN done || rest;
END
$$;

-- the extra lines explain_attribution gives a dispute meeting: who the buyers
-- are (signer, co-buyers, persons linked by a hash: first seen when and
-- where), the first sighting's captures, match distance and masks, and the
-- sister projects a buyer was seen at (who, when, where)
CREATE OR REPLACE FUNCTION explain_people(a attribution) RETURNS SETOF text
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	tz text := coalesce(a.evidence->>'time_zone', (SELECT p.time_zone FROM project p WHERE p.project_id = a.project_id));
	d deal;
	fs jsonb := a.evidence->'first_sighting';
	r record;
BEGIN
	SELECT * INTO d FROM deal x WHERE x.project_id = a.project_id AND x.deal_id = a.deal_id;
	FOR r IN
		SELECT b.person_id,
		       CASE WHEN b.person_id = current_person(a.project_id, d.person_id) THEN 'signed the deal'
		            WHEN b.person_id IN (SELECT current_person(a.project_id, c) FROM unnest(d.co_buyer_ids) c) THEN 'co-buyer'
		            ELSE coalesce((SELECT format('linked to person %s by %s', l->>'with', CASE WHEN l->>'by' = 'id_card' THEN 'an ID card' ELSE 'a full phone number' END)
		                           FROM jsonb_array_elements(a.evidence->'linked_by_identity') l WHERE (l->>'person_id')::bigint = b.person_id LIMIT 1),
		                          'buyer') END AS role,
		       (SELECT count(*) FROM jsonb_array_elements(a.evidence->'visits') v WHERE (v->>'person_id')::bigint = b.person_id) AS visits,
		       (SELECT v FROM jsonb_array_elements(a.evidence->'visits') v WHERE (v->>'person_id')::bigint = b.person_id
		        ORDER BY (v->>'started_at')::timestamptz LIMIT 1) AS first_visit
		FROM jsonb_array_elements_text(coalesce(a.evidence->'buyers', '[]')) b0(id)
		CROSS JOIN LATERAL (SELECT b0.id::bigint AS person_id) b
		ORDER BY b.person_id <> current_person(a.project_id, d.person_id), b.person_id
	LOOP
		RETURN NEXT format('buyer: person %s (%s), %s', r.person_id, r.role,
			CASE WHEN r.first_visit IS NULL THEN 'no visit before signing'
			     ELSE format('first seen %s at %s (visit %s, received by consultant %s%s), %s visit%s before signing',
			                 local_text((r.first_visit->>'started_at')::timestamptz, tz), coalesce(r.first_visit->>'zone', 'an unknown camera'),
			                 r.first_visit->>'visit_id', consultant_named(a.project_id, (r.first_visit->>'consultant_id')::bigint),
			                 CASE WHEN r.first_visit->>'agent_id' IS NULL THEN ', came alone'
			                      ELSE ', with agent ' || agent_named(a.project_id, (r.first_visit->>'agent_id')::bigint) END,
			                 r.visits, CASE WHEN r.visits = 1 THEN '' ELSE 's' END) END);
	END LOOP;
	IF fs IS NOT NULL THEN
		SELECT string_agg(c.capture_id::text, ', ' ORDER BY c.captured_at, c.capture_id) AS ids, count(*) AS n,
		       count(*) FILTER (WHERE c.masked) AS masked, min(c.match_distance) AS distance,
		       string_agg(DISTINCT c.camera_id, ', ') AS cameras
		INTO r
		FROM capture c WHERE c.project_id = a.project_id AND c.visit_id = (fs->>'visit_id')::bigint;
		RETURN NEXT format('first sighting: visit %s of person %s at %s, %s; %s',
			fs->>'visit_id', fs->>'person_id', local_text((fs->>'at')::timestamptz, tz), coalesce(fs->>'zone', 'an unknown camera'),
			CASE WHEN r.n = 0 THEN 'no capture of it is kept'
			     ELSE format('captures %s (camera %s); %s; masked at %s of %s captures', r.ids, r.cameras,
			                 CASE WHEN r.distance IS NULL THEN 'a new person (no match distance)'
			                      ELSE format('closest match distance %s', round(r.distance::numeric, 4)) END,
			                 r.masked, r.n) END);
	END IF;
	FOR r IN SELECT e FROM jsonb_array_elements(coalesce(a.evidence->'seen_elsewhere', '[]')) e
	         ORDER BY (e->>'first_seen')::timestamptz, e->>'project_id' LOOP
		RETURN NEXT format('seen elsewhere: buyer person %s was first seen at project %s on %s, before the first visit here (found by %s)',
			r.e->>'buyer', project_named((r.e->>'project_id')::bigint), local_text((r.e->>'first_seen')::timestamptz, tz),
			CASE WHEN r.e->>'by' = 'id_card' THEN 'ID card' ELSE r.e->>'by' END);
	END LOOP;
END
$$;

-- how a decision's first visit came, for a flag's reason: alone, or with an
-- agent whose visit did not count for the agency (no valid report of its
-- channel), so it counted as a natural one
CREATE OR REPLACE FUNCTION first_visit_how(p_project_id bigint, fv jsonb) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT CASE WHEN fv->>'agent_id' IS NULL THEN 'came alone'
	            WHEN (fv->>'counted_for_agency')::boolean THEN 'came with agent ' || agent_named(p_project_id, (fv->>'agent_id')::bigint)
	            ELSE format('came with agent %s under no valid report of %s (a natural visit)',
	                        agent_named(p_project_id, (fv->>'agent_id')::bigint),
	                        channel_label(p_project_id, (fv->>'channel_id')::bigint)) END
	$$;

-- why a decision carries a flag, in one sentence with names (from its evidence)
CREATE OR REPLACE FUNCTION explain_flag(a attribution, p_flag text) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	tz text := coalesce(a.evidence->>'time_zone', (SELECT p.time_zone FROM project p WHERE p.project_id = a.project_id));
	d deal;
	claimed_ch bigint;
	fv jsonb;
	e jsonb;
	w jsonb;
	why text;
BEGIN
	SELECT * INTO d FROM deal x WHERE x.project_id = a.project_id AND x.deal_id = a.deal_id;
	claimed_ch := coalesce(d.channel_id, (SELECT ag.channel_id FROM agent ag WHERE ag.project_id = d.project_id AND ag.agent_id = d.agent_id));
	SELECT v INTO fv FROM jsonb_array_elements(a.evidence->'visits') v ORDER BY (v->>'started_at')::timestamptz LIMIT 1;
	CASE p_flag
	WHEN 'claim_mismatch' THEN
		why := format('the deal claims %s, agent %s; the rules entitle %s, agent %s',
		              CASE WHEN claimed_ch IS NULL THEN 'no channel' ELSE channel_label(a.project_id, claimed_ch) END,
		              agent_named(a.project_id, d.agent_id), channel_label(a.project_id, a.entitled_channel_id),
		              agent_named(a.project_id, a.entitled_agent_id));
	WHEN 'flying_order' THEN
		why := format('the buyers'' first visit (visit %s, %s) %s, so the natural channel owned them at signing; the deal claims %s, agent %s',
		              fv->>'visit_id', local_text((fv->>'started_at')::timestamptz, tz), first_visit_how(a.project_id, fv),
		              CASE WHEN claimed_ch IS NULL THEN 'no channel' ELSE channel_label(a.project_id, claimed_ch) END,
		              agent_named(a.project_id, d.agent_id));
	WHEN 'hanging_order_suspect' THEN
		IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(a.evidence->'visits') v WHERE (v->>'agent_id')::bigint = d.agent_id) THEN
			why := format('the claiming agent %s never accompanied a buyer on a recorded visit', agent_named(a.project_id, d.agent_id));
		ELSE
			SELECT r INTO e FROM jsonb_array_elements(a.evidence->'reports') r
			WHERE (r->>'channel_id')::bigint = claimed_ch AND (r->>'filed_at')::timestamptz > (fv->>'started_at')::timestamptz
			ORDER BY (r->>'filed_at')::timestamptz LIMIT 1;
			why := format('report %s of %s was filed at %s, after the buyers'' first visit %s at %s',
			              coalesce(e->>'report_id', '-'), channel_label(a.project_id, claimed_ch),
			              coalesce(local_text((e->>'filed_at')::timestamptz, tz), '-'), first_visit_how(a.project_id, fv),
			              local_text((fv->>'started_at')::timestamptz, tz));
		END IF;
	WHEN 'protection_conflict' THEN
		SELECT x INTO w FROM jsonb_array_elements(a.evidence->'protection_windows') x
		WHERE (x->>'from')::timestamptz <= a.signed_at ORDER BY (x->>'from')::timestamptz DESC LIMIT 1;
		SELECT v INTO e FROM jsonb_array_elements(a.evidence->'visits') v
		WHERE (v->>'counted_for_agency')::boolean AND (v->>'channel_id')::bigint IS DISTINCT FROM (w->>'channel_id')::bigint
		  AND (v->>'started_at')::timestamptz > (w->>'from')::timestamptz AND (v->>'started_at')::timestamptz < (w->>'until')::timestamptz
		ORDER BY (v->>'started_at')::timestamptz LIMIT 1;
		why := CASE WHEN e IS NOT NULL
		            THEN format('%s brought the buyer (visit %s, %s, agent %s) inside %s''s protection, which runs until %s',
		                        channel_label(a.project_id, (e->>'channel_id')::bigint), e->>'visit_id', local_text((e->>'started_at')::timestamptz, tz),
		                        agent_named(a.project_id, (e->>'agent_id')::bigint), channel_label(a.project_id, (w->>'channel_id')::bigint),
		                        local_text((w->>'until')::timestamptz, tz))
		            ELSE format('the deal claims %s while %s''s protection holds until %s',
		                        channel_label(a.project_id, claimed_ch), channel_label(a.project_id, (w->>'channel_id')::bigint),
		                        coalesce(local_text((w->>'until')::timestamptz, tz), '-')) END;
	WHEN 'consultant_conflict' THEN
		why := format('the deal names consultant %s, but consultant %s has owned the buyer since their first reception, until %s',
		              consultant_named(a.project_id, d.consultant_id), consultant_named(a.project_id, (a.evidence->'consultant'->>'consultant_id')::bigint),
		              coalesce(local_text((a.evidence->'consultant'->>'until')::timestamptz, tz), '-'));
	WHEN 'backdated_deal' THEN
		SELECT substr(t->>'event', length('back-dated deal: ') + 1) INTO why FROM jsonb_array_elements(a.evidence->'timeline') t
		WHERE t->>'event' LIKE 'back-dated deal:%' LIMIT 1;
		why := timeline_named(a.project_id, why);
	WHEN 'abnormal_cycle' THEN
		SELECT t->>'event' INTO why FROM jsonb_array_elements(a.evidence->'timeline') t
		WHERE t->>'event' LIKE 'first visit to deal:%' LIMIT 1;
	WHEN 'prior_visit_elsewhere' THEN
		SELECT string_agg(format('person %s at %s on %s (by %s)', s->>'buyer', project_named((s->>'project_id')::bigint),
		                         local_text((s->>'first_seen')::timestamptz, tz), CASE WHEN s->>'by' = 'id_card' THEN 'ID card' ELSE s->>'by' END),
		                  '; ' ORDER BY (s->>'first_seen')::timestamptz)
		INTO why FROM jsonb_array_elements(a.evidence->'seen_elsewhere') s;
		why := 'a buyer was seen at a sister project before the first visit here: ' || coalesce(why, '-');
	WHEN 'late_change' THEN
		SELECT format('version %s was changed on %s by %s (%s): %s, agent %s, commission %s -> %s, agent %s, commission %s',
		              c->>'from_version', local_text((c->>'at')::timestamptz, tz), change_who((c->>'by')::name, c->>'application', c->>'actor'),
		              c->>'reason', channel_label(a.project_id, (c->'from'->>'channel_id')::bigint),
		              agent_named(a.project_id, (c->'from'->>'agent_id')::bigint), c->'from'->>'commission',
		              channel_label(a.project_id, (c->'to'->>'channel_id')::bigint),
		              agent_named(a.project_id, (c->'to'->>'agent_id')::bigint), c->'to'->>'commission')
		INTO why FROM jsonb_array_elements(a.evidence->'late_changes') WITH ORDINALITY x(c, o) ORDER BY o DESC LIMIT 1;
	ELSE
		why := NULL;
	END CASE;
	RETURN format('flag %s (%s): %s', p_flag, label_text('flag', p_flag), coalesce(why, 'see the timeline'));
END
$$;
