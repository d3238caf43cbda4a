-- The login the dashboard reads as: an analyst of every project, which sees
-- the analyst views only (no table, nothing biometric).  Run by the owner
-- after CREATE EXTENSION: psql -f dashboard/login.sql
SELECT firstsight.setup_roles();
DO $$
BEGIN
	IF to_regrole('dashboard') IS NULL THEN
		CREATE ROLE dashboard LOGIN;
	END IF;
	-- per-project analysts (issue 16) where grant_analyst exists, else the analyst role
	IF to_regprocedure('firstsight.grant_analyst(name,bigint)') IS NOT NULL THEN
		PERFORM firstsight.grant_analyst('dashboard', p.project_id) FROM firstsight.project p;
	ELSE
		GRANT firstsight_analyst TO dashboard;
	END IF;
END
$$;
