-- Attribution that holds up in a dispute: the verdict a report got when it
-- was filed, an append-only history of every change the rules depend on,
-- "not the same person" records of manual splits, sightings at sister
-- projects kept as facts, and the purpose-bound hold of one gallery exemplar.

-- the verdict a report got when it was filed (NULL: filed before 0.2.0)
ALTER TABLE report ADD COLUMN verdict text CHECK (verdict IN ('accepted', 'protected', 'visited'));
ALTER TABLE report ADD COLUMN verdict_until timestamptz;

-- a gallery exemplar kept past its retention while an ownership or protection
-- window that depends on recognising the person is open: until when
ALTER TABLE face ADD COLUMN held_until timestamptz;

INSERT INTO setting_definition VALUES
	('exemplar_hold', 'choice', 'window', NULL, '{window,off}',
	 'window: one unmasked gallery exemplar of a person is kept while an ownership or protection window that depends on recognising them is open; off: retention alone');

-- every change to receptions, reports, bindings, deals, persons, settings and
-- (since the visits' history) a visit's start, person or deletion;
-- append-only (a trigger refuses UPDATE, DELETE and TRUNCATE)
CREATE SEQUENCE change_id_seq;
CREATE TABLE change_log (
	project_id bigint NOT NULL,
	change_id bigint NOT NULL DEFAULT nextval('change_id_seq'),
	subject text NOT NULL CONSTRAINT change_log_subject_check
		CHECK (subject IN ('reception', 'report', 'binding', 'deal', 'person', 'setting', 'visit')),
	subject_id text NOT NULL,
	action text NOT NULL CHECK (action IN ('insert', 'update', 'delete', 'merge', 'split')),
	old jsonb,
	new jsonb,
	changed_at timestamptz NOT NULL DEFAULT statement_timestamp(),
	changed_by name NOT NULL DEFAULT session_user,
	application text,
	actor text,
	PRIMARY KEY (project_id, change_id)
);
CREATE INDEX change_log_subject ON change_log (project_id, subject, subject_id, change_id);
SELECT pg_catalog.pg_extension_config_dump('change_log', '');
SELECT pg_catalog.pg_extension_config_dump('change_id_seq', '');

-- a manager's split: these two persons are not the same, automatic merging never joins them
CREATE TABLE person_distinct (
	project_id bigint NOT NULL,
	person_id bigint NOT NULL,
	other_person_id bigint NOT NULL CHECK (other_person_id > person_id),
	recorded_at timestamptz NOT NULL DEFAULT statement_timestamp(),
	recorded_by name NOT NULL DEFAULT session_user,
	PRIMARY KEY (project_id, person_id, other_person_id)
);
SELECT pg_catalog.pg_extension_config_dump('person_distinct', '');

-- a buyer seen earlier at a sister project, as found when a deal was decided:
-- kept as a fact so it survives the expiry of either project's faces
CREATE TABLE sighting_elsewhere (
	project_id bigint NOT NULL,
	person_id bigint NOT NULL,
	other_project_id bigint NOT NULL,
	other_person_id bigint NOT NULL,
	found_by text NOT NULL CHECK (found_by IN ('id_card', 'face')),
	other_first_seen timestamptz NOT NULL,
	found_at timestamptz NOT NULL DEFAULT statement_timestamp(),
	PRIMARY KEY (project_id, person_id, other_project_id, other_person_id, found_by)
);
SELECT pg_catalog.pg_extension_config_dump('sighting_elsewhere', '');

-- the state of the walk over a deal's visits (decision_walk), passed between the steps of a decision
CREATE TYPE decision_walk AS (
	owner_kind text,			-- NULL before the first visit, 'natural' or 'agency'
	owner_channel_id bigint,
	owner_agent_id bigint,
	owner_until timestamptz,
	owner_from_first boolean,	-- natural ownership from the very first touch
	owner_report_id bigint,
	rule text,
	consultant_id bigint,
	consultant_until timestamptz,
	first_visit_id bigint,
	first_visit_at timestamptz,
	first_zone text,
	first_person_id bigint,
	first_counted boolean,
	agents_seen bigint[],
	visit_ids bigint[],
	flags text[],
	visits jsonb,
	windows jsonb,
	timeline jsonb
);
