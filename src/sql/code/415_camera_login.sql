-- A camera's login role, prepared so that its rejected statements leave no
-- face in the server log (issue 14 #3).  PostgreSQL logs the text of a
-- statement that fails (log_min_error_statement, default error), the
-- DETAIL and CONTEXT of an error (a COPY's CONTEXT quotes the rejected
-- line's column) and every statement under log_statement or
-- log_min_duration_statement: for a camera, all of them carry embeddings.
-- Role settings apply at login and are not inherited from the group role,
-- so setup_roles cannot do this for firstsight_camera: it is done per login
-- role here.  The settings are superuser-only parameters: the caller needs
-- the right to set them (a superuser, or GRANT SET ON PARAMETER).
CREATE OR REPLACE FUNCTION prepare_camera_login(camera_role name) RETURNS text
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	r record;
	s text;
	granted boolean := false;
BEGIN
	SELECT rolname, rolcanlogin, rolsuper INTO r FROM pg_roles WHERE rolname = camera_role;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = format('role %s does not exist', quote_ident(camera_role)),
			HINT = 'Create the camera''s login role first: CREATE ROLE ... LOGIN.';
	END IF;
	IF NOT r.rolcanlogin THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('role %s cannot log in', quote_ident(camera_role)),
			DETAIL = 'Logging settings of a role apply when it logs in; members do not inherit them.',
			HINT = 'Prepare each camera''s login role, not a group role.';
	END IF;
	IF r.rolsuper THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('role %s is a superuser', quote_ident(camera_role)),
			DETAIL = 'A superuser can change its own logging settings in any session.',
			HINT = 'Give each camera an ordinary login role.';
	END IF;
	FOREACH s IN ARRAY ARRAY['log_min_error_statement = panic', 'log_error_verbosity = terse',
	                         'log_statement = none', 'log_min_duration_statement = -1',
	                         'log_min_duration_sample = -1', 'log_parameter_max_length_on_error = 0',
	                         'log_parameter_max_length = 0'] LOOP
		EXECUTE format('ALTER ROLE %I SET %s', camera_role, s);
	END LOOP;
	IF to_regrole('firstsight_camera') IS NOT NULL
	   AND NOT pg_has_role(camera_role, 'firstsight_camera', 'MEMBER') THEN
		EXECUTE format('GRANT firstsight_camera TO %I', camera_role);
		granted := true;
	END IF;
	RETURN format('%s: failed statements, error details and contexts are not logged%s', quote_ident(camera_role),
	              CASE WHEN granted THEN '; member of firstsight_camera now' ELSE '' END);
END
$$;
COMMENT ON FUNCTION prepare_camera_login(name) IS
	'set a camera login role''s logging so its rejected statements leave no face in the server log; make it a member of firstsight_camera';
REVOKE ALL ON FUNCTION prepare_camera_login(name) FROM PUBLIC;
