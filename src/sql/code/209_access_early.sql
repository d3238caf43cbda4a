-- Per-project access (issue 16), early: the analyst and manager views of
-- 210, 320 and 600 filter their rows with reads_project(), and the functions
-- the sales app and managers call check with require_project()
-- (410_privacy_roles.sql).  role_reads_project is PL/pgSQL: project_access
-- is made by state 410, after these views.

-- the role a SECURITY DEFINER function acts for: the role set by SET ROLE,
-- else the session's login (current_user is the function's owner there)
CREATE OR REPLACE FUNCTION acting_role() RETURNS name
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT CASE WHEN current_setting('role') = 'none' THEN session_user ELSE current_setting('role')::name END
	$$;
COMMENT ON FUNCTION acting_role() IS
	'the role a SECURITY DEFINER function acts for (SET ROLE''s, else the login); per-project checks use it';

-- is a role granted a project: a member of a role project_access names for it
-- (grant_project, grant_analyst, grant_sales_app).  Roles by to_regrole, not
-- by a join with pg_roles: a grant to a role dropped since matches nobody, and
-- on Citus the check runs next to the shards (see has_project_access).
CREATE OR REPLACE FUNCTION role_granted_project(p_role name, p_project_id bigint) RETURNS boolean
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	SET citus.allow_nested_distributed_execution = on
	AS $$
	SELECT EXISTS (SELECT 1 FROM project_access a
	               WHERE a.project_id = p_project_id
	                 AND pg_has_role(p_role, to_regrole(quote_ident(a.role_name::text)), 'MEMBER'))
	$$;
COMMENT ON FUNCTION role_granted_project(name, bigint) IS
	'true when a role is a member of a role granted the project in project_access';

-- does a role read a project's rows: every project, unless it is a member of
-- a role scoped per project (manager, analyst, sales app, agency portal), then
-- the projects granted to it; a superuser and a privacy officer read all
CREATE OR REPLACE FUNCTION role_reads_project(p_role name, p_project_id bigint) RETURNS boolean
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	SET citus.allow_nested_distributed_execution = on
	AS $$
BEGIN
	-- (roles by to_regrole, not pg_roles, and the Citus setting: on Citus the
	-- views' filter runs next to the shards, see has_project_access)
	RETURN coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = p_role), false)
	    OR NOT EXISTS (SELECT 1 FROM unnest(ARRAY['firstsight_manager', 'firstsight_analyst', 'firstsight_sales_app', 'firstsight_agency']) g
	                   WHERE to_regrole(g) IS NOT NULL AND pg_has_role(p_role, to_regrole(g), 'MEMBER'))
	    OR (to_regrole('firstsight_privacy_officer') IS NOT NULL
	        AND pg_has_role(p_role, to_regrole('firstsight_privacy_officer'), 'MEMBER'))
	    OR role_granted_project(p_role, p_project_id);
END
$$;
COMMENT ON FUNCTION role_reads_project(name, bigint) IS
	'true when a role may read and act on a project: granted it (grant_project, grant_analyst, grant_sales_app), or not scoped per project';

-- does the current role see a project's rows in the views below: every
-- project, unless it is scoped per project (manager, analyst, sales app,
-- agency portal: then the projects granted to it); a privacy officer, a
-- superuser and the owner see all (role_reads_project)
CREATE OR REPLACE FUNCTION reads_project(p_project_id bigint) RETURNS boolean
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT role_reads_project(current_user, p_project_id) $$;
COMMENT ON FUNCTION reads_project(bigint) IS
	'true when the current role may read the project''s rows in the views (managers, analysts, sales apps: their projects)';

-- is a role a superuser (false when no such role), from the role cache
-- (src/domain/ingest.c): the camera-project check runs in every camera
-- INSERT, and pg_roles there locked pg_authid and pg_db_role_setting in
-- every capture's transaction (issue 21)
CREATE OR REPLACE FUNCTION role_is_superuser(p_role name) RETURNS boolean
	AS 'MODULE_PATHNAME', 'fs_role_is_superuser' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_is_superuser(name) IS
	'true when the role exists and is a superuser (read from the role cache, no catalog table locked)';
