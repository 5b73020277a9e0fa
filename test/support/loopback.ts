// Servers the real-engine tests start: a node:http file server and
// `git daemon`, on 127.0.0.1 only, stopped by the tests that start them.
import { spawn, spawnSync } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";

export interface LoopbackServer {
  readonly url: string;
  /** Paths requested so far, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

/** Starts `handle` on 127.0.0.1 on a free port, recording every request path. */
export async function serveHttp(handle: (req: IncomingMessage, res: ServerResponse, path: string) => void): Promise<LoopbackServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? "";
    requests.push(path);
    handle(req, res, path);
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

/** Serves `files` (path → bytes) as they are; anything else is 404. */
export function serveFiles(files: ReadonlyMap<string, Uint8Array | string>): Promise<LoopbackServer> {
  return serveHttp((req, res, path) => {
    const body = files.get(path);
    if (body === undefined || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404).end();
      return;
    }
    const bytes = Buffer.from(body);
    res.writeHead(200, { "content-length": bytes.length, "content-type": "application/octet-stream" });
    res.end(req.method === "HEAD" ? undefined : bytes);
  });
}

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

export interface GitServer {
  /** `git://127.0.0.1:<port>/<repo>` */
  readonly url: string;
  close(): Promise<void>;
}

/** `git daemon` exporting the bare repositories under `baseDir`, on 127.0.0.1 only; resolves once `repo` answers. */
export async function serveGit(baseDir: string, repo: string): Promise<GitServer> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const daemon = spawn(
      "git",
      ["daemon", "--reuseaddr", `--base-path=${baseDir}`, "--export-all", "--listen=127.0.0.1", `--port=${port}`, "--informative-errors", baseDir],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
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
    // The free port can be taken between the probe and the daemon's bind: try another.
    if (attempt >= 2) throw new Error(`git daemon did not start on 127.0.0.1:${port}: ${stderr}`);
  }
}

/** Runs git with fixed identities and dates, so commits are reproducible; returns trimmed stdout. */
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
