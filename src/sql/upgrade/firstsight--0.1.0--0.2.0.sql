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
