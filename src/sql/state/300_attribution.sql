-- Attribution: who brought a buyer, who gets paid, and why.  Receptions and
-- reports (报备) come from the sales apps; a deal's attribution is decided on
-- INSERT of the deal and kept as numbered versions (reattribute adds a new
-- version, never overwrites).  Every decision carries its evidence and flags.
-- Days are calendar days in the project's time zone: a window of N days that
-- starts on local day D ends at local midnight starting day D + N (exclusive),
-- so the starting day counts as day 1 and a visit exactly at the end is outside.

INSERT INTO setting_definition VALUES
	('abnormal_cycle_sigma', 'integer', '2', NULL, NULL,
	 'standard deviations from the channel''s mean first-visit-to-deal time beyond which a deal is flagged abnormal_cycle'),
	('abnormal_cycle_window_days', 'integer', '180', NULL, NULL,
	 'days of the channel''s earlier deals the abnormal_cycle mean is taken over'),
	('abnormal_cycle_min_deals', 'integer', '20', NULL, NULL,
	 'earlier deals of the channel needed before abnormal_cycle is flagged');

-- a fixed daily cut-off for a channel's reports (NULL: report_validity applies)
ALTER TABLE channel ADD COLUMN report_cutoff time;

-- the deposit notion: a customer who paid a deposit (认筹/定金) cannot be reported any more
ALTER TABLE person ADD COLUMN deposit_at timestamptz;

CREATE INDEX report_phone ON report (project_id, phone_hash) WHERE phone_hash IS NOT NULL;
CREATE INDEX report_phone_masked ON report (project_id, phone_masked_hash);
CREATE INDEX visit_agent ON visit (project_id, agent_id) WHERE agent_id IS NOT NULL;

CREATE TABLE attribution (
	project_id bigint NOT NULL,
	deal_id bigint NOT NULL,
	version integer NOT NULL,
	entitled_channel_id bigint NOT NULL,
	entitled_agent_id bigint,
	entitled_consultant_id bigint,
	commission numeric NOT NULL DEFAULT 0,
	rule text NOT NULL,
	evidence jsonb NOT NULL,
	flags text[] NOT NULL DEFAULT '{}',
	decided_at timestamptz NOT NULL DEFAULT now(),
	signed_at timestamptz NOT NULL,
	first_visit_at timestamptz,
	cycle_days numeric,
	is_current boolean NOT NULL DEFAULT true,
	reason text,
	PRIMARY KEY (project_id, deal_id, version),
	FOREIGN KEY (project_id, deal_id) REFERENCES deal ON DELETE CASCADE
);
CREATE UNIQUE INDEX attribution_current ON attribution (project_id, deal_id) WHERE is_current;
CREATE INDEX attribution_channel ON attribution (project_id, entitled_channel_id, signed_at) WHERE is_current;
SELECT pg_catalog.pg_extension_config_dump('attribution', '');
