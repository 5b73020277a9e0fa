// A builder that accepts the connection and never answers: connecting has a
// deadline, Ctrl-C and SIGTERM end the build with 130 / 143; image names and
// --tls-* files are checked before any work.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBuilder } from "../../src/client/connect.js";
import { runCli } from "../support/cli.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const DEF = "name: mini\nversion: 1.0.0\nplatforms: [linux/amd64]\nsources:\n  app: { path: ./app }\nimage:\n  from: scratch\n  copy: [{ from: app, src: /hello, dest: /hello }]\n  entrypoint: [/hello]\n  check: { hardening: none }\n";

const run = runCli;

describe("a builder that never answers", () => {
  let tmp = "";
  let server: net.Server;
  let port = 0;
  const held: net.Socket[] = [];
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "caisson-silent-"));
    mkdirSync(join(tmp, "app"));
    writeFileSync(join(tmp, "app/hello"), "hi\n");
    writeFileSync(join(tmp, "image.yaml"), DEF);
    server = net.createServer((c) => void held.push(c));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
    const r = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT, encoding: "utf8" });
    if (!existsSync(join(ROOT, "dist/cli/main.js"))) throw new Error(`tsc failed: ${r.stdout}${r.stderr}`);
  }, 120_000);
  afterAll(() => {
    for (const c of held) c.destroy();
    server.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("gives up connecting after the deadline, saying the builder accepted and never answered", async () => {
    await expect(connectBuilder({ builder: `tcp://127.0.0.1:${port}` }, undefined, 500)).rejects.toThrow(/accepted the connection but never answered.*BuildKit or a Docker engine/);
  });

  it("an abort ends connecting", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    await expect(connectBuilder({ builder: `tcp://127.0.0.1:${port}` }, ac.signal, 60_000)).rejects.toThrow(/interrupted/);
  });

  for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it(`${sig} ends the build with ${code}, nothing written`, async () => {
      const out = join(tmp, `o-${sig}.tar`);
      const child = spawn(process.execPath, [join(ROOT, "bin/caisson.js"), "build", "image.yaml", "--no-check", "-o", `oci=${out}`, "--builder", `tcp://127.0.0.1:${port}`], { cwd: tmp, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (/building/.test(stderr)) setTimeout(() => child.kill(sig), 300);
      });
      const status = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
      expect(status, stderr).toBe(code);
      expect(existsSync(out)).toBe(false);
    }, 60_000);
  }

  it("refuses names the engine would refuse, and a FIFO as a --tls-* file, before any work", async () => {
    const def = join(tmp, "image.yaml");
    const ctx = ["--context", tmp];
    for (const o of ["push=UPPER/Case:tag", "image=a:1,b:2", "image=x,name=y", "image=x:1@sha256:abc", `image=x:${"t".repeat(129)}`]) {
      const r = await run("build", def, ...ctx, "-o", o);
      expect(r.code, o).toBe(2);
      expect(r.stderr, o).toMatch(/not a valid image reference|more than one image/);
    }
    const fifo = join(tmp, "ca.fifo");
    spawnSync("mkfifo", [fifo]);
    const r = await run("build", def, ...ctx, "--builder", "tcp://127.0.0.1:1", "--tls-ca", fifo);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a regular file/);
  });
});
