-- Least privilege (issue 6): four NOLOGIN roles, row-level security for
-- project managers, and audited functions as the only way to read photos and
-- embeddings.  setup_roles() is idempotent: run it again after upgrades so
-- new views and functions get their grants.

-- a capture's photo, for a stated purpose; every call is logged (NULL once erased)
CREATE OR REPLACE FUNCTION photo(project_id bigint, capture_id bigint, purpose text) RETURNS bytea
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	img bytea;
	pid bigint;
BEGIN
	PERFORM check_biometric_read(photo.project_id, photo.capture_id, 'photo', purpose);
	SELECT c.photo, c.person_id INTO img, pid FROM capture c
	WHERE c.project_id = photo.project_id AND c.capture_id = photo.capture_id;
	PERFORM audit_biometric_read(photo.project_id, photo.capture_id, 'photo', purpose, img IS NOT NULL, pid);
	RETURN img;
END
$$;

CREATE OR REPLACE TRIGGER biometric_access_log_guard BEFORE UPDATE OR DELETE ON biometric_access_log
	FOR EACH ROW EXECUTE FUNCTION records_guard('accessed_at');
CREATE OR REPLACE TRIGGER biometric_access_log_no_truncate BEFORE TRUNCATE ON biometric_access_log
	FOR EACH STATEMENT EXECUTE FUNCTION records_guard();
ALTER TABLE biometric_access_log ENABLE ALWAYS TRIGGER biometric_access_log_guard,
	ENABLE ALWAYS TRIGGER biometric_access_log_no_truncate;

-- true when the current role manages the project (used by row-level security)
-- (On Citus the policies run on the workers, next to the shards: project_access
-- is a reference table with a copy on every node, which the function reads
-- there; pg_roles would need pg_authid there, to_regrole does not.  The Citus
-- setting lets the read run inside a query on a shard; it means nothing
-- without Citus.  docs/scale-out.md)
CREATE OR REPLACE FUNCTION has_project_access(project_id bigint) RETURNS boolean
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	SET citus.allow_nested_distributed_execution = on
	AS $$
	SELECT EXISTS (SELECT 1 FROM project_access a
	               WHERE a.project_id = has_project_access.project_id
	                 AND pg_has_role(to_regrole(quote_ident(a.role_name::text)), 'MEMBER'))
	$$;

-- may the acting role (acting_role(): SET ROLE's, else the login; never more
-- than the login may) read biometric data of a project: a superuser, a
-- privacy officer, or for photos a manager granted the project
CREATE OR REPLACE FUNCTION may_read_biometrics(p_project_id bigint, p_what text) RETURNS boolean
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = acting_role()), false)
	    OR (to_regrole('firstsight_privacy_officer') IS NOT NULL
	        AND pg_has_role(acting_role(), 'firstsight_privacy_officer', 'MEMBER'))
	    OR (p_what = 'photo' AND to_regrole('firstsight_manager') IS NOT NULL
	        AND pg_has_role(acting_role(), 'firstsight_manager', 'MEMBER')
	        AND role_granted_project(acting_role(), p_project_id))
	$$;

-- check and log one read of a capture's biometric data; the capture's person
CREATE OR REPLACE FUNCTION audit_biometric_read(p_project_id bigint, p_capture_id bigint, p_what text, p_purpose text,
                                     p_returned boolean, p_person_id bigint) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	INSERT INTO biometric_access_log (project_id, capture_id, person_id, what, purpose, returned)
	VALUES (p_project_id, p_capture_id, p_person_id, p_what, p_purpose, p_returned);
END
$$;

-- refuse a biometric read that has no purpose or no right
CREATE OR REPLACE FUNCTION check_biometric_read(p_project_id bigint, p_capture_id bigint, p_what text, p_purpose text) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF p_purpose IS NULL OR length(btrim(p_purpose)) < 3 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('reading a %s needs a purpose', p_what),
			DETAIL = 'Every read of biometric data is logged with its purpose in firstsight.biometric_access_log.',
			HINT = 'Give the reason, for example ''dispute 2024-031: agency claims this visit''.';
	END IF;
	IF NOT may_read_biometrics(p_project_id, p_what) THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = format('permission denied to read this %s', p_what),
			DETAIL = format('Capture %s of project %s; nothing was returned or logged.',
			                coalesce(p_capture_id::text, 'NULL'), coalesce(p_project_id::text, 'NULL')),
			HINT = CASE WHEN p_what = 'photo'
			            THEN 'Photos are for the privacy officer and for managers of the project (firstsight.grant_project).'
			            ELSE 'Embeddings are for the privacy officer (firstsight_privacy_officer).' END;
	END IF;
END
$$;
COMMENT ON FUNCTION photo(bigint, bigint, text) IS 'a capture''s photo for a stated purpose, logged in biometric_access_log; NULL once erased';

-- a capture's face embedding, for a stated purpose; every call is logged (NULL once erased)
CREATE OR REPLACE FUNCTION face_embedding(project_id bigint, capture_id bigint, purpose text) RETURNS embedding
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	e embedding;
	pid bigint;
BEGIN
	PERFORM check_biometric_read(face_embedding.project_id, face_embedding.capture_id, 'embedding', purpose);
	SELECT c.face, c.person_id INTO e, pid FROM capture c
	WHERE c.project_id = face_embedding.project_id AND c.capture_id = face_embedding.capture_id;
	PERFORM audit_biometric_read(face_embedding.project_id, face_embedding.capture_id, 'embedding', purpose, e IS NOT NULL, pid);
	RETURN e;
END
$$;
COMMENT ON FUNCTION face_embedding(bigint, bigint, text) IS 'a capture''s embedding for a stated purpose, logged in biometric_access_log; NULL once erased';

-- the login role a grant names, checked: it exists (who: whose login role it
-- should be, for the hint) and so does the firstsight group role it joins
CREATE OR REPLACE FUNCTION grant_role_checked(p_role name, p_group name, p_who text) RETURNS name
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	r name;
BEGIN
	SELECT rolname INTO r FROM pg_roles WHERE rolname = p_role;
	IF r IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = format('role "%s" does not exist', coalesce(p_role::text, 'NULL')),
			HINT = format('Create the %s''s login role first.', p_who);
	END IF;
	IF to_regrole(p_group) IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = format('role "%s" does not exist', p_group),
			HINT = 'Run SELECT firstsight.setup_roles() first.';
	END IF;
	RETURN r;
END
$$;
REVOKE ALL ON FUNCTION grant_role_checked(name, name, text) FROM PUBLIC;

-- refuse a SECURITY DEFINER function's call for a project the acting role is
-- not granted; an agency login passes for an agent of its own channel
CREATE OR REPLACE FUNCTION require_project(p_project_id bigint, p_agent_id bigint DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	who name := acting_role();
BEGIN
	IF role_reads_project(who, p_project_id) THEN
		RETURN;
	END IF;
	IF p_agent_id IS NOT NULL AND EXISTS (
		SELECT 1 FROM channel_access ca
		JOIN agent ag ON ag.project_id = ca.project_id AND ag.channel_id = ca.channel_id
		WHERE ca.role_name = who AND ca.project_id = p_project_id AND ag.agent_id = p_agent_id) THEN
		RETURN;
	END IF;
	RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
		MESSAGE = format('permission denied for project %s', coalesce(p_project_id::text, 'NULL')),
		DETAIL = format('Role "%s" is not granted this project.', who),
		HINT = 'The owner grants projects with firstsight.grant_project (managers), grant_analyst or grant_sales_app.';
END
$$;
REVOKE ALL ON FUNCTION require_project(bigint, bigint) FROM PUBLIC;

-- scope a role to one more project as a member of a firstsight group role
-- (manager, analyst, sales app); who: the kind of user, for the messages
CREATE OR REPLACE FUNCTION grant_scoped(p_role name, p_project_id bigint, p_group name, p_who text) RETURNS boolean
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	r name;
BEGIN
	r := grant_role_checked(p_role, p_group, p_who);
	IF r IN ('firstsight_camera', 'firstsight_analyst', 'firstsight_privacy_officer', 'firstsight_manager',
	         'firstsight_sales_app', 'firstsight_agency', 'firstsight_worker')
	   OR (SELECT rolsuper FROM pg_roles WHERE rolname = r) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('role "%s" cannot be scoped to a project', r),
			HINT = format('Grant projects to %s''s own role, not to the firstsight roles or a superuser.',
			              CASE WHEN p_who ~ '^[aeiou]' THEN 'an ' ELSE 'a ' END || p_who);
	END IF;
	-- an agency login acts for its channel only (grant_channel); it never reads a whole project
	IF to_regrole('firstsight_agency') IS NOT NULL AND pg_has_role(r, 'firstsight_agency', 'MEMBER') THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('role "%s" is an agency portal login and cannot be granted a project', r),
			HINT = 'Give the agency''s people a login of their own for each job.';
	END IF;
	PERFORM 1 FROM project p WHERE p.project_id = p_project_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', coalesce(p_project_id::text, 'NULL'));
	END IF;
	-- the role name comes from the catalog, quoted as an identifier
	IF NOT EXISTS (SELECT 1 FROM pg_auth_members m
	               WHERE m.roleid = p_group::regrole AND m.member = r::regrole) THEN
		EXECUTE format('GRANT %I TO %I', p_group, r);
	END IF;
	INSERT INTO project_access (role_name, project_id) VALUES (r, p_project_id)
	ON CONFLICT DO NOTHING;
	RETURN FOUND;
END
$$;
REVOKE ALL ON FUNCTION grant_scoped(name, bigint, name, text) FROM PUBLIC;

-- let a role manage one project: it becomes a firstsight_manager that sees only its projects
CREATE OR REPLACE FUNCTION grant_project(role name, project_id bigint) RETURNS boolean
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT grant_scoped(grant_project.role, grant_project.project_id, 'firstsight_manager', 'manager') $$;
COMMENT ON FUNCTION grant_project(name, bigint) IS 'make a role a firstsight_manager of one more project (row-level security)';

-- let a role analyse one more project: it becomes a firstsight_analyst whose views show its projects
CREATE OR REPLACE FUNCTION grant_analyst(role name, project_id bigint) RETURNS boolean
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT grant_scoped(grant_analyst.role, grant_analyst.project_id, 'firstsight_analyst', 'analyst') $$;
COMMENT ON FUNCTION grant_analyst(name, bigint) IS
	'make a role a firstsight_analyst of one more project: the BI views show it the projects granted to it';

-- let a sales app's login work at one more project
CREATE OR REPLACE FUNCTION grant_sales_app(role name, project_id bigint) RETURNS boolean
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT grant_scoped(grant_sales_app.role, grant_sales_app.project_id, 'firstsight_sales_app', 'sales app') $$;
COMMENT ON FUNCTION grant_sales_app(name, bigint) IS
	'make a role a firstsight_sales_app of one more project: receive visitors, file reports, bind identities, record deals there';

-- stop a role managing, analysing or serving as sales app at a project
CREATE OR REPLACE FUNCTION revoke_project(role name, project_id bigint) RETURNS boolean
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	WITH d AS (DELETE FROM project_access a WHERE a.role_name = revoke_project.role AND a.project_id = revoke_project.project_id
	           RETURNING 1)
	SELECT EXISTS (SELECT 1 FROM d)
	$$;

-- create the roles and give each the least it needs; idempotent
CREATE OR REPLACE FUNCTION setup_roles() RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	SET client_min_messages = warning
	AS $$
DECLARE
	r text;
	t text;
	f regprocedure;
	scoped text[] := ARRAY['project', 'camera', 'consultant', 'channel', 'agent', 'person', 'visit', 'deal', 'attribution', 'change_log'];
	views text[] := ARRAY['daily_traffic', 'channel_share', 'conversion_funnel', 'flagged_deals', 'commission_ledger',
	                      'consultant_board', 'protection_expiring', 'project_settings',
	                      'group_traffic', 'group_channel_share', 'group_commissions', 'group_flagged_deals'];
BEGIN
	-- identifiers below are constants or come from the catalog; nothing from a caller
	FOREACH r IN ARRAY ARRAY['firstsight_camera', 'firstsight_analyst', 'firstsight_manager', 'firstsight_privacy_officer',
	                         'firstsight_sales_app', 'firstsight_agency'] LOOP
		IF to_regrole(r) IS NULL THEN
			EXECUTE format('CREATE ROLE %I NOLOGIN', r);
		END IF;
		EXECUTE format('GRANT USAGE ON SCHEMA firstsight TO %I', r);
	END LOOP;

	-- SECURITY DEFINER functions run as the owner: nobody calls them unless granted below
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
	         WHERE p.pronamespace = 'firstsight'::regnamespace AND p.prosecdef ORDER BY 1 LOOP
		EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
	REVOKE ALL ON hash_key FROM PUBLIC;

	-- camera: insert captures (camera-supplied columns only), read nothing back
	GRANT INSERT (project_id, camera_id, captured_at, face, quality, masked, photo) ON capture TO firstsight_camera;
	GRANT USAGE ON SEQUENCE capture_id_seq TO firstsight_camera;

	-- analyst: the BI views that are installed (no biometric columns)
	FOREACH t IN ARRAY views LOOP
		IF to_regclass('firstsight.' || t) IS NOT NULL THEN
			EXECUTE format('GRANT SELECT ON firstsight.%I TO firstsight_analyst', t);
		END IF;
	END LOOP;

	-- manager: non-biometric tables and capture columns, rows of their projects only
	FOREACH t IN ARRAY scoped LOOP
		IF to_regclass('firstsight.' || t) IS NOT NULL THEN
			EXECUTE format('GRANT SELECT ON firstsight.%I TO firstsight_manager', t);
			EXECUTE format('ALTER TABLE firstsight.%I ENABLE ROW LEVEL SECURITY', t);
			EXECUTE format('DROP POLICY IF EXISTS manager_projects ON firstsight.%I', t);
			EXECUTE format('CREATE POLICY manager_projects ON firstsight.%I FOR SELECT TO firstsight_manager
			                USING (firstsight.has_project_access(project_id))', t);
			EXECUTE format('DROP POLICY IF EXISTS privacy_officer_all ON firstsight.%I', t);
			EXECUTE format('CREATE POLICY privacy_officer_all ON firstsight.%I FOR SELECT TO firstsight_privacy_officer
			                USING (true)', t);
		END IF;
	END LOOP;
	GRANT SELECT (project_id, capture_id, camera_id, captured_at, quality, masked, person_id, visit_id,
	              match_distance, inserted_at, expires_at, photo_expires_at, erased_at,
	              match_kind, match_margin, match_low_confidence, match_reviewed_at) ON capture TO firstsight_manager;
	GRANT SELECT ON match_review TO firstsight_manager;
	GRANT EXECUTE ON FUNCTION confirm_matches(bigint, bigint[]) TO firstsight_manager;
	ALTER TABLE capture ENABLE ROW LEVEL SECURITY;
	DROP POLICY IF EXISTS manager_projects ON capture;
	CREATE POLICY manager_projects ON capture FOR SELECT TO firstsight_manager USING (has_project_access(project_id));
	DROP POLICY IF EXISTS camera_insert ON capture;
	CREATE POLICY camera_insert ON capture FOR INSERT TO firstsight_camera WITH CHECK (true);
	GRANT SELECT ON project_access TO firstsight_manager;
	ALTER TABLE project_access ENABLE ROW LEVEL SECURITY;
	DROP POLICY IF EXISTS own_grants ON project_access;
	-- a grant to a role dropped since stays in project_access: pg_has_role(name) would fail on it
	-- (and with it every manager's query through has_project_access), so roles are matched by oid
	-- (analysts and sales apps read theirs too: reads_project and has_project_access run as them)
	-- (to_regrole: NULL for a dropped role); no subquery, so that Citus can plan the policy
	CREATE POLICY own_grants ON project_access FOR SELECT TO firstsight_manager, firstsight_analyst, firstsight_sales_app
		USING (pg_has_role(to_regrole(quote_ident(role_name::text)), 'MEMBER'));
	GRANT EXECUTE ON FUNCTION photo(bigint, bigint, text) TO firstsight_manager;

	-- privacy officer: consent, erasure, retention, audit, and the audited reads
	GRANT EXECUTE ON FUNCTION record_consent(bigint, bigint, boolean, text, text, text), erase_person(bigint, bigint, text),
		enforce_retention(integer, timestamptz), retention_pace(integer, float8, integer, real, interval),
		set_retention(bigint, text, interval), scrub_biometrics(),
		photo(bigint, bigint, text), face_embedding(bigint, bigint, text) TO firstsight_privacy_officer;
	GRANT SELECT ON consent, erasure_log, retention_log, biometric_access_log, retention_policy, project_access,
		project, person TO firstsight_privacy_officer;
	DROP POLICY IF EXISTS privacy_officer_all ON project_access;
	CREATE POLICY privacy_officer_all ON project_access FOR SELECT TO firstsight_privacy_officer USING (true);
	GRANT SELECT (project_id, capture_id, camera_id, captured_at, person_id, visit_id, inserted_at, expires_at,
	              photo_expires_at, erased_at) ON capture TO firstsight_privacy_officer;
	DROP POLICY IF EXISTS privacy_officer_all ON capture;
	CREATE POLICY privacy_officer_all ON capture FOR SELECT TO firstsight_privacy_officer USING (true);
	IF to_regclass('firstsight.compliance') IS NOT NULL THEN
		GRANT SELECT ON compliance TO firstsight_privacy_officer;
	END IF;
	-- cameras limited to their projects, capture_log, attribution_evidence (issue 14)
	IF to_regprocedure('firstsight.setup_roles_hardening()') IS NOT NULL THEN
		PERFORM setup_roles_hardening();
	END IF;
	-- sales app, agency portal, per-project managers and analysts (issue 16)
	IF to_regprocedure('firstsight.setup_roles_users()') IS NOT NULL THEN
		PERFORM setup_roles_users();
	END IF;

	-- issue 16: door, worklist, report (src/sql/code/440_door_review.sql); the
	-- functions check the caller's project grants themselves, the view reads_project
	GRANT EXECUTE ON FUNCTION door_lookup(bigint, bigint, bigint, timestamptz), daily_worklist(bigint, date) TO firstsight_manager;
	GRANT EXECUTE ON FUNCTION daily_worklist(bigint, date) TO firstsight_analyst;
	GRANT SELECT ON attribution_report TO firstsight_manager, firstsight_analyst;
	IF to_regrole('firstsight_sales_app') IS NOT NULL THEN
		GRANT EXECUTE ON FUNCTION door_lookup(bigint, bigint, bigint, timestamptz) TO firstsight_sales_app;
	END IF;

	-- issue 16: route, parties, referrals, privacy officer
	-- (the views keep a manager to their projects themselves: reads_project)
	GRANT SELECT ON visit_route, zone_funnel, referral_rewards, group_dashboard
		TO firstsight_analyst, firstsight_manager, firstsight_privacy_officer;
	GRANT EXECUTE ON FUNCTION suggest_cobuyers(bigint, bigint) TO firstsight_manager;
	GRANT EXECUTE ON FUNCTION find_subject(text, text, text), export_subject(bigint, bigint, text)
		TO firstsight_privacy_officer;
	GRANT SELECT ON subject_request_log TO firstsight_privacy_officer;

	-- issue 20: central ingestion (src/sql/code/615_central_ingest.sql); the
	-- function checks the login role's capture grants and camera projects
	-- itself (names schema-qualified: on Citus the grant is sent to the workers as written)
	GRANT EXECUTE ON FUNCTION firstsight.ingest_capture(bigint, text, timestamptz, firstsight.embedding, real, boolean, bytea)
		TO firstsight_camera;
END
$$;
COMMENT ON FUNCTION setup_roles() IS 'create firstsight_camera, firstsight_analyst, firstsight_manager, firstsight_privacy_officer, firstsight_sales_app and firstsight_agency with least privilege; idempotent';
REVOKE EXECUTE ON FUNCTION setup_roles(), grant_project(name, bigint), revoke_project(name, bigint),
	grant_analyst(name, bigint), grant_sales_app(name, bigint) FROM PUBLIC;
