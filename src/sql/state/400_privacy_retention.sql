-- Privacy by design (issue 6): retention, consent and erasure.
-- Every biometric row (capture.face, capture.photo, face.face) carries an
-- expiry kept current by triggers from the project's retention policy and the
-- person's category and consent.  Erasure nulls the embedding and photo of a
-- capture (the capture row itself, its camera, time, person and visit stay, so
-- visits, deals, attribution and the BI views keep their numbers) and deletes
-- gallery rows, and with them their index entries at the next VACUUM.
-- No table here holds biometric data; logs name persons by id only.

ALTER TABLE capture ADD COLUMN photo_expires_at timestamptz;
ALTER TABLE capture ADD COLUMN erased_at timestamptz;
CREATE INDEX capture_expires ON capture (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX capture_photo_expires ON capture (photo_expires_at) WHERE photo_expires_at IS NOT NULL;
-- no index on face.expires_at: re-dating a gallery row stays a HOT update, not a new HNSW index entry

ALTER TABLE person ADD COLUMN consent_given boolean;
ALTER TABLE person ADD COLUMN consent_scope text;
ALTER TABLE person ADD COLUMN consent_at timestamptz;
-- the retention clock: a person's biometric rows expire counted from the end
-- of the local day of last_seen, so a capture later on the same day moves no
-- expiry; the person's rows are re-dated only when this day end moves
ALTER TABLE person ADD COLUMN retention_day_end timestamptz;

INSERT INTO setting_definition VALUES
	('photo_retention', 'interval', '24 hours', NULL, NULL,
	 'photos are erased this long after capture unless the person''s consent covers photos');

-- retention per project and category; a row per default category is made with each project
CREATE TABLE retention_policy (
	project_id bigint NOT NULL REFERENCES project ON DELETE CASCADE,
	category text NOT NULL CHECK (category ~ '^[a-z_]{1,40}$'),
	keep interval NOT NULL CHECK (keep > interval '0'),
	PRIMARY KEY (project_id, category)
);
SELECT pg_catalog.pg_extension_config_dump('retention_policy', '');

CREATE TABLE retention_default (
	category text PRIMARY KEY,
	keep interval NOT NULL
);
INSERT INTO retention_default VALUES ('visitor', '30 days'), ('consented', '90 days'), ('buyer', '180 days');

-- processing record: every consent given or withdrawn
CREATE SEQUENCE consent_id_seq;
CREATE TABLE consent (
	project_id bigint NOT NULL,
	consent_id bigint NOT NULL DEFAULT nextval('consent_id_seq'),
	person_id bigint NOT NULL,
	given boolean NOT NULL,
	method text NOT NULL,
	scope text NOT NULL,
	evidence text,
	recorded_at timestamptz NOT NULL DEFAULT statement_timestamp(),
	recorded_by name NOT NULL DEFAULT session_user,
	PRIMARY KEY (project_id, consent_id)
);
CREATE INDEX consent_person ON consent (project_id, person_id, recorded_at);
SELECT pg_catalog.pg_extension_config_dump('consent', '');
SELECT pg_catalog.pg_extension_config_dump('consent_id_seq', '');

-- erasure record: what was erased for whom and why; never biometric content
CREATE SEQUENCE erasure_id_seq;
CREATE TABLE erasure_log (
	erasure_id bigint NOT NULL DEFAULT nextval('erasure_id_seq'),
	project_id bigint NOT NULL,
	person_id bigint NOT NULL,
	kind text NOT NULL CHECK (kind IN ('request', 'consent_withdrawn')),
	reason text NOT NULL,
	requested_by name NOT NULL DEFAULT session_user,
	requested_at timestamptz NOT NULL,
	completed_at timestamptz NOT NULL,
	captures_erased integer NOT NULL,
	photos_erased integer NOT NULL,
	faces_erased integer NOT NULL,
	PRIMARY KEY (project_id, erasure_id)	-- unique across a group's offices (docs/scale-out.md)
);
CREATE INDEX erasure_log_project ON erasure_log (project_id, requested_at);
SELECT pg_catalog.pg_extension_config_dump('erasure_log', '');
SELECT pg_catalog.pg_extension_config_dump('erasure_id_seq', '');

-- one row per enforce_retention call that erased something
CREATE SEQUENCE retention_run_id_seq;
CREATE TABLE retention_log (
	run_id bigint NOT NULL DEFAULT nextval('retention_run_id_seq') PRIMARY KEY,
	started_at timestamptz NOT NULL,
	finished_at timestamptz NOT NULL,
	as_of timestamptz NOT NULL,
	captures_erased bigint NOT NULL,
	photos_erased bigint NOT NULL,
	faces_erased bigint NOT NULL,
	by_project jsonb NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('retention_log', '');
SELECT pg_catalog.pg_extension_config_dump('retention_run_id_seq', '');

-- how one person's biometric rows expire
CREATE TYPE retention_terms AS (
	end_of_day boolean,		-- consent mode and no consent: each row at the end of its day
	time_zone text,
	until timestamptz,		-- otherwise every row at this time
	photo_keep interval,	-- photos at most this long after capture ...
	photo_consent boolean	-- ... unless consent covers photos
);
