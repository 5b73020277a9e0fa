// caisson's own BuildKit client against a second Docker engine on this
// machine: TCP with TLS client verification (certificates made by the test),
// and the same engine's unix socket. Real engine, nothing mocked; under
// CI=true it must run.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { caisson, DOCKER, ensureDist, IN_CI, lockedFixture, readOciLayout } from "../e2e/helpers.js";
import { copyImage, makeCerts, type TestCerts } from "../support/certs.js";
import { startThrowawayEngine, type ThrowawayEngine } from "../support/throwaway-engine.js";

const BASE = "caisson/debian:bookworm";

/** Debian's docker-registry on 127.0.0.1, plain HTTP, no auth (an engine pushes to a loopback registry without TLS). */
async function startPlainRegistry(dir: string): Promise<{ host: string; stop(): void }> {
  mkdirSync(dir, { recursive: true });
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port: p } = s.address() as AddressInfo;
      s.close(() => resolve(p));
    });
  });
  const host = `127.0.0.1:${port}`;
  writeFileSync(join(dir, "config.yml"), `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${join(dir, "data")} } }\nhttp: { addr: "${host}" }\n`);
  const child = spawn("docker-registry", ["serve", join(dir, "config.yml")], { stdio: "ignore" });
  for (let i = 0; (await fetch(`http://${host}/v2/`).then((r) => r.status, () => 0)) !== 200; i++) {
    if (i === 100) {
      child.kill("SIGTERM");
      throw new Error(`docker-registry did not answer on ${host}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, stop: () => void child.kill("SIGTERM") };
}
/** Why a throwaway engine cannot be started here, or undefined. */
function whyNot(): string | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return "needs root (a second dockerd)";
  for (const c of ["dockerd", "containerd", "ctr", "openssl", "ip", "docker-registry"]) if (spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0) return `${c} is missing (hack/engine.sh installs it)`;
  return undefined;
}
const unavailable = whyNot();

describe.skipIf(unavailable !== undefined && !IN_CI)("the client against a second engine over TCP + mutual TLS and its unix socket", () => {
  let engine: ThrowawayEngine & { tcp: string };
  let certs: TestCerts;
  let ctx: string;
  let out: string;
  const tlsArgs = () => ["--tls-ca", certs.ca, "--tls-cert", certs.cert, "--tls-key", certs.key];

  beforeAll(async () => {
    if (unavailable) throw new Error(`a throwaway engine is required under CI: ${unavailable}`);
    ensureDist();
    out = mkdtempSync(join(tmpdir(), "caisson-client-out-"));
    certs = makeCerts(join(out, "certs"));
    engine = (await startThrowawayEngine(mkdtempSync(join(tmpdir(), "caisson-tls-engine-")), { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey })) as ThrowawayEngine & { tcp: string };
    copyImage(DOCKER, BASE, engine.unix);
    ctx = await lockedFixture("hello");
  }, 300_000);

  afterAll(async () => {
    engine?.stop();
    if (out) rmSync(out, { recursive: true, force: true });
    if (ctx) rmSync(ctx, { recursive: true, force: true });
  }, 120_000);

  it("builds the cross-compiled hello image for amd64 + arm64 with --builder tcp://127.0.0.1:PORT and the client certificate", async () => {
    const oci = join(out, "hello.oci.tar");
    const r = await caisson(["build", join(ctx, "image.yaml"), "--context", ctx, "--builder", engine.tcp, ...tlsArgs(), "-o", `oci=${oci}`, "--progress", "plain"]);
    expect(r.stderr).toContain(`built in`);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(r.stderr).toContain(`on ${engine.tcp}`);
    // buildx's plain shape: numbered vertices, DONE with a time.
    expect(r.stderr).toMatch(/^#\d+ \[linux\/arm64\] build 2\/2: /m);
    expect(r.stderr).toMatch(/^#\d+ DONE \d+\.\d+s$/m);
    const images = readOciLayout(oci, mkdtempSync(join(out, "layout-")));
    expect(images.map((i) => i.platform).sort()).toEqual(["linux/amd64", "linux/arm64"]);
    for (const img of images) expect(img.config.config).toMatchObject({ User: "65532:65532", Entrypoint: ["/hello"] });
  }, 600_000);

  it("names a missing client certificate, a certificate from another CA and an untrusted server, with the fix", async () => {
    const file = join(ctx, "image.yaml");
    const none = await caisson(["build", file, "--context", ctx, "--builder", engine.tcp, "--tls-ca", certs.ca, "-o", `oci=${join(out, "x.tar")}`]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/refused the TLS connection: it requires a client certificate; give one signed by the CA it trusts with --tls-ca, --tls-cert and --tls-key/);
    const wrong = await caisson(["build", file, "--context", ctx, "--builder", engine.tcp, "--tls-ca", certs.ca, "--tls-cert", certs.wrongCert, "--tls-key", certs.wrongKey, "-o", `oci=${join(out, "x.tar")}`]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/rejected the client certificate .*unknown ca.*; give a certificate signed by the CA the builder trusts/);
    const noCa = await caisson(["build", file, "--context", ctx, "--builder", engine.tcp, "--tls-cert", certs.cert, "--tls-key", certs.key, "-o", `oci=${join(out, "x.tar")}`]);
    expect(noCa.code).toBe(1);
    expect(noCa.stderr).toMatch(/the server certificate of tcp:\/\/127\.0\.0\.1:\d+ is not trusted .*give the CA that signed it with --tls-ca/);
    for (const r of [none, wrong, noCa]) expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(spawnSync("ls", [out], { encoding: "utf8" }).stdout).not.toMatch(/x\.tar/);
  }, 120_000);

  it("builds the same image over the engine's unix socket, into its image store", async () => {
    const name = `caisson-client/hello:${process.pid}`;
    const r = await caisson(["build", join(ctx, "image.yaml"), "--context", ctx, "--builder", engine.unix, "-o", `image=${name}`, "--progress", "plain", "--no-check"]);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const env = { ...process.env, DOCKER_HOST: engine.unix };
    const inspect = spawnSync(DOCKER, ["image", "inspect", name, "--format", "{{.Config.User}} {{json .Config.Entrypoint}}"], { encoding: "utf8", env });
    expect(inspect.stdout.trim()).toBe('65532:65532 ["/hello"]');
    const save = spawnSync("sh", ["-c", `"$0" save "$1" | tar -xO index.json`, DOCKER, name], { encoding: "utf8", env });
    expect(save.status).toBe(0);
  }, 600_000);

  it("exports the build cache to a registry and imports it into an engine whose own cache was emptied: nothing runs again", async () => {
    const reg = await startPlainRegistry(join(out, "registry"));
    try {
      const ref = `${reg.host}/caisson-cache/hello:1`;
      const file = join(ctx, "image.yaml");
      const a = await caisson(["build", file, "--context", ctx, "--builder", engine.unix, "-o", `local=${join(out, "cache-a")}`, "--no-check", "--cache-to", `type=registry,ref=${ref},mode=max`]);
      expect(a.code, a.stderr.slice(-3000)).toBe(0);
      const tags = (await (await fetch(`http://${reg.host}/v2/caisson-cache/hello/tags/list`)).json()) as { tags?: string[] };
      expect(tags.tags).toEqual(["1"]);
      // The throwaway engine is ours: empty its build cache, then build again from the registry's.
      const prune = spawnSync(DOCKER, ["builder", "prune", "-af"], { encoding: "utf8", env: { ...process.env, DOCKER_HOST: engine.unix } });
      expect(prune.status, prune.stderr).toBe(0);
      const b = await caisson(["build", file, "--context", ctx, "--builder", engine.unix, "-o", `local=${join(out, "cache-b")}`, "--no-check", "--progress", "plain", "--cache-from", `type=registry,ref=${ref}`]);
      expect(b.code, b.stderr.slice(-3000)).toBe(0);
      // Nothing ran: no step printed anything (the compile steps echo a line), what was needed came CACHED from the registry.
      expect(b.stderr).not.toMatch(/^#\d+ \d+\.\d+ /m);
      expect(b.stderr).toMatch(/^#\d+ CACHED$/m);
      expect(readFileSync(join(out, "cache-b/linux_arm64/hello")).equals(readFileSync(join(out, "cache-a/linux_arm64/hello")))).toBe(true);
    } finally {
      reg.stop();
    }
  }, 600_000);

  it("a failing run step is reported at the definition's file:line:col, with the code frame and the command's last output", async () => {
    const dir = mkdtempSync(join(out, "fail-"));
    const def = [
      "name: fails",
      "platforms: [linux/amd64]",
      "stages:",
      "  broken:",
      `    from: ${BASE}@sha256:d757fb0e12b1304ed12095dfc93b37afc7f33623a62f45707945b94262f96032`,
      "    run:",
      "      - echo fine",
      `      - 'echo "the last words ${process.pid}"; exit 3'`,
      "image:",
      "  from: scratch",
      "  copy: [{ from: broken, src: /etc/hostname, dest: /hostname }]",
      "",
    ].join("\n");
    writeFileSync(join(dir, "image.yaml"), def);
    const r = await caisson(["build", join(dir, "image.yaml"), "--context", dir, "--builder", engine.unix, "-o", `oci=${join(dir, "never.tar")}`, "--progress", "plain"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(dir, "image.yaml")}:8:9: error[build_failed]: process "/bin/sh -c echo \\"the last words ${process.pid}\\"; exit 3" did not complete successfully: exit code: 3`);
    expect(r.stderr).toMatch(/ 8 \| {7}- 'echo "the last words \d+"; exit 3'\n\s+\| {9}\^+/);
    expect(r.stderr).toMatch(new RegExp(`last line of its output:\\n  the last words ${process.pid}`));
    expect(readFileSync(join(dir, "image.yaml"), "utf8")).toBe(def);
    expect(spawnSync("ls", ["-A", dir], { encoding: "utf8" }).stdout.trim()).toBe("image.yaml");
  }, 300_000);
});
