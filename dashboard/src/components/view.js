// A view's rows as a table: every column, values as the database gives them
// (numbers grouped by thousands), inside <figure data-view="NAME"> so the test
// can find it.  A view not installed yet shows what the page waits for.
import * as Inputs from "@observablehq/inputs";

export function formatValue(v) {
	if (v === null || v === undefined) return "";
	if (typeof v === "number") return v.toLocaleString("en-US", {maximumFractionDigits: 6});
	if (Array.isArray(v)) return v.join(", ");
	if (typeof v === "object") return JSON.stringify(v);
	return String(v);
}

export function waiting(data) {
	const p = document.createElement("p");
	p.className = "waiting";
	p.dataset.waitsFor = data.missing;
	p.textContent = `Waits for ${data.missing}, which this database does not have yet (or does not let this login use).`;
	return p;
}

export function viewTable(data, {rows = 30, columns, header} = {}) {
	const figure = document.createElement("figure");
	figure.dataset.view = data.name;
	figure.style.maxWidth = "none";
	if (data.missing) {
		figure.dataset.missing = data.missing;
		figure.append(waiting(data));
		return figure;
	}
	const cols = columns ?? data.columns;
	figure.append(Inputs.table(data.rows, {
		columns: cols,
		header,
		select: false,
		rows,
		layout: "auto",
		format: Object.fromEntries(cols.map((c) => [c, formatValue]))
	}));
	return figure;
}

// sum of a column over rows
export function total(rows, column) {
	return rows.reduce((s, r) => s + (r[column] ?? 0), 0);
}

// a headline figure: <div class="card" data-figure="NAME">
export function figureCard(name, label, value, note) {
	const div = document.createElement("div");
	div.className = "card";
	div.dataset.figure = name;
	const h = document.createElement("h2");
	h.textContent = label;
	const b = document.createElement("span");
	b.className = "big";
	b.textContent = formatValue(value);
	div.append(h, b);
	if (note) {
		const n = document.createElement("p");
		n.className = "muted";
		n.textContent = note;
		div.append(n);
	}
	return div;
}

// a short paragraph (pages use no implicit html``: it would be fetched from a CDN)
export function note(text) {
	const p = document.createElement("p");
	p.className = "note";
	p.textContent = text;
	return p;
}
