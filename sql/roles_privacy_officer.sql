-- The privacy officer (issue 16): not scoped per project (consent, erasure
-- and audit are for every office), and still none of the other users' jobs:
-- no BI view, no sales-app or agency call, no identity hash, no grants.
\i sql/roles_setup.psql
CREATE ROLE regress_r16_dpo LOGIN IN ROLE firstsight_privacy_officer;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:q, 'gate', now() - interval '1 hour', '[0,0,0.6,0.8]', 0.9, false);
SELECT person_id AS q_person FROM capture WHERE project_id = :q ORDER BY capture_id DESC LIMIT 1 \gset

SET SESSION AUTHORIZATION regress_r16_dpo;
-- every office, with nothing granted per project
SELECT project_id = :p AS at_p, count(*) FROM firstsight.capture_log WHERE project_id IN (:p, :q) GROUP BY 1 ORDER BY 1;
SELECT count(*) AS offices FROM firstsight.project WHERE project_id IN (:p, :q);
SELECT count(*) AS evidence FROM firstsight.attribution_evidence WHERE project_id IN (:p, :q);
SELECT kind, captures_erased >= 1 AS erased FROM firstsight.erase_person(:q, :q_person, 'request 2024-099');
-- not the other users' jobs
SELECT count(*) FROM firstsight.flagged_deals;
SELECT count(*) FROM firstsight.commission_ledger;
SELECT count(*) FROM firstsight.explain_attribution(:p, 1);
SELECT * FROM firstsight.reattribute(:p, '2024-01-01', '2025-01-01');
SELECT firstsight.receive(:p, 2, 1, 21);
SELECT firstsight.record_deal(:p, 1, now(), 1);
SELECT * FROM firstsight.agency_file_report(21, '13800000041');
SELECT count(*) FROM firstsight.agency_customers;
SELECT count(*) FROM firstsight.identity;
SELECT count(*) FROM firstsight.channel_access;
SELECT firstsight.grant_analyst('regress_r16_dpo', :p);
SELECT firstsight.grant_channel('regress_r16_dpo', :p, 11);
RESET SESSION AUTHORIZATION;
-- nor can it be made an agency login
SELECT grant_channel('regress_r16_dpo', :p, 11);
SELECT kind, reason FROM erasure_log WHERE project_id = :q AND person_id = :q_person;
\i sql/roles_teardown.psql
