-- An agency portal (issue 16): a login bound to ONE channel (grant_channel)
-- files reports for that channel's agents and sees its own reports' verdicts
-- and its own customers' protection status, nothing else.  Tried as the
-- agency would: filing in another agency's name, an agent id that may not
-- exist, the tables and views behind, other agencies' reports and customers,
-- person ids, a second channel on the same login.
\i sql/roles_setup.psql
CREATE ROLE regress_r16_lianjia LOGIN;
CREATE ROLE regress_r16_woai LOGIN;
CREATE ROLE regress_r16_mgr LOGIN;
SELECT grant_project('regress_r16_mgr', :p) AS granted;
SELECT grant_channel('regress_r16_lianjia', :p, 11) AS bound;
SELECT grant_channel('regress_r16_lianjia', :p, 11) AS bound;	-- already
SELECT grant_channel('regress_r16_woai', :p, 12) AS bound;
-- one channel per login, an agency's channel, the login's only firstsight role
SELECT grant_channel('regress_r16_lianjia', :p, 12);
SELECT grant_channel('regress_r16_lianjia', :q, 11);
SELECT grant_channel('regress_r16_mgr', :p, 11);
SELECT grant_channel('firstsight_agency', :p, 11);
SELECT grant_channel('regress_r16_nobody', :p, 11);
SELECT grant_channel('regress_r16_woai', :p, 424242);
SELECT grant_channel('regress_r16_woai', :p, (SELECT channel_id FROM channel WHERE project_id = :p AND kind = 'natural'));
SELECT grant_project('regress_r16_woai', :p);
SELECT grant_sales_app('regress_r16_woai', :p);
SELECT role_name, project_id = :p AS at_p, channel_id, granted_by = current_user AS by_owner FROM channel_access ORDER BY 1;

SET ROLE regress_r16_lianjia;
-- files for its own agents: a new customer, a masked phone, Woai's customer
SELECT verdict, reason LIKE 'accepted; valid until %' AS valid_until FROM firstsight.agency_file_report(23, '13800000021');
SELECT verdict FROM firstsight.agency_file_report(21, '138****0022');
SELECT verdict, reason LIKE 'the customer is protected by another channel until %' AS says_only_that FROM firstsight.agency_file_report(21, '13800000003');
SELECT verdict, reason LIKE 'your agency already reported this customer; that report is valid until %' AS says
FROM firstsight.agency_file_report(21, '138****0022');
-- another agency's agent, an agent that does not exist: the same refusal
SELECT * FROM firstsight.agency_file_report(22, '13800000023');
SELECT * FROM firstsight.agency_file_report(424242, '13800000023');
-- the sales app's functions, in Woai's name or its own
SELECT * FROM firstsight.file_report_verdict(:p, 22, '13800000023');
SELECT firstsight.file_report(:p, 21, '13800000023');
SELECT firstsight.receive(:p, 2, 1, 21);
SELECT firstsight.record_deal(:p, 2, now(), 1, 11, 21);
-- its reports: its own agents' only
SELECT agent, verdict, valid FROM firstsight.agency_reports ORDER BY report_id;
-- its customers: the one it brought (protected), not Woai's; no person id
SELECT agent, visits, first_touch, protected_until IS NOT NULL AS protected, days_left > 80 AS most_left, bought_through_you, status
FROM firstsight.agency_customers;
SELECT count(*) FROM firstsight.agency_customers WHERE first_visit_id = 3;
SELECT attname FROM pg_attribute WHERE attrelid = 'firstsight.agency_customers'::regclass AND attnum > 0 AND attname LIKE '%person%';
-- nothing else: tables, BI views, evidence, other functions
SELECT count(*) FROM firstsight.report;
SELECT count(*) FROM firstsight.visit;
SELECT count(*) FROM firstsight.person;
SELECT count(*) FROM firstsight.agent;
SELECT count(*) FROM firstsight.channel;
SELECT count(*) FROM firstsight.deal;
SELECT count(*) FROM firstsight.attribution;
SELECT count(*) FROM firstsight.channel_access;
SELECT count(*) FROM firstsight.project_access;
SELECT count(*) FROM firstsight.flagged_deals;
SELECT count(*) FROM firstsight.commission_ledger;
SELECT count(*) FROM firstsight.protection_expiring;
SELECT count(*) FROM firstsight.attribution_evidence;
SELECT count(*) FROM firstsight.explain_attribution(:p, 1);
SELECT firstsight.grant_channel('regress_r16_lianjia', :p, 12);
SELECT firstsight.revoke_channel('regress_r16_woai');
RESET ROLE;

-- Woai sees its own, not Lianjia's; its customer came with it first but
-- without a report (report_protection mode): not protected
SET ROLE regress_r16_woai;
SELECT verdict FROM firstsight.agency_file_report(22, '13800000031');
SELECT agent, verdict FROM firstsight.agency_reports ORDER BY report_id;
SELECT agent, first_touch, status FROM firstsight.agency_customers;
RESET ROLE;

-- the customer buys through Lianjia: the deal shows on Lianjia's side only
SELECT record_deal(:p, 2, now(), 3000000, 11, 21, 1) > 0 AS recorded;
SET ROLE regress_r16_lianjia;
SELECT agent, bought_through_you, status FROM firstsight.agency_customers;
RESET ROLE;

-- unbound: a firstsight_agency login with no channel does nothing and sees nothing
SELECT revoke_channel('regress_r16_woai') AS revoked;
SET ROLE regress_r16_woai;
SELECT * FROM firstsight.agency_file_report(22, '13800000024');
SELECT count(*) FROM firstsight.agency_reports;
SELECT count(*) FROM firstsight.agency_customers;
RESET ROLE;
-- what the manager sees of the agencies' reports: every one, by agent
SET ROLE regress_r16_mgr;
SELECT count(*) AS visits_seen FROM firstsight.visit WHERE project_id = :p;
RESET ROLE;
SELECT a.name AS agent, r.verdict FROM report r JOIN agent a USING (project_id, agent_id) WHERE r.project_id = :p ORDER BY r.report_id;
\i sql/roles_teardown.psql
