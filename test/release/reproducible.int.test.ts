// Reproducibility on the real engine: `caisson release --verify` builds Redis
// twice from empty caches (--no-cache, minutes apart, so different clocks)
// and requires the same release index digest. The most expensive test of the
// suite (two full builds of both platforms): it is the only one that does it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkEngine, dockerBinary } from "../../src/engine/index.js";
import { IN_CI } from "../support/ci.js";

const engineError = await checkEngine(dockerBinary()).then(
  () => undefined,
  (e: unknown) => (e instanceof Error ? e.message : String(e)),
);

describe.skipIf(engineError !== undefined && !IN_CI)("caisson release --verify", () => {
  const out = mkdtempSync(join(tmpdir(), "caisson-verify-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("gives the same index digest from two builds with empty caches, and says so", () => {
    if (engineError) throw new Error(`the engine is required under CI: ${engineError}`);
    const r = spawnSync(process.execPath, ["bin/caisson.js", "release", "images/redis/image.yaml", "--verify", "--out", out, "--progress", "plain"], { encoding: "utf8", maxBuffer: 256 << 20 });
    if (r.status !== 0) throw new Error(`caisson release --verify exited ${r.status}:\n${r.stderr.slice(-8000)}`);
    const said = /reproducible: two builds from empty caches gave the same index (sha256:[0-9a-f]{64})/.exec(r.stderr);
    expect(said, r.stderr.slice(-3000)).not.toBeNull();
    // The release archive holds that index, the first build's archive is beside it; the second build, which agreed, is not kept.
    const index = (file: string) => (JSON.parse(spawnSync("tar", ["-xOf", join(out, file), "index.json"], { encoding: "utf8" }).stdout) as { manifests: { digest: string }[] }).manifests[0]!.digest;
    expect(index("redis-7.0.15.release.oci.tar")).toBe(said![1]);
    expect(readdirSync(out).filter((n) => n.includes(".verify.") || n.startsWith("."))).toEqual([]);
    expect(readdirSync(out)).toContain("redis-7.0.15.oci.tar");
    expect(readFileSync(join(out, "redis-7.0.15.linux-amd64.spdx.json"), "utf8")).toContain('"spdxVersion": "SPDX-2.3"');
  });
});
