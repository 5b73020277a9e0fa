import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
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

/** A running loopback HTTP server for a store: GET /sha256/<hex> returns the file. */
export interface StoreServer {
  /** URL prefix to hand to compilation as the source mirror. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `store` on 127.0.0.1 (a free port) until closed. A hash the store
 * lacks is redirected to `fallback`'s URL for it, if any (the engine still
 * checks the bytes against the hash).
 */
export async function serveStore(store: SourceStore, fallback: ReadonlyMap<string, string> = new Map()): Promise<StoreServer> {
  const server: Server = createServer((req, res) => {
    const m = /^\/sha256\/([0-9a-f]{64})$/.exec(req.url ?? "");
    if (!m || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404).end();
      return;
    }
    void store.find(m[1] as string).then(
      async (file) => {
        const upstream = fallback.get(m[1] as string);
        if (!file && upstream) {
          res.writeHead(302, { location: upstream }).end();
          return;
        }
        if (!file) {
          res.writeHead(404, { "content-type": "text/plain" }).end(`not in the source store ${store.dir}\n`);
          return;
        }
        const { size } = await stat(file);
        res.writeHead(200, { "content-length": size, "content-type": "application/octet-stream" });
        if (req.method === "HEAD") res.end();
        else createReadStream(file).pipe(res);
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
