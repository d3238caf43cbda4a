-- Attribution: who brought a buyer, who gets paid, and why.  Receptions and
-- reports (报备) come from the sales apps; a deal's attribution is decided on
-- INSERT of the deal and kept as numbered versions (reattribute adds a new
-- version, never overwrites).  Every decision carries its evidence and flags.
-- Days are calendar days in the project's time zone: a window of N days that
-- starts on local day D ends at local midnight starting day D + N (exclusive),
-- so the starting day counts as day 1 and a visit exactly at the end is outside.

COMMENT ON COLUMN channel.report_cutoff IS 'reports of this channel are valid until the next occurrence of this local time after filing; NULL: the project''s report_validity';
COMMENT ON COLUMN person.deposit_at IS 'when the person paid a deposit; reports on them filed at or after this are refused';
COMMENT ON TABLE attribution IS 'decisions for deals; the current one is the highest version (is_current)';
COMMENT ON COLUMN attribution.rule IS 'the rule that decided: first_touch_natural, first_touch_agency, agency_after_natural_lapse, protection_expired, no_recorded_visit';
COMMENT ON COLUMN attribution.evidence IS 'buyers, first sighting, visits, reports, protection windows and a timeline; no biometric data';
COMMENT ON COLUMN attribution.cycle_days IS 'days from the buyers'' first visit to signing';
COMMENT ON COLUMN attribution.reason IS 'why this version was made: deal inserted, or the reattribute call';

-- the end (exclusive) of a window of n calendar days starting on ts's local day
CREATE OR REPLACE FUNCTION local_days_end(ts timestamptz, n integer, tz text) RETURNS timestamptz
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT (((ts AT TIME ZONE tz)::pg_catalog.date OPERATOR(pg_catalog.+) n)::pg_catalog.timestamp) AT TIME ZONE tz $$;

-- when a report filed at reported_at stops being valid; always given the
-- filing time the database recorded (report.created_at), never the claimed
-- report.reported_at (the argument keeps its 0.1.0 name)
CREATE OR REPLACE FUNCTION report_expiry(reported_at timestamptz, cutoff time, validity interval, tz text) RETURNS timestamptz
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$
	SELECT CASE WHEN cutoff IS NULL THEN reported_at OPERATOR(pg_catalog.+) validity
	            WHEN (reported_at AT TIME ZONE tz)::pg_catalog.time OPERATOR(pg_catalog.<) cutoff
	            THEN (((reported_at AT TIME ZONE tz)::pg_catalog.date OPERATOR(pg_catalog.+) cutoff)::pg_catalog.timestamp) AT TIME ZONE tz
	            ELSE ((((reported_at AT TIME ZONE tz)::pg_catalog.date OPERATOR(pg_catalog.+) 1) OPERATOR(pg_catalog.+) cutoff)::pg_catalog.timestamp)
	                 AT TIME ZONE tz END
	$$;

-- does a report cover a visit?  The one rule every reader of reports uses (the
-- decision, protection_expiring, the worklist): filed (report.created_at, the
-- database's time, never the claimed reported_at) before the visit's start,
-- and the visit's start before the report's expiry (report_expiry of the filing time)
CREATE OR REPLACE FUNCTION report_covers(filed_at timestamptz, expires_at timestamptz, visit_at timestamptz) RETURNS boolean
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT filed_at OPERATOR(pg_catalog.<) visit_at AND visit_at OPERATOR(pg_catalog.<) expires_at $$;
COMMENT ON FUNCTION report_covers(timestamptz, timestamptz, timestamptz) IS
	'a report filed at filed_at (report.created_at) and valid until expires_at (report_expiry of filed_at) covers a visit starting at visit_at';

-- local time text for timelines
CREATE OR REPLACE FUNCTION local_text(ts timestamptz, tz text) RETURNS text
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT pg_catalog.to_char(ts AT TIME ZONE tz, 'YYYY-MM-DD HH24:MI') $$;

-- send an event through the notification layer when it is installed
CREATE OR REPLACE FUNCTION attribution_emit(p_project_id bigint, p_event text, p_subject text, p_payload jsonb) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF to_regprocedure('firstsight.emit_event(bigint,text,text,jsonb)') IS NOT NULL THEN
		PERFORM firstsight.emit_event(p_project_id, p_event, p_subject, p_payload);
	END IF;
END
$$;

-- record who received a visit and which agent brought the person (NULL: came alone)
CREATE OR REPLACE FUNCTION receive(project_id bigint, visit_id bigint, consultant_id bigint, agent_id bigint DEFAULT NULL)
	RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := receive.project_id;
BEGIN
	PERFORM require_project(pid);	-- sales apps: their projects (issue 16)
	IF consultant_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM consultant c WHERE c.project_id = pid AND c.consultant_id = receive.consultant_id) THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('consultant %s of project %s does not exist', receive.consultant_id, pid),
			HINT = 'Add the consultant to firstsight.consultant first.';
	END IF;
	IF agent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM agent a WHERE a.project_id = pid AND a.agent_id = receive.agent_id) THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('agent %s of project %s does not exist', receive.agent_id, pid),
			HINT = 'Add the agent to firstsight.agent first.';
	END IF;
	UPDATE visit v SET consultant_id = receive.consultant_id, agent_id = receive.agent_id, received_at = now()
	WHERE v.project_id = pid AND v.visit_id = receive.visit_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('visit %s of project %s does not exist', receive.visit_id, pid),
			HINT = 'Receive a visit the cameras recorded; see firstsight.visit.';
	END IF;
END
$$;
COMMENT ON FUNCTION receive(bigint, bigint, bigint, bigint) IS 'record the receiving consultant and accompanying agent (NULL: came alone) of a visit';

-- record that a person paid a deposit; later reports on them are refused
CREATE OR REPLACE FUNCTION record_deposit(project_id bigint, person_id bigint, paid_at timestamptz DEFAULT now())
	RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM require_project(record_deposit.project_id);	-- sales apps: their projects (issue 16)
	UPDATE person p SET deposit_at = least(coalesce(p.deposit_at, paid_at), paid_at)
	WHERE p.project_id = record_deposit.project_id
	  AND p.person_id = current_person(record_deposit.project_id, record_deposit.person_id);
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('person %s of project %s does not exist', record_deposit.person_id, record_deposit.project_id);
	END IF;
END
$$;
COMMENT ON FUNCTION record_deposit(bigint, bigint, timestamptz) IS 'the person paid a deposit: reports on them are refused from then on';

-- an agency's report of a customer's phone (full or 138****8000); returns the
-- report (file_report_verdict also says what it is worth)
CREATE OR REPLACE FUNCTION file_report(project_id bigint, agent_id bigint, phone text, reported_at timestamptz DEFAULT now())
	RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN (file_report_verdict(project_id, agent_id, phone, reported_at)).report_id;
END
$$;
COMMENT ON FUNCTION file_report(bigint, bigint, text, timestamptz) IS
	'an agency''s report (报备) of a full or masked (138****8000) phone; stores keyed hashes only; returns report_id';
