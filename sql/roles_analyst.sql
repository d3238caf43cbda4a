-- An analyst (issue 16): scoped per project with the same grants as a
-- manager (grant_analyst).  The BI views show the projects granted to them,
-- the group views a group all of whose projects are granted, and
-- explain_attribution works for their projects.  Tried as the analyst would:
-- reading before any grant, another office's deal by id, a cheap leaky
-- function over the views, the tables behind them, granting themselves more.
\i sql/roles_setup.psql
CREATE ROLE regress_r16_analyst LOGIN IN ROLE firstsight_analyst;

-- a member of firstsight_analyst with no project granted reads no project
SET ROLE regress_r16_analyst;
SELECT count(*) AS rows FROM firstsight.flagged_deals WHERE project_id IN (:p, :q);
SELECT count(*) AS rows FROM firstsight.commission_ledger WHERE project_id IN (:p, :q);
SELECT count(*) AS projects FROM (SELECT DISTINCT project_id FROM firstsight.project_settings) s;
SELECT count(*) AS projects FROM (SELECT DISTINCT project_id FROM firstsight.daily_traffic) s;
SELECT count(*) FROM firstsight.explain_attribution(:p, 1);
RESET ROLE;

SELECT grant_analyst('regress_r16_analyst', :p) AS granted;
SELECT grant_analyst('regress_r16_analyst', :p) AS granted;	-- already granted
SELECT grant_analyst('firstsight_analyst', :p);
SELECT grant_analyst('regress_r16_nobody', :p);
SELECT grant_analyst('regress_r16_analyst', -1);
SET ROLE regress_r16_analyst;
-- every view: the granted project's rows, none of another
SELECT 'daily_traffic' AS view, count(*) FILTER (WHERE project_id = :p) > 0 AS own, count(*) FILTER (WHERE project_id <> :p) AS others FROM firstsight.daily_traffic
UNION ALL SELECT 'channel_share', count(*) FILTER (WHERE project_id = :p) > 0, count(*) FILTER (WHERE project_id <> :p) FROM firstsight.channel_share
UNION ALL SELECT 'conversion_funnel', count(*) FILTER (WHERE project_id = :p) > 0, count(*) FILTER (WHERE project_id <> :p) FROM firstsight.conversion_funnel
UNION ALL SELECT 'flagged_deals', count(*) FILTER (WHERE project_id = :p) > 0, count(*) FILTER (WHERE project_id <> :p) FROM firstsight.flagged_deals
UNION ALL SELECT 'commission_ledger', count(*) FILTER (WHERE project_id = :p) > 0, count(*) FILTER (WHERE project_id <> :p) FROM firstsight.commission_ledger
UNION ALL SELECT 'consultant_board', count(*) FILTER (WHERE project_id = :p) > 0, count(*) FILTER (WHERE project_id <> :p) FROM firstsight.consultant_board
UNION ALL SELECT 'protection_expiring', count(*) FILTER (WHERE project_id = :p) > 0, count(*) FILTER (WHERE project_id <> :p) FROM firstsight.protection_expiring
UNION ALL SELECT 'project_settings', count(*) FILTER (WHERE project_id = :p) > 0, count(*) FILTER (WHERE project_id <> :p) FROM firstsight.project_settings;
SELECT deal_id, price, claimed_channel, entitled_channel, flags FROM firstsight.flagged_deals;
SELECT count(*) > 2 AS explained FROM firstsight.explain_attribution(:p, 1);
-- the other office's deal, by id; deciding again is the manager's
SELECT count(*) FROM firstsight.explain_attribution(:q, 1);
SELECT * FROM firstsight.reattribute(:p, '2024-01-01', '2025-01-01');
-- a leaky function cheaper than the view's filter sees only the granted rows
CREATE FUNCTION pg_temp.leak(project_id bigint, price numeric) RETURNS boolean
	LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
	IF price IN (1000000, 2000000) THEN
		RAISE NOTICE 'saw price %', price;
	END IF;
	RETURN true;
END $$;
SELECT deal_id FROM firstsight.flagged_deals WHERE pg_temp.leak(project_id, price) AND price IN (1000000, 2000000);
-- the tables behind the views, the audited reads, granting itself more
SELECT count(*) FROM firstsight.attribution;
SELECT count(*) FROM firstsight.deal;
SELECT count(*) FROM firstsight.visit;
SELECT count(*) FROM firstsight.rollup_day;
SELECT count(*) FROM firstsight.capture_log;
SELECT count(*) FROM firstsight.attribution_evidence;
SELECT project_id = :p AS own FROM firstsight.project_access;
SELECT firstsight.photo(:p, 1, 'dashboard check');
SELECT firstsight.grant_analyst('regress_r16_analyst', :q);
INSERT INTO firstsight.project_access (role_name, project_id) VALUES ('regress_r16_analyst', :q);
-- the group's figures: not while one of its offices is not granted
SELECT count(*) AS group_rows FROM firstsight.group_traffic WHERE group_name = 'roles group';
SELECT count(*) AS group_rows FROM firstsight.group_channel_share WHERE group_name = 'roles group';
SELECT count(*) AS group_rows FROM firstsight.group_commissions WHERE group_name = 'roles group';
SELECT count(*) AS group_rows FROM firstsight.group_flagged_deals WHERE group_name = 'roles group';
RESET ROLE;

-- granted every office of the group: the group views show it
SELECT grant_analyst('regress_r16_analyst', :q) AS granted;
SET ROLE regress_r16_analyst;
SELECT group_name, sum(visits) AS visits FROM firstsight.group_traffic WHERE group_name = 'roles group' GROUP BY 1;
SELECT group_name, kind, deals, deal_share FROM firstsight.group_channel_share WHERE group_name = 'roles group' ORDER BY kind;
SELECT group_name, projects, deals, revenue FROM firstsight.group_commissions WHERE group_name = 'roles group';
SELECT count(*) AS group_rows FROM firstsight.group_flagged_deals WHERE group_name = 'roles group';
SELECT count(*) > 2 AS explained FROM firstsight.explain_attribution(:q, 1);
RESET ROLE;
\i sql/roles_teardown.psql
