-- The sales-office model: projects, cameras, people and visits.
-- Every table leads its primary key with project_id (the Citus distribution
-- column and the gallery partition key).  Biometric data (embeddings and
-- photos) lives only in capture and face; expires_at on those rows is kept by
-- the privacy layer.  Captures carry no CHECK or NOT NULL constraints on their
-- camera-supplied columns on purpose: a violated constraint prints the failing
-- row, face included, in its error detail; the ingestion trigger validates
-- instead, with messages that show no biometric data.

CREATE SEQUENCE project_id_seq;
CREATE SEQUENCE channel_id_seq;
CREATE SEQUENCE consultant_id_seq;
CREATE SEQUENCE agent_id_seq;
CREATE SEQUENCE capture_id_seq;
CREATE SEQUENCE person_id_seq;
CREATE SEQUENCE face_id_seq;
CREATE SEQUENCE visit_id_seq;
CREATE SEQUENCE identity_id_seq;
CREATE SEQUENCE report_id_seq;
CREATE SEQUENCE deal_id_seq;

CREATE TABLE project (
	project_id bigint NOT NULL DEFAULT nextval('project_id_seq'),
	name text NOT NULL,
	time_zone text NOT NULL DEFAULT 'Asia/Shanghai',
	dims integer NOT NULL CHECK (dims BETWEEN 1 AND 16000),
	group_name text,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (project_id)
);

CREATE TABLE camera (
	project_id bigint NOT NULL REFERENCES project,
	camera_id text NOT NULL,
	zone text NOT NULL DEFAULT 'other'
		CHECK (zone IN ('entrance', 'sign_in', 'sand_table', 'model_room', 'other')),
	name text,
	active boolean NOT NULL DEFAULT true,
	PRIMARY KEY (project_id, camera_id)
);

CREATE TABLE consultant (
	project_id bigint NOT NULL REFERENCES project,
	consultant_id bigint NOT NULL DEFAULT nextval('consultant_id_seq'),
	name text NOT NULL,
	active boolean NOT NULL DEFAULT true,
	PRIMARY KEY (project_id, consultant_id)
);

CREATE TABLE channel (
	project_id bigint NOT NULL REFERENCES project,
	channel_id bigint NOT NULL DEFAULT nextval('channel_id_seq'),
	kind text NOT NULL CHECK (kind IN ('natural', 'agency', 'platform', 'referral', 'staff')),
	name text NOT NULL,
	commission_rate numeric NOT NULL DEFAULT 0 CHECK (commission_rate >= 0 AND commission_rate < 1),
	protection_days integer NOT NULL DEFAULT 90 CHECK (protection_days >= 0),
	PRIMARY KEY (project_id, channel_id)
);
CREATE UNIQUE INDEX channel_one_natural ON channel (project_id) WHERE kind = 'natural';

CREATE TABLE agent (
	project_id bigint NOT NULL,
	agent_id bigint NOT NULL DEFAULT nextval('agent_id_seq'),
	channel_id bigint NOT NULL,
	name text NOT NULL,
	active boolean NOT NULL DEFAULT true,
	PRIMARY KEY (project_id, agent_id),
	FOREIGN KEY (project_id, channel_id) REFERENCES channel
);

-- A face identity within a project.  category and consent are the privacy
-- layer's; merged_into points at the person this one was merged into.
CREATE TABLE person (
	project_id bigint NOT NULL,
	person_id bigint NOT NULL DEFAULT nextval('person_id_seq'),
	first_seen timestamptz NOT NULL,
	last_seen timestamptz NOT NULL,
	visits integer NOT NULL DEFAULT 0,
	captures integer NOT NULL DEFAULT 0,
	category text NOT NULL DEFAULT 'visitor',
	merged_into bigint,
	merged_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (project_id, person_id)
);
CREATE INDEX person_merged_into ON person (project_id, merged_into) WHERE merged_into IS NOT NULL;

-- What cameras insert.  person_id, visit_id and match_distance are filled by
-- the ingestion trigger in the same statement.
CREATE TABLE capture (
	project_id bigint,
	capture_id bigint NOT NULL DEFAULT nextval('capture_id_seq'),
	camera_id text,
	captured_at timestamptz,
	face embedding,
	quality real,
	masked boolean DEFAULT false,
	photo bytea,
	person_id bigint,
	visit_id bigint,
	match_distance float8,
	inserted_at timestamptz NOT NULL DEFAULT statement_timestamp(),
	expires_at timestamptz,
	PRIMARY KEY (project_id, capture_id)
);
ALTER TABLE capture ALTER COLUMN photo SET STORAGE external;
CREATE INDEX capture_person ON capture (project_id, person_id, captured_at);
CREATE INDEX capture_visit ON capture (project_id, visit_id);

-- The gallery: a few exemplars per person, matched against by new captures.
-- One partition per project (made by create_project), each with its own HNSW
-- index over face::embedding(dims) when embedding_hnsw is installed, and its
-- own keys (project_id, face_id) and (project_id, person_id, kind): keys on
-- this extension-owned parent would be copied onto every partition pg_restore
-- attaches, and the dump's own keys of the partition would then fail.
CREATE TABLE face (
	project_id bigint NOT NULL,
	face_id bigint NOT NULL DEFAULT nextval('face_id_seq'),
	person_id bigint NOT NULL,
	kind text NOT NULL CHECK (kind IN ('unmasked', 'masked', 'recent')),
	capture_id bigint NOT NULL,
	captured_at timestamptz NOT NULL,
	quality real NOT NULL,
	masked boolean NOT NULL,
	face embedding NOT NULL,
	expires_at timestamptz
) PARTITION BY LIST (project_id);

-- Captures of one person less than the project's visit_gap apart.  The
-- attribution layer fills consultant_id / agent_id (firstsight.receive).
CREATE TABLE visit (
	project_id bigint NOT NULL,
	visit_id bigint NOT NULL DEFAULT nextval('visit_id_seq'),
	person_id bigint NOT NULL,
	started_at timestamptz NOT NULL,
	ended_at timestamptz NOT NULL,
	captures integer NOT NULL DEFAULT 0,
	first_camera_id text,
	first_capture_id bigint,
	seen_before boolean NOT NULL DEFAULT false,
	previous_visit_id bigint,
	previous_visit_at timestamptz,
	consultant_id bigint,
	agent_id bigint,
	received_at timestamptz,
	PRIMARY KEY (project_id, visit_id)
);
CREATE INDEX visit_person ON visit (project_id, person_id, started_at);
CREATE INDEX visit_started ON visit (project_id, started_at);

-- Identity binding at subscription: keyed hashes only, never raw numbers.
CREATE TABLE identity (
	project_id bigint NOT NULL,
	identity_id bigint NOT NULL DEFAULT nextval('identity_id_seq'),
	person_id bigint NOT NULL,
	capture_id bigint,
	id_card_hash bytea,
	phone_hash bytea,
	phone_masked_hash bytea,
	bound_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (project_id, identity_id)
);
CREATE INDEX identity_person ON identity (project_id, person_id);
CREATE INDEX identity_id_card ON identity (project_id, id_card_hash) WHERE id_card_hash IS NOT NULL;
CREATE INDEX identity_phone ON identity (project_id, phone_hash) WHERE phone_hash IS NOT NULL;
CREATE INDEX identity_phone_masked ON identity (project_id, phone_masked_hash) WHERE phone_masked_hash IS NOT NULL;

-- An agency's report (报备); file_report and its rules belong to attribution.
CREATE TABLE report (
	project_id bigint NOT NULL,
	report_id bigint NOT NULL DEFAULT nextval('report_id_seq'),
	agent_id bigint NOT NULL,
	phone_hash bytea,
	phone_masked_hash bytea NOT NULL,
	reported_at timestamptz NOT NULL DEFAULT now(),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (project_id, report_id),
	FOREIGN KEY (project_id, agent_id) REFERENCES agent
);

CREATE TABLE deal (
	project_id bigint NOT NULL,
	deal_id bigint NOT NULL DEFAULT nextval('deal_id_seq'),
	person_id bigint NOT NULL,
	co_buyer_ids bigint[] NOT NULL DEFAULT '{}',
	signed_at timestamptz NOT NULL,
	price numeric NOT NULL CHECK (price >= 0),
	channel_id bigint,
	agent_id bigint,
	consultant_id bigint,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (project_id, deal_id),
	FOREIGN KEY (project_id, person_id) REFERENCES person,
	FOREIGN KEY (project_id, channel_id) REFERENCES channel,
	FOREIGN KEY (project_id, agent_id) REFERENCES agent,
	FOREIGN KEY (project_id, consultant_id) REFERENCES consultant
);

-- the per-database key for identity hashes; readable by the owner only
CREATE TABLE hash_key (
	key_id integer NOT NULL PRIMARY KEY CHECK (key_id = 1),
	secret bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

SELECT pg_catalog.pg_extension_config_dump('project', '');
SELECT pg_catalog.pg_extension_config_dump('camera', '');
SELECT pg_catalog.pg_extension_config_dump('consultant', '');
SELECT pg_catalog.pg_extension_config_dump('channel', '');
SELECT pg_catalog.pg_extension_config_dump('agent', '');
SELECT pg_catalog.pg_extension_config_dump('person', '');
SELECT pg_catalog.pg_extension_config_dump('capture', '');
SELECT pg_catalog.pg_extension_config_dump('visit', '');
SELECT pg_catalog.pg_extension_config_dump('identity', '');
SELECT pg_catalog.pg_extension_config_dump('report', '');
SELECT pg_catalog.pg_extension_config_dump('deal', '');
SELECT pg_catalog.pg_extension_config_dump('hash_key', '');
-- every sequence, so a restore continues past the restored ids
SELECT pg_catalog.pg_extension_config_dump('project_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('channel_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('consultant_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('agent_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('capture_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('person_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('face_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('visit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('identity_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('report_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('deal_id_seq', '');
