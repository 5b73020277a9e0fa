// The loopback source store: serves files by sha256, and turns a store file
// that vanishes or cannot be read into a 404/500 and a named failure, never
// an exception in the CLI's process.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SourceStore, serveStore, type StoreServer } from "../../src/sources/index.js";

const sha = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");

function get(url: string): Promise<{ status: number; body: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const req = request(url, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", (e) => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), error: e.message }));
      res.on("aborted", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), error: "aborted" }));
    });
    req.on("error", (e) => resolve({ status: 0, body: Buffer.alloc(0), error: e.message }));
    req.end();
  });
}

describe("source store server", () => {
  let dir: string;
  let server: StoreServer | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "caisson-store-"));
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves <sha256> and <sha256>/<file>, big files whole", async () => {
    const small = Buffer.from("hello\n");
    const big = Buffer.alloc(300_000, 7);
    writeFileSync(join(dir, sha(small)), small);
    mkdirSync(join(dir, sha(big)));
    writeFileSync(join(dir, sha(big), "big.bin"), big);
    server = await serveStore(new SourceStore(dir));
    expect((await get(`${server.url}/sha256/${sha(small)}`)).body).toEqual(small);
    const r = await get(`${server.url}/sha256/${sha(big)}`);
    expect(r.status).toBe(200);
    expect(sha(r.body)).toBe(sha(big));
    expect(server.failures()).toEqual([]);
  });

  it("404s a hash it lacks, redirects it when there is a fallback", async () => {
    const h = sha("absent");
    server = await serveStore(new SourceStore(dir), new Map([[h, "http://127.0.0.1:9/absent"]]));
    expect((await get(`${server.url}/sha256/${sha("other")}`)).status).toBe(404);
    expect((await get(`${server.url}/sha256/${h}`)).status).toBe(302);
    expect(server.failures()).toEqual([
      { sha256: sha("other"), file: join(dir, sha("other")), reason: `not in the source store ${dir} (removed during the build?)`, status: 404 },
    ]);
  });

  it("a file removed between lookup and open: 404 and a named failure, no crash", async () => {
    const h = sha("gone");
    const path = join(dir, h);
    // find() answers as if the file were there; it is not (removed mid-request).
    const store = new (class extends SourceStore {
      override async find(): Promise<string> {
        return path;
      }
    })(dir);
    server = await serveStore(store);
    const r = await get(`${server.url}/sha256/${h}`);
    expect(r.status).toBe(404);
    expect(server.failures()).toEqual([{ sha256: h, file: path, reason: "ENOENT: removed from the store during the build", status: 404 }]);
  });

  it("a store file that cannot be read (EIO even as root): 500 and a named failure, no crash", async () => {
    const h = sha("unreadable");
    // /proc/self/mem is a regular file to stat(), and reading it at offset 0 fails with EIO.
    symlinkSync("/proc/self/mem", join(dir, h));
    server = await serveStore(new SourceStore(dir));
    const r = await get(`${server.url}/sha256/${h}`);
    expect(r.status).toBe(500);
    expect(server.failures()).toHaveLength(1);
    expect(server.failures()[0]).toMatchObject({ sha256: h, file: join(dir, h), status: 500 });
    expect(server.failures()[0]?.reason).toMatch(/EIO|input\/output/i);
  });

  it("a file truncated while being served: the response is cut off and the failure named", async () => {
    const big = Buffer.alloc(5_000_000, 1);
    const h = sha(big);
    const path = join(dir, h);
    writeFileSync(path, big);
    server = await serveStore(new SourceStore(dir));
    const url = `${server.url}/sha256/${h}`;
    const r = await new Promise<{ status: number; length: number; cut: boolean }>((resolve) => {
      const req = request(url, (res) => {
        let length = 0;
        let truncated = false;
        res.on("data", (c: Buffer) => {
          length += c.length;
          if (!truncated) {
            truncated = true;
            writeFileSync(path, "short"); // truncates the open file under the server
          }
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, length, cut: !res.complete }));
        res.on("error", () => resolve({ status: res.statusCode ?? 0, length, cut: true }));
        res.on("aborted", () => resolve({ status: res.statusCode ?? 0, length, cut: true }));
      });
      req.on("error", () => resolve({ status: 0, length: 0, cut: true }));
      req.end();
    });
    expect(r.status).toBe(200);
    expect(r.cut || r.length < big.length).toBe(true);
    await new Promise((res) => setTimeout(res, 50));
    expect(server.failures().map((f) => f.sha256)).toEqual([h]);
    expect(server.failures()[0]?.reason).toMatch(/changed while being served/);
  });
});
