-- The compliance view (issue 6): what biometric data is held, by project,
-- category and age; what is overdue for erasure; erasure requests and how
-- long they took; and distinct persons with biometric data per operator
-- against the regulatory filing threshold.  No biometric column.

INSERT INTO setting_definition VALUES
	('filing_threshold', 'integer', '100000', NULL, NULL,
	 'persons with biometric data per operator at which the compliance view warns (regulatory filing)');
