-- A back-dated deal (issue 15): deal.signed_at is the sales app's claim and
-- the cut-off the rules use; when it lies more than this before the deal's
-- entry (deal.created_at, the database's time) the deal is decided as at its
-- entry too, and flagged backdated_deal when the money would differ.
INSERT INTO setting_definition VALUES
	('deal_backdate_tolerance', 'interval', '2 days', NULL, NULL,
	 'how long before its entry (the database''s time) a deal may claim to have been signed without a check: beyond it, a deal whose decision as at entry would pay otherwise is flagged backdated_deal');
