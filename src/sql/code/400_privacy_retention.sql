-- Privacy by design (issue 6): retention, consent and erasure.
-- Every biometric row (capture.face, capture.photo, face.face) carries an
-- expiry kept current by triggers from the project's retention policy and the
-- person's category and consent.  Erasure nulls the embedding and photo of a
-- capture (the capture row itself, its camera, time, person and visit stay, so
-- visits, deals, attribution and the BI views keep their numbers) and deletes
-- gallery rows, and with them their index entries at the next VACUUM.
-- No table here holds biometric data; logs name persons by id only.

-- the end of the local day of ts in time zone tz
-- (expiry helpers run per row: no SET clause, so the planner inlines them; names are qualified)
CREATE OR REPLACE FUNCTION end_of_day(ts timestamptz, tz text) RETURNS timestamptz
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT (pg_catalog.date_trunc('day', ts AT TIME ZONE tz) OPERATOR(pg_catalog.+) interval '1 day') AT TIME ZONE tz $$;

-- whether a person's latest consent (given, scope) covers what ('face' or 'photo')
CREATE OR REPLACE FUNCTION consent_covers(given boolean, scope text, what text) RETURNS boolean
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT COALESCE(given, false)
	             AND COALESCE(what OPERATOR(pg_catalog.=) ANY (pg_catalog.string_to_array(scope, ',')), false) $$;

-- the retention terms of a person now (one query with a cached plan: it runs for every capture);
-- p_seen: a last_seen the person is about to get (ingestion dates a statement's
-- new captures in the statement that updates the person)
CREATE OR REPLACE FUNCTION retention_terms(p_project_id bigint, p_person_id bigint, p_seen timestamptz DEFAULT NULL) RETURNS retention_terms
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	t retention_terms;
BEGIN
	SELECT coalesce((SELECT s.value FROM project_setting s WHERE s.project_id = p.project_id AND s.setting = 'consent_mode'),
	                (SELECT d.default_value FROM setting_definition d WHERE d.setting = 'consent_mode')) = 'consent'
	           AND NOT consent_covers(p.consent_given, p.consent_scope, 'face'),
	       pr.time_zone,
	       -- capped: never later than now() plus the longest retention a policy of
	       -- the project allows (at most 10 years), whatever dates the facts carry
	       least(greatest(end_of_day(greatest(p.last_seen, p_seen), pr.time_zone),
	                      CASE WHEN p.category = 'buyer' THEN
	                          (SELECT max(d.signed_at) FROM deal d
	                           WHERE d.project_id = p.project_id AND (d.person_id = p.person_id OR p.person_id = ANY (d.co_buyer_ids)))
	                      END)
	               + coalesce(rp.keep, rv.keep, (SELECT r.keep FROM retention_default r WHERE r.category = 'visitor')),
	             now() + least(interval '10 years',
	                           coalesce((SELECT max(r.keep) FROM retention_policy r WHERE r.project_id = p.project_id),
	                                    interval '10 years'))),
	       coalesce((SELECT s.value FROM project_setting s WHERE s.project_id = p.project_id AND s.setting = 'photo_retention'),
	                (SELECT d.default_value FROM setting_definition d WHERE d.setting = 'photo_retention'))::interval,
	       -- photos follow the embedding only when consent covers both: a photo is
	       -- never kept longer than its embedding, and photo consent alone extends nothing
	       consent_covers(p.consent_given, p.consent_scope, 'face') AND consent_covers(p.consent_given, p.consent_scope, 'photo')
	INTO t.end_of_day, t.time_zone, t.until, t.photo_keep, t.photo_consent
	FROM person p
	JOIN project pr ON pr.project_id = p.project_id
	LEFT JOIN retention_policy rp ON rp.project_id = p.project_id AND rp.category = p.category
	LEFT JOIN retention_policy rv ON rv.project_id = p.project_id AND rv.category = 'visitor'
	WHERE p.project_id = p_project_id AND p.person_id = p_person_id;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	RETURN t;
END
$$;

COMMENT ON COLUMN capture.expires_at IS 'when the embedding and photo are erased (privacy layer); null once erased';
COMMENT ON COLUMN capture.photo_expires_at IS 'when the photo is erased: 24 hours (photo_retention) unless consent covers photos';
COMMENT ON COLUMN capture.erased_at IS 'when the embedding and photo were erased; the non-biometric facts stay';
COMMENT ON COLUMN person.category IS 'retention category: visitor (no consent), consented, buyer (has a deal), or one with its own retention_policy row (staff, ...)';
COMMENT ON COLUMN person.consent_given IS 'the latest consent record: true given, false withdrawn, null never asked';
COMMENT ON COLUMN person.retention_day_end IS 'end of the local day of last_seen that the expiry of the person''s biometric rows was last counted from (privacy layer)';
COMMENT ON TABLE retention_policy IS 'how long biometric data is kept: visitor and consented after the end of the last visit''s day, buyer after the later of the last deal and that';
COMMENT ON TABLE retention_default IS 'the retention_policy rows every new project starts with';

-- records are kept at least three years: no updates, no TRUNCATE, and no deletes of younger rows
CREATE OR REPLACE FUNCTION records_guard() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	t timestamptz;
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = format('%s records cannot be truncated', TG_TABLE_NAME),
			DETAIL = 'Processing and erasure records are kept for at least 3 years.',
			HINT = 'Delete only records older than 3 years, with DELETE.';
	END IF;
	t := (to_jsonb(OLD) ->> TG_ARGV[0])::timestamptz;
	IF TG_OP = 'UPDATE' THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = format('%s records cannot be changed', TG_TABLE_NAME),
			HINT = 'Processing and erasure records are append-only.';
	END IF;
	IF t > now() - interval '3 years' THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = format('%s records are kept for at least 3 years', TG_TABLE_NAME),
			DETAIL = 'Processing and erasure records must outlive the biometric data they describe.',
			HINT = 'Delete only records older than 3 years.';
	END IF;
	RETURN OLD;
END
$$;
CREATE OR REPLACE TRIGGER consent_guard BEFORE UPDATE OR DELETE ON consent
	FOR EACH ROW EXECUTE FUNCTION records_guard('recorded_at');
CREATE OR REPLACE TRIGGER erasure_log_guard BEFORE UPDATE OR DELETE ON erasure_log
	FOR EACH ROW EXECUTE FUNCTION records_guard('requested_at');
CREATE OR REPLACE TRIGGER retention_log_guard BEFORE UPDATE OR DELETE ON retention_log
	FOR EACH ROW EXECUTE FUNCTION records_guard('started_at');
CREATE OR REPLACE TRIGGER consent_no_truncate BEFORE TRUNCATE ON consent
	FOR EACH STATEMENT EXECUTE FUNCTION records_guard();
CREATE OR REPLACE TRIGGER erasure_log_no_truncate BEFORE TRUNCATE ON erasure_log
	FOR EACH STATEMENT EXECUTE FUNCTION records_guard();
CREATE OR REPLACE TRIGGER retention_log_no_truncate BEFORE TRUNCATE ON retention_log
	FOR EACH STATEMENT EXECUTE FUNCTION records_guard();
-- the guards fire under session_replication_role = replica too: that mode is
-- for loading rows (restore, replication), never for removing audit records
-- (CREATE OR REPLACE TRIGGER enables a trigger for origin only; hence here)
ALTER TABLE consent ENABLE ALWAYS TRIGGER consent_guard, ENABLE ALWAYS TRIGGER consent_no_truncate;
ALTER TABLE erasure_log ENABLE ALWAYS TRIGGER erasure_log_guard, ENABLE ALWAYS TRIGGER erasure_log_no_truncate;
ALTER TABLE retention_log ENABLE ALWAYS TRIGGER retention_log_guard, ENABLE ALWAYS TRIGGER retention_log_no_truncate;

-- when a biometric row captured at ts expires under terms t
CREATE OR REPLACE FUNCTION expiry(t firstsight.retention_terms, ts timestamptz) RETURNS timestamptz
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT CASE WHEN t.end_of_day THEN least(firstsight.end_of_day(ts, t.time_zone), t.until) ELSE t.until END $$;

-- when a photo captured at ts expires under terms t
CREATE OR REPLACE FUNCTION photo_expiry(t firstsight.retention_terms, ts timestamptz) RETURNS timestamptz
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT CASE WHEN t.photo_consent THEN firstsight.expiry(t, ts) ELSE least(firstsight.expiry(t, ts), ts OPERATOR(pg_catalog.+) t.photo_keep) END $$;

-- set expires_at on every biometric row of a person that is not yet erased,
-- and the person's retention clock (retention_day_end)
CREATE OR REPLACE FUNCTION refresh_expiry(p_project_id bigint, p_person_id bigint) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	t retention_terms := retention_terms(p_project_id, p_person_id);
	hold timestamptz;
BEGIN
	IF t IS NULL THEN
		RETURN;
	END IF;
	UPDATE capture c
	SET expires_at = CASE WHEN c.face IS NOT NULL THEN expiry(t, c.captured_at) END,
	    photo_expires_at = CASE WHEN c.photo IS NOT NULL THEN photo_expiry(t, c.captured_at) END
	WHERE c.project_id = p_project_id AND c.person_id = p_person_id
	  AND (c.face IS NOT NULL OR c.photo IS NOT NULL)
	  AND (c.expires_at IS DISTINCT FROM CASE WHEN c.face IS NOT NULL THEN expiry(t, c.captured_at) END
	       OR c.photo_expires_at IS DISTINCT FROM CASE WHEN c.photo IS NOT NULL THEN photo_expiry(t, c.captured_at) END);
	-- the unmasked exemplar is held while an ownership or protection window is open
	hold := CASE WHEN NOT t.end_of_day THEN exemplar_hold_until(p_project_id, p_person_id) END;
	UPDATE face f
	SET expires_at = CASE WHEN f.kind = 'unmasked' AND hold > expiry(t, f.captured_at) THEN hold ELSE expiry(t, f.captured_at) END,
	    held_until = CASE WHEN f.kind = 'unmasked' AND hold > expiry(t, f.captured_at) THEN hold END
	WHERE f.project_id = p_project_id AND f.person_id = p_person_id
	  AND (f.expires_at, f.held_until) IS DISTINCT FROM
	      (CASE WHEN f.kind = 'unmasked' AND hold > expiry(t, f.captured_at) THEN hold ELSE expiry(t, f.captured_at) END,
	       CASE WHEN f.kind = 'unmasked' AND hold > expiry(t, f.captured_at) THEN hold END);
	-- ingestion has set it already (most calls): then no UPDATE statement at
	-- all, whose statement triggers on person (rollups) would run for nothing
	PERFORM 1 FROM person p
	WHERE p.project_id = p_project_id AND p.person_id = p_person_id
	  AND p.retention_day_end IS DISTINCT FROM end_of_day(p.last_seen, t.time_zone);
	IF FOUND THEN
		UPDATE person p SET retention_day_end = end_of_day(p.last_seen, t.time_zone)
		WHERE p.project_id = p_project_id AND p.person_id = p_person_id;
	END IF;
END
$$;

-- refresh every person of a project (policy or setting changes)
CREATE OR REPLACE FUNCTION refresh_project_expiry(p_project_id bigint, p_category text DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint;
BEGIN
	FOR pid IN SELECT p.person_id FROM person p
	           WHERE p.project_id = p_project_id AND p.merged_into IS NULL
	             AND (p_category IS NULL OR p.category = p_category
	                  OR (p_category = 'visitor' AND NOT EXISTS (
	                      SELECT 1 FROM retention_policy r WHERE r.project_id = p_project_id AND r.category = p.category)))
	           ORDER BY p.person_id LOOP
		PERFORM refresh_expiry(p_project_id, pid);
	END LOOP;
END
$$;

-- until when a person's unmasked gallery exemplar is held for attribution
-- (exemplar_hold = window): the end of the longest ownership or protection
-- window counted from the local day of their last visit; NULL: no hold (and
-- none for categories of their own, such as staff: no window depends on them)
CREATE OR REPLACE FUNCTION exemplar_hold_until(p_project_id bigint, p_person_id bigint) RETURNS timestamptz
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	held timestamptz;
BEGIN
	-- one query with a cached plan: it runs as a person's exemplar or retention clock moves
	SELECT ((((p.last_seen AT TIME ZONE pr.time_zone)::date
	          + greatest(coalesce(ns.value, nd.default_value)::integer,
	                     coalesce((SELECT max(c.protection_days) FROM channel c
	                               WHERE c.project_id = p.project_id AND c.kind <> 'natural'), 0)))::timestamp)
	        AT TIME ZONE pr.time_zone)
	INTO held
	FROM person p
	JOIN project pr ON pr.project_id = p.project_id
	JOIN setting_definition hd ON hd.setting = 'exemplar_hold'
	LEFT JOIN project_setting hs ON hs.project_id = p.project_id AND hs.setting = 'exemplar_hold'
	JOIN setting_definition nd ON nd.setting = 'natural_ownership_days'
	LEFT JOIN project_setting ns ON ns.project_id = p.project_id AND ns.setting = 'natural_ownership_days'
	WHERE p.project_id = p_project_id AND p.person_id = p_person_id
	  AND p.category IN ('visitor', 'consented', 'buyer')
	  AND coalesce(hs.value, hd.default_value) = 'window';
	RETURN held;
END
$$;

-- gallery rows get their expiry as they are written (ingestion, rebuild_gallery);
-- the unmasked exemplar is held while an ownership or protection window is open
-- (not for an unconsented face in consent mode, kept to the end of its day)
CREATE OR REPLACE FUNCTION face_expiry() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	t retention_terms := retention_terms(NEW.project_id, NEW.person_id);
	hold timestamptz;
BEGIN
	-- expiry(t, captured_at), spelt out: a SQL function call per row costs more than the rest
	NEW.held_until := NULL;
	IF t.end_of_day THEN
		NEW.expires_at := least((date_trunc('day', NEW.captured_at AT TIME ZONE t.time_zone) + interval '1 day') AT TIME ZONE t.time_zone,
		                        t.until);
	ELSE
		NEW.expires_at := t.until;
		IF NEW.kind = 'unmasked' THEN
			hold := exemplar_hold_until(NEW.project_id, NEW.person_id);
			IF hold > NEW.expires_at THEN
				NEW.expires_at := hold;
				NEW.held_until := hold;
			END IF;
		END IF;
	END IF;
	RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER face_expiry BEFORE INSERT OR UPDATE OF person_id, captured_at, face ON face
	FOR EACH ROW EXECUTE FUNCTION face_expiry();

-- a person's stored rows are re-dated when the retention clock moves: when
-- last_seen changes, unless it moved forward within the stored day
-- (retention_day_end; ingestion sets the day end of the last_seen it writes,
-- refresh_expiry for every other writer), or when category or consent change.
-- A capture gets its own expiry as ingestion writes it, so a capture later on
-- the same day rewrites no older row (bench/RESULTS.md, Ingestion)
CREATE OR REPLACE FUNCTION person_expiry() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM refresh_expiry(NEW.project_id, NEW.person_id);
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER person_expiry AFTER UPDATE ON person
	FOR EACH ROW
	WHEN ((OLD.last_seen IS DISTINCT FROM NEW.last_seen
	       AND NOT (NEW.retention_day_end IS NOT DISTINCT FROM OLD.retention_day_end
	                AND NEW.last_seen >= OLD.last_seen AND NEW.last_seen < NEW.retention_day_end))
	      OR OLD.category IS DISTINCT FROM NEW.category OR OLD.consent_given IS DISTINCT FROM NEW.consent_given
	      OR OLD.consent_scope IS DISTINCT FROM NEW.consent_scope)
	EXECUTE FUNCTION person_expiry();

-- the category a person's deals and consent give them (custom categories stay unless a deal makes a buyer)
CREATE OR REPLACE FUNCTION derived_category(p person) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT CASE
		WHEN EXISTS (SELECT 1 FROM deal d WHERE d.project_id = p.project_id
		             AND (d.person_id = p.person_id OR p.person_id = ANY (d.co_buyer_ids))) THEN 'buyer'
		WHEN p.category NOT IN ('visitor', 'consented', 'buyer') THEN p.category
		WHEN consent_covers(p.consent_given, p.consent_scope, 'face') THEN 'consented'
		ELSE 'visitor' END
	$$;

-- re-derive the category of some persons and refresh their expiry (deal dates move the buyer's);
-- p_buyers: a deal names them all, so they are buyers (what derived_category would find, without its search of the deals)
CREATE OR REPLACE FUNCTION recategorize(p_project_id bigint, p_person_ids bigint[], p_buyers boolean DEFAULT false) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint;
BEGIN
	FOR pid IN SELECT DISTINCT u FROM unnest(p_person_ids) u WHERE u IS NOT NULL ORDER BY u LOOP
		IF p_buyers THEN
			UPDATE person p SET category = 'buyer'
			WHERE p.project_id = p_project_id AND p.person_id = pid AND p.category IS DISTINCT FROM 'buyer';
		ELSE
			UPDATE person p SET category = c.category
			FROM (SELECT q.person_id, derived_category(q) AS category FROM person q
			      WHERE q.project_id = p_project_id AND q.person_id = pid) c
			WHERE p.project_id = p_project_id AND p.person_id = pid AND p.category IS DISTINCT FROM c.category;
		END IF;
		-- a new category has refreshed the expiry already (person_expiry); otherwise
		-- the deal dates may still move a buyer's
		IF NOT FOUND THEN
			PERFORM refresh_expiry(p_project_id, pid);
		END IF;
	END LOOP;
END
$$;

-- a deal is not signed in the future (a day's grace for time zones and clocks):
-- a buyer's biometric data is kept counted from the last deal, so a deal dated
-- '9999-01-01' would keep a face for ever
CREATE OR REPLACE FUNCTION deal_signed_check() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF NEW.signed_at > statement_timestamp() + interval '1 day' THEN
		RAISE EXCEPTION USING ERRCODE = 'check_violation',
			MESSAGE = 'a deal cannot be signed more than one day in the future',
			DETAIL = format('The deal is dated %s, more than a day after the time of the statement.', NEW.signed_at),
			HINT = 'Record the deal when it is signed, and check the sales app''s clock and date format.';
	END IF;
	RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER deal_signed_check BEFORE INSERT OR UPDATE OF signed_at ON deal
	FOR EACH ROW EXECUTE FUNCTION deal_signed_check();

-- deals make buyers (and stop making them when deleted or moved)
CREATE OR REPLACE FUNCTION deal_category() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		PERFORM recategorize(OLD.project_id, OLD.person_id || OLD.co_buyer_ids);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		PERFORM recategorize(NEW.project_id, NEW.person_id || NEW.co_buyer_ids, true);
	END IF;
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER deal_category AFTER INSERT OR UPDATE OR DELETE ON deal
	FOR EACH ROW EXECUTE FUNCTION deal_category();

-- new projects start with the default policy rows
CREATE OR REPLACE FUNCTION project_retention_defaults() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	INSERT INTO retention_policy (project_id, category, keep)
	SELECT NEW.project_id, d.category, d.keep FROM retention_default d
	ON CONFLICT DO NOTHING;
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER project_retention_defaults AFTER INSERT ON project
	FOR EACH ROW EXECUTE FUNCTION project_retention_defaults();

-- policy changes apply to the rows already stored
CREATE OR REPLACE FUNCTION retention_policy_changed() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		PERFORM refresh_project_expiry(OLD.project_id, OLD.category);
	ELSE
		PERFORM refresh_project_expiry(NEW.project_id, NEW.category);
	END IF;
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER retention_policy_changed AFTER UPDATE OR DELETE ON retention_policy
	FOR EACH ROW EXECUTE FUNCTION retention_policy_changed();
CREATE OR REPLACE TRIGGER retention_policy_added AFTER INSERT ON retention_policy
	FOR EACH ROW WHEN (NEW.category NOT IN ('visitor', 'consented', 'buyer'))
	EXECUTE FUNCTION retention_policy_changed();

-- consent_mode and photo_retention changes apply to the rows already stored
CREATE OR REPLACE FUNCTION retention_setting_changed() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		IF OLD.setting IN ('consent_mode', 'photo_retention', 'exemplar_hold', 'natural_ownership_days') THEN
			PERFORM refresh_project_expiry(OLD.project_id);
		END IF;
	ELSIF NEW.setting IN ('consent_mode', 'photo_retention', 'exemplar_hold', 'natural_ownership_days') THEN
		PERFORM refresh_project_expiry(NEW.project_id);
	END IF;
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER retention_setting_changed AFTER INSERT OR UPDATE OR DELETE ON project_setting
	FOR EACH ROW EXECUTE FUNCTION retention_setting_changed();

-- set how long a category's biometric data is kept in a project; applies at once to stored rows
CREATE OR REPLACE FUNCTION set_retention(project_id bigint, category text, keep interval) RETURNS interval
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM 1 FROM project p WHERE p.project_id = set_retention.project_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', coalesce(set_retention.project_id::text, 'NULL'));
	END IF;
	IF category IS NULL OR category !~ '^[a-z_]{1,40}$' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('invalid retention category "%s"', coalesce(category, 'NULL')),
			DETAIL = 'Categories are visitor, consented, buyer, or a lower-case name of your own such as staff.';
	END IF;
	IF keep IS NULL OR keep <= interval '0' OR keep > interval '10 years' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('invalid retention period "%s"', coalesce(keep::text, 'NULL')),
			DETAIL = 'Biometric data is never kept forever: give a positive interval of at most 10 years.',
			HINT = 'For example ''30 days''.';
	END IF;
	INSERT INTO retention_policy AS r (project_id, category, keep)
	VALUES (set_retention.project_id, set_retention.category, set_retention.keep)
	ON CONFLICT ON CONSTRAINT retention_policy_pkey DO UPDATE SET keep = excluded.keep;
	RETURN keep;
END
$$;
COMMENT ON FUNCTION set_retention(bigint, text, interval) IS 'set a project''s retention period for a category; recomputes expires_at of stored rows';

-- erase the biometric data of one person now; the log row (no biometric content)
CREATE OR REPLACE FUNCTION erase_biometrics(p_project_id bigint, p_person_id bigint, p_kind text, p_reason text)
	RETURNS erasure_log
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	started timestamptz := clock_timestamp();
	persons bigint[];
	nc integer;
	np integer;
	nf integer;
	l erasure_log;
BEGIN
	-- the person, the persons linked to them by a full phone or ID card (the
	-- same human: bindings link persons, they do not merge them) and any
	-- merged into these (their captures moved, but be thorough)
	WITH RECURSIVE m(person_id) AS (
		SELECT x FROM unnest(p_person_id || linked_persons(p_project_id, ARRAY[p_person_id])) x
		UNION
		SELECT p.person_id FROM person p JOIN m ON p.project_id = p_project_id AND p.merged_into = m.person_id)
	SELECT array_agg(person_id) INTO persons FROM m;
	PERFORM 1 FROM person p WHERE p.project_id = p_project_id AND p.person_id = ANY (persons)
	ORDER BY p.person_id FOR UPDATE;
	WITH u AS (
		UPDATE capture c SET face = NULL, photo = NULL, expires_at = NULL, photo_expires_at = NULL,
		                     erased_at = statement_timestamp()
		FROM (SELECT x.capture_id, x.face IS NOT NULL AS had_face, x.photo IS NOT NULL AS had_photo
		      FROM capture x WHERE x.project_id = p_project_id AND x.person_id = ANY (persons)
		        AND (x.face IS NOT NULL OR x.photo IS NOT NULL)) o
		WHERE c.project_id = p_project_id AND c.capture_id = o.capture_id
		RETURNING o.had_face, o.had_photo)
	SELECT count(*) FILTER (WHERE had_face), count(*) FILTER (WHERE had_photo) INTO nc, np FROM u;
	DELETE FROM face f WHERE f.project_id = p_project_id AND f.person_id = ANY (persons);
	GET DIAGNOSTICS nf = ROW_COUNT;
	INSERT INTO erasure_log (project_id, person_id, kind, reason, requested_at, completed_at,
	                         captures_erased, photos_erased, faces_erased)
	VALUES (p_project_id, p_person_id, p_kind, p_reason, started, clock_timestamp(), nc, np, nf)
	RETURNING * INTO l;
	RETURN l;
END
$$;

-- the current (unmerged) person of an id, or an error that names no biometric data
CREATE OR REPLACE FUNCTION privacy_person(p_project_id bigint, p_person_id bigint) RETURNS bigint
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := current_person(p_project_id, p_person_id);
BEGIN
	IF pid IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'no_data_found',
			MESSAGE = format('person %s does not exist in project %s', coalesce(p_person_id::text, 'NULL'),
			                 coalesce(p_project_id::text, 'NULL')),
			HINT = 'Persons are numbered within a project; see firstsight.person.';
	END IF;
	RETURN pid;
END
$$;

-- erase a person's biometric data at once (their request); visits, deals and attribution stay
CREATE OR REPLACE FUNCTION erase_person(project_id bigint, person_id bigint, reason text) RETURNS erasure_log
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := privacy_person(erase_person.project_id, erase_person.person_id);
BEGIN
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'an erasure needs a reason',
			HINT = 'Give the request reference, for example ''request 2024-017 by email''.';
	END IF;
	RETURN erase_biometrics(erase_person.project_id, pid, 'request', reason);
END
$$;
COMMENT ON FUNCTION erase_person(bigint, bigint, text) IS 'erase a person''s embeddings, photos and gallery rows now; logged in erasure_log';

-- record consent given or withdrawn; withdrawal erases the person's biometric data at once
CREATE OR REPLACE FUNCTION record_consent(project_id bigint, person_id bigint, given boolean, method text, scope text, evidence text)
	RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := privacy_person(record_consent.project_id, record_consent.person_id);
	parts text[] := string_to_array(scope, ',');
	id bigint;
BEGIN
	IF given IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'consent must be given (true) or withdrawn (false)';
	END IF;
	IF method IS NULL OR btrim(method) = '' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'consent needs a method',
			HINT = 'Say how it was given or withdrawn, for example ''kiosk'', ''paper form'' or ''app''.';
	END IF;
	IF parts IS NULL OR cardinality(parts) = 0 OR NOT parts <@ ARRAY['face', 'photo'] THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('invalid consent scope "%s"', coalesce(scope, 'NULL')),
			DETAIL = 'The scope is face, photo or face,photo.',
			HINT = 'face keeps the embedding under the consented retention; face,photo also keeps photos as long as the embedding; photo alone extends nothing.';
	END IF;
	INSERT INTO consent (project_id, person_id, given, method, scope, evidence)
	VALUES (record_consent.project_id, pid, given, method, scope, evidence)
	RETURNING consent_id INTO id;
	UPDATE person p SET consent_given = given, consent_scope = scope, consent_at = statement_timestamp()
	WHERE p.project_id = record_consent.project_id AND p.person_id = pid;
	PERFORM recategorize(record_consent.project_id, ARRAY[pid]);
	IF NOT given THEN
		PERFORM erase_biometrics(record_consent.project_id, pid, 'consent_withdrawn', 'consent ' || id || ' withdrawn');
	END IF;
	RETURN id;
END
$$;
COMMENT ON FUNCTION record_consent(bigint, bigint, boolean, text, text, text) IS
	'record consent given or withdrawn (method, scope face/photo, evidence reference); withdrawal erases biometric data at once';

-- erase expired biometric data in bounded batches; what it erased, and whether more is due.
-- Per erased capture: one index-ordered pick with a row lock (SKIP LOCKED),
-- one UPDATE found by its tid (no second primary-key descent), and never two
-- updates of one row (a photo due with its embedding goes with it).  The
-- update cannot be HOT (expires_at, which it clears, is indexed, and a full
-- heap page has no room for the new version in the same transaction), so each
-- erased capture also gets entries in the primary key, capture_person and
-- capture_visit; VACUUM removes the old ones.  Counts per project come from
-- the statements themselves (no temporary table: no catalog writes per call).
CREATE OR REPLACE FUNCTION enforce_retention(batch_size integer DEFAULT 10000, as_of timestamptz DEFAULT now())
	RETURNS TABLE (captures_erased bigint, photos_erased bigint, faces_erased bigint, more boolean)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	-- the batch joins its rows by tid (or gallery key): a nested loop, never a
	-- hash of the whole table, whatever the estimates
	SET enable_hashjoin = off
	SET enable_mergejoin = off
	AS $$
DECLARE
	started timestamptz := clock_timestamp();
	n1 bigint;		-- captures of the embedding pass
	p1 bigint;		-- ... that had a photo
	n2 bigint;		-- captures of the photo pass
	c2 bigint;		-- ... whose embedding was due too
	nf bigint;		-- gallery rows
	j1 jsonb;		-- per project counts of each pass
	j2 jsonb;
	j3 jsonb;
	per jsonb;
	r record;
BEGIN
	IF batch_size IS NULL OR batch_size < 1 OR batch_size > 1000000 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('batch size %s is out of range', coalesce(batch_size::text, 'NULL')),
			HINT = 'Give 1 to 1000000; 10000 keeps each call well under a second.';
	END IF;
	as_of := coalesce(as_of, now());

	-- 1. captures whose embedding is due: embedding and photo go; rows locked
	--    elsewhere (ingestion) are left for the next call, and neither waits
	WITH b AS (
		SELECT x.ctid AS tid, x.project_id, x.photo_expires_at IS NOT NULL AS had_photo
		FROM capture x
		WHERE x.expires_at <= as_of
		ORDER BY x.expires_at LIMIT batch_size
		FOR UPDATE SKIP LOCKED
	), u AS (
		UPDATE capture x SET face = NULL, photo = NULL, expires_at = NULL, photo_expires_at = NULL,
		                     erased_at = statement_timestamp()
		FROM b WHERE x.ctid = b.tid
		RETURNING b.project_id, b.had_photo
	), g AS (
		SELECT u.project_id, count(*) AS n, count(*) FILTER (WHERE u.had_photo) AS photos
		FROM u GROUP BY u.project_id
	)
	SELECT coalesce(sum(g.n), 0), coalesce(sum(g.photos), 0),
	       jsonb_object_agg(g.project_id::text, jsonb_build_object('captures', g.n, 'photos', g.photos))
	INTO n1, p1, j1 FROM g;

	-- 2. captures whose photo is past photo_retention (their embedding too, if due)
	WITH b AS (
		SELECT x.ctid AS tid, x.project_id, coalesce(x.expires_at <= as_of, false) AS face_due
		FROM capture x
		WHERE x.photo_expires_at <= as_of
		ORDER BY x.photo_expires_at LIMIT batch_size
		FOR UPDATE SKIP LOCKED
	), u AS (
		UPDATE capture x SET photo = NULL, photo_expires_at = NULL,
		                     face = CASE WHEN b.face_due THEN NULL ELSE x.face END,
		                     expires_at = CASE WHEN b.face_due THEN NULL ELSE x.expires_at END,
		                     erased_at = CASE WHEN b.face_due THEN statement_timestamp() ELSE x.erased_at END
		FROM b WHERE x.ctid = b.tid
		RETURNING b.project_id, b.face_due
	), g AS (
		SELECT u.project_id, count(*) AS n, count(*) FILTER (WHERE u.face_due) AS captures
		FROM u GROUP BY u.project_id
	)
	SELECT coalesce(sum(g.n), 0), coalesce(sum(g.captures), 0),
	       jsonb_object_agg(g.project_id::text, jsonb_build_object('captures', g.captures, 'photos', g.n))
	INTO n2, c2, j2 FROM g;

	-- 3. gallery rows (their index entries go at the next VACUUM and are never
	--    returned before).  face.expires_at has no index (re-dating a gallery row
	--    stays HOT), so this is a sequential scan: in table order, stopping at
	--    batch_size rows, rather than sorting every due row of every gallery
	WITH b AS (
		SELECT f.project_id, f.face_id FROM face f
		WHERE f.expires_at <= as_of
		LIMIT batch_size
		FOR UPDATE SKIP LOCKED
	), d AS (
		DELETE FROM face f USING b WHERE f.project_id = b.project_id AND f.face_id = b.face_id
		RETURNING f.project_id
	), g AS (
		SELECT d.project_id, count(*) AS n FROM d GROUP BY d.project_id
	)
	SELECT coalesce(sum(g.n), 0), jsonb_object_agg(g.project_id::text, jsonb_build_object('faces', g.n))
	INTO nf, j3 FROM g;

	IF n1 + n2 + nf > 0 THEN
		-- per project, only what was erased: {"captures": n, "photos": n, "faces": n}
		SELECT jsonb_object_agg(e.project, e.counts) INTO per
		FROM (SELECT j.project, jsonb_strip_nulls(jsonb_build_object(
		             'captures', nullif(sum((j.counts ->> 'captures')::bigint), 0),
		             'photos', nullif(sum((j.counts ->> 'photos')::bigint), 0),
		             'faces', nullif(sum((j.counts ->> 'faces')::bigint), 0))) AS counts
		      FROM (SELECT * FROM jsonb_each(coalesce(j1, '{}'))
		            UNION ALL SELECT * FROM jsonb_each(coalesce(j2, '{}'))
		            UNION ALL SELECT * FROM jsonb_each(coalesce(j3, '{}'))) j(project, counts)
		      GROUP BY j.project) e;
		INSERT INTO retention_log (started_at, finished_at, as_of, captures_erased, photos_erased, faces_erased, by_project)
		VALUES (started, clock_timestamp(), as_of, n1 + c2, p1 + n2, nf, per);
		IF to_regprocedure('firstsight.emit_event(bigint,text,text,jsonb)') IS NOT NULL THEN
			FOR r IN SELECT key::bigint AS project_id, value AS counts FROM jsonb_each(per) ORDER BY 1 LOOP
				PERFORM firstsight.emit_event(r.project_id, 'retention.completed', 'retention',
				                              r.counts || jsonb_build_object('as_of', as_of));
			END LOOP;
		END IF;
	END IF;
	RETURN QUERY SELECT n1 + c2, p1 + n2, nf, (n1 = batch_size OR n2 = batch_size OR nf = batch_size);
END
$$;
COMMENT ON FUNCTION enforce_retention(integer, timestamptz) IS
	'erase up to batch_size captures whose embedding is due, batch_size whose photo is due and batch_size gallery rows; call again while more is true';

-- pacing, shared by enforce_retention_all and the background worker.  After a
-- call of `size` rows a pass that took `took` seconds: the size of the next
-- call (aimed at batch_time: scaled by at most x2 or x1/2 a step, 1 to
-- batch_size) and the pause before it, took * (1 - s) / s, so that erasure
-- keeps its backend busy for a share s of the time: `share`, or half of it
-- while (auto)vacuum works on capture or face.  That vacuum mostly cleans up
-- after the erasure (old row versions, index entries, the gallery index's
-- repair) and competes for the same cores, so the two together stay near
-- `share` instead of adding up.  SECURITY DEFINER to see autovacuum's
-- progress; it reads no table data and says only whether vacuum is busy.
CREATE OR REPLACE FUNCTION retention_pace(size integer, took float8, batch_size integer, share real, batch_time interval,
                               OUT next_size integer, OUT pause float8, OUT vacuum_busy boolean)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	target float8 := extract(epoch FROM batch_time);
	s float8;
BEGIN
	IF share IS NULL OR NOT share > 0 OR share > 1 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('share %s is out of range', coalesce(share::text, 'NULL')),
			DETAIL = 'share is the fraction of the time spent erasing, between its pauses.',
			HINT = 'Give more than 0 and at most 1; 0.3 erases 30% of the time, 1 without pauses.';
	END IF;
	IF batch_time IS NULL OR target <= 0 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'batch_time must be positive',
			HINT = 'For example batch_time => ''500 ms''.';
	END IF;
	took := greatest(coalesce(took, 0), 0.001);
	next_size := greatest(1, least(coalesce(batch_size, 10000),
	                 round(greatest(coalesce(size, 1), 1) * least(2.0, greatest(0.5, target / took)))::integer));
	SELECT EXISTS (
		SELECT 1 FROM pg_stat_progress_vacuum v
		JOIN pg_class c ON c.oid IN ('firstsight.capture'::regclass, 'firstsight.face'::regclass)
		WHERE v.datid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
		  AND v.relid IN (c.oid, c.reltoastrelid))
	INTO vacuum_busy;
	s := CASE WHEN vacuum_busy AND share < 1 THEN share / 2 ELSE share END;
	pause := took * (1 - s) / s;
END
$$;
COMMENT ON FUNCTION retention_pace(integer, float8, integer, real, interval) IS
	'pacing of enforce_retention_all and the worker: the next call''s size and the pause before it (share of the time erasing, halved while vacuum works on capture or face)';

-- enforce retention to the end, committing after every call (pg_cron, psql).
-- Paced by elapsed time, not fixed sleeps (retention_pace): each call is sized
-- to take about batch_time (at most batch_size rows a pass), so row locks are
-- short on any machine, and after a call that took t the procedure sleeps
-- t * (1 - share) / share (share halved while vacuum works on capture or
-- face; plus pause), so erasure keeps its backend busy for about `share` of
-- the time.
CREATE OR REPLACE PROCEDURE enforce_retention_all(batch_size integer DEFAULT 10000, pause interval DEFAULT '0',
                                       share real DEFAULT 0.3, batch_time interval DEFAULT '500 ms')
	LANGUAGE plpgsql
	AS $$
-- A procedure that commits cannot have a SET clause, so it runs with the
-- caller's search_path (a superuser's, under pg_cron): every function,
-- operator and type below is schema-qualified and every operand has the
-- operator's exact type, so nothing in another schema (a
-- public.<=(numeric, integer) made by the database owner) can be picked up.
DECLARE
	more boolean := true;
	size integer;
	t0 pg_catalog.timestamptz;
	took pg_catalog.float8;
	p record;
	started timestamptz := pg_catalog.clock_timestamp();
	erased boolean := false;
BEGIN
	-- the share is checked where it is used, before anything is erased
	PERFORM firstsight.retention_pace(1, 1::pg_catalog.float8, 1, share, interval '1 s');
	IF batch_time IS NULL OR extract(epoch FROM batch_time) OPERATOR(pg_catalog.<=) 0::pg_catalog.numeric
	   OR pause IS NULL OR pause OPERATOR(pg_catalog.<) interval '0' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'batch_time must be positive and pause not negative',
			HINT = 'For example batch_time => ''500 ms'', pause => ''0''.';
	END IF;
	size := least(batch_size, 1000);	-- then sized by the time calls take
	WHILE more LOOP
		t0 := pg_catalog.clock_timestamp();
		SELECT r.more, erased OR r.captures_erased OPERATOR(pg_catalog.>) 0 OR r.photos_erased OPERATOR(pg_catalog.>) 0
		                   OR r.faces_erased OPERATOR(pg_catalog.>) 0
		INTO more, erased FROM firstsight.enforce_retention(size) r;
		COMMIT;
		took := extract(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0)::pg_catalog.float8;
		IF more THEN
			SELECT * INTO p FROM firstsight.retention_pace(size, took, batch_size, share, batch_time);
			size := p.next_size;
			PERFORM pg_catalog.pg_sleep(p.pause OPERATOR(pg_catalog.+) extract(epoch FROM pause)::pg_catalog.float8);
		END IF;
	END LOOP;
	-- the erased bytes go from the data files too (scrub_biometrics)
	PERFORM firstsight.scrub_after_retention(started, erased);
END
$$;

-- zero the bytes of a relation's pages that no tuple uses: the free space
-- where VACUUM (or the pruning this does first) left erased embeddings and
-- photos; WAL-logged as full page images, so standbys get scrubbed pages too.
-- A table: itself, its indexes, its TOAST table and index; a partitioned
-- table: every partition.  The caller must own the relation
CREATE OR REPLACE FUNCTION scrub_free_space(rel regclass)
	RETURNS TABLE (relation regclass, pages bigint, pages_scrubbed bigint, bytes_zeroed bigint)
	AS 'MODULE_PATHNAME', 'fs_scrub_free_space' LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION scrub_free_space(regclass) FROM PUBLIC;
COMMENT ON FUNCTION scrub_free_space(regclass) IS
	'zero the free space of a table''s heap, TOAST and index pages (erased biometric bytes); WAL-logged';

-- at the end of a retention run (enforce_retention_all, the worker): scrub
-- the biometric relations when the run erased something, or when an erasure
-- by request (erasure_log) completed since the previous run that erased
-- something; the pages scrubbed (NULL: no scrub was due)
CREATE OR REPLACE FUNCTION scrub_after_retention(run_started timestamptz, erased boolean) RETURNS bigint
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	n bigint;
BEGIN
	IF NOT erased AND NOT EXISTS (
		SELECT 1 FROM erasure_log e
		WHERE e.completed_at >= coalesce((SELECT max(r.started_at) FROM retention_log r WHERE r.started_at < run_started),
		                                 '-infinity')) THEN
		RETURN NULL;
	END IF;
	SELECT sum(s.pages_scrubbed) INTO n FROM scrub_biometrics() s;
	RETURN n;
END
$$;

-- scrub the biometric relations: capture and every gallery partition, with
-- their TOAST tables (photos) and indexes.  The retention runs call it at
-- their end; the privacy officer may call it after an erasure and a VACUUM
CREATE OR REPLACE FUNCTION scrub_biometrics()
	RETURNS TABLE (relation regclass, pages bigint, pages_scrubbed bigint, bytes_zeroed bigint)
	LANGUAGE sql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT s.* FROM firstsight.scrub_free_space('firstsight.capture'::regclass) s
	UNION ALL
	SELECT s.* FROM firstsight.scrub_free_space('firstsight.face'::regclass) s
	$$;
REVOKE ALL ON FUNCTION scrub_biometrics() FROM PUBLIC;
COMMENT ON FUNCTION scrub_biometrics() IS
	'zero the free space of capture and the gallery (heap, TOAST, indexes), where erased embeddings and photos were; WAL-logged';


-- what a project's retention settings do to attribution, when they erase faces
-- the ownership or protection windows still depend on; NULL: consistent
CREATE OR REPLACE FUNCTION retention_window_warning(p_project_id bigint) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	win integer;
	shortest interval;
BEGIN
	win := greatest(project_setting_value(p_project_id, 'natural_ownership_days')::integer,
	                coalesce((SELECT max(c.protection_days) FROM channel c WHERE c.project_id = p_project_id AND c.kind <> 'natural'), 0));
	IF project_setting_value(p_project_id, 'consent_mode') = 'consent' THEN
		RETURN format('with consent_mode consent, faces of visitors who have not consented are kept to the end of the day and no exemplar is held, '
		              'though ownership and protection windows last up to %s days; a visitor returning later without a bound phone or ID card '
		              'becomes a new person, and an agency that brings them is paid for a customer who came on their own', win);
	END IF;
	SELECT min(r.keep) INTO shortest FROM retention_policy r WHERE r.project_id = p_project_id AND r.category IN ('visitor', 'consented');
	IF project_setting_value(p_project_id, 'exemplar_hold') = 'off' AND shortest < make_interval(days => win) THEN
		RETURN format('with exemplar_hold off, faces are kept %s, shorter than the %s-day ownership and protection windows; '
		              'a visitor returning after that without a bound phone or ID card becomes a new person, and an agency that '
		              'brings them is paid for a customer who came on their own; keep faces at least %s days or set exemplar_hold to window',
		              shortest, win, win);
	END IF;
	RETURN NULL;
END
$$;

-- warn as a setting, a retention period or a channel's protection makes the combination unsound
CREATE OR REPLACE FUNCTION retention_window_check() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	w text := retention_window_warning(NEW.project_id);
BEGIN
	IF w IS NOT NULL THEN
		RAISE WARNING USING MESSAGE = format('retention of project "%s" is shorter than its attribution windows',
		                                     (SELECT p.name FROM project p WHERE p.project_id = NEW.project_id)),
			DETAIL = upper(left(w, 1)) || substr(w, 2) || '.',
			HINT = 'docs/privacy.md, "Retention and attribution", gives the minimum face retention that keeps attribution sound.';
	END IF;
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER retention_window_setting AFTER INSERT OR UPDATE ON project_setting
	FOR EACH ROW WHEN (NEW.setting IN ('consent_mode', 'exemplar_hold', 'natural_ownership_days'))
	EXECUTE FUNCTION retention_window_check();
CREATE OR REPLACE TRIGGER retention_window_policy AFTER UPDATE ON retention_policy
	FOR EACH ROW EXECUTE FUNCTION retention_window_check();
CREATE OR REPLACE TRIGGER retention_window_channel AFTER UPDATE OF protection_days ON channel
	FOR EACH ROW EXECUTE FUNCTION retention_window_check();

-- retention periods are settings: their changes are kept in the history (change_log)
CREATE OR REPLACE TRIGGER retention_history AFTER INSERT OR UPDATE OR DELETE ON retention_policy FOR EACH ROW
	EXECUTE FUNCTION history('setting', 'category');
