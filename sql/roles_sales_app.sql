-- The sales app (issue 16): a login granted projects with grant_sales_app
-- receives visitors, files reports, binds an ID card or phone, records
-- deposits and deals -- at its projects only, and reads nothing biometric.
-- Tried as the app's integrator would: the other office's visit and agent by
-- id, writing the tables directly, reading captures, photos, hashes.
\i sql/roles_setup.psql
-- a visitor at the subscription desk (the camera's capture makes person and visit)
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', now() - interval '1 hour', '[0,0,0.6,0.8]', 0.9, false) RETURNING capture_id AS cap \gset
SELECT person_id AS buyer, visit_id AS desk_visit FROM capture WHERE project_id = :p AND capture_id = :cap \gset
CREATE ROLE regress_r16_app LOGIN;
SELECT grant_sales_app('regress_r16_app', :p) AS granted;
SELECT grant_sales_app('firstsight_sales_app', :p);
SELECT rolname FROM pg_roles r WHERE pg_has_role('regress_r16_app', r.oid, 'MEMBER') AND rolname LIKE 'firstsight\_%' ORDER BY 1;

SET ROLE regress_r16_app;
-- reads what it needs to call the functions, at its project only
SELECT count(*) FILTER (WHERE project_id = :p) AS own_visits, count(*) FILTER (WHERE project_id <> :p) AS others FROM firstsight.visit;
SELECT project_id = :p AS own, count(*) FROM firstsight.agent GROUP BY 1;
SELECT name FROM firstsight.consultant WHERE project_id = :p;
SELECT name FROM firstsight.project ORDER BY 1;
-- the visitor is received by Wang, came alone; reports; the ID card at the desk; a deposit; the deal
SELECT firstsight.receive(:p, :desk_visit, 1, NULL);
SELECT verdict FROM firstsight.file_report_verdict(:p, 22, '13900000001');
SELECT firstsight.file_report(:p, 23, '139****0002') IS NOT NULL AS reported;
SELECT firstsight.bind_identity(:p, :cap, '11010519491231002X', '13800000010') = :buyer AS bound;
SELECT firstsight.record_deposit(:p, :buyer);
SELECT firstsight.record_deal(:p, :buyer, now(), 1500000, consultant_id => 1) AS deal \gset
SELECT deal_id = :deal AS recorded, price, consultant_id FROM firstsight.deal WHERE project_id = :p AND person_id = :buyer;
-- the other office: refused before anything is looked up
SELECT firstsight.receive(:q, 1, 1, NULL);
SELECT firstsight.receive(:q, 424242, 1, NULL);
SELECT * FROM firstsight.file_report_verdict(:q, 21, '13900000003');
SELECT firstsight.file_report(:q, 21, '13900000003');
SELECT firstsight.bind_identity(:q, :cap, NULL, '13800000011');
SELECT firstsight.record_deposit(:q, 1);
SELECT firstsight.record_deal(:q, 1, now(), 1);
-- the tables are written through the functions only
INSERT INTO firstsight.deal (project_id, person_id, signed_at, price) VALUES (:p, :buyer, now(), 1);
UPDATE firstsight.visit SET consultant_id = 1 WHERE project_id = :p;
DELETE FROM firstsight.visit WHERE project_id = :p;
INSERT INTO firstsight.report (project_id, agent_id, phone_masked_hash) VALUES (:p, 21, '\x00');
-- nothing biometric, no hashes, no decisions' evidence, no BI
SELECT count(*) FROM firstsight.capture;
SELECT count(*) FROM firstsight.capture_log;
SELECT count(*) FROM firstsight.face;
SELECT firstsight.photo(:p, :cap, 'desk check');
SELECT firstsight.face_embedding(:p, :cap, 'desk check');
SELECT count(*) FROM firstsight.identity;
SELECT count(*) FROM firstsight.report;
SELECT count(*) FROM firstsight.person;
SELECT count(*) FROM firstsight.attribution;
SELECT count(*) FROM firstsight.flagged_deals;
SELECT count(*) FROM firstsight.explain_attribution(:p, 1);
SELECT firstsight.merge_person(:p, 1, 2);
SELECT firstsight.erase_person(:p, 1, 'x');
SELECT firstsight.grant_sales_app('regress_r16_app', :q);
RESET ROLE;
-- the same as a session logged in as the app (not SET ROLE): the acting role is the login
SET SESSION AUTHORIZATION regress_r16_app;
SELECT firstsight.receive(:p, :desk_visit, 1, NULL);
SELECT firstsight.receive(:q, 1, 1, NULL);
RESET SESSION AUTHORIZATION;
-- what the app did, as the owner sees it
SELECT consultant_id, agent_id, received_at IS NOT NULL AS received FROM visit WHERE project_id = :p AND visit_id = :desk_visit;
SELECT a.name AS agent, r.verdict FROM report r JOIN agent a USING (project_id, agent_id) WHERE r.project_id = :p ORDER BY r.report_id;
SELECT count(*) AS bindings FROM identity WHERE project_id = :p AND person_id = :buyer;
SELECT deposit_at IS NOT NULL AS deposit FROM person WHERE project_id = :p AND person_id = :buyer;
SELECT deal_id = :deal AS recorded, rule FROM attribution WHERE project_id = :p AND deal_id = :deal;
SELECT count(*) AS at_q FROM report WHERE project_id = :q;
\i sql/roles_teardown.psql
