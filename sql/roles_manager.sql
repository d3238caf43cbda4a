-- A project manager (issue 16): after setup_roles() and grant_project, the
-- manager runs explain_attribution and reattribute and reads flagged_deals and
-- commission_ledger -- for the projects granted to them only.  Each refusal is
-- tried as the manager would: another project's deal by its id, the group
-- figures while granted only one office, the sales app's and agency's calls.
\i sql/roles_setup.psql
CREATE ROLE regress_r16_mgr LOGIN;
SELECT grant_project('regress_r16_mgr', :p) AS granted;

SET ROLE regress_r16_mgr;
-- the dispute meeting: the flagged deal of their project, its commission, its timeline
SELECT project_id = :p AS own, deal_id, price, claimed_channel, entitled_channel, commission, flags
FROM firstsight.flagged_deals ORDER BY project_id, deal_id;
SELECT project_id = :p AS own, month, channel, deals, revenue, commission, flagged_deals
FROM firstsight.commission_ledger ORDER BY project_id, month, channel;
SELECT count(*) > 2 AS explained FROM firstsight.explain_attribution(:p, 1);
-- after a correction: decide their project's deals again
SELECT deal_id, version, changed FROM firstsight.reattribute(:p, '2024-01-01', '2025-01-01');
-- the other office's deal, by its id: refused, whether or not it exists
SELECT count(*) FROM firstsight.explain_attribution(:q, 1);
SELECT count(*) FROM firstsight.explain_attribution(:q, 424242);
SELECT * FROM firstsight.reattribute(:q, '2024-01-01', '2025-01-01');
SELECT count(*) AS other_projects FROM firstsight.flagged_deals WHERE project_id <> :p;
SELECT count(*) AS other_projects FROM firstsight.commission_ledger WHERE project_id <> :p;
SELECT count(*) AS other_projects FROM firstsight.daily_traffic WHERE project_id <> :p;
SELECT count(*) AS other_projects FROM firstsight.project_settings WHERE project_id <> :p;
-- the group's figures need every office of the group
SELECT count(*) AS group_rows FROM firstsight.group_commissions WHERE group_name = 'roles group';
SELECT count(*) AS group_rows FROM firstsight.group_flagged_deals WHERE group_name = 'roles group';
-- not theirs to do: the sales app's and the agency's calls, the HMAC'd identities
SELECT firstsight.record_deal(:p, 1, now(), 1);
SELECT * FROM firstsight.agency_file_report(21, '13800000099');
SELECT count(*) FROM firstsight.agency_reports;
SELECT count(*) FROM firstsight.identity;
SELECT firstsight.grant_project('regress_r16_mgr', :q);
SELECT firstsight.grant_analyst('regress_r16_mgr', :q);
RESET ROLE;

-- granted the other office too: the group's figures appear, both offices' deals
SELECT grant_project('regress_r16_mgr', :q) AS granted;
SET ROLE regress_r16_mgr;
SELECT group_name, sum(deals) AS deals, sum(revenue) AS revenue, sum(commission) AS commission
FROM firstsight.group_commissions WHERE group_name = 'roles group' GROUP BY 1;
SELECT project_id = :p AS at_p, deal_id, flags FROM firstsight.group_flagged_deals WHERE group_name = 'roles group' ORDER BY 1 DESC;
SELECT count(*) > 2 AS explained FROM firstsight.explain_attribution(:q, 1);
RESET ROLE;
-- revoked: gone again
SELECT revoke_project('regress_r16_mgr', :q) AS revoked;
SET ROLE regress_r16_mgr;
SELECT count(*) FROM firstsight.explain_attribution(:q, 1);
SELECT count(*) AS group_rows FROM firstsight.group_commissions WHERE group_name = 'roles group';
RESET ROLE;
\i sql/roles_teardown.psql
