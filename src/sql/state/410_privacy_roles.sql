-- Least privilege (issue 6): four NOLOGIN roles, row-level security for
-- project managers, and audited functions as the only way to read photos and
-- embeddings.  setup_roles() is idempotent: run it again after upgrades so
-- new views and functions get their grants.

-- which roles manage which projects (firstsight.grant_project)
CREATE TABLE project_access (
	role_name name NOT NULL,
	project_id bigint NOT NULL REFERENCES project ON DELETE CASCADE,
	granted_at timestamptz NOT NULL DEFAULT statement_timestamp(),
	granted_by name NOT NULL DEFAULT session_user,
	PRIMARY KEY (project_id, role_name)
);
SELECT pg_catalog.pg_extension_config_dump('project_access', '');

-- every read of a photo or embedding: who, when, which person, why; no biometric content
CREATE SEQUENCE biometric_access_id_seq;
CREATE TABLE biometric_access_log (
	access_id bigint NOT NULL DEFAULT nextval('biometric_access_id_seq'),
	accessed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	accessed_by name NOT NULL DEFAULT session_user,
	project_id bigint NOT NULL,
	capture_id bigint NOT NULL,
	person_id bigint,
	what text NOT NULL CHECK (what IN ('photo', 'embedding')),
	purpose text NOT NULL,
	returned boolean NOT NULL,
	PRIMARY KEY (project_id, access_id)	-- unique across a group's offices (docs/scale-out.md)
);
CREATE INDEX biometric_access_log_person ON biometric_access_log (project_id, person_id, accessed_at);
SELECT pg_catalog.pg_extension_config_dump('biometric_access_log', '');
SELECT pg_catalog.pg_extension_config_dump('biometric_access_id_seq', '');

-- Row-level security is on from the install, not only once setup_roles()
-- has run: the switch of an extension's table is not in a dump, so a restore
-- would otherwise bring back the policies setup_roles() made (they are
-- dumped) without the switch that makes them apply.  Until setup_roles()
-- grants anything only the owner reads these tables, and the owner is not
-- subject to the policies.  (capture has none: cameras COPY into it, and
-- COPY FROM refuses a table with row-level security.)
ALTER TABLE project ENABLE ROW LEVEL SECURITY;
ALTER TABLE camera ENABLE ROW LEVEL SECURITY;
ALTER TABLE consultant ENABLE ROW LEVEL SECURITY;
ALTER TABLE channel ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent ENABLE ROW LEVEL SECURITY;
ALTER TABLE person ENABLE ROW LEVEL SECURITY;
ALTER TABLE visit ENABLE ROW LEVEL SECURITY;
ALTER TABLE deal ENABLE ROW LEVEL SECURITY;
ALTER TABLE attribution ENABLE ROW LEVEL SECURITY;
ALTER TABLE change_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_access ENABLE ROW LEVEL SECURITY;
