// `caisson build` refuses, at the definition's line, what the engine would
// only fail on late and without a place: a default image name that is no
// reference, a local source whose folder is missing, not a folder, or
// reached through a symlink (out of the context or not).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { defaultNameProblem } from "../../src/cli/preflight.js";
import { checkDefinition } from "../../src/validate/index.js";
import { runCli } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "caisson-preflight-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, "app"));
writeFileSync(join(dir, "app", "hello"), "hi\n");
writeFileSync(join(dir, "file"), "x\n");
mkdirSync(join(dir, "real"));
symlinkSync("/etc", join(dir, "etc"));
symlinkSync("real", join(dir, "inner"));
symlinkSync("/nonexistent-caisson", join(dir, "dangling"));
execFileSync("mkfifo", [join(dir, "fifo")]);

const yaml = (version: string, path: string) =>
  `name: mini\nversion: ${JSON.stringify(version)}\nplatforms: [linux/amd64]\nsources:\n  app: { path: ${JSON.stringify(path)} }\n` +
  "image:\n  from: scratch\n  copy: [{ from: app, src: /, dest: /app }]\n  entrypoint: [/app/hello]\n  check: { hardening: none }\n";

let n = 0;
/** `caisson build` of a definition in the context, on a builder nobody listens on (nothing may get that far). */
async function build(version: string, path: string, ...extra: string[]) {
  const def = join(dir, `image-${n++}.yaml`);
  writeFileSync(def, yaml(version, path));
  const r = await runCli("build", def, "--context", dir, "--builder", "tcp://127.0.0.1:1", ...extra);
  return { ...r, def };
}

describe("the default image name", () => {
  it("a version no tag can hold is refused at version:, before the build, with the fix", async () => {
    const r = await build("/../x", "app");
    expect(r.stderr).toContain(`${r.def}:2:10`);
    expect(r.stderr).toMatch(/without -o the image is tagged "caisson\/mini:\/\.\.\/x", and version "\/\.\.\/x" cannot be a tag/);
    expect(r.stderr).toMatch(/-o image=NAME:TAG/);
    expect(r.stderr).not.toMatch(/building|invalid reference format|internal error|\n\s+at /);
    expect(r.code).toBe(1);
  });

  it("is not looked at when -o names the output", async () => {
    const r = await build("/../x", "app", "-o", "image=mini:1");
    expect(r.stderr).not.toMatch(/cannot be a tag/);
  });

  it("a valid version passes", () => {
    const { definition } = checkDefinition("i.yaml", yaml("7.0.15", "app"));
    expect(definition).toBeDefined();
    expect(defaultNameProblem(definition!)).toBeUndefined();
    const long = checkDefinition("i.yaml", yaml("1".repeat(129), "app")).definition!;
    expect(defaultNameProblem(long)?.message).toMatch(/cannot be a tag/);
  });
});

describe("a local source's folder", () => {
  it.each([
    ["a symlink out of the context", "etc", /path "etc" leads out of the build context .*: it is a symlink to \/etc/, /copy the files into the context/],
    ["a missing folder", "nope", /path "nope" does not exist in the build context/, /create the folder/],
    ["a missing part", "nope/deeper", /path "nope\/deeper" does not exist in the build context .* \(its part "nope" does not\)/, /create the folder/],
    ["a regular file", "file", /path "file" is not a folder: it is a regular file/, /name the folder that holds it/],
    ["a FIFO", "fifo", /path "fifo" is not a folder: it is a named pipe \(FIFO\)/, /name the folder that holds it/],
    ["a symlink inside the context", "inner", /path "inner" goes through a symlink \(it points to "real"\)/, /write path: real/],
    ["a path through a symlink", "etc/ssl", /its part "etc" is a symlink to \/etc/, /copy the files/],
    ["a dangling symlink", "dangling", /is a dangling symlink/, /inside the build context/],
  ])("%s is refused at path:, before the build", async (_what, path, message, hint) => {
    const r = await build("1.0.0", path);
    expect(r.stderr).toContain(`${r.def}:5:16`);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(hint);
    expect(r.stderr).toMatch(/invalid_local_source/);
    expect(r.stderr).not.toMatch(/building|internal error|\n\s+at /);
    expect(r.code).toBe(1);
  });

  it("a folder of the context, or the whole context, gets past the check", async () => {
    for (const path of ["app", "."]) {
      const r = await build("1.0.0", path, "-o", "image=mini:1");
      expect(r.stderr).not.toMatch(/invalid_local_source/);
    }
  });
});

describe("caisson compile checks the folders too (it reads the context)", () => {
  it("a symlink out of the context is refused at path:", async () => {
    const def = join(dir, `image-${n++}.yaml`);
    writeFileSync(def, yaml("1.0.0", "etc"));
    const r = await runCli("compile", def, "--context", dir, "--platform", "linux/amd64", "--source-mirror", "http://127.0.0.1:1", "-o", join(dir, "out.pb"));
    expect(r.stderr).toContain(`${def}:5:16`);
    expect(r.stderr).toMatch(/leads out of the build context/);
    expect(r.code).toBe(1);
  });

  it("a folder of the context compiles", async () => {
    const def = join(dir, `image-${n++}.yaml`);
    writeFileSync(def, yaml("1.0.0", "app"));
    const r = await runCli("compile", def, "--context", dir, "--platform", "linux/amd64", "--source-mirror", "http://127.0.0.1:1", "-o", join(dir, "out.pb"));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});
