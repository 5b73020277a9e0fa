import { open, readdir, stat, type FileHandle } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * A local folder of source files named by their sha256: either
 * `<dir>/<sha256>` or `<dir>/<sha256>/<filename>` (one file inside).
 * Because every source is pinned by content, serving from it weakens
 * nothing: BuildKit still verifies each byte against the checksum.
 */
export class SourceStore {
  constructor(readonly dir: string) {}

  /** The file holding `sha256`, or undefined when the store lacks it. */
  async find(sha256: string): Promise<string | undefined> {
    if (!HEX64.test(sha256)) return undefined;
    const path = join(this.dir, sha256);
    try {
      const s = await stat(path);
      if (s.isFile()) return path;
      if (s.isDirectory()) {
        const files = (await readdir(path, { withFileTypes: true })).filter((e) => e.isFile() && !e.name.startsWith("."));
        const only = files.length === 1 ? files[0] : undefined;
        return only ? join(path, only.name) : undefined;
      }
    } catch {
      return undefined;
    }
    return undefined;
  }
}

/** A store file the server found but could not serve whole (removed, unreadable, read error mid-way). */
export interface StoreFailure {
  readonly sha256: string;
  /** The store file, when one was found. */
  readonly file?: string;
  /** What went wrong, e.g. `ENOENT: removed from the store during the build`. */
  readonly reason: string;
  /** The HTTP status the engine got (0: the response was cut off after the headers). */
  readonly status: number;
}

/** A running loopback HTTP server for a store: GET /sha256/<hex> returns the file. */
export interface StoreServer {
  /** URL prefix to hand to compilation as the source mirror. */
  readonly url: string;
  /** Store files that could not be served, in the order it happened (the build then fails on them). */
  failures(): readonly StoreFailure[];
  close(): Promise<void>;
}

/** First read before the headers: a file that cannot be read at all gets a 500, not a truncated 200. */
const FIRST_CHUNK = 64 * 1024;

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === "ENOENT") return "ENOENT: removed from the store during the build";
  return err.message ?? String(e);
}

/**
 * Serves `store` on 127.0.0.1 (a free port) until closed. A hash the store
 * lacks is redirected to `fallback`'s URL for it, if any (the engine still
 * checks the bytes against the hash). A store file that vanishes or cannot be
 * read gets a 404 or 500 (or, if it fails after the headers, a cut-off
 * response), never an exception in this process; `failures()` names it.
 */
export async function serveStore(store: SourceStore, fallback: ReadonlyMap<string, string> = new Map()): Promise<StoreServer> {
  const failures: StoreFailure[] = [];
  const fail = (res: ServerResponse, f: StoreFailure) => {
    failures.push(f);
    if (res.headersSent) res.destroy();
    else res.writeHead(f.status, { "content-type": "text/plain" }).end(`${f.file ?? f.sha256}: ${f.reason}\n`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, sha256: string): Promise<void> => {
    const upstream = fallback.get(sha256);
    const file = await store.find(sha256);
    if (!file && upstream) {
      res.writeHead(302, { location: upstream }).end();
      return;
    }
    if (!file) {
      // caisson build checks that the store has every store-only file before the engine starts: one asked for now
      // and missing was removed since, or belongs to a source the build did not expect.
      fail(res, { sha256, file: join(store.dir, sha256), reason: `not in the source store ${store.dir} (removed during the build?)`, status: 404 });
      return;
    }
    let fh: FileHandle | undefined;
    try {
      fh = await open(file, "r");
    } catch (e) {
      // Found a moment ago, gone or unreadable now.
      fail(res, { sha256, file, reason: describe(e), status: (e as NodeJS.ErrnoException).code === "ENOENT" ? 404 : 500 });
      return;
    }
    let handedOver = false;
    try {
      const { size } = await fh.stat();
      if (!Number.isSafeInteger(size)) throw new Error(`size ${size} is not servable`);
      const first = Buffer.alloc(Math.min(FIRST_CHUNK, size));
      let got = 0;
      while (got < first.length) {
        const { bytesRead } = await fh.read(first, got, first.length - got, got);
        if (bytesRead === 0) throw new Error(`the file shrank to ${got} bytes while being read (was ${size})`);
        got += bytesRead;
      }
      // An empty file is read once too, so one that cannot be read at all (EIO) is not served as empty.
      if (size === 0) await fh.read(Buffer.alloc(1), 0, 1, 0);
      res.writeHead(200, { "content-length": size, "content-type": "application/octet-stream" });
      if (req.method === "HEAD" || size === first.length) {
        res.end(req.method === "HEAD" ? undefined : first);
        return;
      }
      res.write(first);
      const stream = fh.createReadStream({ start: first.length, autoClose: true });
      handedOver = true;
      let sent = first.length;
      stream.on("data", (b) => (sent += (b as Buffer).length));
      stream.on("error", (e) => fail(res, { sha256, file, reason: describe(e), status: 0 }));
      stream.on("end", () => {
        if (sent !== size) fail(res, { sha256, file, reason: `the file changed while being served (${sent} of ${size} bytes)`, status: 0 });
      });
      res.on("close", () => stream.destroy());
      stream.pipe(res);
    } catch (e) {
      fail(res, { sha256, file, reason: describe(e), status: 500 });
    } finally {
      if (!handedOver) await fh.close().catch(() => undefined);
    }
  };

  const server: Server = createServer((req, res) => {
    const m = /^\/sha256\/([0-9a-f]{64})$/.exec(req.url ?? "");
    if (!m || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404).end();
      return;
    }
    const sha256 = m[1] as string;
    handle(req, res, sha256).catch((e: unknown) => fail(res, { sha256, reason: describe(e), status: 500 }));
  });
  // A client that goes away mid-response must not become an error here.
  server.on("clientError", (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    failures: () => [...failures],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
