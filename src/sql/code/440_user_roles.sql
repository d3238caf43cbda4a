-- Roles that fit the people who use firstsight (issue 16), applied by
-- setup_roles() through setup_roles_users():
-- * firstsight_sales_app: the sales office's app receives visitors, files
--   reports, binds ID cards and phones, records deposits and deals, at the
--   projects granted to its login (grant_sales_app); nothing biometric;
-- * firstsight_agency: an agency portal's login acts for ONE channel of one
--   project (grant_channel): it files reports for that channel's agents and
--   reads its own reports' verdicts and its own customers' protection status
--   (agency_reports, agency_customers), nothing else;
-- * firstsight_manager: also explain_attribution, reattribute and the BI
--   views, for the projects granted to it;
-- * firstsight_analyst: the BI views and explain_attribution for the projects
--   granted to it (grant_analyst); group views when granted every project of
--   the group.
-- Functions that change facts are SECURITY DEFINER and check the acting role
-- with require_project (410_privacy_roles.sql); the views filter with
-- reads_project (209_access_early.sql).

COMMENT ON TABLE channel_access IS 'the one channel each agency-portal login acts for (firstsight.grant_channel)';

-- bind an agency portal's login to one channel of a project
CREATE OR REPLACE FUNCTION grant_channel(role name, project_id bigint, channel_id bigint) RETURNS boolean
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	r name;
	k text;
	b channel_access;
BEGIN
	r := grant_role_checked(grant_channel.role, 'firstsight_agency', 'agency portal');
	IF r LIKE 'firstsight\_%' OR (SELECT rolsuper FROM pg_roles WHERE rolname = r) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('role "%s" cannot be bound to a channel', r),
			HINT = 'Bind an agency''s own login role, not the firstsight roles or a superuser.';
	END IF;
	-- a login that reads whole projects must not also be an agency's
	IF EXISTS (SELECT 1 FROM pg_roles g
	           WHERE g.rolname IN ('firstsight_manager', 'firstsight_analyst', 'firstsight_sales_app',
	                               'firstsight_privacy_officer', 'firstsight_camera', 'firstsight_worker')
	             AND pg_has_role(r, g.oid, 'MEMBER'))
	   OR EXISTS (SELECT 1 FROM project_access a WHERE a.role_name = r) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('role "%s" has another firstsight role and cannot be an agency portal login', r),
			HINT = 'Give the agency portal a login role of its own.';
	END IF;
	SELECT c.kind INTO k FROM channel c WHERE c.project_id = grant_channel.project_id AND c.channel_id = grant_channel.channel_id;
	IF k IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('channel %s of project %s does not exist', coalesce(grant_channel.channel_id::text, 'NULL'),
			                 coalesce(grant_channel.project_id::text, 'NULL'));
	END IF;
	IF k NOT IN ('agency', 'platform') THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('channel %s is a %s channel, not an agency', grant_channel.channel_id, k),
			HINT = 'Agency portal logins act for agency or platform channels.';
	END IF;
	SELECT * INTO b FROM channel_access a WHERE a.role_name = r;
	IF FOUND THEN
		IF b.project_id = grant_channel.project_id AND b.channel_id = grant_channel.channel_id THEN
			RETURN false;
		END IF;
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('role "%s" is already bound to channel %s of project %s', r, b.channel_id, b.project_id),
			DETAIL = 'An agency portal login acts for one channel.',
			HINT = 'Use another login for the other channel, or firstsight.revoke_channel first.';
	END IF;
	-- the role name comes from the catalog, quoted as an identifier
	IF NOT EXISTS (SELECT 1 FROM pg_auth_members m
	               WHERE m.roleid = 'firstsight_agency'::regrole AND m.member = r::regrole) THEN
		EXECUTE format('GRANT firstsight_agency TO %I', r);
	END IF;
	INSERT INTO channel_access (role_name, project_id, channel_id)
	VALUES (r, grant_channel.project_id, grant_channel.channel_id);
	RETURN true;
END
$$;
COMMENT ON FUNCTION grant_channel(name, bigint, bigint) IS
	'bind an agency portal''s login to one channel of a project (it becomes a firstsight_agency); who and when are kept in channel_access';

-- unbind an agency portal's login (it keeps firstsight_agency and can do nothing)
CREATE OR REPLACE FUNCTION revoke_channel(role name) RETURNS boolean
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	WITH d AS (DELETE FROM channel_access a WHERE a.role_name = revoke_channel.role RETURNING 1)
	SELECT EXISTS (SELECT 1 FROM d)
	$$;
REVOKE ALL ON FUNCTION grant_channel(name, bigint, bigint), revoke_channel(name) FROM PUBLIC;

-- record a deal (the sales app's contract signing); attribution is decided on insert
CREATE OR REPLACE FUNCTION record_deal(project_id bigint, person_id bigint, signed_at timestamptz, price numeric,
                                       channel_id bigint DEFAULT NULL, agent_id bigint DEFAULT NULL,
                                       consultant_id bigint DEFAULT NULL, co_buyer_ids bigint[] DEFAULT '{}')
	RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	id bigint;
BEGIN
	PERFORM require_project(record_deal.project_id);
	INSERT INTO deal (project_id, person_id, co_buyer_ids, signed_at, price, channel_id, agent_id, consultant_id)
	VALUES (record_deal.project_id, record_deal.person_id, coalesce(record_deal.co_buyer_ids, '{}'), record_deal.signed_at,
	        record_deal.price, record_deal.channel_id, record_deal.agent_id, record_deal.consultant_id)
	RETURNING deal.deal_id INTO id;
	RETURN id;
END
$$;
COMMENT ON FUNCTION record_deal(bigint, bigint, timestamptz, numeric, bigint, bigint, bigint, bigint[]) IS
	'record a signed deal (buyer, price, claimed channel and agent, consultant, co-buyers); returns deal_id; attributed at once';

-- the acting agency login's binding; refused (no detail) when there is none
CREATE OR REPLACE FUNCTION agency_binding() RETURNS channel_access
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	b channel_access;
BEGIN
	SELECT * INTO b FROM channel_access a WHERE a.role_name = acting_role();
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = format('role "%s" is not bound to a channel', acting_role()),
			HINT = 'The owner binds an agency portal login with firstsight.grant_channel(role, project_id, channel_id).';
	END IF;
	RETURN b;
END
$$;
REVOKE ALL ON FUNCTION agency_binding() FROM PUBLIC;

-- an agency portal files a report for one of its own channel's agents; the
-- same refusal for an agent of another channel and for no agent at all
CREATE OR REPLACE FUNCTION agency_file_report(agent_id bigint, phone text, reported_at timestamptz DEFAULT now(),
                                              OUT report_id bigint, OUT verdict text, OUT reason text)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	b channel_access := agency_binding();
BEGIN
	IF NOT EXISTS (SELECT 1 FROM agent ag WHERE ag.project_id = b.project_id AND ag.channel_id = b.channel_id
	               AND ag.agent_id = agency_file_report.agent_id) THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = format('agent %s is not an agent of your channel', coalesce(agency_file_report.agent_id::text, 'NULL')),
			HINT = 'File reports for your own agents; agency_reports lists the ones you filed.';
	END IF;
	SELECT r.report_id, r.verdict, r.reason INTO report_id, verdict, reason
	FROM file_report_verdict(b.project_id, agency_file_report.agent_id, phone, reported_at) r;
END
$$;
COMMENT ON FUNCTION agency_file_report(bigint, text, timestamptz) IS
	'an agency portal files a report (报备) of a full or masked phone for one of its own agents; returns report_id, verdict and reason';

-- the acting agency login's reports
CREATE OR REPLACE FUNCTION agency_report_rows()
	RETURNS TABLE (report_id bigint, agent_id bigint, agent text, reported_at timestamptz, filed_at timestamptz,
	               verdict text, valid_until timestamptz, valid boolean)
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT r.report_id, r.agent_id, ag.name, r.reported_at, r.created_at, r.verdict, e.until, e.until > now()
	FROM channel_access ca
	JOIN project p ON p.project_id = ca.project_id
	JOIN channel ch ON ch.project_id = ca.project_id AND ch.channel_id = ca.channel_id
	JOIN agent ag ON ag.project_id = ca.project_id AND ag.channel_id = ca.channel_id
	JOIN report r ON r.project_id = ag.project_id AND r.agent_id = ag.agent_id
	CROSS JOIN LATERAL (SELECT report_expiry(r.created_at, ch.report_cutoff,
	                                         project_setting_value(ca.project_id, 'report_validity')::interval, p.time_zone) AS until) e
	WHERE ca.role_name = acting_role()
	$$;

-- the acting agency login's customers: persons its agents accompanied, by
-- the first visit with them; whether the agency brought them first, the
-- protection it holds, and whether a deal was attributed to it.  Nothing of
-- other channels: no person id, no other agency's name or commission.
CREATE OR REPLACE FUNCTION agency_customer_rows()
	RETURNS TABLE (first_visit_id bigint, agent_id bigint, agent text, first_visit_local timestamp, visits bigint,
	               first_touch boolean, protected_until timestamp, days_left integer, bought_through_you boolean, status text)
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	WITH me AS (
		SELECT ca.project_id, ca.channel_id FROM channel_access ca WHERE ca.role_name = acting_role()),
	ours AS (
		SELECT v.project_id, v.person_id, v.visit_id, v.started_at, v.agent_id,
		       count(*) OVER (PARTITION BY v.person_id) AS visits
		FROM me
		JOIN agent ag ON ag.project_id = me.project_id AND ag.channel_id = me.channel_id
		JOIN visit v ON v.project_id = ag.project_id AND v.agent_id = ag.agent_id),
	firsts AS (
		SELECT DISTINCT ON (o.person_id) o.* FROM ours o ORDER BY o.person_id, o.started_at, o.visit_id),
	f AS (
		SELECT f.*, me.channel_id, p.time_zone,
		       NOT EXISTS (SELECT 1 FROM visit w WHERE w.project_id = f.project_id AND w.person_id = f.person_id
		                                           AND (w.started_at, w.visit_id) < (f.started_at, f.visit_id)) AS first_touch,
		       EXISTS (SELECT 1 FROM deal d
		               JOIN attribution a ON a.project_id = d.project_id AND a.deal_id = d.deal_id AND a.is_current
		               WHERE d.project_id = f.project_id AND a.entitled_channel_id = me.channel_id
		                 AND f.person_id IN (SELECT current_person(d.project_id, b) FROM unnest(d.person_id || d.co_buyer_ids) b)) AS bought
		FROM firsts f CROSS JOIN me JOIN project p ON p.project_id = f.project_id)
	SELECT f.visit_id, f.agent_id, ag.name, f.started_at AT TIME ZONE f.time_zone, f.visits, f.first_touch,
	       pe.protected_until, pe.days_left, f.bought,
	       CASE WHEN f.bought THEN 'bought'
	            WHEN pe.protected_until IS NOT NULL THEN 'protected'
	            WHEN f.first_touch THEN 'not_protected'
	            ELSE 'not_first' END
	FROM f
	JOIN agent ag ON ag.project_id = f.project_id AND ag.agent_id = f.agent_id
	LEFT JOIN LATERAL (SELECT x.protected_until, x.days_left FROM protection_expiring x
	                   WHERE x.project_id = f.project_id AND x.person_id = f.person_id AND x.channel_id = f.channel_id
	                   ORDER BY x.protected_until DESC LIMIT 1) pe ON true
	$$;

CREATE OR REPLACE VIEW agency_reports WITH (security_barrier = true) AS
	SELECT * FROM agency_report_rows();
COMMENT ON VIEW agency_reports IS 'an agency portal''s own reports (报备): verdict when filed, valid until, still valid';
COMMENT ON COLUMN agency_reports.reported_at IS 'the time the agency claimed (shown, not used: a report counts from filed_at)';
COMMENT ON COLUMN agency_reports.filed_at IS 'when the database received the report';
COMMENT ON COLUMN agency_reports.verdict IS 'accepted, protected (another channel held the customer), visited (the customer had come already); NULL: filed before 0.2.0';
COMMENT ON COLUMN agency_reports.valid_until IS 'the end of the report''s validity (the project''s report_validity or the channel''s cutoff)';

CREATE OR REPLACE VIEW agency_customers WITH (security_barrier = true) AS
	SELECT * FROM agency_customer_rows();
COMMENT ON VIEW agency_customers IS 'an agency portal''s own customers: persons its agents accompanied, with the protection the agency holds';
COMMENT ON COLUMN agency_customers.first_visit_id IS 'the first visit an agent of the channel accompanied the customer on (the customer''s key here)';
COMMENT ON COLUMN agency_customers.first_touch IS 'that visit was the customer''s first recorded visit (otherwise the agency does not hold them)';
COMMENT ON COLUMN agency_customers.protected_until IS 'local time the agency''s protection ends (NULL: none running)';
COMMENT ON COLUMN agency_customers.bought_through_you IS 'a deal naming the customer is currently attributed to the channel';
COMMENT ON COLUMN agency_customers.status IS 'bought (through this channel), protected, not_protected (brought first; window over, or no valid report) or not_first (someone came first)';

-- grants of the roles above; run by setup_roles (idempotent)
CREATE OR REPLACE FUNCTION setup_roles_users() RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	SET client_min_messages = warning
	AS $$
DECLARE
	t text;
	views text[] := ARRAY['daily_traffic', 'channel_share', 'conversion_funnel', 'flagged_deals', 'commission_ledger',
	                      'consultant_board', 'protection_expiring', 'project_settings',
	                      'group_traffic', 'group_channel_share', 'group_commissions', 'group_flagged_deals'];
BEGIN
	-- analysts and sales apps read their own grants (policy own_grants): reads_project
	-- and has_project_access run as them
	GRANT SELECT ON project_access TO firstsight_analyst, firstsight_sales_app;

	-- managers: the BI views (their projects' rows), the timeline, deciding again
	FOREACH t IN ARRAY views LOOP
		IF to_regclass('firstsight.' || t) IS NOT NULL THEN
			EXECUTE format('GRANT SELECT ON firstsight.%I TO firstsight_manager', t);
		END IF;
	END LOOP;
	GRANT EXECUTE ON FUNCTION explain_attribution(bigint, bigint), reattribute(bigint, timestamptz, timestamptz)
		TO firstsight_manager;
	-- analysts: the timeline of their projects' deals
	GRANT EXECUTE ON FUNCTION explain_attribution(bigint, bigint) TO firstsight_analyst;

	-- sales app: receptions, reports, identity bindings, deposits and deals; reads
	-- the rows it needs to call them (its projects); nothing biometric
	GRANT EXECUTE ON FUNCTION receive(bigint, bigint, bigint, bigint), file_report(bigint, bigint, text, timestamptz),
		file_report_verdict(bigint, bigint, text, timestamptz), bind_identity(bigint, bigint, text, text),
		record_deposit(bigint, bigint, timestamptz),
		record_deal(bigint, bigint, timestamptz, numeric, bigint, bigint, bigint, bigint[]) TO firstsight_sales_app;
	FOREACH t IN ARRAY ARRAY['project', 'consultant', 'channel', 'agent', 'visit', 'deal'] LOOP
		EXECUTE format('GRANT SELECT ON firstsight.%I TO firstsight_sales_app', t);
		EXECUTE format('DROP POLICY IF EXISTS sales_app_projects ON firstsight.%I', t);
		EXECUTE format('CREATE POLICY sales_app_projects ON firstsight.%I FOR SELECT TO firstsight_sales_app
		                USING (firstsight.has_project_access(project_id))', t);
	END LOOP;

	-- agency portal: its own channel only
	GRANT EXECUTE ON FUNCTION agency_file_report(bigint, text, timestamptz), agency_report_rows(), agency_customer_rows()
		TO firstsight_agency;
	GRANT SELECT ON agency_reports, agency_customers TO firstsight_agency;
END
$$;
REVOKE ALL ON FUNCTION setup_roles_users() FROM PUBLIC;
