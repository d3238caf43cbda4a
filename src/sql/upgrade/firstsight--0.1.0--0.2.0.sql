-- State changes from 0.1.0 to 0.2.0, written by hand: ALTERs of tables,
-- types and sequences, new tables, data fixes, and DROPs of code that 0.2.0
-- no longer has or whose signature changed (CREATE OR REPLACE cannot change a
-- function's result type or argument names).  Every code piece of
-- src/sql/code follows this part in the built upgrade script.

-- the visit rollup triggers share one function instead of three generated copies
CREATE TYPE rollup_visit_delta AS (project_id bigint, person_id bigint, started_at timestamptz,
                                   seen_before boolean, agent_id bigint, consultant_id bigint, s integer);

-- masked faces (issue 18): a threshold per kind of pair, what each match rests on
UPDATE setting_definition
SET description = 'cosine distance under which a masked capture matches an unmasked gallery face (and an unmasked capture a masked one)'
WHERE setting = 'masked_match_distance';
INSERT INTO setting_definition VALUES
	('masked_masked_match_distance', 'distance', '0.35', '0.03', NULL,
	 'cosine distance under which a masked capture matches a masked gallery face (masks make different people''s masked faces alike)'),
	('low_confidence_margin', 'distance', '0.05', '0.006', NULL,
	 'a match less than this below its threshold is low confidence, marked for review (as is a match to a person with no unmasked face)');
ALTER TABLE capture ADD COLUMN match_kind text;
ALTER TABLE capture ADD COLUMN match_margin float8;
ALTER TABLE capture ADD COLUMN match_low_confidence boolean;
ALTER TABLE capture ADD COLUMN match_reviewed_at timestamptz;
CREATE INDEX face_kind ON face (project_id, masked);
-- signatures that changed: ingest_batch returns the match kind and margin,
-- merge_persons takes the masked-masked threshold, calibrate reports per pair
-- kind; face_clusters takes three thresholds (the C symbol of the old form stays)
DROP FUNCTION ingest_batch(bigint, bigint[], embedding[], boolean[], timestamptz[], real[], text[], boolean);
DROP FUNCTION merge_persons(bigint, float8, float8);
DROP FUNCTION calibrate(bigint, float8, integer);
DROP FUNCTION face_clusters(embedding[], boolean[], float8, float8);

-- retention caps (issue 14, item 5): stored settings get the new bounds
-- (max_clock_skew at most 1 hour, other periods at most 10 years, photos never
-- kept longer than the project's longest retention) ...
UPDATE project_setting s SET value = '01:00:00'
WHERE s.setting = 'max_clock_skew' AND s.value::interval > interval '1 hour';
UPDATE project_setting s SET value = '10 years'
WHERE s.setting IN ('visit_gap', 'report_validity', 'photo_retention') AND s.value::interval > interval '10 years';
UPDATE project_setting s SET value = (SELECT max(r.keep) FROM retention_policy r WHERE r.project_id = s.project_id)::text
WHERE s.setting = 'photo_retention'
  AND s.value::interval > (SELECT max(r.keep) FROM retention_policy r WHERE r.project_id = s.project_id);
-- ... and no stored expiry is later than now() plus the longest retention a
-- policy of the project allows (a deal dated '9999-01-01' set 9999-06-30)
UPDATE capture c SET expires_at = least(c.expires_at, m.cap), photo_expires_at = least(c.photo_expires_at, m.cap)
FROM (SELECT p.project_id, now() + least(interval '10 years', coalesce(max(r.keep), interval '10 years')) AS cap
      FROM project p LEFT JOIN retention_policy r ON r.project_id = p.project_id GROUP BY p.project_id) m
WHERE c.project_id = m.project_id AND (c.expires_at > m.cap OR c.photo_expires_at > m.cap);
UPDATE face f SET expires_at = m.cap
FROM (SELECT p.project_id, now() + least(interval '10 years', coalesce(max(r.keep), interval '10 years')) AS cap
      FROM project p LEFT JOIN retention_policy r ON r.project_id = p.project_id GROUP BY p.project_id) m
WHERE f.project_id = m.project_id AND f.expires_at > m.cap;

-- consent scope (issue 14, item 4): consent that does not cover the face
-- extends nothing.  Persons whose latest consent is for photos alone go back
-- to the visitor policy (their rows are re-dated by the category change) and,
-- in consent mode, their rows expire at the end of their capture's day as if
-- no consent had been given; their photos never outlive photo_retention
UPDATE person p SET category = 'visitor'
WHERE p.category = 'consented' AND p.consent_given
  AND NOT coalesce('face' = ANY (string_to_array(p.consent_scope, ',')), false);
WITH photo_only AS (
	SELECT p.project_id, p.person_id, pr.time_zone,
	       coalesce((SELECT s.value FROM project_setting s WHERE s.project_id = p.project_id AND s.setting = 'consent_mode'),
	                (SELECT d.default_value FROM setting_definition d WHERE d.setting = 'consent_mode')) = 'consent' AS consent_mode,
	       coalesce((SELECT s.value FROM project_setting s WHERE s.project_id = p.project_id AND s.setting = 'photo_retention'),
	                (SELECT d.default_value FROM setting_definition d WHERE d.setting = 'photo_retention'))::interval AS photo_keep
	FROM person p JOIN project pr ON pr.project_id = p.project_id
	WHERE p.consent_given AND NOT coalesce('face' = ANY (string_to_array(p.consent_scope, ',')), false)
), c AS (
	SELECT c.project_id, c.capture_id,
	       CASE WHEN o.consent_mode
	            THEN least(c.expires_at, (date_trunc('day', c.captured_at AT TIME ZONE o.time_zone) + interval '1 day') AT TIME ZONE o.time_zone)
	            ELSE c.expires_at END AS e,
	       c.captured_at + o.photo_keep AS pe
	FROM capture c JOIN photo_only o ON o.project_id = c.project_id AND o.person_id = c.person_id
	WHERE c.face IS NOT NULL OR c.photo IS NOT NULL
)
UPDATE capture x SET expires_at = CASE WHEN x.face IS NOT NULL THEN c.e END,
                     photo_expires_at = CASE WHEN x.photo IS NOT NULL THEN least(x.photo_expires_at, c.e, c.pe) END
FROM c WHERE x.project_id = c.project_id AND x.capture_id = c.capture_id;
UPDATE face f SET expires_at = least(f.expires_at, (date_trunc('day', f.captured_at AT TIME ZONE pr.time_zone) + interval '1 day') AT TIME ZONE pr.time_zone)
FROM person p JOIN project pr ON pr.project_id = p.project_id
WHERE f.project_id = p.project_id AND f.person_id = p.person_id
  AND p.consent_given AND NOT coalesce('face' = ANY (string_to_array(p.consent_scope, ',')), false)
  AND coalesce((SELECT s.value FROM project_setting s WHERE s.project_id = p.project_id AND s.setting = 'consent_mode'),
               (SELECT d.default_value FROM setting_definition d WHERE d.setting = 'consent_mode')) = 'consent';
-- issue 15, attribution that holds up in a dispute (src/sql/state/305_attribution_dispute.sql)
-- the verdict a report got when it was filed (NULL: filed before 0.2.0)
ALTER TABLE report ADD COLUMN verdict text CHECK (verdict IN ('accepted', 'protected', 'visited'));
ALTER TABLE report ADD COLUMN verdict_until timestamptz;

-- a gallery exemplar kept past its retention while an ownership or protection
-- window that depends on recognising the person is open: until when
ALTER TABLE face ADD COLUMN held_until timestamptz;

INSERT INTO setting_definition VALUES
	('exemplar_hold', 'choice', 'window', NULL, '{window,off}',
	 'window: one unmasked gallery exemplar of a person is kept while an ownership or protection window that depends on recognising them is open; off: retention alone');

-- every change to receptions, reports, bindings, deals, persons and settings;
-- append-only (a trigger refuses UPDATE, DELETE and TRUNCATE)
CREATE SEQUENCE change_id_seq;
CREATE TABLE change_log (
	project_id bigint NOT NULL,
	change_id bigint NOT NULL DEFAULT nextval('change_id_seq'),
	subject text NOT NULL CHECK (subject IN ('reception', 'report', 'binding', 'deal', 'person', 'setting')),
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


-- issue 14 item 9: the projects each camera role may insert captures into
CREATE TABLE camera_access (
	role_name name NOT NULL,
	project_id bigint NOT NULL REFERENCES project ON DELETE CASCADE,
	granted_at timestamptz NOT NULL DEFAULT statement_timestamp(),
	granted_by name NOT NULL DEFAULT session_user,
	PRIMARY KEY (role_name, project_id)
);
SELECT pg_catalog.pg_extension_config_dump('camera_access', '');

-- edge offices and headquarters (issue 20, docs/scale-out.md)
-- keys of the tables headquarters receives lead with project_id, so rows of
-- different offices never collide
ALTER TABLE erasure_log DROP CONSTRAINT erasure_log_pkey;
ALTER TABLE erasure_log ADD PRIMARY KEY (project_id, erasure_id);
ALTER TABLE biometric_access_log DROP CONSTRAINT biometric_access_log_pkey;
ALTER TABLE biometric_access_log ADD PRIMARY KEY (project_id, access_id);
ALTER TABLE project_access DROP CONSTRAINT project_access_pkey;
ALTER TABLE project_access ADD PRIMARY KEY (project_id, role_name);
-- an explicit project id (given by headquarters) at create_project
DROP FUNCTION create_project(text, text, integer);
CREATE TABLE group_key (
	key_id integer NOT NULL PRIMARY KEY CHECK (key_id = 1),
	secret bytea NOT NULL CHECK (octet_length(secret) >= 32),
	installed_at timestamptz NOT NULL DEFAULT now(),
	installed_by name NOT NULL DEFAULT session_user
);
ALTER TABLE identity ADD COLUMN group_id_card_hash bytea;
CREATE INDEX identity_group_id_card ON identity (group_id_card_hash) WHERE group_id_card_hash IS NOT NULL;

-- backup and restore (issue 17): every sequence and the rollup tables are
-- dumped with the data (a restore fires no trigger that would rebuild them)
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
SELECT pg_catalog.pg_extension_config_dump('consent_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('erasure_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('retention_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('biometric_access_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('change_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_person_day', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_day', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_month_agent', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_consultant_person', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_consultant', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_buyer', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_funnel_person', '');

-- the gallery's keys move from the parent face to each partition: keys on the
-- extension-owned parent are copied onto a partition when pg_restore attaches
-- it, and the dump's own keys of the partition then fail ("multiple primary
-- keys").  The hash key stays as it is (0.2.0 makes a new one on first use
-- only when there is none).
ALTER TABLE face DROP CONSTRAINT face_project_id_person_id_kind_key, DROP CONSTRAINT face_pkey;
-- (face_kind, made above for issue 18, goes the same way: one per partition)
DROP INDEX face_kind;
DO $$
DECLARE
	part regclass;
BEGIN
	FOR part IN SELECT i.inhrelid::regclass FROM pg_catalog.pg_inherits i
	            WHERE i.inhparent = 'firstsight.face'::regclass ORDER BY 1 LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s ADD PRIMARY KEY (project_id, face_id), ADD UNIQUE (project_id, person_id, kind)', part);
		EXECUTE pg_catalog.format('CREATE INDEX ON %s (project_id, masked)', part);
	END LOOP;
END
$$;

-- row-level security on from the install (restores bring back setup_roles()'s
-- policies but not this switch; see src/sql/state/410_privacy_roles.sql)
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

-- embedding_hnsw orders by taxicab distance too (pgvector's vector_l1_ops)
CREATE OPERATOR CLASS embedding_l1_ops
	FOR TYPE embedding USING embedding_hnsw AS
	OPERATOR 1 <+> (embedding, embedding) FOR ORDER BY float_ops,
	FUNCTION 1 l1_distance(embedding, embedding);

-- issue 16, roles that fit the users: the one channel each agency-portal
-- login acts for (firstsight.grant_channel)
CREATE TABLE channel_access (
	role_name name NOT NULL PRIMARY KEY,
	project_id bigint NOT NULL,
	channel_id bigint NOT NULL,
	granted_at timestamptz NOT NULL DEFAULT statement_timestamp(),
	granted_by name NOT NULL DEFAULT session_user,
	FOREIGN KEY (project_id, channel_id) REFERENCES channel ON DELETE CASCADE
);
SELECT pg_catalog.pg_extension_config_dump('channel_access', '');

-- issue 16: human labels for rule, flag and worklist codes (src/sql/state/440_door_review.sql)
CREATE TABLE label (
	kind text NOT NULL CHECK (kind IN ('rule', 'flag', 'worklist', 'channel_kind', 'verdict')),
	code text NOT NULL,
	zh text NOT NULL,
	en text NOT NULL,
	PRIMARY KEY (kind, code)
);
INSERT INTO label (kind, code, zh, en) VALUES
	('rule', 'first_touch_natural', '自然到访首访', 'natural visitor on the first visit'),
	('rule', 'first_touch_agency', '渠道带看首访', 'agency brought the first visit'),
	('rule', 'agency_after_natural_lapse', '自然归属失效后渠道带看', 'agency visit after natural ownership lapsed'),
	('rule', 'agency_after_protection_lapse', '保护期失效后渠道带看', 'agency visit after another agency''s protection lapsed'),
	('rule', 'protection_expired', '渠道保护期已过', 'agency protection ended before signing'),
	('rule', 'no_recorded_visit', '无到访记录', 'no recorded visit'),
	('flag', 'claim_mismatch', '申报与判定不符', 'claim differs from the entitlement'),
	('flag', 'late_change', '判定后变更', 'changed after the decision'),
	('flag', 'flying_order', '飞单', 'flying order: a natural visitor claimed by a channel'),
	('flag', 'hanging_order_suspect', '疑似挂单', 'suspected hanging order'),
	('flag', 'protection_conflict', '保护期冲突', 'protection conflict'),
	('flag', 'consultant_conflict', '置业顾问撞单', 'consultant conflict'),
	('flag', 'abnormal_cycle', '成交周期异常', 'abnormal first-visit-to-deal time'),
	('flag', 'prior_visit_elsewhere', '曾到访集团其他项目', 'seen earlier at a sister project'),
	('worklist', 'unreceived_visit', '未接待到访', 'visit not received'),
	('worklist', 'unreported_visit', '带看无有效报备', 'accompanied visit without a valid report'),
	('worklist', 'returning_visitor', '复访客户', 'returning visitor'),
	('worklist', 'report_lapsing', '报备即将失效', 'report about to lapse'),
	('worklist', 'low_confidence_match', '低置信度识别', 'low-confidence match'),
	('worklist', 'possible_duplicate', '疑似同一人', 'possible duplicate person'),
	('channel_kind', 'natural', '自然到访', 'natural visitor'),
	('channel_kind', 'agency', '中介分销', 'agency'),
	('channel_kind', 'platform', '平台', 'platform'),
	('channel_kind', 'referral', '老带新', 'referral'),
	('channel_kind', 'staff', '全民营销', 'staff'),
	('verdict', 'accepted', '报备有效', 'accepted'),
	('verdict', 'duplicate', '重复报备', 'duplicate'),
	('verdict', 'protected', '他人保护中', 'protected by another channel'),
	('verdict', 'visited', '客户已到访', 'already visited');

-- issue 16: min_quality and parties (src/sql/state/235_route_parties.sql)
ALTER TABLE setting_definition DROP CONSTRAINT setting_definition_kind_check,
	ADD CONSTRAINT setting_definition_kind_check CHECK (kind IN ('distance', 'interval', 'integer', 'choice', 'quality'));
INSERT INTO setting_definition VALUES
	('min_quality', 'quality', '0', NULL, NULL,
	 'captures below this quality (0 to 1) are matched but never make a person or a gallery exemplar; one matching nobody is stored as unidentified; 0: every capture may'),
	('party_seconds', 'integer', '10', NULL, NULL,
	 'visits starting at the same entrance camera less than this many seconds apart form a party (同行); 0: no parties');
ALTER TABLE visit ADD COLUMN party_id bigint;
CREATE INDEX visit_party ON visit (project_id, party_id) WHERE party_id IS NOT NULL;
-- issue 16: referrals (src/sql/state/302_referrals.sql)
ALTER TABLE deal ADD COLUMN referrer_person_id bigint;
-- issue 16: data-subject requests (src/sql/state/640_subject_requests.sql)
CREATE SEQUENCE subject_request_id_seq;
CREATE TABLE subject_request_log (
	request_id bigint NOT NULL DEFAULT nextval('subject_request_id_seq') PRIMARY KEY,
	requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	requested_by name NOT NULL DEFAULT session_user,
	action text NOT NULL CHECK (action IN ('find', 'export')),
	looked_up_by text,
	project_id bigint,
	person_id bigint,
	persons_found integer,
	purpose text NOT NULL
);
CREATE INDEX subject_request_log_person ON subject_request_log (project_id, person_id, requested_at);
SELECT pg_catalog.pg_extension_config_dump('subject_request_log', '');
SELECT pg_catalog.pg_extension_config_dump('subject_request_id_seq', '');

-- BI rollups: append-only deltas for the counters the camera path adds to (issue 21)
CREATE SEQUENCE rollup_delta_id_seq CACHE 64;
CREATE TABLE rollup_day_delta (
	project_id bigint NOT NULL,
	delta_id bigint NOT NULL DEFAULT nextval('rollup_delta_id_seq'),
	day date NOT NULL,
	visits bigint NOT NULL,
	unique_persons bigint NOT NULL,
	new_persons bigint NOT NULL,
	returning_persons bigint NOT NULL,
	accompanied_visits bigint NOT NULL,
	received_visits bigint NOT NULL,
	PRIMARY KEY (project_id, delta_id)
);
CREATE TABLE rollup_month_agent_delta (
	project_id bigint NOT NULL,
	delta_id bigint NOT NULL DEFAULT nextval('rollup_delta_id_seq'),
	month date NOT NULL,
	agent_id bigint,
	visits bigint NOT NULL,
	first_visits bigint NOT NULL,
	returned bigint NOT NULL,
	bought bigint NOT NULL,
	PRIMARY KEY (project_id, delta_id)
);
CREATE TABLE rollup_consultant_delta (
	project_id bigint NOT NULL,
	delta_id bigint NOT NULL DEFAULT nextval('rollup_delta_id_seq'),
	month date NOT NULL,
	consultant_id bigint NOT NULL,
	receptions bigint NOT NULL,
	persons_received bigint NOT NULL,
	new_persons_received bigint NOT NULL,
	PRIMARY KEY (project_id, delta_id)
);
SELECT pg_catalog.pg_extension_config_dump('rollup_day_delta', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_month_agent_delta', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_consultant_delta', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_delta_id_seq', '');

-- issue 15: a visit's start, person and deletion are kept in change_log too
-- (src/sql/state/305_attribution_dispute.sql)
ALTER TABLE change_log DROP CONSTRAINT change_log_subject_check;
ALTER TABLE change_log ADD CONSTRAINT change_log_subject_check
	CHECK (subject IN ('reception', 'report', 'binding', 'deal', 'person', 'setting', 'visit'));

-- issue 18 (masked18): masked matches decided on the person's evidence
INSERT INTO setting_definition VALUES
	('masked_ratio', 'distance', '1', '0.85', NULL,
	 'a match that rests on a mask (masked capture or masked gallery face) is taken only when its distance relative to its threshold is at most this times the second-best person''s; 1: no such test'),
	('consolidate_masked_distance', 'distance', '0.65', '0.105', NULL,
	 'consolidate_masked: the scale of a masked-unmasked pair of captures in the average distance between two persons'),
	('consolidate_masked_masked_distance', 'distance', '0.35', '0.05', NULL,
	 'consolidate_masked: the scale of a masked-masked pair of captures in the average distance between two persons'),
	('consolidate_ratio', 'distance', '0.92', '0.92', NULL,
	 'consolidate_masked joins a person to its nearest person only when their average is at most this times its second-nearest''s');

-- central ingestion on Citus: per-project id counters (issue 20, src/sql/state/615_central_ingest.sql)
CREATE TABLE project_counter (
	project_id bigint NOT NULL,
	counter text NOT NULL CHECK (counter IN ('capture', 'person', 'visit')),
	value bigint NOT NULL,
	PRIMARY KEY (project_id, counter)
);
SELECT pg_catalog.pg_extension_config_dump('project_counter', '');

-- issue 15: a back-dated deal is decided as at its entry too
-- (src/sql/state/306_backdated_deal.sql, the label in 440_door_review.sql)
INSERT INTO setting_definition VALUES
	('deal_backdate_tolerance', 'interval', '2 days', NULL, NULL,
	 'how long before its entry (the database''s time) a deal may claim to have been signed without a check: beyond it, a deal whose decision as at entry would pay otherwise is flagged backdated_deal');
INSERT INTO label (kind, code, zh, en) VALUES
	('flag', 'backdated_deal', '成交日期倒签', 'deal back-dated: signed long before it was entered');

-- issue 21 (peak21c): a recent exemplar only when it adds information: a
-- capture closer than recent_min_distance to the gallery face it matched is
-- not stored (each one is an HNSW insert); on by default for models of more
-- than 128 dimensions (measured on the 512-d office bench), off for smaller
UPDATE setting_definition
SET default_value = '0.35', small_dims_default = '0',
    description = 'a capture closer than this to the gallery face it matched does not become its person''s recent exemplar (it adds little the gallery does not match, and costs an index insert); 0 (the default for models of 128 dimensions or fewer): every capture may'
WHERE setting = 'recent_min_distance';
