-- Masked faces decided on the person's evidence (issue 18): a match that
-- rests on a mask must stand out from the second-best person, and
-- consolidate_masked() joins the persons a mask split, by the average over
-- all their captures (src/sql/code/232_masked_evidence.sql).
INSERT INTO setting_definition VALUES
	('masked_ratio', 'distance', '1', '0.85', NULL,
	 'a match that rests on a mask (masked capture or masked gallery face) is taken only when its distance relative to its threshold is at most this times the second-best person''s; 1: no such test'),
	('consolidate_masked_distance', 'distance', '0.65', '0.105', NULL,
	 'consolidate_masked: the scale of a masked-unmasked pair of captures in the average distance between two persons'),
	('consolidate_masked_masked_distance', 'distance', '0.35', '0.05', NULL,
	 'consolidate_masked: the scale of a masked-masked pair of captures in the average distance between two persons'),
	('consolidate_ratio', 'distance', '0.92', '0.92', NULL,
	 'consolidate_masked joins a person to its nearest person only when their average is at most this times its second-nearest''s');
