// A static server for the built dashboard (dist/): `node serve.mjs [PORT]`
// serves it on 127.0.0.1; the test imports serve().
import http from "node:http";
import fs from "node:fs/promises";
import path from "node:path";
import {fileURLToPath} from "node:url";

const types = {
	".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css",
	".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png", ".woff2": "font/woff2"
};

export function serve(root, port = 0) {
	const server = http.createServer(async (req, res) => {
		let p = decodeURIComponent(new URL(req.url, "http://x").pathname);
		if (p === "/favicon.ico") return res.writeHead(204).end();
		if (p.endsWith("/")) p += "index";
		let file = path.join(root, path.normalize(p));
		if (!file.startsWith(root)) return res.writeHead(403).end();
		if (!path.extname(file)) file += ".html";
		try {
			const body = await fs.readFile(file);
			res.writeHead(200, {"content-type": types[path.extname(file)] ?? "application/octet-stream"}).end(body);
		} catch {
			res.writeHead(404).end("not found");
		}
	});
	return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "dist");
	const server = await serve(root, Number(process.argv[2] ?? 3000));
	console.log(`dashboard on http://127.0.0.1:${server.address().port}/ (Ctrl-C stops it)`);
}
