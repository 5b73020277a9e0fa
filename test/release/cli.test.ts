// `caisson release` refusing bad calls before anything is built, in-process
// (no engine): no destination, a malformed --to, and a definition whose
// release tags cannot be made (reported with file:line:col, no stack trace).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { HostileRegistry } from "../support/hostile-registry.js";
import { TestRegistry } from "../support/registry.js";

const run = runCli;

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

  it.each([
    ["a slash (the files would leave --out)", '"/../../../esc"', /image\.yaml:2:10: error\[invalid_version\]: version "\/\.\.\/\.\.\/\.\.\/esc" has a slash/],
    ["too long a version", `"${"9".repeat(220)}"`, /image\.yaml:2:10: error\[invalid_version\]: version "9+" makes the release files' names too long/],
  ])("refuses a version with %s at the definition, and builds nothing", async (_what, version, message) => {
    const sub = join(dir, "v", "a", "b");
    mkdirSync(sub, { recursive: true });
    const def = join(sub, "image.yaml");
    writeFileSync(def, `name: x\nversion: ${version}\nplatforms: [linux/amd64]\nimage: { from: scratch }\n`);
    const r = await run("release", def, "--context", sub, "--verify", "--out", join(sub, "out"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain("nothing was built");
    expect(r.stderr).not.toMatch(/internal error|\n\s+at |building/);
    expect(readdirSync(join(dir, "v"))).toEqual(["a"]);
  });

  it("refuses to push a version no tag can hold (only latest would be pushed), at the version, unless release: tags: says what to push", async () => {
    const sub = join(dir, "plus");
    mkdirSync(sub, { recursive: true });
    const def = join(sub, "image.yaml");
    writeFileSync(def, "name: x\nversion: 7.0.15+dfsg\nplatforms: [linux/amd64]\nimage: { from: scratch }\n");
    const r = await run("release", def, "--context", sub, "--to", "127.0.0.1:5000/x", "--out", join(sub, "out"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/image\.yaml:2:10: error\[invalid_version\]: version "7\.0\.15\+dfsg" cannot be a tag, so the release would be pushed as "latest" only/);
    expect(r.stderr).toContain("release: tags:");
    expect(r.stderr).not.toMatch(/internal error|\n\s+at |building/);
  });

  it.each([
    ["an invalid definition", "name: X\n"],
    ["a version with a slash", "name: x\nversion: /x\nplatforms: [linux/amd64]\nimage: { from: scratch }\n"],
  ])("under --progress json, %s is reported as JSON lines only", async (_what, yaml) => {
    const sub = join(dir, "json");
    mkdirSync(sub, { recursive: true });
    const def = join(sub, "image.yaml");
    writeFileSync(def, yaml);
    const r = await run("release", def, "--context", sub, "--verify", "--progress", "json", "--out", join(sub, "out"));
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n").map((l) => JSON.parse(l) as { type: string; diagnostics?: { file: string; line: number }[] });
    expect(lines[0]).toMatchObject({ type: "diagnostics", diagnostics: expect.arrayContaining([expect.objectContaining({ file: def, line: expect.any(Number) })]) });
    expect(lines.at(-1)).toMatchObject({ type: "error" });
  });

  describe("checks everything it can before building (exit 2, naming the path)", () => {
    const ok = join(dir, "ok");
    mkdirSync(join(ok, "app"), { recursive: true });
    writeFileSync(join(ok, "app", "hello"), "hi\n", { mode: 0o755 });
    const def = join(ok, "image.yaml");
    writeFileSync(def, "name: mini\nversion: 1.0.0\nplatforms: [linux/amd64]\nsources:\n  app: { path: ./app }\nimage:\n  from: scratch\n  copy: [{ from: app, src: /hello, dest: /hello }]\n  entrypoint: [/hello]\n  check: { hardening: none }\n");
    const afile = join(dir, "afile");
    writeFileSync(afile, "x");
    const fifo = join(dir, "fifo");
    spawnSync("mkfifo", [fifo]);
    const garbage = join(dir, "garbage.pem");
    writeFileSync(garbage, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
    const badConfig = join(dir, "docker");
    mkdirSync(badConfig);
    writeFileSync(join(badConfig, "config.json"), "{ auths: ");
    const release = (...extra: string[]) => run("release", def, "--context", ok, "--progress", "json", ...extra);

    it.each([
      ["a port out of range", ["--to", "127.0.0.1:99999/x"], /--to 127\.0\.0\.1:99999\/x: port 99999 is out of range/],
      ["an upper-case repository in --to", ["--to", "127.0.0.1:5000/Caisson"], /--to 127\.0\.0\.1:5000\/Caisson: the repository name must be lowercase \(.*Caisson.*: write .*caisson.*\); give REGISTRY\/REPO/],
      ["a tag in --to", ["--to", "127.0.0.1:5000/x:1.0"], /--to 127\.0\.0\.1:5000\/x:1\.0: give the repository without a tag \(127\.0\.0\.1:5000\/x\)/],
      ["a tag in --to", ["--to", "reg.example/me/app:1.0"], /--to reg\.example\/me\/app:1\.0: give the repository without a tag \(reg\.example\/me\/app\); drop the tag: the tags pushed come from the definition \(its version, or release\.tags\)/],
      ["a tag and no registry host in --to", ["--to", "host/me/app:1.0"], /--to host\/me\/app:1\.0: give REGISTRY\/REPO, e\.g\. 127\.0\.0\.1:5000\/caisson\/redis .*; and drop the tag: the tags pushed come from the definition/],
      ["--ca-cert a directory", ["--to", "127.0.0.1:5000/x", "--ca-cert", dir], /--ca-cert .*: is a directory/],
      ["--ca-cert a FIFO", ["--to", "127.0.0.1:5000/x", "--ca-cert", fifo], /--ca-cert .*fifo: is not a regular file/],
      ["--ca-cert not a certificate", ["--to", "127.0.0.1:5000/x", "--ca-cert", garbage], /--ca-cert .*garbage\.pem: not a PEM certificate/],
      ["--out a file", ["--verify", "--out", afile], /--out .*afile: .*afile exists and is not a directory/],
      ["--out under a file", ["--verify", "--out", join(afile, "sub")], /--out .*afile\/sub: cannot make that directory: a part of the path is not a directory/],
      ["--out a FIFO", ["--verify", "--out", fifo], /--out .*fifo: .*fifo exists and is not a directory/],
      ["--out /proc/self", ["--verify", "--out", "/proc/self"], /--out \/proc\/self: cannot write files there/],
      ["--out the build context", ["--verify", "--out", ok], /refusing to write over the build context/],
      ["--out above the build context", ["--verify", "--out", dir], /refusing to write over the build context/],
    ])("%s", async (_what, args, message) => {
      const r = await release(...args);
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(2);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at |building/);
      // --progress json (accepted, as by caisson build): every line is one JSON object.
      for (const line of r.stderr.trim().split("\n")) expect(JSON.parse(line)).toMatchObject({ type: "error", usage: true });
    });

    it("a malformed docker config.json", async () => {
      const before = process.env["DOCKER_CONFIG"];
      process.env["DOCKER_CONFIG"] = badConfig;
      try {
        const r = await release("--to", "127.0.0.1:5000/x");
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/docker\/config\.json: not valid JSON/);
      } finally {
        if (before === undefined) delete process.env["DOCKER_CONFIG"];
        else process.env["DOCKER_CONFIG"] = before;
      }
    });

    // The registry is reached and the credentials tried for push before the build (exit 1, like the push's failures).
    describe("the registry before the build", () => {
      const env = (user: string, password: string) => {
        const before = { u: process.env["CAISSON_REGISTRY_USER"], p: process.env["CAISSON_REGISTRY_PASSWORD"] };
        process.env["CAISSON_REGISTRY_USER"] = user;
        process.env["CAISSON_REGISTRY_PASSWORD"] = password;
        return () => {
          for (const [k, v] of [["CAISSON_REGISTRY_USER", before.u], ["CAISSON_REGISTRY_PASSWORD", before.p]] as const) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
          }
        };
      };
      const nothingBuilt = (r: { stderr: string }, out: string) => {
        expect(r.stderr).not.toMatch(/internal error|\n\s+at |building|release index/);
        expect(readdirSync(out)).toEqual([]);
      };

      it("refuses wrong credentials for a TLS registry (htpasswd), naming the user and where they came from", async () => {
        const reg = await TestRegistry.start();
        const restore = env(reg.user, "not-the-password");
        try {
          const out = join(dir, "out-auth");
          const r = await run("release", def, "--context", ok, "--out", out, "--to", `${reg.host}/caisson/mini`, "--ca-cert", reg.caFile);
          expect(r.stderr).toContain(`release failed: ${reg.host}: authentication failed (401) as "${reg.user}" (credentials from CAISSON_REGISTRY_USER/PASSWORD)`);
          expect(r.code).toBe(1);
          nothingBuilt(r, out);
        } finally {
          restore();
          await reg.remove();
        }
      }, 60_000);

      it("refuses a registry that is not there, naming the URL", async () => {
        const reg = await HostileRegistry.start("ok");
        const host = reg.host;
        await reg.stop();
        const out = join(dir, "out-gone");
        const r = await run("release", def, "--context", ok, "--out", out, "--to", `${host}/caisson/mini`);
        expect(r.stderr).toContain(`release failed: ${host} is unreachable (ECONNREFUSED) on GET https://${host}/v2/; checked first, so nothing was built.`);
        expect(r.code).toBe(1);
        nothingBuilt(r, out);
      });
    });
  });
});
