// Data loader: one analyst view as JSON, {name, relation, missing, columns, rows}.
// Connects with the usual libpq environment (PGHOST, PGPORT, PGDATABASE, PGUSER).
import {parseArgs} from "node:util";
import pg from "pg";
import {byName} from "../../views.js";

const {values: {view}} = parseArgs({options: {view: {type: "string"}}});
const v = byName[view];
if (!v) throw new Error(`no view named ${view} in views.js`);

// values as PostgreSQL prints them, numbers as numbers: dates and times stay
// text (no shift through the JavaScript time zone), bigint and numeric become numbers
for (const oid of [1082, 1083, 1114, 1184, 1186]) pg.types.setTypeParser(oid, (s) => s);
for (const oid of [20, 1700]) pg.types.setTypeParser(oid, (s) => Number(s));

const client = new pg.Client({application_name: "firstsight-dashboard"});
await client.connect();
try {
	const {rows: [present]} = await client.query(
		`SELECT to_regclass($1) IS NOT NULL AS relation,
		        $2::text IS NULL OR (to_regprocedure($2) IS NOT NULL
		                             AND has_function_privilege(to_regprocedure($2), 'EXECUTE')) AS requires`,
		[v.relation, v.requires ?? null]);
	let out;
	if (!present.relation || !present.requires) {
		out = {name: v.name, relation: v.relation, missing: present.relation ? v.requires : v.relation, columns: [], rows: []};
	} else {
		const r = await client.query(v.sql);
		out = {name: v.name, relation: v.relation, missing: null, columns: r.fields.map((f) => f.name), rows: r.rows};
	}
	process.stdout.write(JSON.stringify(out));
} finally {
	await client.end();
}
