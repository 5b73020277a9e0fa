// Loopback servers for the pinning tests: `git daemon` and an HTTP release
// server, both on 127.0.0.1 only, both stopped by the tests.
import { serveHttp, type LoopbackServer } from "../support/loopback.js";

export { freePort, git, serveGit } from "../support/loopback.js";
export type { GitServer as Stoppable } from "../support/loopback.js";

/**
 * An HTTP release server: `files` (path → bytes, mutable: add a release
 * later) served as-is, and `/releases/` an HTML index linking every file
 * under /releases/. `requests` records each path asked for.
 */
export function serveReleases(files: Map<string, Buffer>): Promise<LoopbackServer> {
  return serveHttp((_req, res, path) => {
    if (path === "/releases/") {
      const links = [...files.keys()].filter((p) => p.startsWith("/releases/")).sort().map((p) => `<a href="${p.slice(10)}">${p.slice(10)}</a>`);
      res.writeHead(200, { "content-type": "text/html" }).end(`<html><body>\n${links.join("\n")}\n</body></html>\n`);
      return;
    }
    const body = files.get(path);
    if (!body) {
      res.writeHead(404).end("not found\n");
      return;
    }
    res.writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" }).end(body);
  });
}
