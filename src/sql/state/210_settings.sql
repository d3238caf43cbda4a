-- Per-project settings: definitions with defaults, validated configure(),
-- and the project_settings view.  Later layers add their own settings by
-- inserting definitions.

CREATE TABLE setting_definition (
	setting text PRIMARY KEY,
	kind text NOT NULL CHECK (kind IN ('distance', 'interval', 'integer', 'choice')),
	default_value text NOT NULL,
	small_dims_default text,		-- default for face models of 128 dimensions or fewer
	allowed text[],					-- for kind = choice
	description text NOT NULL
);

INSERT INTO setting_definition VALUES
	('match_distance', 'distance', '0.55', '0.07', NULL,
	 'cosine distance under which an unmasked capture matches a gallery face'),
	('masked_match_distance', 'distance', '0.65', '0.09', NULL,
	 'cosine distance under which a masked capture matches an unmasked gallery face (and an unmasked capture a masked one)'),
	('masked_masked_match_distance', 'distance', '0.35', '0.03', NULL,
	 'cosine distance under which a masked capture matches a masked gallery face (masks make different people''s masked faces alike)'),
	('low_confidence_margin', 'distance', '0.05', '0.006', NULL,
	 'a match less than this below its threshold is low confidence, marked for review (as is a match to a person with no unmasked face)'),
	('visit_gap', 'interval', '2 hours', NULL, NULL,
	 'captures of one person less than this apart form one visit'),
	('max_clock_skew', 'interval', '5 minutes', NULL, NULL,
	 'how far in the future captured_at may be before a capture is refused'),
	('attribution_mode', 'choice', 'report_protection', NULL, '{report_protection,first_visit}',
	 'report_protection: valid reports protect the agency; first_visit: the first visit decides'),
	('natural_ownership_days', 'integer', '180', NULL, NULL,
	 'days without a visit after which natural ownership lapses'),
	('consultant_ownership_days', 'integer', '30', NULL, NULL,
	 'days the first receiving consultant owns a person'),
	('report_validity', 'interval', '72 hours', NULL, NULL,
	 'how long a report protects before the visit it claims'),
	('consent_mode', 'choice', 'notice', NULL, '{notice,consent}',
	 'notice: faces kept under the retention policy; consent: unconsented faces kept until the end of the day'),
	('new_person_ef_search', 'integer', '400', NULL, NULL,
	 'candidate list of the wider gallery search (firstsight.hnsw_ef_search, at most 1000) a capture gets before it becomes a new person; 0: none'),
	('new_person_ef_step', 'integer', '120', NULL, NULL,
	 'candidate list of an intermediate search before the wider one (new_person_ef_search): only captures it leaves unmatched pay for the wider search; 0, or not below new_person_ef_search: none'),
	('exact_search_faces', 'integer', '100', NULL, NULL,
	 'a batch of at least 64 captures is matched by one exact OpenBLAS search of the whole gallery when the gallery has at most this many faces per capture of the batch; 0: never'),
	('recent_min_distance', 'distance', '0.35', '0', NULL,
	 'a capture closer than this to the gallery face it matched does not become its person''s recent exemplar (it adds little the gallery does not match, and costs an index insert); 0 (the default for models of 128 dimensions or fewer): every capture may');

CREATE TABLE project_setting (
	project_id bigint NOT NULL REFERENCES project ON DELETE CASCADE,
	setting text NOT NULL REFERENCES setting_definition,
	value text NOT NULL,
	PRIMARY KEY (project_id, setting)
);
SELECT pg_catalog.pg_extension_config_dump('project_setting', '');
