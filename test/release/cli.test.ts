// `caisson release` refusing bad calls before anything is built, in-process
// (no engine): no destination, a malformed --to, and a definition whose
// release tags cannot be made (reported with file:line:col, no stack trace).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";

async function run(...args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await main(["node", "caisson", ...args]), stderr };
  } finally {
    err.mockRestore();
  }
}

describe("caisson release (bad calls)", () => {
  const dir = mkdtempSync(join(tmpdir(), "caisson-release-cli-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "image.yaml");
  writeFileSync(file, "name: x\nversion: bookworm\nplatforms: [linux/amd64]\nimage: { from: scratch }\nrelease:\n  tags: ['{major}']\n");

  it("needs --to or --verify", async () => {
    const r = await run("release", file, "--context", dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("give --to REGISTRY/REPO to push, or --verify");
  });

  it("needs a registry host in --to", async () => {
    const r = await run("release", file, "--context", dir, "--to", "caisson/redis");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("give REGISTRY/REPO, e.g. 127.0.0.1:5000/caisson/redis");
  });

  it("reports a release tag the version cannot fill by line and column, and builds nothing", async () => {
    const r = await run("release", file, "--context", dir, "--verify", "--out", join(dir, "out"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/image\.yaml:6:\d+: error\[invalid_release_tag\]: release tag "\{major\}" needs a MAJOR\.MINOR\.PATCH version/);
    expect(r.stderr).toContain("nothing was built");
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  });
});
