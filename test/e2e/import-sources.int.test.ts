// Sources declared in an IMPORTED definition go through caisson build's
// source store server like the definition's own: where the store lacks them
// it redirects them to their URL (it used to answer 404, which BuildKit took
// as the file and refused on its digest).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { caisson, engineError, ensureDist, IN_CI, requireEngine, serveFiles, sha256, type HttpFixtureServer } from "./helpers.js";

describe.skipIf(engineError !== undefined && !IN_CI)("sources of imported definitions", () => {
  const nonce = `${process.pid}-${Date.now()}`;
  const payload = `declared by the imported definition (${nonce})\n`;
  let tmp = "";
  let http: HttpFixtureServer | undefined;

  beforeAll(async () => {
    requireEngine();
    ensureDist();
    tmp = mkdtempSync(join(tmpdir(), "caisson-e2e-import-sources-"));
    http = await serveFiles(new Map([["/data.txt", payload]]));
  });
  afterAll(async () => {
    await http?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("are fetched through the store server's redirect to their URL", async () => {
    const ctx = join(tmp, "ctx");
    mkdirSync(join(ctx, "lib"), { recursive: true });
    writeFileSync(
      join(ctx, "lib/image.yaml"),
      [
        "name: e2e-imported-lib",
        "platforms: [linux/amd64]",
        "sources:",
        `  data: { url: "${http?.url}/data.txt", sha256: ${sha256(payload)} }`,
        "image:",
        "  copy:",
        "    - { from: data, src: /data.txt, dest: /data.txt }",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(ctx, "image.yaml"),
      ["name: e2e-imports-a-source", "platforms: [linux/amd64]", "imports:", "  lib: lib/image.yaml", "image:", "  from: lib", ""].join("\n"),
    );
    const dest = join(tmp, "out");
    const empty = join(tmp, "empty-store");
    mkdirSync(empty);
    const r = await caisson(["build", join(ctx, "image.yaml"), "--context", ctx, "--source-store", empty, "-o", `local=${dest}`, "--progress", "plain", "--no-check"]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dest, "data.txt"), "utf8")).toBe(payload);
    expect(http?.requests).toContain("/data.txt");
  });
});
