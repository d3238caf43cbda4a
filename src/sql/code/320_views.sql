-- Views for BI tools, analysts and managers; each shows the rows of the
-- projects its reader is granted (reads_project, 209_access_early.sql).  Built only from visit, person, deal,
-- attribution, report and identity facts (never capture.face, capture.photo or
-- the gallery), so they hold no biometric column and give the same numbers
-- after biometric data is erased.  Days and months are the project's local ones.

-- the channel of a visit: the accompanying agent's, or natural
CREATE OR REPLACE VIEW visit_channel AS
	SELECT v.project_id, v.visit_id, v.person_id, v.started_at, v.seen_before, v.consultant_id, v.agent_id,
	       coalesce(ag.channel_id, nc.channel_id) AS channel_id,
	       (v.started_at AT TIME ZONE p.time_zone)::date AS day
	FROM visit v
	JOIN project p ON p.project_id = v.project_id
	JOIN channel nc ON nc.project_id = v.project_id AND nc.kind = 'natural'
	LEFT JOIN agent ag ON ag.project_id = v.project_id AND ag.agent_id = v.agent_id;
COMMENT ON VIEW visit_channel IS 'each visit with its local day and channel (the accompanying agent''s, or natural)';

-- daily_traffic, channel_share, conversion_funnel and consultant_board read
-- the rollups of 315_rollups.sql (counters per project and local day or month,
-- kept by triggers; the folded rows plus the deltas not yet folded, so exact
-- at every commit) instead of grouping every visit; deals and attributions,
-- far fewer, are read as they are.  rollup_check() compares the rollups with
-- the facts.
-- (unidentified captures, issue 16: captures below min_quality that matched
-- nobody, counted per day with visits: one probe of the capture_person index
-- per row.  A scalar subquery, not a LATERAL join: Citus plans a correlated
-- subquery next to the shards, but no LATERAL aggregate that reads the
-- project's time zone from a reference table, docs/scale-out.md)
CREATE OR REPLACE VIEW daily_traffic AS
	SELECT r.project_id, r.day, r.visits, r.unique_persons, r.new_persons, r.returning_persons,
	       r.accompanied_visits, r.received_visits,
	       (SELECT count(*) FROM capture x
	        WHERE x.project_id = r.project_id AND x.person_id IS NULL
	          AND x.captured_at >= (r.day::timestamp) AT TIME ZONE p.time_zone
	          AND x.captured_at < ((r.day + 1)::timestamp) AT TIME ZONE p.time_zone) AS unidentified_captures
	FROM rollup_day_current r
	JOIN project p ON p.project_id = r.project_id
	WHERE r.visits > 0 AND reads_project(r.project_id);
COMMENT ON VIEW daily_traffic IS 'visits per project and local day: unique, new and returning persons';
COMMENT ON COLUMN daily_traffic.day IS 'local date in the project''s time zone';
COMMENT ON COLUMN daily_traffic.visits IS 'visits that started that day';
COMMENT ON COLUMN daily_traffic.unique_persons IS 'distinct persons who visited that day';
COMMENT ON COLUMN daily_traffic.new_persons IS 'persons on their first visit';
COMMENT ON COLUMN daily_traffic.returning_persons IS 'persons who had visited before';
COMMENT ON COLUMN daily_traffic.accompanied_visits IS 'visits with an accompanying agent';
COMMENT ON COLUMN daily_traffic.received_visits IS 'visits a consultant received';
COMMENT ON COLUMN daily_traffic.unidentified_captures IS 'captures below min_quality that matched nobody (no person, no visit)';

CREATE OR REPLACE VIEW channel_share AS
	WITH va AS (
		-- visits per month and channel: the accompanying agent's, or natural
		-- (came alone; the agent's channel by a scalar subquery, not an outer
		-- join: Citus cannot push an outer join of the rollup's UNION ALL down)
		SELECT r.project_id, r.month,
		       coalesce((SELECT ag.channel_id FROM agent ag WHERE ag.project_id = r.project_id AND ag.agent_id = r.agent_id),
		                nc.channel_id) AS channel_id,
		       r.visits
		FROM rollup_month_agent_current r
		JOIN channel nc ON nc.project_id = r.project_id AND nc.kind = 'natural'
		WHERE r.visits > 0),
	u AS (
		SELECT va.project_id, va.month, va.channel_id, va.visits, 0 AS deals, 0::numeric AS revenue
		FROM va
		UNION ALL
		SELECT a.project_id, date_trunc('month', a.signed_at AT TIME ZONE p.time_zone)::date,
		       a.entitled_channel_id, 0, 1, x.price
		FROM attribution a
		JOIN project p ON p.project_id = a.project_id
		JOIN deal x ON x.project_id = a.project_id AND x.deal_id = a.deal_id
		WHERE a.is_current),
	j AS (
		SELECT project_id, month, channel_id, sum(visits)::bigint AS visits, sum(deals)::bigint AS deals, sum(revenue) AS revenue
		FROM u GROUP BY project_id, month, channel_id)
	SELECT j.project_id, j.month, j.channel_id, c.name AS channel, c.kind,
	       j.visits, round(j.visits::numeric / nullif(sum(j.visits) OVER w, 0), 4) AS visit_share,
	       j.deals, round(j.deals::numeric / nullif(sum(j.deals) OVER w, 0), 4) AS deal_share,
	       j.revenue
	FROM j JOIN channel c ON c.project_id = j.project_id AND c.channel_id = j.channel_id
	WHERE reads_project(j.project_id)
	WINDOW w AS (PARTITION BY j.project_id, j.month);
COMMENT ON VIEW channel_share IS 'each channel''s share of visits and of (currently attributed) deals per project and local month';
COMMENT ON COLUMN channel_share.month IS 'first day of the local month';
COMMENT ON COLUMN channel_share.visits IS 'visits accompanied by the channel''s agents (natural: came alone)';
COMMENT ON COLUMN channel_share.visit_share IS 'visits / all visits of the month (0 to 1)';
COMMENT ON COLUMN channel_share.deals IS 'deals signed that month whose current attribution is this channel';
COMMENT ON COLUMN channel_share.deal_share IS 'deals / all deals of the month (0 to 1)';
COMMENT ON COLUMN channel_share.revenue IS 'sum of those deals'' prices';

CREATE OR REPLACE VIEW conversion_funnel AS
	WITH fa AS (
		-- persons by month and channel of their first visit (the one not
		-- seen_before: the accompanying agent's channel, or natural, as in
		-- channel_share), how many have more than one visit and how many bought
		SELECT r.project_id, r.month,
		       coalesce((SELECT ag.channel_id FROM agent ag WHERE ag.project_id = r.project_id AND ag.agent_id = r.agent_id),
		                nc.channel_id) AS channel_id,
		       r.first_visits, r.returned, r.bought
		FROM rollup_month_agent_current r
		JOIN channel nc ON nc.project_id = r.project_id AND nc.kind = 'natural'
		WHERE r.first_visits > 0)
	SELECT fa.project_id, fa.month, c.channel_id, c.name AS channel, c.kind,
	       sum(fa.first_visits)::bigint AS first_visits,
	       sum(fa.returned)::bigint AS returned,
	       sum(fa.bought)::bigint AS bought,
	       round(sum(fa.bought) / sum(fa.first_visits), 4) AS conversion_rate
	FROM fa
	JOIN channel c ON c.project_id = fa.project_id AND c.channel_id = fa.channel_id
	WHERE reads_project(fa.project_id)
	GROUP BY fa.project_id, fa.month, c.channel_id, c.name, c.kind;
COMMENT ON VIEW conversion_funnel IS 'persons by local month and channel of their first visit: how many returned and how many bought';
COMMENT ON COLUMN conversion_funnel.month IS 'first day of the local month of the person''s first visit';
COMMENT ON COLUMN conversion_funnel.channel IS 'the channel that brought the person the first time (natural: came alone)';
COMMENT ON COLUMN conversion_funnel.first_visits IS 'persons whose first visit fell in this month and channel';
COMMENT ON COLUMN conversion_funnel.returned IS 'of those, persons with more than one visit';
COMMENT ON COLUMN conversion_funnel.bought IS 'of those, persons who are a buyer or co-buyer of a deal';
COMMENT ON COLUMN conversion_funnel.conversion_rate IS 'bought / first_visits';

CREATE OR REPLACE VIEW flagged_deals AS
	SELECT a.project_id, a.deal_id, (a.signed_at AT TIME ZONE p.time_zone) AS signed_local, x.price,
	       x.channel_id AS claimed_channel_id, cc.name AS claimed_channel, x.agent_id AS claimed_agent_id,
	       a.entitled_channel_id, ec.name AS entitled_channel, a.entitled_agent_id, a.entitled_consultant_id,
	       a.commission, a.rule, a.flags, a.version, a.decided_at
	FROM attribution a
	JOIN project p ON p.project_id = a.project_id
	JOIN deal x ON x.project_id = a.project_id AND x.deal_id = a.deal_id
	JOIN channel ec ON ec.project_id = a.project_id AND ec.channel_id = a.entitled_channel_id
	LEFT JOIN channel cc ON cc.project_id = x.project_id AND cc.channel_id = x.channel_id
	WHERE a.is_current AND cardinality(a.flags) > 0 AND reads_project(a.project_id);
COMMENT ON VIEW flagged_deals IS 'deals whose current attribution carries flags; firstsight.explain_attribution gives the timeline';
COMMENT ON COLUMN flagged_deals.signed_local IS 'signing time in the project''s time zone';
COMMENT ON COLUMN flagged_deals.claimed_channel IS 'the channel the deal was entered with';
COMMENT ON COLUMN flagged_deals.entitled_channel IS 'the channel the rules entitle';
COMMENT ON COLUMN flagged_deals.commission IS 'commission owed to the entitled channel (rate x price)';
COMMENT ON COLUMN flagged_deals.rule IS 'the rule that decided';
COMMENT ON COLUMN flagged_deals.flags IS 'claim_mismatch, late_change, flying_order, hanging_order_suspect, protection_conflict, consultant_conflict, abnormal_cycle, prior_visit_elsewhere, backdated_deal (labels: firstsight.label)';
COMMENT ON COLUMN flagged_deals.version IS 'the attribution version (highest = current)';

-- (referral rewards, issue 16: a row per referral channel, month and referring
-- owner; its deals are also counted in the commission rows of their entitled channel)
CREATE OR REPLACE VIEW commission_ledger AS
	SELECT a.project_id, date_trunc('month', a.signed_at AT TIME ZONE p.time_zone)::date AS month,
	       a.entitled_channel_id AS channel_id, c.name AS channel, c.kind, c.commission_rate,
	       count(*) AS deals, sum(x.price) AS revenue, sum(a.commission) AS commission,
	       count(*) FILTER (WHERE cardinality(a.flags) > 0) AS flagged_deals,
	       coalesce(sum(a.commission) FILTER (WHERE cardinality(a.flags) > 0), 0) AS flagged_commission,
	       'commission'::text AS entry, NULL::bigint AS referrer_person_id
	FROM attribution a
	JOIN project p ON p.project_id = a.project_id
	JOIN deal x ON x.project_id = a.project_id AND x.deal_id = a.deal_id
	JOIN channel c ON c.project_id = a.project_id AND c.channel_id = a.entitled_channel_id
	WHERE a.is_current AND reads_project(a.project_id)
	GROUP BY a.project_id, 2, a.entitled_channel_id, c.name, c.kind, c.commission_rate
	UNION ALL
	SELECT x.project_id, date_trunc('month', x.signed_at AT TIME ZONE p.time_zone)::date,
	       x.channel_id, c.name, c.kind, c.commission_rate,
	       count(*), sum(x.price), sum(c.commission_rate * x.price),
	       count(*) FILTER (WHERE cardinality(a.flags) > 0),
	       coalesce(sum(c.commission_rate * x.price) FILTER (WHERE cardinality(a.flags) > 0), 0),
	       'referral_reward', x.referrer_person_id
	FROM deal x
	JOIN project p ON p.project_id = x.project_id
	JOIN channel c ON c.project_id = x.project_id AND c.channel_id = x.channel_id AND c.kind = 'referral'
	LEFT JOIN attribution a ON a.project_id = x.project_id AND a.deal_id = x.deal_id AND a.is_current
	WHERE x.referrer_person_id IS NOT NULL AND reads_project(x.project_id)
	GROUP BY x.project_id, 2, x.channel_id, c.name, c.kind, c.commission_rate, x.referrer_person_id;
COMMENT ON VIEW commission_ledger IS 'commission owed per project, local month and entitled channel, from current attributions';
COMMENT ON COLUMN commission_ledger.month IS 'first day of the local month of signing';
COMMENT ON COLUMN commission_ledger.deals IS 'deals attributed to the channel';
COMMENT ON COLUMN commission_ledger.revenue IS 'sum of their prices';
COMMENT ON COLUMN commission_ledger.commission IS 'sum of commissions (rate x price)';
COMMENT ON COLUMN commission_ledger.flagged_deals IS 'of those, deals with flags (to check before paying)';
COMMENT ON COLUMN commission_ledger.flagged_commission IS 'commission on flagged deals';
COMMENT ON COLUMN commission_ledger.entry IS 'commission: owed to the entitled channel; referral_reward: owed to the referring owner (referrer_person_id) of referral deals, the referral channel''s rate x price';
COMMENT ON COLUMN commission_ledger.referrer_person_id IS 'referral_reward rows: the referring owner (a person who bought before) the reward is credited to';

CREATE OR REPLACE VIEW consultant_board AS
	WITH u AS (
		-- receptions, distinct persons received and first-visit receptions per month and consultant
		SELECT r.project_id, r.month, r.consultant_id, r.receptions, r.persons_received,
		       r.new_persons_received, 0 AS deals, 0::numeric AS revenue, 0 AS conflicts
		FROM rollup_consultant_current r WHERE r.receptions > 0
		UNION ALL
		SELECT a.project_id, date_trunc('month', a.signed_at AT TIME ZONE p.time_zone)::date, a.entitled_consultant_id,
		       0, 0, 0, 1, x.price, ('consultant_conflict' = ANY (a.flags))::int
		FROM attribution a
		JOIN project p ON p.project_id = a.project_id
		JOIN deal x ON x.project_id = a.project_id AND x.deal_id = a.deal_id
		WHERE a.is_current AND a.entitled_consultant_id IS NOT NULL)
	SELECT u.project_id, u.month, u.consultant_id, k.name AS consultant,
	       sum(u.receptions)::bigint AS receptions, sum(u.persons_received)::bigint AS persons_received,
	       sum(u.new_persons_received)::bigint AS new_persons_received,
	       sum(u.deals)::bigint AS deals, sum(u.revenue) AS revenue, sum(u.conflicts)::bigint AS conflicts
	FROM u
	LEFT JOIN consultant k ON k.project_id = u.project_id AND k.consultant_id = u.consultant_id
	WHERE reads_project(u.project_id)
	GROUP BY u.project_id, u.month, u.consultant_id, k.name;
COMMENT ON VIEW consultant_board IS 'per consultant and local month: receptions and the deals the rules entitle them to';
COMMENT ON COLUMN consultant_board.month IS 'first day of the local month';
COMMENT ON COLUMN consultant_board.receptions IS 'visits the consultant received';
COMMENT ON COLUMN consultant_board.persons_received IS 'distinct persons received';
COMMENT ON COLUMN consultant_board.new_persons_received IS 'receptions of persons on their first visit';
COMMENT ON COLUMN consultant_board.deals IS 'deals signed that month whose entitled consultant is this one';
COMMENT ON COLUMN consultant_board.revenue IS 'sum of their prices';
COMMENT ON COLUMN consultant_board.conflicts IS 'of those, deals flagged consultant_conflict (another consultant closed them)';
-- the longest protection period of any channel (0.1.0's protection_expiring called it as the
-- reader, who may not read channel: the view now reads it itself, once per query)
CREATE OR REPLACE FUNCTION max_protection_days() RETURNS integer
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT coalesce(max(protection_days), 0) FROM channel $$;
CREATE OR REPLACE VIEW protection_expiring AS
	WITH ps AS MATERIALIZED (
		-- the two settings per project, read once per project rather than per visit
		SELECT p.project_id, p.time_zone,
		       (SELECT coalesce(s.value, setting_default(d, p.dims)) FROM setting_definition d
		        LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
		        WHERE d.setting = 'attribution_mode') AS mode,
		       (SELECT coalesce(s.value, setting_default(d, p.dims)) FROM setting_definition d
		        LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
		        WHERE d.setting = 'report_validity')::interval AS validity
		FROM project p),
	firsts AS (
		-- first visits (not seen_before) with an accompanying agent, recent enough for
		-- the longest protection to run (a window of N days ends at most N + 1 days
		-- and a daylight-saving hour after its visit)
		SELECT v.project_id, v.person_id, v.visit_id, v.started_at, v.agent_id
		FROM visit v
		JOIN person pe ON pe.project_id = v.project_id AND pe.person_id = v.person_id AND pe.merged_into IS NULL
		WHERE NOT v.seen_before AND v.agent_id IS NOT NULL
		  AND v.started_at > (SELECT now() - make_interval(days => coalesce(max(c.protection_days), 0) + 2) FROM channel c))
	SELECT f.project_id, f.person_id, ag.channel_id, c.name AS channel, f.agent_id,
	       f.started_at AT TIME ZONE ps.time_zone AS protected_from,
	       w.until_local AS protected_until,
	       w.until_local::date - (now() AT TIME ZONE ps.time_zone)::date AS days_left
	FROM firsts f
	JOIN ps ON ps.project_id = f.project_id
	JOIN agent ag ON ag.project_id = f.project_id AND ag.agent_id = f.agent_id
	JOIN channel c ON c.project_id = ag.project_id AND c.channel_id = ag.channel_id
	-- the window's end, computed once a row (OFFSET 0 keeps the planner from copying it into every use)
	CROSS JOIN LATERAL (SELECT e.until, e.until AT TIME ZONE ps.time_zone AS until_local
	                    FROM (SELECT local_days_end(f.started_at, c.protection_days, ps.time_zone) AS until OFFSET 0) e) w
	WHERE w.until > now() AND reads_project(f.project_id)
	  -- no deal names the person (as buyer or co-buyer), nor a person merged into them
	  AND NOT EXISTS (SELECT 1 FROM rollup_buyer b
	                  WHERE b.project_id = f.project_id AND b.person_id = f.person_id AND b.deals > 0)
	  AND NOT EXISTS (SELECT 1 FROM person m
	                  JOIN rollup_buyer b ON b.project_id = m.project_id AND b.person_id = m.person_id AND b.deals > 0
	                  WHERE m.project_id = f.project_id AND m.merged_into = f.person_id)
	  AND (ps.mode = 'first_visit'
	       OR EXISTS (
			SELECT 1 FROM report r
			JOIN agent ra ON ra.project_id = r.project_id AND ra.agent_id = r.agent_id AND ra.channel_id = ag.channel_id
			JOIN identity i ON i.project_id = r.project_id AND i.person_id = f.person_id
			              AND (r.phone_hash = i.phone_hash OR (r.phone_hash IS NULL AND r.phone_masked_hash = i.phone_masked_hash))
			-- the decision's rule: from the filing time the database recorded, never the claimed time
			WHERE r.project_id = f.project_id AND r.created_at < f.started_at
			  AND report_covers(r.created_at, report_expiry(r.created_at, c.report_cutoff, ps.validity, ps.time_zone), f.started_at)));
COMMENT ON VIEW protection_expiring IS 'running agency protection windows of persons no deal names as buyer or co-buyer, soonest end first when ordered by protected_until';
COMMENT ON COLUMN protection_expiring.channel IS 'the agency that brought the person first (with a valid report, in report_protection mode)';
COMMENT ON COLUMN protection_expiring.protected_from IS 'local time of the first visit';
COMMENT ON COLUMN protection_expiring.protected_until IS 'local time the window ends (exclusive)';
COMMENT ON COLUMN protection_expiring.days_left IS 'local calendar days from today to the end';

-- the columns the views share, documented once
DO $$
DECLARE
	c record;
	common jsonb := '{
		"project_id": "the project (sales office)",
		"channel_id": "the channel",
		"channel": "the channel''s name",
		"kind": "the channel''s kind: natural, agency, platform, referral, staff",
		"commission_rate": "the channel''s commission rate (0 to 1)",
		"consultant_id": "the consultant",
		"consultant": "the consultant''s name",
		"deal_id": "the deal",
		"price": "the deal''s price",
		"person_id": "the person (a face identity, no biometric data)",
		"agent_id": "the agent",
		"claimed_channel_id": "the channel the deal was entered with",
		"claimed_agent_id": "the agent the deal was entered with",
		"entitled_channel_id": "the channel the rules entitle",
		"entitled_agent_id": "the agent the rules entitle",
		"entitled_consultant_id": "the consultant the rules entitle",
		"decided_at": "when this attribution version was decided"
	}';
BEGIN
	FOR c IN
		SELECT a.attrelid::regclass AS rel, a.attname
		FROM pg_attribute a JOIN pg_class k ON k.oid = a.attrelid
		WHERE k.relnamespace = 'firstsight'::regnamespace
		  AND k.relname IN ('daily_traffic', 'channel_share', 'conversion_funnel', 'flagged_deals',
		                    'commission_ledger', 'consultant_board', 'protection_expiring')
		  AND a.attnum > 0 AND col_description(a.attrelid, a.attnum) IS NULL
		  AND common ? a.attname::text
	LOOP
		EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', c.rel, c.attname, common->>c.attname::text);
	END LOOP;
END
$$;
