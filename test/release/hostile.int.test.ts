// `caisson release` on the real engine with a hostile build context: a
// base image's lockfile there (images/<name>/image.lock.json, which the SBOM
// lists the base's packages from) that is not a lockfile is named, with
// exit 1 and nothing released, not an internal error.
// Under CI=true a missing engine fails instead of skipping.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkEngine, dockerBinary } from "../../src/engine/index.js";
import { IN_CI } from "../support/ci.js";
import { runCli } from "../support/cli.js";

const BASE = "caisson/debian:bookworm@sha256:d757fb0e12b1304ed12095dfc93b37afc7f33623a62f45707945b94262f96032";
const engineError = await checkEngine(dockerBinary()).then(
  () => undefined,
  (e: unknown) => (e instanceof Error ? e.message : String(e)),
);

describe.skipIf(engineError !== undefined && !IN_CI)("caisson release with a hostile build context", () => {
  const dir = mkdtempSync(join(tmpdir(), "caisson-release-hostile-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a base image's lockfile in the context that is not JSON is named (exit 1), nothing released", async () => {
    const file = join(dir, "image.yaml");
    writeFileSync(
      file,
      [
        "name: hostile",
        "version: 1.0.0",
        "platforms: [linux/amd64]",
        "stages:",
        "  b:",
        `    from: ${BASE}`,
        '    run: ["true"]',
        "image:",
        "  from: scratch",
        "  copy: [{ from: b, src: /sbin/ldconfig, dest: /usr/bin/ldc }]",
        "  entrypoint: [/usr/bin/ldc]",
        "  check: { hardening: none }",
        "",
      ].join("\n"),
    );
    mkdirSync(join(dir, "images", "debian"), { recursive: true });
    writeFileSync(join(dir, "images", "debian", "image.lock.json"), "{ not json");
    const out = join(dir, "out");
    const r = await runCli("release", file, "--context", dir, "--verify", "--progress", "quiet", "--out", out);
    expect(r.stderr).toMatch(/release failed: the lockfile of a base image, which the SBOM lists its packages from: images\/debian\/image\.lock\.json: not JSON/);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(r.code).toBe(1);
    expect(existsSync(join(out, "hostile-1.0.0.release.oci.tar"))).toBe(false);
  }, 300_000);
});
