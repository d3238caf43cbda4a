-- Which projects each camera role may insert captures into (issue 14 item 9):
-- firstsight.grant_camera.  A member of firstsight_camera inserts only into
-- the projects granted to it or to a role it belongs to.
CREATE TABLE camera_access (
	role_name name NOT NULL,
	project_id bigint NOT NULL REFERENCES project ON DELETE CASCADE,
	granted_at timestamptz NOT NULL DEFAULT statement_timestamp(),
	granted_by name NOT NULL DEFAULT session_user,
	PRIMARY KEY (role_name, project_id)
);
SELECT pg_catalog.pg_extension_config_dump('camera_access', '');

-- The one channel each agency-portal login acts for (issue 16):
-- firstsight.grant_channel.  An agency login files reports for this channel
-- and reads its own reports and customers, nothing else.
CREATE TABLE channel_access (
	role_name name NOT NULL PRIMARY KEY,
	project_id bigint NOT NULL,
	channel_id bigint NOT NULL,
	granted_at timestamptz NOT NULL DEFAULT statement_timestamp(),
	granted_by name NOT NULL DEFAULT session_user,
	FOREIGN KEY (project_id, channel_id) REFERENCES channel ON DELETE CASCADE
);
SELECT pg_catalog.pg_extension_config_dump('channel_access', '');
