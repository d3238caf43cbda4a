import {views} from "./views.js";

export default {
	title: "firstsight: the sales office",
	root: "src",
	pages: [
		{name: "Traffic", path: "/traffic"},
		{name: "Channels and commission", path: "/channels"},
		{name: "Conversion funnel", path: "/funnel"},
		{name: "Flagged deals", path: "/flagged"},
		{name: "Protection expiring", path: "/protection"},
		{name: "Consultants", path: "/consultants"},
		{name: "Worklist of the day", path: "/worklist"}
	],
	// every view's data file, whether or not a page reads it yet
	dynamicPaths: views.map((v) => `/data/${v.name}.json`),
	search: false,
	// no web fonts: the dashboard works where only the database is reachable
	globalStylesheets: [],
	footer: "firstsight: analyst views only, no biometric data."
};
