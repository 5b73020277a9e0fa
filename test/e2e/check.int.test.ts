// `caisson build` verifies what it produced: an image that breaks a rule of
// `caisson check` fails the build with the file and the rule named, and
// nothing is written (--no-check writes it, for inspection); a waiver with a
// reason lets it pass.
import { rmSync, existsSync, readdirSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { caisson, engineError, ensureDist, lockedFixture, IN_CI, requireEngine } from "./helpers.js";

describe.skipIf(engineError !== undefined && !IN_CI)("caisson build runs caisson check", () => {
  let dir = "";

  beforeAll(async () => {
    requireEngine();
    ensureDist();
    dir = await lockedFixture("hello", "caisson-e2e-check-");
    // The hello image, with its binary made world-writable.
    const def = readFileSync(join(dir, "image.yaml"), "utf8").replace(
      "- { from: build, src: /out/hello, dest: /hello, libraries: true }",
      '- { from: build, src: /out/hello, dest: /hello, libraries: true, mode: "0777" }',
    );
    expect(def).toContain('mode: "0777"');
    writeFileSync(join(dir, "image.yaml"), def);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("fails a build whose image has a world-writable file, naming the file and the rule", async () => {
    const out = join(dir, "bad.oci.tar");
    const r = await caisson(["build", "image.yaml", "--platform", "linux/amd64", "-o", `oci=${out}`, "--progress", "quiet"], { cwd: dir });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/fs\.world-writable\s+\/hello/);
    expect(r.stderr).toContain("breaks the rules above (caisson check): nothing was published or written");
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes("caisson-tmp"))).toEqual([]);
    // Written under --no-check, for inspection with `caisson check`.
    const unchecked = await caisson(["build", "image.yaml", "--platform", "linux/amd64", "-o", `oci=${out}`, "--progress", "quiet", "--no-check"], { cwd: dir });
    expect(unchecked.code, unchecked.stderr).toBe(0);
    const again = await caisson(["check", out]);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/fs\.world-writable\s+\/hello/);
  });

  it("passes once the definition waives that finding with a reason, and prints the waiver", async () => {
    const def = readFileSync(join(dir, "image.yaml"), "utf8");
    writeFileSync(
      join(dir, "image.yaml"),
      def + '  check:\n    waivers:\n      - { rule: fs.world-writable, path: /hello, reason: "test: a world-writable file on purpose" }\n',
    );
    const r = await caisson(["build", "image.yaml", "--platform", "linux/amd64", "-o", `oci=${join(dir, "ok.oci.tar")}`, "--progress", "quiet"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("test: a world-writable file on purpose");
  });
});
