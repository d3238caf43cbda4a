-- Issue 16: the privacy officer's data-subject requests (PIPL arts. 44-47):
-- every lookup by phone or ID card and every export is recorded here
-- (erasures in erasure_log).  No raw number, hash or biometric content.
CREATE SEQUENCE subject_request_id_seq;
CREATE TABLE subject_request_log (
	request_id bigint NOT NULL DEFAULT nextval('subject_request_id_seq') PRIMARY KEY,
	requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	requested_by name NOT NULL DEFAULT session_user,
	action text NOT NULL CHECK (action IN ('find', 'export')),
	looked_up_by text,			-- find: phone, id_card or both (never the number)
	project_id bigint,
	person_id bigint,
	persons_found integer,
	purpose text NOT NULL
);
CREATE INDEX subject_request_log_person ON subject_request_log (project_id, person_id, requested_at);
SELECT pg_catalog.pg_extension_config_dump('subject_request_log', '');
SELECT pg_catalog.pg_extension_config_dump('subject_request_id_seq', '');
