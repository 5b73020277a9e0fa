// Loopback servers for the pinning tests: `git daemon` and a node:http
// release server, both on 127.0.0.1 only, both stopped by the tests.
import { spawn, spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((ok, fail) => {
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => ok());
  });
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

/** Runs git with fixed identities and dates (reproducible commits); returns trimmed stdout. */
export function git(cwd: string, ...args: string[]): string {
  const date = "2025-01-01T00:00:00Z";
  const r = spawnSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "caisson test",
      GIT_AUTHOR_EMAIL: "test@caisson.invalid",
      GIT_COMMITTER_NAME: "caisson test",
      GIT_COMMITTER_EMAIL: "test@caisson.invalid",
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
      GIT_CONFIG_NOSYSTEM: "1",
      HOME: cwd,
    },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout.trim();
}

export interface Stoppable {
  readonly url: string;
  close(): Promise<void>;
}

/** `git daemon` exporting the bare repositories under `baseDir` on 127.0.0.1; resolves once `repo` answers. */
export async function serveGit(baseDir: string, repo: string): Promise<Stoppable> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const daemon = spawn("git", ["daemon", "--reuseaddr", `--base-path=${baseDir}`, "--export-all", "--listen=127.0.0.1", `--port=${port}`, "--informative-errors", baseDir], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    daemon.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const url = `git://127.0.0.1:${port}/${repo}`;
    const close = () =>
      new Promise<void>((ok) => {
        if (daemon.exitCode !== null || daemon.signalCode !== null) return ok();
        daemon.once("exit", () => ok());
        daemon.kill("SIGTERM");
      });
    for (let i = 0; i < 50; i++) {
      if (daemon.exitCode !== null) break;
      if (spawnSync("git", ["ls-remote", url], { encoding: "utf8", timeout: 5000 }).status === 0) return { url, close };
      await new Promise((ok) => setTimeout(ok, 100));
    }
    await close();
    if (attempt >= 2) throw new Error(`git daemon did not start on 127.0.0.1:${port}: ${stderr}`);
  }
}

/**
 * An HTTP release server: `files` (path → bytes, mutable: add a release
 * later) served as-is, and `/releases/` an HTML index linking every file
 * under /releases/. `requests` records each path asked for.
 */
export async function serveReleases(files: Map<string, Buffer>): Promise<Stoppable & { requests: string[] }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? "";
    requests.push(path);
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
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
