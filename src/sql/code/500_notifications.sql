-- Notifications (issue 7): webhook endpoints, a transactional outbox, per-webhook
-- delivery state and the view operators read.  The background worker
-- (src/worker) delivers; see src/worker/README.md.  Payloads never carry
-- biometric data: emit_event refuses anything that looks like a face,
-- an embedding or a photo.

COMMENT ON FUNCTION event_names() IS 'the events emit_event accepts and webhooks subscribe to';

-- C helpers (src/worker/outbox.c)
CREATE OR REPLACE FUNCTION outbox_check_payload(payload jsonb) RETURNS void
	AS 'MODULE_PATHNAME', 'fs_outbox_screen_payload' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outbox_check_payload(jsonb) IS
	'raise an error when an event payload is not an object, is too large, or looks like it carries biometric data';
CREATE OR REPLACE FUNCTION outbox_wake_at_commit() RETURNS void
	AS 'MODULE_PATHNAME', 'fs_outbox_wake_at_commit' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION outbox_wake_at_commit() IS 'wake the delivery worker when the current transaction commits';
CREATE OR REPLACE FUNCTION webhook_signature(secret text, body text) RETURNS text
	AS 'MODULE_PATHNAME', 'fs_webhook_signature' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION webhook_signature(text, text) IS
	'the X-Firstsight-Signature header value for body: sha256=<hex HMAC-SHA256 under secret>';
CREATE OR REPLACE FUNCTION webhook_host_check(url text) RETURNS text
	AS 'MODULE_PATHNAME', 'fs_webhook_host_check' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION webhook_host_check(text) IS
	'why the worker would refuse to send to url under firstsight.webhook_allowed_hosts, or NULL when it would send';
CREATE OR REPLACE FUNCTION webhook_retry_delay(attempts integer) RETURNS interval
	AS 'MODULE_PATHNAME', 'fs_webhook_retry_delay' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION webhook_retry_delay(integer) IS
	'a delay the worker waits after the attempts-th failed attempt: uniform in [d/2, d], d = min(webhook_retry_max, webhook_retry_base * 2^(attempts-1))';
REVOKE ALL ON FUNCTION outbox_wake_at_commit() FROM PUBLIC;
COMMENT ON TABLE webhook IS
	'webhook endpoints per project: URL, signing secret, event filter, enabled; the secret never leaves this table';
REVOKE ALL ON webhook FROM PUBLIC;

-- refuse URLs the worker could not or should not call, secrets too weak to sign with,
-- and unknown events
CREATE OR REPLACE FUNCTION webhook_validate() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	authority text;
	bad text;
	why text;
BEGIN
	-- NOT NULL violations would print the row, secret included: refuse NULLs here first
	IF NEW.project_id IS NULL OR NEW.webhook_id IS NULL OR NEW.url IS NULL OR NEW.secret IS NULL
	   OR NEW.events IS NULL OR NEW.enabled IS NULL OR NEW.created_at IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'not_null_violation',
			MESSAGE = 'webhook columns must not be null',
			DETAIL = 'project_id, webhook_id, url, secret, events, enabled and created_at are required.',
			HINT = 'Leave secret, events and enabled out to get their defaults.';
	END IF;
	IF NEW.url !~* '^https?://' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'webhook URL must start with http:// or https://',
			DETAIL = 'The worker only speaks HTTP and HTTPS.',
			HINT = 'Give a URL such as https://apps.example.com/firstsight.';
	END IF;
	IF NEW.url ~ '[[:space:][:cntrl:]]' OR length(NEW.url) > 2048 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'webhook URL is not valid',
			DETAIL = 'A URL has no spaces or control characters and at most 2048 characters.';
	END IF;
	authority := substring(NEW.url FROM '^[A-Za-z]+://([^/?#]*)');
	IF authority LIKE '%@%' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'webhook URL must not carry credentials',
			DETAIL = 'User names and passwords in URLs end up in logs.',
			HINT = 'Authenticate the request with the signature header instead.';
	END IF;
	IF authority = '' OR authority ~ '^:' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'webhook URL has no host';
	END IF;
	IF length(NEW.secret) < 16 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'webhook secret is too short',
			DETAIL = 'A signing secret has at least 16 characters.',
			HINT = 'Leave the column out to get a random 64-character secret.';
	END IF;
	IF cardinality(NEW.events) = 0 OR array_position(NEW.events, NULL) IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'webhook must subscribe to at least one event',
			HINT = format('Events: %s.', array_to_string(event_names(), ', '));
	END IF;
	SELECT string_agg(e, ', ') INTO bad FROM unnest(NEW.events) e WHERE NOT e = ANY (event_names());
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('unknown webhook event: %s', bad),
			HINT = format('Events: %s.', array_to_string(event_names(), ', '));
	END IF;
	NEW.events := ARRAY(SELECT DISTINCT e FROM unnest(NEW.events) e ORDER BY 1);
	why := webhook_host_check(NEW.url);
	IF why IS NOT NULL AND NEW.enabled THEN
		RAISE NOTICE USING MESSAGE = 'the worker will refuse this webhook for now',
			DETAIL = why,
			HINT = 'Add the host to firstsight.webhook_allowed_hosts and reload the configuration.';
	END IF;
	RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER webhook_validate BEFORE INSERT OR UPDATE OF url, secret, events, enabled ON webhook
	FOR EACH ROW EXECUTE FUNCTION webhook_validate();
COMMENT ON TABLE outbox IS
	'events written by emit_event in the emitting transaction; never biometric data';
REVOKE ALL ON outbox FROM PUBLIC;
COMMENT ON TABLE outbox_delivery IS
	'delivery state per event and webhook: attempts, next attempt, last error, delivered or dead';
REVOKE ALL ON outbox_delivery FROM PUBLIC;

-- record an event in the caller's transaction; the worker delivers it after commit.
-- subject is the ordering key ('person:42'): a webhook receives the events of one
-- subject in emit order.  Returns the event id.
CREATE OR REPLACE FUNCTION emit_event(project_id bigint, event text, subject text, payload jsonb DEFAULT '{}')
	RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	id bigint;
BEGIN
	IF event IS NULL OR NOT event = ANY (event_names()) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('unknown event "%s"', coalesce(event, 'NULL')),
			HINT = format('Events: %s.', array_to_string(event_names(), ', '));
	END IF;
	IF emit_event.project_id IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'an event needs a project';
	END IF;
	IF subject IS NULL OR subject = '' OR length(subject) > 200 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'an event needs a subject of 1 to 200 characters',
			DETAIL = 'The subject is the ordering key: events of one subject reach a webhook in order.',
			HINT = 'Use the entity the event is about, such as ''person:42'' or ''deal:7''.';
	END IF;
	payload := coalesce(payload, '{}'::jsonb);
	-- (the payload is screened by outbox_screen, on every row written into outbox)
	INSERT INTO outbox (project_id, event, subject, payload)
	VALUES (emit_event.project_id, emit_event.event, emit_event.subject, payload)
	RETURNING outbox.event_id INTO id;
	INSERT INTO outbox_delivery (project_id, event_id, webhook_id, subject)
	SELECT w.project_id, id, w.webhook_id, emit_event.subject
	FROM webhook w
	WHERE w.project_id = emit_event.project_id AND w.enabled AND emit_event.event = ANY (w.events);
	IF FOUND THEN
		PERFORM outbox_wake_at_commit();
	END IF;
	RETURN id;
END
$$;
COMMENT ON FUNCTION emit_event(bigint, text, text, jsonb) IS
	'record an event in the current transaction for delivery to the project''s webhooks after commit';
REVOKE ALL ON FUNCTION emit_event(bigint, text, text, jsonb) FROM PUBLIC;

-- the payload screen on every row written into the outbox, by emit_event or
-- by hand (issue 14): the worker sends what is there
CREATE OR REPLACE FUNCTION outbox_screen() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM outbox_check_payload(NEW.payload);
	RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER outbox_screen BEFORE INSERT OR UPDATE OF payload ON outbox
	FOR EACH ROW EXECUTE FUNCTION outbox_screen();

-- send dead or refused deliveries again (after fixing the receiver or the allowed hosts)
CREATE OR REPLACE FUNCTION redeliver(project_id bigint, webhook_id bigint DEFAULT NULL) RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	n bigint;
BEGIN
	UPDATE outbox_delivery d
	SET dead = false, refused = false, attempts = 0, next_attempt_at = clock_timestamp()
	WHERE d.project_id = redeliver.project_id
	  AND (redeliver.webhook_id IS NULL OR d.webhook_id = redeliver.webhook_id)
	  AND d.dead AND d.delivered_at IS NULL;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		PERFORM outbox_wake_at_commit();
	END IF;
	RETURN n;
END
$$;
COMMENT ON FUNCTION redeliver(bigint, bigint) IS
	'queue dead and refused deliveries of a project (or one webhook) again; returns how many';
REVOKE ALL ON FUNCTION redeliver(bigint, bigint) FROM PUBLIC;

-- the door_lookup fields of a visitor.returned payload: owner channel and agent,
-- until when, owning consultant and until when (door_state), no biometric data
-- (plpgsql, so that door_state runs once: in a sql function its subquery
-- was pulled up and door_state ran once per key, 11 times, issue 21)
CREATE OR REPLACE FUNCTION door_payload(p_project_id bigint, p_person_id bigint, p_at timestamptz, p_settings jsonb) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	s jsonb := door_state(p_project_id, p_person_id, p_at, p_settings);
BEGIN
	RETURN jsonb_build_object('owner_kind', s->'owner_kind', 'owner_channel_id', s->'owner_channel_id',
	                          'owner_channel', s->'owner_channel', 'owner_agent_id', s->'owner_agent_id',
	                          'owner_agent', s->'owner_agent', 'owner_until', s->'owner_until', 'owner_rule', s->'owner_rule',
	                          'owner_consultant_id', s->'consultant_id', 'owner_consultant', s->'consultant',
	                          'owner_consultant_until', s->'consultant_until', 'bought', s->'bought');
END
$$;
REVOKE ALL ON FUNCTION door_payload(bigint, bigint, timestamptz, jsonb) FROM PUBLIC;

-- visitor.new and visitor.returned for visits a camera batch has just opened; called
-- by ingest_batch (src/sql/230_ingest.sql) in the inserting transaction, after the
-- visit chain is current.  A visit with an earlier visit of the same person is a
-- return; the first visit of a person created by this batch is new; a late capture
-- that opens a visit before every known visit of a known person is neither.
-- Subject 'person:<id>': a webhook gets one person's events in order (the batch
-- holds the person's row lock until commit).  Identifiers, times, camera and zone,
-- consultants: nothing biometric.  Returns how many events were written.
CREATE OR REPLACE FUNCTION emit_visit_events(p_project_id bigint, p_visit_ids bigint[], p_new_person_ids bigint[])
	RETURNS integer
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	r record;
	n integer := 0;
	st jsonb;
	-- (the door fields cost a door_state per returning visitor: only when an
	-- enabled webhook of the project takes visitor.returned, since an event is
	-- delivered only to the webhooks it had when written (issue 21))
	door boolean := EXISTS (SELECT 1 FROM webhook w WHERE w.project_id = p_project_id AND w.enabled
	                        AND 'visitor.returned' = ANY (w.events));
BEGIN
	FOR r IN
		SELECT v.person_id,
		       CASE WHEN pv.visit_id IS NOT NULL THEN 'visitor.returned'
		            WHEN v.person_id = ANY (p_new_person_ids) THEN 'visitor.new' END AS event,
		       jsonb_build_object('person_id', v.person_id, 'visit_id', v.visit_id,
		                          'started_at', v.started_at, 'camera_id', v.first_camera_id, 'zone', c.zone)
		       || CASE WHEN pv.visit_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object(
		              'visits', p.visits, 'first_seen', p.first_seen,
		              'previous_visit_id', pv.visit_id, 'previous_visit_at', pv.started_at,
		              'previous_visit_ended_at', pv.ended_at,
		              -- who received the person last time they were received, and the first time
		              'previous_consultant_id', lc.consultant_id, 'previous_consultant_name', lcn.name,
		              'previous_received_at', lc.received_at, 'previous_received_visit_id', lc.visit_id,
		              'first_consultant_id', fc.consultant_id, 'first_consultant_name', fcn.name) END AS payload
		FROM visit v
		JOIN person p ON p.project_id = v.project_id AND p.person_id = v.person_id
		LEFT JOIN camera c ON c.project_id = v.project_id AND c.camera_id = v.first_camera_id
		LEFT JOIN visit pv ON pv.project_id = v.project_id AND pv.visit_id = v.previous_visit_id
		LEFT JOIN LATERAL (
			SELECT x.visit_id, x.consultant_id, x.received_at FROM visit x
			WHERE x.project_id = v.project_id AND x.person_id = v.person_id AND x.started_at < v.started_at
			  AND x.consultant_id IS NOT NULL
			ORDER BY x.started_at DESC LIMIT 1) lc ON pv.visit_id IS NOT NULL
		LEFT JOIN consultant lcn ON lcn.project_id = v.project_id AND lcn.consultant_id = lc.consultant_id
		LEFT JOIN LATERAL (
			SELECT x.consultant_id FROM visit x
			WHERE x.project_id = v.project_id AND x.person_id = v.person_id AND x.started_at < v.started_at
			  AND x.consultant_id IS NOT NULL
			ORDER BY x.started_at LIMIT 1) fc ON pv.visit_id IS NOT NULL
		LEFT JOIN consultant fcn ON fcn.project_id = v.project_id AND fcn.consultant_id = fc.consultant_id
		WHERE v.project_id = p_project_id AND v.visit_id = ANY (p_visit_ids)
		ORDER BY v.started_at, v.visit_id
	LOOP
		CONTINUE WHEN r.event IS NULL;
		-- a returning visitor: who owns them as they come in, as door_lookup says (issue 16)
		IF r.event = 'visitor.returned' AND door THEN
			st := coalesce(st, decision_settings(p_project_id));
			r.payload := r.payload || door_payload(p_project_id, r.person_id, (r.payload->>'started_at')::timestamptz, st);
		END IF;
		PERFORM emit_event(p_project_id, r.event, 'person:' || r.person_id, r.payload);
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION emit_visit_events(bigint, bigint[], bigint[]) IS
	'write visitor.new / visitor.returned for visits just opened by a camera batch (called by ingest_batch)';
REVOKE ALL ON FUNCTION emit_visit_events(bigint, bigint[], bigint[]) FROM PUBLIC;

-- a webhook enabled again, or with a new URL: wake the worker for what waited
CREATE OR REPLACE FUNCTION webhook_changed() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF NEW.enabled THEN
		PERFORM outbox_wake_at_commit();
	END IF;
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER webhook_changed AFTER UPDATE OF url, enabled ON webhook
	FOR EACH ROW EXECUTE FUNCTION webhook_changed();

-- delivery state per event and webhook, for operators: no secret, no payload
CREATE OR REPLACE VIEW delivery_status AS
SELECT d.project_id, d.webhook_id, d.event_id, o.event, o.subject,
       CASE WHEN d.delivered_at IS NOT NULL THEN 'delivered'
            WHEN d.refused THEN 'refused'
            WHEN d.dead THEN 'dead'
            WHEN NOT w.enabled THEN 'paused'
            WHEN d.attempts > 0 THEN 'failed'
            ELSE 'pending' END AS state,
       d.attempts, o.created_at, d.last_attempt_at,
       CASE WHEN d.delivered_at IS NULL AND NOT d.dead THEN d.next_attempt_at END AS next_attempt_at,
       d.delivered_at,
       d.delivered_at - o.created_at AS latency,
       d.last_status, d.last_error,
       lower(substring(w.url FROM '^[A-Za-z]+://([^/?#]*)')) AS host
FROM outbox_delivery d
JOIN outbox o ON o.project_id = d.project_id AND o.event_id = d.event_id
JOIN webhook w ON w.project_id = d.project_id AND w.webhook_id = d.webhook_id;
COMMENT ON VIEW delivery_status IS
	'per event and webhook: pending, failed (will retry), delivered, dead, refused (host not allowed) or paused (webhook disabled), with latency and last error';

-- one row per webhook: counts by state and delivery latency
CREATE OR REPLACE VIEW delivery_summary AS
SELECT w.project_id, w.webhook_id, w.enabled,
       lower(substring(w.url FROM '^[A-Za-z]+://([^/?#]*)')) AS host,
       count(s.event_id) FILTER (WHERE s.state IN ('pending', 'paused')) AS pending,
       count(s.event_id) FILTER (WHERE s.state = 'failed') AS failed,
       count(s.event_id) FILTER (WHERE s.state = 'delivered') AS delivered,
       count(s.event_id) FILTER (WHERE s.state = 'dead') AS dead,
       count(s.event_id) FILTER (WHERE s.state = 'refused') AS refused,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY s.latency) AS latency_p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY s.latency) AS latency_p99,
       max(s.delivered_at) AS last_delivered_at
FROM webhook w
LEFT JOIN delivery_status s ON s.project_id = w.project_id AND s.webhook_id = w.webhook_id
GROUP BY w.project_id, w.webhook_id, w.enabled, w.url;
COMMENT ON VIEW delivery_summary IS 'per webhook: deliveries by state and latency percentiles';
