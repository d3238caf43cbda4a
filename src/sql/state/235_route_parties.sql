-- Issue 16: poor captures and parties (同行).
-- min_quality: a capture below it is matched but never makes a person or a
-- gallery exemplar.  A party: visitors whose visits started at the same
-- entrance camera within party_seconds of each other; visit.party_id names
-- the party by its first member's visit.

ALTER TABLE setting_definition DROP CONSTRAINT setting_definition_kind_check,
	ADD CONSTRAINT setting_definition_kind_check CHECK (kind IN ('distance', 'interval', 'integer', 'choice', 'quality'));

INSERT INTO setting_definition VALUES
	('min_quality', 'quality', '0', NULL, NULL,
	 'captures below this quality (0 to 1) are matched but never make a person or a gallery exemplar; one matching nobody is stored as unidentified; 0: every capture may'),
	('party_seconds', 'integer', '10', NULL, NULL,
	 'visits starting at the same entrance camera less than this many seconds apart form a party (同行); 0: no parties');

ALTER TABLE visit ADD COLUMN party_id bigint;
CREATE INDEX visit_party ON visit (project_id, party_id) WHERE party_id IS NOT NULL;
