// The dashboard test: renders every page of the built dashboard (dist/) in
// headless Chromium and checks that
//   - the page loads with no console error, no page error, no failed request,
//     no request leaving this machine, and no cell in error;
//   - every table of a view (<figure data-view=NAME>) shows the rows that the
//     same SQL (views.js) gives when run with psql as the same login, in order,
//     and a view not installed yet shows what it waits for;
//   - every headline figure (<div data-figure=NAME>) equals its SQL below.
// Usage: node test/render.mjs [SCREENSHOT.png]; PG* say where the database is,
// PSQL which psql to run.  Prints "ok"/"not ok" lines and exits 1 on any failure.
import {execFileSync} from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {fileURLToPath} from "node:url";
import {chromium} from "playwright-core";
import {serve} from "../serve.mjs";
import {byName} from "../views.js";
import config from "../observablehq.config.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..");
const psql = process.env.PSQL ?? "psql";
const screenshot = process.argv[2];

// the headline figures and the SQL each must equal
const figures = {
	visits: "SELECT coalesce(sum(visits), 0) FROM firstsight.daily_traffic",
	new_persons: "SELECT coalesce(sum(new_persons), 0) FROM firstsight.daily_traffic",
	returning_persons: "SELECT coalesce(sum(returning_persons), 0) FROM firstsight.daily_traffic",
	// deals once: not the referral rewards' rows (issue 16) where the ledger has them
	deals: `SELECT coalesce(sum(deals), 0) FROM firstsight.commission_ledger l
	        WHERE to_jsonb(l)->>'entry' IS DISTINCT FROM 'referral_reward'`,
	revenue: `SELECT coalesce(sum(revenue), 0) FROM firstsight.commission_ledger l
	          WHERE to_jsonb(l)->>'entry' IS DISTINCT FROM 'referral_reward'`,
	commission: "SELECT coalesce(sum(commission), 0) FROM firstsight.commission_ledger",
	flagged_deals: "SELECT count(*) FROM firstsight.flagged_deals",
	flagged_commission: "SELECT coalesce(sum(flagged_commission), 0) FROM firstsight.commission_ledger"
};

let failures = 0;
let count = 0;
function check(ok, what, detail) {
	count++;
	console.log(`${ok ? "ok" : "not ok"} ${count} - ${what}`);
	if (!ok) {
		failures++;
		if (detail) console.log(`# ${String(detail).split("\n").join("\n# ")}`);
	}
	return ok;
}

function parseCsv(text) {
	const rows = [];
	let row = [], field = "", quoted = false;
	for (let i = 0; i < text.length; i++) {
		const c = text[i];
		if (quoted) {
			if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
			else if (c === '"') quoted = false;
			else field += c;
		} else if (c === '"') quoted = true;
		else if (c === ",") { row.push(field); field = ""; }
		else if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; }
		else field += c;
	}
	if (field !== "" || row.length) { row.push(field); rows.push(row); }
	return rows;
}

function runSql(sql) {
	const out = execFileSync(psql, ["-X", "-v", "ON_ERROR_STOP=1", "--csv", "-c", sql], {encoding: "utf8"});
	const [header, ...rows] = parseCsv(out);
	return {header, rows};
}

// what a view's figure must wait for, as the loader decides it (null: installed and usable)
function missing(v) {
	const r = runSql(`SELECT CASE WHEN to_regclass('${v.relation}') IS NULL THEN '${v.relation}'
	                          WHEN ${v.requires ? `to_regprocedure('${v.requires}') IS NULL
	                               OR NOT has_function_privilege(to_regprocedure('${v.requires}'), 'EXECUTE')` : "false"}
	                          THEN '${v.requires}' END`);
	return r.rows[0][0] || null;
}

// a value as the page shows it against psql's text of it
function same(shown, raw) {
	if (shown === raw) return true;
	if (raw === "t" || raw === "f") return shown === (raw === "t" ? "true" : "false");
	if (/^\{.*\}$/s.test(raw)) return shown === raw.slice(1, -1).split(",").map((s) => s.replace(/^"|"$/g, "")).join(", ");
	const a = Number(shown.replaceAll(",", "")), b = Number(raw);
	if (shown !== "" && raw !== "" && Number.isFinite(a) && Number.isFinite(b)) return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
	return false;
}

// the views a page shows as tables: viewTable(X) where X = FileAttachment("data/NAME.json")
function pageViews(mdFile) {
	const md = fs.readFileSync(mdFile, "utf8");
	const vars = Object.fromEntries([...md.matchAll(/const (\w+) = FileAttachment\("data\/(\w+)\.json"\)/g)].map((m) => [m[1], m[2]]));
	return [...new Set([...md.matchAll(/viewTable\((\w+)/g)].map((m) => vars[m[1]]).filter(Boolean))];
}

const server = await serve(path.join(root, "dist"));
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"]});
const pages = [{name: "Overview", path: "/index"}, ...config.pages];
try {
	for (const {name, path: p} of pages) {
		const page = await browser.newPage({viewport: {width: 1280, height: 900}});
		const problems = [];
		page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
		page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
		page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
		page.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("data:")) problems.push(`request off this machine: ${r.url()}`); });
		page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
		const md = path.join(root, "src", (p === "/index" ? "index" : p.slice(1)) + ".md");
		const expected = pageViews(md);
		// charts are drawn from views that are there: a page whose views all wait has none
		const charts = /Plot\.plot\(/.test(fs.readFileSync(md, "utf8")) &&
			!(expected.length > 0 && expected.every((v) => missing(byName[v])));
		await page.goto(base + p, {waitUntil: "load"});
		// the page is done when its views' figures (or an error) are there, the network
		// is quiet and no cell is still loading
		const done = [...expected.map((v) => `figure[data-view="${v}"]`), ...(charts ? ["svg"] : []), ...(p === "/index" ? ["[data-figure]"] : [])];
		await page.waitForFunction((sels) => document.querySelector(".observablehq--error") ||
			sels.every((s) => document.querySelector(s)), done, {timeout: 120000}).catch((e) => problems.push(`not rendered: ${e.message}`));
		await page.waitForLoadState("networkidle");
		await page.waitForFunction(() => document.querySelectorAll("observablehq-loading").length === 0, null, {timeout: 60000});
		const errors = await page.$$eval(".observablehq--error", (els) => els.map((e) => e.textContent));
		check(problems.length === 0 && errors.length === 0, `${name} (${p}) renders without errors`, [...problems, ...errors].join("\n"));
		if (charts) check(await page.locator("svg[class^=plot]").count() > 0, `${name} draws its charts`);
		const shown = await page.$$eval("figure[data-view]", (els) => els.map((e) => e.dataset.view));
		check(expected.every((v) => shown.includes(v)) && expected.length > 0 || p === "/index",
			`${name} shows its views: ${expected.join(", ") || "(headline figures)"}`, `shown: ${shown.join(", ")}`);

		for (const view of expected) {
			const v = byName[view];
			const waits = missing(v);
			const fig = page.locator(`figure[data-view="${view}"]`).first();
			if (waits) {
				const said = await fig.getAttribute("data-missing");
				check(said === waits && (await fig.textContent()).includes(`Waits for ${waits}`),
					`${name}: ${view} says it waits for ${waits}`, `page says: ${said}`);
				continue;
			}
			const db = runSql(v.sql);
			// Inputs.table's first column is its (here empty) selection column
			const table = await fig.evaluate((f) => ({
				header: [...f.querySelectorAll("thead th")].slice(1).map((th) => th.textContent.trim()),
				rows: [...f.querySelectorAll("tbody tr")].map((tr) => [...tr.querySelectorAll("td")].slice(1).map((td) => td.textContent.trim()))
			}));
			if (db.rows.length === 0) {
				check(table.rows.length === 1 && (await fig.textContent()).includes("No results"),
					`${name}: ${view} is empty, as psql says`, JSON.stringify(table.rows.slice(0, 3)));
				continue;
			}
			const diffs = [];
			if (table.header.length !== db.header.length) diffs.push(`columns: page ${table.header.length}, psql ${db.header.length}`);
			if (table.rows.length === 0 || table.rows.length > db.rows.length || (db.rows.length <= 20 && table.rows.length !== db.rows.length))
				diffs.push(`rows: page ${table.rows.length}, psql ${db.rows.length}`);
			table.rows.forEach((r, i) => db.header.forEach((col, j) => {
				if (diffs.length < 10 && !same(r[j] ?? "", db.rows[i]?.[j] ?? "")) diffs.push(`row ${i + 1} ${col}: page "${r[j]}", psql "${db.rows[i]?.[j]}"`);
			}));
			check(diffs.length === 0, `${name}: ${view} shows psql's ${db.rows.length} rows x ${db.header.length} columns (${table.rows.length} rendered)`, diffs.join("\n"));
		}

		for (const [fig, text] of await page.$$eval("[data-figure]", (els) => els.map((e) => [e.dataset.figure, e.querySelector(".big").textContent]))) {
			const sql = figures[fig];
			if (!check(sql !== undefined, `${name}: figure ${fig} has SQL to check it`)) continue;
			const want = runSql(sql).rows[0][0];
			check(same(text, want), `${name}: figure ${fig} = ${text} (psql: ${want})`, `page "${text}", psql "${want}"`);
		}
		if (screenshot && p === "/index") await page.screenshot({path: screenshot, fullPage: true});
		await page.close();
	}
} finally {
	await browser.close();
	server.close();
}
console.log(`${count - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
