// `caisson release` of a one-file image end to end (bin/caisson.js, the
// machine's engine): to Debian's docker-registry without TLS on 127.0.0.1
// (HTTPS tried, then plain HTTP, as docker does for a loopback registry), and
// to the hostile registry of test/support: a refused or misreported push
// writes nothing beside the archive, credentials stay with the registry, and
// Ctrl-C on a registry that never answers ends it with 130.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkEngine, dockerBinary } from "../../src/engine/index.js";
import { IN_CI } from "../support/ci.js";
import { HostileRegistry, PASSWORD, USER } from "../support/hostile-registry.js";
import { TestRegistry } from "../support/registry.js";

const engineError = await checkEngine(dockerBinary()).then(
  () => undefined,
  (e: unknown) => (e instanceof Error ? e.message : String(e)),
);

describe.skipIf(engineError !== undefined && !IN_CI)("caisson release of a small image", () => {
  const tmp = mkdtempSync(join(tmpdir(), "caisson-push-"));
  const ctx = join(tmp, "ctx");
  const out = join(tmp, "out");
  const def = join(ctx, "image.yaml");
  const env = { CAISSON_REGISTRY_USER: USER, CAISSON_REGISTRY_PASSWORD: PASSWORD };
  // Not spawnSync: the hostile registry answers from this process.
  const caisson = async (...args: string[]) => {
    const child = spawn(process.execPath, ["bin/caisson.js", "release", def, "--context", ctx, "--out", out, "--progress", "plain", ...args], { env: { ...process.env, ...env } });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    return { code, stderr };
  };

  beforeAll(() => {
    if (engineError) throw new Error(`the engine is required under CI: ${engineError}`);
    if (spawnSync("sh", ["-c", "command -v docker-registry"]).status !== 0) throw new Error("docker-registry is missing: run hack/engine.sh");
    mkdirSync(join(ctx, "app"), { recursive: true });
    writeFileSync(join(ctx, "app", "hello"), `#!hello ${process.pid} ${Date.now()}\n`, { mode: 0o755 });
    writeFileSync(def, "name: mini\nversion: 1.0.0\nplatforms: [linux/amd64]\nsources:\n  app: { path: ./app }\nimage:\n  from: scratch\n  copy: [{ from: app, src: /hello, dest: /hello }]\n  entrypoint: [/hello]\n  check: { hardening: none }\n");
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("pushes to a plain-HTTP loopback registry and writes the release beside the archive", async () => {
    const reg = await TestRegistry.start({ plain: true });
    try {
      const r = await caisson("--to", `${reg.host}/caisson/mini`);
      expect(r.stderr).toMatch(/pushed 127\.0\.0\.1:\d+\/caisson\/mini@sha256:\w+ \(\d+ blobs sent, 0 already there\), tags 1\.0\.0/);
      expect(r.code).toBe(0);
      const names = ["mini-1.0.0.linux-amd64.cdx.json", "mini-1.0.0.linux-amd64.provenance.json", "mini-1.0.0.linux-amd64.spdx.json", "mini-1.0.0.oci.tar", "mini-1.0.0.release.oci.tar"];
      expect(readdirSync(out).sort()).toEqual(names);
      // The files are named only once they are in place, after the push.
      const [before, after] = r.stderr.split(/caisson: pushed /);
      expect(before).not.toMatch(/\.spdx\.json|\.cdx\.json|release\.oci\.tar/);
      expect(before).toMatch(/linux\/amd64: sha256:\w{64}; status\.d: none/);
      expect(after).toContain(`wrote in ${out}: `);
      for (const n of names) expect(after).toContain(n);
    } finally {
      await reg.remove();
    }
  });

  it("--verify keeps no second build when the two agree", async () => {
    const reg = await TestRegistry.start({ plain: true });
    try {
      const r = await caisson("--verify", "--to", `${reg.host}/caisson/mini`);
      expect(r.stderr).toContain("reproducible: two builds from empty caches gave the same index");
      expect(r.code).toBe(0);
      expect(readdirSync(out).filter((n) => n.includes("verify") || n.startsWith("."))).toEqual([]);
    } finally {
      await reg.remove();
    }
  });

  it("refuses a misreported push and a moving version tag without touching the release files", async () => {
    const before = statSync(join(out, "mini-1.0.0.release.oci.tar")).mtimeMs;
    const builtBefore = statSync(join(out, "mini-1.0.0.oci.tar")).mtimeMs;
    const reg = await HostileRegistry.start("wrong-digest");
    try {
      const r = await caisson("--to", `${reg.host}/caisson/mini`);
      expect(r.stderr).toMatch(/release failed: .*registry stored sha256:0{64} for sha256:\w{64} .*; nothing was tagged/);
      expect(r.code).toBe(1);
      reg.setMode("ok");
      reg.manifests.set("1.0.0", Buffer.from("{}"));
      const moved = await caisson("--to", `${reg.host}/caisson/mini`);
      expect(moved.stderr).toContain("a version tag is not moved");
      expect(moved.code).toBe(1);
      expect(statSync(join(out, "mini-1.0.0.release.oci.tar")).mtimeMs).toBe(before);
      // The build's archive too stays the previous release's.
      expect(statSync(join(out, "mini-1.0.0.oci.tar")).mtimeMs).toBe(builtBefore);
      expect(readdirSync(out).filter((n) => n.startsWith("."))).toEqual([]);
    } finally {
      await reg.stop();
    }
  });

  it("sends the credentials to no other host than the registry's", async () => {
    const reg = await HostileRegistry.start("location");
    try {
      const r = await caisson("--to", `${reg.host}/caisson/mini`);
      expect(r.code).toBe(0);
      expect(reg.elsewhere.length).toBeGreaterThan(0);
      expect(reg.elsewhere.filter((x) => x.authorization)).toEqual([]);
    } finally {
      await reg.stop();
    }
  });

  it("ends with 130 on Ctrl-C while the registry does not answer, leaving nothing half-written", async () => {
    // Well-behaved for the check before the build, then never answering.
    const reg = await HostileRegistry.start("ok");
    try {
      const child = spawn(process.execPath, ["bin/caisson.js", "release", def, "--context", ctx, "--out", out, "--progress", "plain", "--to", `${reg.host}/caisson/mini`], { env: { ...process.env, ...env } });
      let stderr = "";
      child.stderr.on("data", (b: Buffer) => {
        stderr += b.toString();
        if (stderr.includes("allows the push (checked before building)")) reg.setMode("hang");
        if (stderr.includes("release index")) setTimeout(() => child.kill("SIGINT"), 500);
      });
      const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
      expect(stderr).toContain("interrupted");
      expect(code).toBe(130);
      expect(readdirSync(out).filter((n) => n.startsWith("."))).toEqual([]);
      expect(existsSync(join(out, "mini-1.0.0.release.oci.tar"))).toBe(true);
    } finally {
      await reg.stop();
    }
  });
});
