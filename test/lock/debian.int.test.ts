// Debian packages pinned by `caisson lock` against this machine's apt, then
// installed at exactly that version by a real build: a definition with
// `packages: [make]` fails `validate --frozen` until locked, the lockfile
// pins make to apt's candidate here, and the stage's `dpkg-query -W make`
// (in the local output) names that version. Needs the Docker engine (fails
// instead of skipping under CI=true) and apt (the base image comes from the
// same Debian mirror as this machine's sources).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostPlatform } from "../../src/compile/index.js";
import { formatPlatform } from "../../src/llb/index.js";
import { caisson as runCaisson, engineError, IN_CI } from "../e2e/helpers.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const BASE = "caisson/debian:bookworm@sha256:afafc3d453bf6e705cb4df326492b866180d95c863b5217234d2fcc402fba351";

/** `node bin/caisson.js …` in `cwd`, asynchronously (loopback servers live in this process); CI is unset unless given. */
function caisson(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  return runCaisson(args, { cwd, env: { CI: "", ...env } });
}

const DEF = `name: debian-packages
platforms: [${formatPlatform(hostPlatform())}]
stages:
  build:
    from: ${BASE}
    packages: [make]   # moving: pinned by the lockfile
    run:
      - mkdir -p /out && dpkg-query -W make > /out/v
image:
  copy:
    - { from: build, src: /out, dest: /out }
`;

describe("caisson lock pins Debian packages, and the build installs exactly them", () => {
  let ctx = "";

  const need = () => {
    if (engineError) {
      if (IN_CI) throw new Error(`the Docker engine is required (CI=true): ${engineError}`);
      return false;
    }
    return true;
  };

  beforeAll(() => {
    if (engineError && !IN_CI) return;
    const r = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT, encoding: "utf8" });
    if (!existsSync(join(ROOT, "dist/cli/main.js"))) throw new Error(`tsc failed: ${r.stdout}${r.stderr}`);
    ctx = mkdtempSync(join(tmpdir(), "caisson-debian-"));
    mkdirSync(join(ctx, "app"));
    writeFileSync(join(ctx, "app/image.yaml"), DEF);
  }, 120_000);

  afterAll(() => {
    if (ctx) rmSync(ctx, { recursive: true, force: true });
  });

  it("refuses the unpinned package under --frozen, pins apt's candidate, then builds with it", async () => {
    if (!need()) return;
    const candidate = /Candidate:\s*(\S+)/.exec(spawnSync("apt-cache", ["policy", "make"], { encoding: "utf8" }).stdout)?.[1];
    expect(candidate, "apt-cache policy make has a candidate on this machine").toMatch(/^[0-9]/);

    const before = await caisson(["validate", "--frozen", "app/image.yaml"], ctx);
    expect(before.code).not.toBe(0);
    expect(before.stdout + before.stderr).toContain('app/image.yaml:6:16: error[unpinned_package]: stage "build": Debian package make (no version)');
    expect(before.stdout + before.stderr).toContain("run `caisson lock app/image.yaml` to pin it in the lockfile");

    const lock = await caisson(["lock", "app/image.yaml"], ctx);
    expect(lock.code, lock.stderr).toBe(0);
    const lockText = readFileSync(join(ctx, "app/image.lock.json"), "utf8");
    expect(JSON.parse(lockText).debian).toEqual({ make: candidate });
    const again = await caisson(["lock", "--check", "app/image.yaml"], ctx);
    expect(again.code, again.stderr).toBe(0);

    const after = await caisson(["validate", "--frozen", "app/image.yaml"], ctx);
    expect(after.code, after.stdout + after.stderr).toBe(0);

    const b = await caisson(["build", "app/image.yaml", "--context", ".", "-o", "local=out", "--progress", "plain", "--no-check", "--frozen"], ctx);
    expect(b.code, b.stderr.slice(-3000)).toBe(0);
    expect(b.stderr).toContain("build: install 1 Debian package");
    expect(readFileSync(join(ctx, "out/out/v"), "utf8")).toBe(`make\t${candidate}\n`);
  }, 600_000);
});
