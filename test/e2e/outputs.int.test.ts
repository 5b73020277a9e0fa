// `caisson build` with several outputs: one build for all of them (the same
// digests everywhere), checked once, and nothing published (image=, push=) or
// put in place (oci=, local=) before `caisson check` has passed on it. An
// image that fails the check moves no tag, pushes nothing and replaces no file.
// push= goes to the registry only (not tagged in the engine).
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestRegistry } from "../support/registry.js";
import { caisson, DOCKER, engineError, ensureDist, IN_CI, lockedFixture, requireEngine, run } from "./helpers.js";

/** The digest a plain loopback registry serves for repo:tag, or undefined when it has no such tag. */
function registryDigest(host: string, repo: string, tag: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const [hostname, port] = host.split(":") as [string, string];
    const req = request(
      {
        host: hostname,
        port: Number(port),
        method: "HEAD",
        path: `/v2/${repo}/manifests/${tag}`,
        headers: { Accept: "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json" },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200 ? String(res.headers["docker-content-digest"]) : undefined);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** The engine's image ID (the index digest in the containerd store), or undefined when it has no such image. */
function engineImage(name: string): string | undefined {
  const r = spawnSync(DOCKER, ["image", "inspect", "--format", "{{.Id}}", name], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The digest index.json of an OCI archive names. */
function archiveDigest(file: string): string {
  const index = JSON.parse(run("tar", ["-xOf", file, "index.json"])) as { manifests: { digest: string }[] };
  expect(index.manifests).toHaveLength(1);
  return index.manifests[0]!.digest;
}

describe.skipIf(engineError !== undefined && !IN_CI)("caisson build outputs: one build, checked before anything is published", () => {
  const nonce = `${process.pid}-${Date.now()}`;
  const image = `caisson-e2e/outputs:${nonce}`;
  let good = "";
  let bad = "";
  let out = "";
  let keep = "";
  let reg: TestRegistry | undefined;
  let built = "";

  beforeAll(async () => {
    requireEngine();
    ensureDist();
    good = await lockedFixture("hello", "caisson-e2e-outputs-");
    // The same, locked, with its binary made world-writable: it builds, and fails the check.
    bad = mkdtempSync(join(tmpdir(), "caisson-e2e-outputs-bad-"));
    cpSync(good, bad, { recursive: true });
    const def = readFileSync(join(bad, "image.yaml"), "utf8").replace("dest: /hello, libraries: true }", 'dest: /hello, libraries: true, mode: "0777" }');
    expect(def).toContain('mode: "0777"');
    writeFileSync(join(bad, "image.yaml"), def);
    out = mkdtempSync(join(tmpdir(), "caisson-e2e-outputs-out-"));
    keep = join(out, "keep.oci.tar");
    reg = await TestRegistry.start({ plain: true });
  }, 600_000);
  afterAll(async () => {
    spawnSync(DOCKER, ["rmi", image], { encoding: "utf8" });
    await reg?.remove();
    for (const d of [good, bad, out]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it("-o image=N -o oci=F: one build, the same index digest in both, checked once; every --progress json line is a JSON object", async () => {
    const r = await caisson(["build", "image.yaml", "--platform", "linux/amd64", "-o", `image=${image}`, "-o", `oci=${keep}`, "--progress", "json"], { cwd: good });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const lines = r.stderr.split("\n").filter((l) => l !== "");
    const objs = lines.map((l) => JSON.parse(l) as { type: string; message?: string; report?: { ok: boolean } });
    expect(new Set(objs.map((o) => o.type))).toEqual(new Set(["status", "log", "check"]));
    const checks = objs.filter((o) => o.type === "check");
    expect(checks).toHaveLength(1);
    expect(checks[0]!.report?.ok).toBe(true);
    built = archiveDigest(keep);
    expect(engineImage(image)).toBe(built);
    expect(objs.filter((o) => o.type === "log").map((o) => o.message).join("\n")).toContain(`(${built})`);
    expect(readdirSync(out)).toEqual(["keep.oci.tar"]);
  }, 600_000);

  it("an image that fails the check is not pushed, moves no tag and replaces no file", async () => {
    const before = readFileSync(keep);
    const id = engineImage(image);
    expect(id).toBe(built);
    const r = await caisson(
      ["build", "image.yaml", "--platform", "linux/amd64", "-o", `oci=${keep}`, "-o", `image=${image}`, "-o", `push=${reg!.host}/x/hello:bad`, "--progress", "plain"],
      { cwd: bad },
    );
    expect(r.code, r.stderr.slice(-3000)).toBe(1);
    expect(r.stderr).toMatch(/fs\.world-writable\s+\/hello/);
    expect(r.stderr).toContain("breaks the rules above (caisson check): nothing was published or written");
    expect(readFileSync(keep).equals(before)).toBe(true);
    expect(engineImage(image)).toBe(id);
    expect(await registryDigest(reg!.host, "x/hello", "bad")).toBeUndefined();
    expect(readdirSync(out)).toEqual(["keep.oci.tar"]);

    // push= alone was published unchecked before: now checked first, and refused.
    const alone = await caisson(["build", "image.yaml", "--platform", "linux/amd64", "-o", `push=${reg!.host}/x/hello:bad`, "--progress", "quiet"], { cwd: bad });
    expect(alone.code, alone.stderr.slice(-3000)).toBe(1);
    expect(alone.stderr).not.toContain("not checked");
    expect(await registryDigest(reg!.host, "x/hello", "bad")).toBeUndefined();
  }, 600_000);

  it("push=NAME: pushed once the check passed, the digest checked, and not tagged in the engine", async () => {
    const name = `${reg!.host}/x/hello:good`;
    const r = await caisson(["build", "image.yaml", "--platform", "linux/amd64", "-o", `push=${name}`, "--progress", "plain"], { cwd: good });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(r.stderr.match(/caisson check oci-archive:/g)).toHaveLength(1);
    expect(await registryDigest(reg!.host, "x/hello", "good")).toBe(built);
    expect(engineImage(name)).toBeUndefined();
  }, 600_000);

  it("--no-check: one solve straight to every output, the same digests", async () => {
    const other = join(out, "unchecked.oci.tar");
    const r = await caisson(["build", "image.yaml", "--platform", "linux/amd64", "-o", `image=${image}`, "-o", `oci=${other}`, "--no-check", "--progress", "plain"], { cwd: good });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(r.stderr.match(/^#0 building with/gm)).toHaveLength(1);
    expect(r.stderr).not.toContain("caisson check");
    expect(archiveDigest(other)).toBe(built);
    expect(engineImage(image)).toBe(built);
    rmSync(other);
  }, 600_000);
});
