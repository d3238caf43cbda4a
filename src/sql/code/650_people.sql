-- Issue 16: what the people who use firstsight every day need, built on the
-- layers below: the visitor's route (动线) and the zone funnel, co-buyer
-- suggestions from parties (同行), referrals (老带新), the privacy officer's
-- data-subject requests, and the group.  The views hold no biometric column
-- and keep a manager to their projects (reads_project), as capture_log does.

-- the visitor's route: per visit, the zones passed in order; a step is a run
-- of captures in one zone (a zone seen again later is a new step)
CREATE OR REPLACE VIEW visit_route WITH (security_barrier = true) AS
	WITH c AS (
		SELECT x.project_id, x.visit_id, x.capture_id, x.captured_at, x.camera_id, cm.zone,
		       CASE WHEN lag(cm.zone) OVER w IS NOT DISTINCT FROM cm.zone THEN 0 ELSE 1 END AS brk
		FROM capture x
		JOIN camera cm ON cm.project_id = x.project_id AND cm.camera_id = x.camera_id
		WHERE x.visit_id IS NOT NULL
		WINDOW w AS (PARTITION BY x.project_id, x.visit_id ORDER BY x.captured_at, x.capture_id)),
	s AS (
		SELECT c.*, sum(c.brk) OVER (PARTITION BY c.project_id, c.visit_id ORDER BY c.captured_at, c.capture_id) AS step
		FROM c)
	SELECT s.project_id, s.visit_id, v.person_id, s.step::integer AS step, s.zone,
	       (array_agg(s.camera_id ORDER BY s.captured_at, s.capture_id))[1] AS camera_id,
	       min(s.captured_at) AS arrived_at, max(s.captured_at) AS last_seen_at,
	       max(s.captured_at) - min(s.captured_at) AS dwell, count(*) AS captures,
	       min(s.captured_at) AT TIME ZONE p.time_zone AS arrived_local
	FROM s
	JOIN visit v ON v.project_id = s.project_id AND v.visit_id = s.visit_id
	JOIN project p ON p.project_id = s.project_id
	WHERE reads_project(s.project_id)
	GROUP BY s.project_id, s.visit_id, v.person_id, s.step, s.zone, p.time_zone;
COMMENT ON VIEW visit_route IS 'the visitor''s route (动线): per visit, the camera zones passed in order, with arrival and dwell; no biometric column';
COMMENT ON COLUMN visit_route.step IS '1, 2, ...: the order of the zones in the visit (a zone seen again later is a new step)';
COMMENT ON COLUMN visit_route.zone IS 'the cameras'' zone: entrance, sign_in, sand_table, model_room, other';
COMMENT ON COLUMN visit_route.camera_id IS 'the first camera that saw the visitor in this step';
COMMENT ON COLUMN visit_route.arrived_at IS 'the first capture of the step';
COMMENT ON COLUMN visit_route.last_seen_at IS 'the last capture of the step';
COMMENT ON COLUMN visit_route.dwell IS 'last_seen_at - arrived_at: how long the cameras of the zone saw the visitor';
COMMENT ON COLUMN visit_route.arrived_local IS 'arrived_at in the project''s time zone';

-- the zone funnel: per local day and channel of the visit, the share of
-- visits that reached each zone
CREATE OR REPLACE VIEW zone_funnel WITH (security_barrier = true) AS
	WITH z AS (
		SELECT x.project_id, x.visit_id, array_agg(DISTINCT cm.zone) AS zones
		FROM capture x
		JOIN camera cm ON cm.project_id = x.project_id AND cm.camera_id = x.camera_id
		WHERE x.visit_id IS NOT NULL
		GROUP BY x.project_id, x.visit_id)
	SELECT vc.project_id, vc.day, vc.channel_id, ch.name AS channel, ch.kind, st.stage, st.zone,
	       count(*) AS visits,
	       count(*) FILTER (WHERE st.zone = ANY (z.zones) OR st.zone = fc.zone) AS reached,
	       round(count(*) FILTER (WHERE st.zone = ANY (z.zones) OR st.zone = fc.zone)::numeric / count(*), 4) AS share
	FROM visit_channel vc
	JOIN visit v ON v.project_id = vc.project_id AND v.visit_id = vc.visit_id
	JOIN channel ch ON ch.project_id = vc.project_id AND ch.channel_id = vc.channel_id
	LEFT JOIN z ON z.project_id = vc.project_id AND z.visit_id = vc.visit_id
	LEFT JOIN camera fc ON fc.project_id = v.project_id AND fc.camera_id = v.first_camera_id
	CROSS JOIN (VALUES (1, 'entrance'), (2, 'sand_table'), (3, 'model_room'), (4, 'sign_in')) st(stage, zone)
	WHERE reads_project(vc.project_id)
	GROUP BY vc.project_id, vc.day, vc.channel_id, ch.name, ch.kind, st.stage, st.zone;
COMMENT ON VIEW zone_funnel IS 'per project, local day and channel of the visit: the share of visits that reached each zone (entrance, sand table, model room, sign-in desk)';
COMMENT ON COLUMN zone_funnel.day IS 'local date the visit started';
COMMENT ON COLUMN zone_funnel.stage IS '1 entrance, 2 sand_table, 3 model_room, 4 sign_in: the usual order of a visit';
COMMENT ON COLUMN zone_funnel.visits IS 'visits of the day and channel (the same for every zone)';
COMMENT ON COLUMN zone_funnel.reached IS 'of those, visits seen by a camera of the zone';
COMMENT ON COLUMN zone_funnel.share IS 'reached / visits (0 to 1)';

-- persons who came in a party (同行) with a deal's buyers and are not on the
-- deal: the likely co-buyers, most parties together first.  Runs as the
-- caller: a manager sees their projects' visits and deals only
CREATE OR REPLACE FUNCTION suggest_cobuyers(project_id bigint, deal_id bigint)
	RETURNS TABLE (person_id bigint, parties bigint, first_together timestamptz, last_together timestamptz)
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := suggest_cobuyers.project_id;
	buyers bigint[];
BEGIN
	SELECT array_agg(DISTINCT current_person(pid, u.b)) INTO buyers
	FROM deal d, unnest(d.person_id || d.co_buyer_ids) u(b)
	WHERE d.project_id = pid AND d.deal_id = suggest_cobuyers.deal_id;
	IF buyers IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('deal %s of project %s does not exist', coalesce(suggest_cobuyers.deal_id::text, 'NULL'),
			                 coalesce(pid::text, 'NULL'));
	END IF;
	RETURN QUERY
	SELECT o.pers, count(DISTINCT o.party_id), min(o.started_at), max(o.started_at)
	FROM (SELECT current_person(pid, v.person_id) AS pers, v.party_id, v.started_at
	      FROM visit v
	      WHERE v.project_id = pid AND v.party_id IN (
	            SELECT m.party_id FROM visit m
	            WHERE m.project_id = pid AND m.party_id IS NOT NULL AND current_person(pid, m.person_id) = ANY (buyers))) o
	WHERE o.pers <> ALL (buyers)
	GROUP BY o.pers
	ORDER BY 2 DESC, 3, 1;
END
$$;
COMMENT ON FUNCTION suggest_cobuyers(bigint, bigint) IS
	'persons who came in a party (同行) with the deal''s buyers and are not on the deal, most parties together first';

-- a deal's referring owner must have bought before (buyer or co-buyer of an
-- earlier deal of the project), on a deal of a referral channel, and is not
-- one of the deal's own buyers; stored as the current person
CREATE OR REPLACE FUNCTION deal_referrer_check() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	ref bigint;
BEGIN
	IF NEW.referrer_person_id IS NULL THEN
		RETURN NEW;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM channel c WHERE c.project_id = NEW.project_id AND c.channel_id = NEW.channel_id
	               AND c.kind = 'referral') THEN
		RAISE EXCEPTION USING ERRCODE = 'check_violation',
			MESSAGE = format('deal %s names a referrer but is not a deal of a referral channel', NEW.deal_id),
			DETAIL = 'A referral reward is the referral channel''s commission rate of the price.',
			HINT = 'Enter the deal with the project''s referral channel (channel kind referral), or leave referrer_person_id out.';
	END IF;
	ref := current_person(NEW.project_id, NEW.referrer_person_id);
	IF ref IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('referrer person %s does not exist', NEW.referrer_person_id),
			DETAIL = format('Deal %s of project %s.', NEW.deal_id, NEW.project_id);
	END IF;
	IF ref IN (SELECT current_person(NEW.project_id, b) FROM unnest(NEW.person_id || NEW.co_buyer_ids) b) THEN
		RAISE EXCEPTION USING ERRCODE = 'check_violation',
			MESSAGE = format('referrer person %s is a buyer of deal %s', ref, NEW.deal_id),
			DETAIL = 'A buyer cannot refer themselves.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM deal d, unnest(d.person_id || d.co_buyer_ids) b
	               WHERE d.project_id = NEW.project_id AND d.deal_id <> NEW.deal_id AND d.signed_at < NEW.signed_at
	                 AND current_person(NEW.project_id, b) = ref) THEN
		RAISE EXCEPTION USING ERRCODE = 'check_violation',
			MESSAGE = format('referrer person %s never bought before deal %s', ref, NEW.deal_id),
			DETAIL = format('A referral (老带新) is by an owner: the buyer or co-buyer of a deal of project %s signed before this one.', NEW.project_id),
			HINT = 'Name the person of the earlier deal, or enter the deal without a referrer.';
	END IF;
	NEW.referrer_person_id := ref;
	RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER deal_referrer_check BEFORE INSERT OR UPDATE OF referrer_person_id, channel_id, signed_at, person_id, co_buyer_ids
	ON deal FOR EACH ROW EXECUTE FUNCTION deal_referrer_check();
COMMENT ON COLUMN deal.referrer_person_id IS 'referral deals (老带新): the referring owner, a person who bought before; credited the referral channel''s rate x price in commission_ledger';

-- referral rewards one by one (commission_ledger adds them up per month)
CREATE OR REPLACE VIEW referral_rewards WITH (security_barrier = true) AS
	SELECT x.project_id, x.deal_id, x.signed_at AT TIME ZONE p.time_zone AS signed_local, x.price,
	       x.channel_id, c.name AS channel, c.commission_rate, x.referrer_person_id,
	       c.commission_rate * x.price AS reward, coalesce(a.flags, '{}') AS flags
	FROM deal x
	JOIN project p ON p.project_id = x.project_id
	JOIN channel c ON c.project_id = x.project_id AND c.channel_id = x.channel_id AND c.kind = 'referral'
	LEFT JOIN attribution a ON a.project_id = x.project_id AND a.deal_id = x.deal_id AND a.is_current
	WHERE x.referrer_person_id IS NOT NULL AND reads_project(x.project_id);
COMMENT ON VIEW referral_rewards IS 'referral deals (老带新) and the reward owed to each referring owner: the referral channel''s commission rate x price';
COMMENT ON COLUMN referral_rewards.reward IS 'commission_rate x price, credited to referrer_person_id';
COMMENT ON COLUMN referral_rewards.flags IS 'the flags of the deal''s current attribution (check before paying)';

-- Data-subject requests (privacy officer).  Numbers are hashed on the way in
-- with the database's key (identity_hash); neither they nor their hashes are
-- stored or logged; every lookup and export is in subject_request_log, every
-- embedding and photo an export returns in biometric_access_log.
CREATE OR REPLACE TRIGGER subject_request_log_guard BEFORE UPDATE OR DELETE ON subject_request_log
	FOR EACH ROW EXECUTE FUNCTION records_guard('requested_at');
CREATE OR REPLACE TRIGGER subject_request_log_no_truncate BEFORE TRUNCATE ON subject_request_log
	FOR EACH STATEMENT EXECUTE FUNCTION records_guard();
ALTER TABLE subject_request_log ENABLE ALWAYS TRIGGER subject_request_log_guard,
	ENABLE ALWAYS TRIGGER subject_request_log_no_truncate;
COMMENT ON TABLE subject_request_log IS 'every data-subject lookup (by phone or ID card) and export: who, when, why, whom; never a number or hash';

-- refuse a data-subject request without a purpose or by a role that is not a privacy officer
CREATE OR REPLACE FUNCTION check_subject_request(p_purpose text) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF p_purpose IS NULL OR length(btrim(p_purpose)) < 3 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'a data-subject request needs a purpose',
			DETAIL = 'Every lookup and export is logged with its purpose in firstsight.subject_request_log.',
			HINT = 'Give the request reference, for example ''request 2024-017 by email''.';
	END IF;
	IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
	   AND NOT (to_regrole('firstsight_privacy_officer') IS NOT NULL
	            AND pg_has_role(session_user, 'firstsight_privacy_officer', 'MEMBER')) THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = 'permission denied for data-subject requests',
			DETAIL = 'Nothing was looked up or logged.',
			HINT = 'Data-subject requests are for the privacy officer (firstsight_privacy_officer).';
	END IF;
END
$$;

-- the persons bound to a phone or ID-card number, in every project
CREATE OR REPLACE FUNCTION find_subject(phone text, id_card text, purpose text)
	RETURNS TABLE (project_id bigint, project text, person_id bigint, matched_by text, bound_at timestamptz,
	               first_seen timestamptz, last_seen timestamptz, category text)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	ph bytea;
	card bytea;
BEGIN
	PERFORM check_subject_request(purpose);
	IF phone IS NULL AND id_card IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'find_subject needs a phone number or an ID-card number';
	END IF;
	IF phone IS NOT NULL THEN
		ph := identity_hash('phone', normalize_phone(phone));
	END IF;
	IF id_card IS NOT NULL THEN
		card := identity_hash('id_card', normalize_id_card(id_card));
	END IF;
	RETURN QUERY
	WITH hits AS MATERIALIZED (
		SELECT i.project_id, current_person(i.project_id, i.person_id) AS person_id,
		       string_agg(DISTINCT CASE WHEN i.phone_hash = ph THEN 'phone' ELSE 'id_card' END, ',') AS matched_by,
		       min(i.bound_at) AS bound_at
		FROM identity i
		WHERE i.phone_hash = ph OR i.id_card_hash = card
		GROUP BY 1, 2),
	logged AS (
		INSERT INTO subject_request_log (action, looked_up_by, project_id, person_id, persons_found, purpose)
		SELECT 'find', concat_ws(',', CASE WHEN phone IS NOT NULL THEN 'phone' END, CASE WHEN id_card IS NOT NULL THEN 'id_card' END),
		       f.project_id, f.person_id, (SELECT count(*) FROM hits), find_subject.purpose
		FROM (SELECT f.project_id, f.person_id FROM hits f
		      UNION ALL SELECT NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM hits)) f)
	SELECT f.project_id, p.name, f.person_id, f.matched_by, f.bound_at, q.first_seen, q.last_seen, q.category
	FROM hits f
	JOIN project p ON p.project_id = f.project_id
	JOIN person q ON q.project_id = f.project_id AND q.person_id = f.person_id
	ORDER BY f.project_id, f.person_id;
END
$$;
COMMENT ON FUNCTION find_subject(text, text, text) IS
	'the persons a phone or ID-card number is bound to, in every project (hashed on the way in, nothing raw stored); logged in subject_request_log';

-- everything held about one person (PIPL art. 45), as JSON: their person row,
-- bindings (which kinds, never hashes), consents, visits and routes, captures
-- with their own embeddings and photos (base64), gallery exemplars, the
-- reports on their phone, their deals, erasures, and the reads of their data.
-- Never another person's data: co-buyers, party members, attribution
-- evidence and staff names are left out.
CREATE OR REPLACE FUNCTION export_subject(project_id bigint, person_id bigint, purpose text) RETURNS jsonb
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	prj bigint := export_subject.project_id;
	pid bigint;
	persons bigint[];
	why text := 'subject export: ' || coalesce(purpose, '');
	doc jsonb;
BEGIN
	PERFORM check_subject_request(purpose);
	pid := privacy_person(prj, export_subject.person_id);
	-- the person and every person merged into them
	SELECT array_agg(q.person_id ORDER BY q.person_id) INTO persons
	FROM person q WHERE q.project_id = prj AND current_person(prj, q.person_id) = pid;

	SELECT jsonb_build_object(
		'format', 'firstsight subject export 1',
		'exported_at', now(),
		'project', jsonb_build_object('project_id', p.project_id, 'name', p.name, 'time_zone', p.time_zone),
		'person', (SELECT jsonb_build_object('person_id', q.person_id, 'first_seen', q.first_seen, 'last_seen', q.last_seen,
		                                     'visits', q.visits, 'captures', q.captures, 'category', q.category,
		                                     'consent_given', q.consent_given, 'consent_scope', q.consent_scope,
		                                     'consent_at', q.consent_at, 'deposit_at', q.deposit_at,
		                                     'merged_from', to_jsonb(array_remove(persons, pid)))
		           FROM person q WHERE q.project_id = prj AND q.person_id = pid),
		'identity_bindings', (SELECT coalesce(jsonb_agg(jsonb_build_object(
		                          'identity_id', i.identity_id, 'bound_at', i.bound_at, 'capture_id', i.capture_id,
		                          'kinds', to_jsonb(array_remove(ARRAY[CASE WHEN i.id_card_hash IS NOT NULL THEN 'id_card' END,
		                                                               CASE WHEN i.phone_hash IS NOT NULL THEN 'phone' END], NULL)))
		                          ORDER BY i.identity_id), '[]')
		                      FROM identity i WHERE i.project_id = prj AND i.person_id = ANY (persons)),
		'consents', (SELECT coalesce(jsonb_agg(jsonb_build_object('consent_id', c.consent_id, 'given', c.given, 'method', c.method,
		                                                          'scope', c.scope, 'recorded_at', c.recorded_at)
		                                       ORDER BY c.consent_id), '[]')
		             FROM consent c WHERE c.project_id = prj AND c.person_id = ANY (persons)),
		'visits', (SELECT coalesce(jsonb_agg(jsonb_build_object(
		                     'visit_id', v.visit_id, 'started_at', v.started_at, 'ended_at', v.ended_at,
		                     'captures', v.captures, 'seen_before', v.seen_before, 'received', v.consultant_id IS NOT NULL,
		                     'channel', coalesce(ch.name, 'natural'), 'came_in_party', v.party_id IS NOT NULL,
		                     'route', (SELECT coalesce(jsonb_agg(jsonb_build_object('step', r.step, 'zone', r.zone,
		                                                   'arrived_at', r.arrived_at, 'last_seen_at', r.last_seen_at)
		                                                   ORDER BY r.step), '[]')
		                               FROM visit_route r WHERE r.project_id = prj AND r.visit_id = v.visit_id))
		                     ORDER BY v.started_at, v.visit_id), '[]')
		           FROM visit v
		           LEFT JOIN agent ag ON ag.project_id = v.project_id AND ag.agent_id = v.agent_id
		           LEFT JOIN channel ch ON ch.project_id = ag.project_id AND ch.channel_id = ag.channel_id
		           WHERE v.project_id = prj AND v.person_id = ANY (persons)),
		'captures', (SELECT coalesce(jsonb_agg(jsonb_build_object(
		                       'capture_id', x.capture_id, 'camera_id', x.camera_id, 'zone', cm.zone,
		                       'captured_at', x.captured_at, 'quality', x.quality, 'masked', x.masked, 'visit_id', x.visit_id,
		                       'expires_at', x.expires_at, 'photo_expires_at', x.photo_expires_at, 'erased_at', x.erased_at,
		                       'embedding', CASE WHEN x.face IS NOT NULL THEN (x.face::text)::jsonb END,
		                       'photo_base64', CASE WHEN x.photo IS NOT NULL THEN translate(encode(x.photo, 'base64'), E'\n', '') END)
		                       ORDER BY x.captured_at, x.capture_id), '[]')
		             FROM capture x
		             LEFT JOIN camera cm ON cm.project_id = x.project_id AND cm.camera_id = x.camera_id
		             WHERE x.project_id = prj AND x.person_id = ANY (persons)),
		'gallery', (SELECT coalesce(jsonb_agg(jsonb_build_object('face_id', f.face_id, 'kind', f.kind, 'capture_id', f.capture_id,
		                                                         'captured_at', f.captured_at, 'expires_at', f.expires_at,
		                                                         'embedding', (f.face::text)::jsonb)
		                                      ORDER BY f.face_id), '[]')
		            FROM face f WHERE f.project_id = prj AND f.person_id = ANY (persons)),
		'reports', (SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object('report_id', r.report_id, 'filed_at', r.created_at,
		                                                                  'channel', ch.name, 'verdict', r.verdict)), '[]')
		            FROM report r
		            JOIN identity i ON i.project_id = r.project_id AND i.person_id = ANY (persons)
		                           AND (r.phone_hash = i.phone_hash OR (r.phone_hash IS NULL AND r.phone_masked_hash = i.phone_masked_hash))
		            JOIN agent ag ON ag.project_id = r.project_id AND ag.agent_id = r.agent_id
		            JOIN channel ch ON ch.project_id = ag.project_id AND ch.channel_id = ag.channel_id
		            WHERE r.project_id = prj),
		'deals', (SELECT coalesce(jsonb_agg(jsonb_build_object(
		                    'deal_id', d.deal_id, 'signed_at', d.signed_at, 'price', d.price,
		                    'role', CASE WHEN d.person_id = ANY (persons) THEN 'buyer'
		                                 WHEN d.co_buyer_ids && persons THEN 'co_buyer' ELSE 'referrer' END,
		                    'channel', ch.name) ORDER BY d.signed_at, d.deal_id), '[]')
		          FROM deal d
		          LEFT JOIN channel ch ON ch.project_id = d.project_id AND ch.channel_id = d.channel_id
		          WHERE d.project_id = prj
		            AND (d.person_id = ANY (persons) OR d.co_buyer_ids && persons OR d.referrer_person_id = ANY (persons))),
		'erasures', (SELECT coalesce(jsonb_agg(jsonb_build_object('erasure_id', e.erasure_id, 'kind', e.kind, 'reason', e.reason,
		                                                          'requested_at', e.requested_at, 'completed_at', e.completed_at,
		                                                          'captures_erased', e.captures_erased, 'photos_erased', e.photos_erased,
		                                                          'faces_erased', e.faces_erased)
		                                       ORDER BY e.erasure_id), '[]')
		             FROM erasure_log e WHERE e.project_id = prj AND e.person_id = ANY (persons)),
		'biometric_reads', (SELECT coalesce(jsonb_agg(jsonb_build_object('accessed_at', b.accessed_at, 'accessed_by', b.accessed_by,
		                                                                 'capture_id', b.capture_id, 'what', b.what,
		                                                                 'purpose', b.purpose, 'returned', b.returned)
		                                              ORDER BY b.access_id), '[]')
		                    FROM biometric_access_log b WHERE b.project_id = prj AND b.person_id = ANY (persons)))
	INTO doc
	FROM project p WHERE p.project_id = prj;

	-- every embedding and photo returned is a logged read (after the export's
	-- own list of reads, which shows the reads before this one)
	INSERT INTO biometric_access_log (project_id, capture_id, person_id, what, purpose, returned)
	SELECT prj, x.capture_id, pid, w.what, why, true
	FROM capture x
	CROSS JOIN LATERAL (VALUES ('embedding', x.face IS NOT NULL), ('photo', x.photo IS NOT NULL)) w(what, held)
	WHERE x.project_id = prj AND x.person_id = ANY (persons) AND w.held
	UNION ALL
	SELECT prj, f.capture_id, pid, 'embedding', why || ' (gallery exemplar)', true
	FROM face f WHERE f.project_id = prj AND f.person_id = ANY (persons);
	INSERT INTO subject_request_log (action, project_id, person_id, persons_found, purpose)
	VALUES ('export', prj, pid, 1, purpose);
	RETURN doc;
END
$$;
COMMENT ON FUNCTION export_subject(bigint, bigint, text) IS
	'everything held about a person as JSON (PIPL art. 45), their own embeddings and photos included and logged; never another person''s data';

-- set or clear a project's group (audited in change_log); returns the group
CREATE OR REPLACE FUNCTION set_group(project_id bigint, group_name text) RETURNS text
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	g text := nullif(btrim(set_group.group_name), '');
	old text;
BEGIN
	SELECT p.group_name INTO old FROM project p WHERE p.project_id = set_group.project_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', coalesce(set_group.project_id::text, 'NULL'));
	END IF;
	IF g IS NOT DISTINCT FROM old THEN
		RETURN g;
	END IF;
	UPDATE project p SET group_name = g WHERE p.project_id = set_group.project_id;
	PERFORM record_change(set_group.project_id, 'setting', 'group_name', CASE WHEN old IS NULL THEN 'insert' ELSE 'update' END,
	                      CASE WHEN old IS NOT NULL THEN jsonb_build_object('group_name', old) END,
	                      jsonb_build_object('group_name', g));
	RETURN g;
END
$$;
COMMENT ON FUNCTION set_group(bigint, text) IS 'put a project in a group (NULL or empty: none); kept in change_log';
REVOKE ALL ON FUNCTION set_group(bigint, text) FROM PUBLIC;

-- the group dashboard: per group and local month, the projects' traffic,
-- deals, commissions and flags, and the buyers known at another project of
-- the group (same ID card: the group key's hash, or this database's own).
-- A group is shown only to a role that reads every one of its projects
CREATE OR REPLACE VIEW group_dashboard WITH (security_barrier = true) AS
	WITH g AS (
		SELECT p.group_name, count(*) AS projects, bool_and(reads_project(p.project_id)) AS readable
		FROM project p WHERE p.group_name IS NOT NULL GROUP BY p.group_name),
	t AS (
		SELECT p.group_name, date_trunc('month', t.day)::date AS month, sum(t.visits) AS visits,
		       sum(t.new_persons) AS new_persons, sum(t.returning_persons) AS returning_persons,
		       sum(t.unidentified_captures) AS unidentified_captures
		FROM daily_traffic t JOIN project p ON p.project_id = t.project_id
		GROUP BY 1, 2),
	l AS (
		SELECT p.group_name, l.month,
		       sum(l.deals) FILTER (WHERE l.entry = 'commission') AS deals,
		       sum(l.revenue) FILTER (WHERE l.entry = 'commission') AS revenue,
		       sum(l.commission) FILTER (WHERE l.entry = 'commission') AS commission,
		       sum(l.commission) FILTER (WHERE l.entry = 'referral_reward') AS referral_rewards,
		       sum(l.flagged_deals) FILTER (WHERE l.entry = 'commission') AS flagged_deals
		FROM commission_ledger l JOIN project p ON p.project_id = l.project_id
		GROUP BY 1, 2),
	h AS (
		-- ID cards bound at more than one project of a group, by the hash under
		-- the group key or under this database's own key (one bound at two
		-- projects is bound at a project other than any one of them).  Not a
		-- correlated EXISTS: Citus runs this part on its own and the buyers'
		-- part next to the shards (docs/scale-out.md)
		SELECT q.group_name, 'group' AS key, o.group_id_card_hash AS hash
		FROM identity o JOIN project q ON q.project_id = o.project_id
		WHERE o.group_id_card_hash IS NOT NULL AND q.group_name IS NOT NULL
		GROUP BY 1, 3 HAVING count(DISTINCT o.project_id) > 1
		UNION ALL
		SELECT q.group_name, 'own', o.id_card_hash
		FROM identity o JOIN project q ON q.project_id = o.project_id
		WHERE o.id_card_hash IS NOT NULL AND q.group_name IS NOT NULL
		GROUP BY 1, 3 HAVING count(DISTINCT o.project_id) > 1),
	b AS (
		SELECT p.group_name, date_trunc('month', d.signed_at AT TIME ZONE p.time_zone)::date AS month,
		       count(DISTINCT (i.project_id, i.person_id)) AS cross_project_buyers
		FROM deal d
		JOIN project p ON p.project_id = d.project_id AND p.group_name IS NOT NULL
		JOIN identity i ON i.project_id = d.project_id AND i.person_id = ANY (d.person_id || d.co_buyer_ids)
		WHERE (p.group_name, i.group_id_card_hash) IN (SELECT h.group_name, h.hash FROM h WHERE h.key = 'group')
		   OR (p.group_name, i.id_card_hash) IN (SELECT h.group_name, h.hash FROM h WHERE h.key = 'own')
		GROUP BY 1, 2),
	m AS (
		SELECT group_name, month FROM t UNION SELECT group_name, month FROM l UNION SELECT group_name, month FROM b)
	SELECT m.group_name, m.month, g.projects,
	       coalesce(t.visits, 0)::bigint AS visits, coalesce(t.new_persons, 0)::bigint AS new_persons,
	       coalesce(t.returning_persons, 0)::bigint AS returning_persons,
	       coalesce(t.unidentified_captures, 0)::bigint AS unidentified_captures,
	       coalesce(l.deals, 0)::bigint AS deals, coalesce(l.revenue, 0) AS revenue,
	       coalesce(l.commission, 0) AS commission, coalesce(l.referral_rewards, 0) AS referral_rewards,
	       coalesce(l.flagged_deals, 0)::bigint AS flagged_deals,
	       coalesce(b.cross_project_buyers, 0)::bigint AS cross_project_buyers
	FROM m
	JOIN g ON g.group_name = m.group_name AND g.readable
	LEFT JOIN t ON t.group_name = m.group_name AND t.month = m.month
	LEFT JOIN l ON l.group_name = m.group_name AND l.month = m.month
	LEFT JOIN b ON b.group_name = m.group_name AND b.month = m.month;
COMMENT ON VIEW group_dashboard IS 'per group (project.group_name, firstsight.set_group) and local month: traffic, deals, commissions, flags and cross-project buyers; shown to roles that read every project of the group';
COMMENT ON COLUMN group_dashboard.projects IS 'projects in the group';
COMMENT ON COLUMN group_dashboard.commission IS 'commission owed to entitled channels';
COMMENT ON COLUMN group_dashboard.referral_rewards IS 'referral rewards owed to referring owners';
COMMENT ON COLUMN group_dashboard.cross_project_buyers IS 'buyers of the month''s deals whose ID card is bound at another project of the group';
-- (SECURITY DEFINER: nobody but the owner until setup_roles grants them)
REVOKE ALL ON FUNCTION find_subject(text, text, text), export_subject(bigint, bigint, text),
	deal_referrer_check() FROM PUBLIC;
