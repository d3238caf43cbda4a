-- Access hardening (issue 14 items 7 and 9), applied by setup_roles():
-- * cameras insert (INSERT and COPY) only into the projects granted to them
--   (grant_camera), checked by a statement trigger as the inserting role; capture
--   has no row-level security (COPY FROM refuses tables with it), so managers and
--   privacy officers read captures through capture_log, which keeps a manager to
--   the projects granted to them;
-- * managers read attribution evidence through attribution_evidence, which
--   redacts other projects' person ids (seen_elsewhere) from what they read;
-- * the analyst-facing views are security barriers: a cheap function in a
--   reader's WHERE sees only the rows the view returns.

COMMENT ON TABLE camera_access IS 'the projects each camera role may insert captures into (firstsight.grant_camera)';

-- let a camera role insert captures into one more project
CREATE OR REPLACE FUNCTION grant_camera(role name, project_id bigint) RETURNS boolean
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	r name;
BEGIN
	r := grant_role_checked(grant_camera.role, 'firstsight_camera', 'camera');
	IF r IN ('firstsight_analyst', 'firstsight_privacy_officer', 'firstsight_manager', 'firstsight_worker')
	   OR (SELECT rolsuper FROM pg_roles WHERE rolname = r) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('role "%s" cannot be a camera', r),
			HINT = 'Grant projects to a camera''s own login role (or to firstsight_camera for every camera).';
	END IF;
	PERFORM 1 FROM project p WHERE p.project_id = grant_camera.project_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', coalesce(grant_camera.project_id::text, 'NULL'));
	END IF;
	-- the role name comes from the catalog, quoted as an identifier
	IF r <> 'firstsight_camera' AND NOT EXISTS (SELECT 1 FROM pg_auth_members m
	               WHERE m.roleid = 'firstsight_camera'::regrole AND m.member = r::regrole) THEN
		EXECUTE format('GRANT firstsight_camera TO %I', r);
	END IF;
	INSERT INTO camera_access (role_name, project_id) VALUES (r, grant_camera.project_id)
	ON CONFLICT DO NOTHING;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION grant_camera(name, bigint) IS
	'let a camera role insert captures into one more project (it becomes a member of firstsight_camera); firstsight_camera itself: every camera';

-- stop a camera role inserting into a project
CREATE OR REPLACE FUNCTION revoke_camera(role name, project_id bigint) RETURNS boolean
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	WITH d AS (DELETE FROM camera_access a WHERE a.role_name = revoke_camera.role AND a.project_id = revoke_camera.project_id
	           RETURNING 1)
	SELECT EXISTS (SELECT 1 FROM d)
	$$;
REVOKE ALL ON FUNCTION grant_camera(name, bigint), revoke_camera(name, bigint) FROM PUBLIC;

-- the first of some projects a role may not insert captures into (NULL: all granted)
CREATE OR REPLACE FUNCTION camera_project_refused(p_role name, p_projects bigint[]) RETURNS bigint
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT min(p.id) FROM unnest(p_projects) p(id)
	-- (roles by to_regrole, not pg_roles: no catalog table locked per capture;
	-- a grant to a role dropped since matches nobody)
	WHERE NOT EXISTS (SELECT 1 FROM camera_access a
	                  WHERE a.project_id = p.id
	                    AND pg_has_role(p_role, to_regrole(quote_ident(a.role_name::text)), 'MEMBER'))
	$$;
REVOKE ALL ON FUNCTION camera_project_refused(name, bigint[]) FROM PUBLIC;

-- refuse, for a role that is a camera (a member of firstsight_camera, not a
-- superuser), a project among p_projects not granted to it; roles that are
-- not cameras (the owner, a restore) are not limited here.  The capture
-- trigger below and ingest_capture (615_central_ingest.sql) both check so.
-- Executable by every role (the trigger runs as whoever inserts); for a
-- camera it calls camera_project_refused, which only cameras may run.
CREATE OR REPLACE FUNCTION require_camera_projects(p_role name, p_projects bigint[]) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	refused bigint;
BEGIN
	-- (role_is_superuser, not pg_roles: no catalog table locked per capture)
	IF to_regrole('firstsight_camera') IS NULL
	   OR role_is_superuser(p_role)
	   OR NOT pg_has_role(p_role, 'firstsight_camera', 'MEMBER') THEN
		RETURN;
	END IF;
	refused := camera_project_refused(p_role, p_projects);
	IF refused IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = format('camera role "%s" may not insert captures into project %s', p_role, refused),
			DETAIL = 'Nothing from this statement was stored.',
			HINT = 'The owner grants a camera its projects with firstsight.grant_camera(role, project_id).';
	END IF;
END
$$;

-- refuse a camera's statement that inserts into a project not granted to it.
-- Runs as the inserting role (not SECURITY DEFINER: it must know who inserts).
CREATE OR REPLACE FUNCTION capture_camera_check() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM require_camera_projects(current_user, ARRAY(SELECT DISTINCT n.project_id FROM camera_rows n));
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER capture_camera_projects AFTER INSERT ON capture
	REFERENCING NEW TABLE AS camera_rows
	FOR EACH STATEMENT EXECUTE FUNCTION capture_camera_check();

-- captures without biometric columns, for managers (their projects) and privacy officers
CREATE OR REPLACE VIEW capture_log WITH (security_barrier = true) AS
	SELECT c.project_id, c.capture_id, c.camera_id, c.captured_at, c.quality, c.masked, c.person_id, c.visit_id,
	       c.match_distance, c.inserted_at, c.expires_at, c.photo_expires_at, c.erased_at
	FROM capture c
	WHERE reads_project(c.project_id);
COMMENT ON VIEW capture_log IS
	'captures without face or photo; a manager sees the projects granted to them (capture has no row-level security so that cameras can COPY)';

-- low-confidence matches not yet reviewed (issue 18); no biometric column.  Not
-- security_invoker: capture has no row-level security (cameras COPY into it), so
-- the view reads it as its owner and keeps a manager to their projects itself
CREATE OR REPLACE VIEW match_review WITH (security_invoker = false, security_barrier = true) AS
	SELECT c.project_id, c.capture_id, c.person_id, c.visit_id, c.camera_id, c.captured_at, c.masked,
	       c.match_kind, c.match_distance, c.match_distance + c.match_margin AS threshold, c.match_margin
	FROM capture c
	WHERE c.match_low_confidence AND c.match_reviewed_at IS NULL AND reads_project(c.project_id);
COMMENT ON VIEW match_review IS
	'matches of low confidence awaiting review (close to their threshold, or to a masked-only person): confirm with firstsight.confirm_matches, undo with firstsight.split_person';
COMMENT ON COLUMN match_review.match_kind IS 'the kind of pair the match rests on: unmasked, masked_unmasked or masked_masked';
COMMENT ON COLUMN match_review.match_margin IS 'threshold minus distance: how far inside its threshold the match was (negative: a batch mate joined through another)';

-- an attribution's evidence as the current role may read it: persons of
-- projects it does not read (seen_elsewhere) keep their project and how they
-- were found, their person id is NULL and redacted true
CREATE OR REPLACE FUNCTION evidence_for_reader(p_evidence jsonb) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT CASE WHEN jsonb_typeof(p_evidence->'seen_elsewhere') IS DISTINCT FROM 'array'
	              OR jsonb_array_length(p_evidence->'seen_elsewhere') = 0 THEN p_evidence
	            ELSE jsonb_set(p_evidence, '{seen_elsewhere}',
	                 (SELECT coalesce(jsonb_agg(CASE WHEN reads_project((e->>'project_id')::bigint) THEN e
	                                                 ELSE e || '{"person_id": null, "redacted": true}' END ORDER BY o), '[]')
	                  FROM jsonb_array_elements(p_evidence->'seen_elsewhere') WITH ORDINALITY x(e, o))) END
	$$;
COMMENT ON FUNCTION evidence_for_reader(jsonb) IS
	'attribution evidence with the person ids of projects the current role does not read removed (stored in full, redacted on read)';

CREATE OR REPLACE VIEW attribution_evidence WITH (security_barrier = true) AS
	SELECT a.project_id, a.deal_id, a.version, a.is_current, evidence_for_reader(a.evidence) AS evidence
	FROM attribution a
	WHERE reads_project(a.project_id);
COMMENT ON VIEW attribution_evidence IS
	'attribution evidence as the reader may see it: a manager''s projects only, other projects'' person ids redacted';

-- analyst-facing views: security barriers (a reader's function in WHERE runs
-- only on the rows the view returns)
ALTER VIEW daily_traffic SET (security_barrier = true);
ALTER VIEW channel_share SET (security_barrier = true);
ALTER VIEW conversion_funnel SET (security_barrier = true);
ALTER VIEW flagged_deals SET (security_barrier = true);
ALTER VIEW commission_ledger SET (security_barrier = true);
ALTER VIEW consultant_board SET (security_barrier = true);
ALTER VIEW protection_expiring SET (security_barrier = true);
ALTER VIEW project_settings SET (security_barrier = true);
ALTER VIEW compliance SET (security_barrier = true);

-- the access rules above, and the worker's role, for setup_roles (run by it; idempotent)
CREATE OR REPLACE FUNCTION setup_roles_hardening() RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	SET client_min_messages = warning
	AS $$
BEGIN
	-- cameras: COPY works (no row-level security on capture); projects checked by capture_camera_projects
	DROP POLICY IF EXISTS camera_insert ON capture;
	DROP POLICY IF EXISTS manager_projects ON capture;
	DROP POLICY IF EXISTS privacy_officer_all ON capture;
	ALTER TABLE capture DISABLE ROW LEVEL SECURITY;
	GRANT EXECUTE ON FUNCTION camera_project_refused(name, bigint[]) TO firstsight_camera;
	-- managers and privacy officers read captures through capture_log
	REVOKE SELECT ON capture FROM firstsight_manager, firstsight_privacy_officer;
	GRANT SELECT ON capture_log TO firstsight_manager, firstsight_privacy_officer;
	-- managers read evidence through attribution_evidence
	REVOKE SELECT ON attribution FROM firstsight_manager;
	GRANT SELECT (project_id, deal_id, version, entitled_channel_id, entitled_agent_id, entitled_consultant_id,
	              commission, rule, flags, decided_at, signed_at, first_visit_at, cycle_days, is_current, reason)
		ON attribution TO firstsight_manager;
	GRANT SELECT ON attribution_evidence TO firstsight_manager, firstsight_privacy_officer;
	-- the background worker, when firstsight.worker_role names a login role granted this one
	IF to_regrole('firstsight_worker') IS NULL THEN
		CREATE ROLE firstsight_worker NOLOGIN;
	END IF;
	GRANT USAGE ON SCHEMA firstsight TO firstsight_worker;
	GRANT SELECT ON webhook, outbox TO firstsight_worker;
	GRANT SELECT, UPDATE ON outbox_delivery TO firstsight_worker;
	GRANT EXECUTE ON FUNCTION enforce_retention(integer, timestamptz),
		retention_pace(integer, float8, integer, real, interval) TO firstsight_worker;
	-- BI rollups (issue 21): the worker folds the counters' deltas
	GRANT EXECUTE ON FUNCTION rollup_fold() TO firstsight_worker;
END
$$;
REVOKE ALL ON FUNCTION setup_roles_hardening() FROM PUBLIC;
