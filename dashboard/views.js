// The analyst views the dashboard reads, one entry each: the data file
// src/data/NAME.json is made by src/data/[view].json.js from `sql`, and the
// test (test/dashboard/render.mjs) runs the same `sql` through psql and compares
// it with the page.  A view another piece of work has not installed yet
// (`relation` missing from the database) becomes a data file that says so, and
// its page shows what it is waiting for.  To add a page for a new view: one
// entry here, one page in src/ that calls viewTable("NAME"), one line in
// observablehq.config.js's pages.
export const views = [
	{
		name: "daily_traffic",
		relation: "firstsight.daily_traffic",
		sql: `SELECT project_id, day, visits, unique_persons, new_persons, returning_persons,
		             accompanied_visits, received_visits
		      FROM firstsight.daily_traffic ORDER BY project_id, day`
	},
	{
		name: "channel_share",
		relation: "firstsight.channel_share",
		sql: `SELECT project_id, month, channel, kind, visits, visit_share, deals, deal_share, revenue
		      FROM firstsight.channel_share ORDER BY project_id, month, channel`
	},
	{
		name: "commission_ledger",
		relation: "firstsight.commission_ledger",
		sql: `SELECT project_id, month, channel, kind, commission_rate, deals, revenue, commission,
		             flagged_deals, flagged_commission
		      FROM firstsight.commission_ledger ORDER BY project_id, month, channel`
	},
	{
		name: "conversion_funnel",
		relation: "firstsight.conversion_funnel",
		sql: `SELECT project_id, month, channel, kind, first_visits, returned, bought, conversion_rate
		      FROM firstsight.conversion_funnel ORDER BY project_id, month, channel`
	},
	{
		name: "flagged_deals",
		relation: "firstsight.flagged_deals",
		sql: `SELECT project_id, deal_id, signed_local, price, claimed_channel, entitled_channel,
		             commission, rule, flags, version, decided_at
		      FROM firstsight.flagged_deals ORDER BY project_id, deal_id`
	},
	{
		// each flagged deal's timeline: explain_attribution, which the analyst may run on
		// granted projects once issue 16's roles are in (before that: the page says so)
		name: "flagged_timelines",
		relation: "firstsight.flagged_deals",
		requires: "firstsight.explain_attribution(bigint,bigint)",
		sql: `SELECT f.project_id, f.deal_id, t.n AS line_no, t.line
		      FROM firstsight.flagged_deals f,
		           LATERAL firstsight.explain_attribution(f.project_id, f.deal_id) WITH ORDINALITY AS t(line, n)
		      ORDER BY f.project_id, f.deal_id, t.n`
	},
	{
		name: "consultant_board",
		relation: "firstsight.consultant_board",
		sql: `SELECT project_id, month, consultant, receptions, persons_received, new_persons_received,
		             deals, revenue, conflicts
		      FROM firstsight.consultant_board ORDER BY project_id, month, consultant NULLS LAST`
	},
	{
		name: "protection_expiring",
		relation: "firstsight.protection_expiring",
		sql: `SELECT project_id, person_id, channel, agent_id, protected_from, protected_until, days_left
		      FROM firstsight.protection_expiring ORDER BY project_id, protected_until, person_id`
	},
	// added by other work of issue 16 (each waits until the database has it):
	// the day's worklist is a function, called for each project's latest day
	{
		name: "daily_worklist",
		relation: "firstsight.daily_traffic",
		requires: "firstsight.daily_worklist(bigint,date)",
		sql: `SELECT t.project_id, t.day, w.kind_label, w.at, w.person_id, w.visit_id, w.ref_id, w.description, w.action
		      FROM (SELECT project_id, max(day) AS day FROM firstsight.daily_traffic GROUP BY project_id) t,
		           LATERAL firstsight.daily_worklist(t.project_id, t.day) WITH ORDINALITY AS w
		      ORDER BY t.project_id, w.ordinality`
	},
	{
		name: "zone_funnel",
		relation: "firstsight.zone_funnel",
		sql: `SELECT project_id, day, channel, kind, stage, zone, visits, reached, share
		      FROM firstsight.zone_funnel ORDER BY project_id, day, channel, stage`
	},
	{
		name: "visit_route",
		relation: "firstsight.visit_route",
		sql: `SELECT project_id, visit_id, person_id, step, zone, camera_id, arrived_local, dwell, captures
		      FROM firstsight.visit_route ORDER BY project_id, visit_id, step`
	},
	{
		name: "attribution_report",
		relation: "firstsight.attribution_report",
		sql: `SELECT project, deal_id, signed_local, price, claimed_channel, claimed_agent, entitled_channel,
		             entitled_agent, entitled_consultant, commission, rule_zh, rule_en, flags_zh, flags_en
		      FROM firstsight.attribution_report ORDER BY project_id, deal_id`
	}
];

export const byName = Object.fromEntries(views.map((v) => [v.name, v]));
