// File-valued arguments that name the wrong kind of thing (a FIFO, a
// directory, a path through a regular file) are refused with one line and
// exit 2, in-process and without blocking: never a hang, never exit 70.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

const run = runCli;

const dir = mkdtempSync(join(tmpdir(), "caisson-paths-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fifo = (name: string) => {
  const p = join(dir, name);
  execFileSync("mkfifo", [p]);
  return p;
};
const def = join(dir, "s.yaml");
writeFileSync(def, 'name: s\nplatforms: [linux/amd64]\nstages:\n  build:\n    from: scratch\n    run: ["echo hi > /out"]\nimage:\n  from: scratch\n  copy: [{ from: build, src: /out, dest: /app }]\n  entrypoint: [/app]\n');
const afile = join(dir, "afile");
writeFileSync(afile, "x");
const folder = join(dir, "folder");
mkdirSync(folder);
const compile = ["compile", def, "--context", dir, "--platform", "linux/amd64", "--no-frozen"];

describe("file-valued arguments", () => {
  it.each([
    ["a FIFO definition", () => ["validate", fifo("f.yaml")], /cannot read .*f\.yaml: is not a regular file/],
    ["a FIFO .cue definition", () => ["validate", fifo("f.cue")], /cannot read .*f\.cue: is not a regular file/],
    ["a FIFO given to compile", () => ["compile", fifo("g.yaml"), "--platform", "linux/amd64"], /is not a regular file/],
    ["--debian-sources a directory", () => [...compile, "--debian-sources", folder], /--debian-sources .*folder: is a directory/],
    ["--debian-sources a FIFO", () => [...compile, "--debian-sources", fifo("sources")], /--debian-sources .*sources: is not a regular file/],
    ["--source-store a file", () => ["build", def, "--context", dir, "--source-store", afile], /--source-store .*afile: is not a directory/],
    ["--source-store a FIFO", () => ["build", def, "--context", dir, "--source-store", fifo("store")], /--source-store .*store: is not a directory/],
    ["-o through a regular file", () => [...compile, "-o", join(afile, "x")], /-o .*afile\/x: a part of the path is not a directory/],
    ["-o in a missing folder", () => [...compile, "-o", join(dir, "none", "x")], /cannot write .*none\/x: its folder .*none: no such file or directory/],
    ["-o under /proc", () => [...compile, "-o", "/proc/self/caisson-x"], /cannot write \/proc\/self\/caisson-x: /],
    ["check through a regular file", () => ["check", join(afile, "x.tar")], /cannot read .*afile\/x\.tar: a part of the path is not a directory/],
    ["check a FIFO", () => ["check", fifo("c.tar")], /cannot read .*c\.tar: is not a regular file or a directory/],
  ])("%s: one line, exit 2", async (_name, args, message) => {
    const r = await run(...args());
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(r.code).toBe(2);
  }, 15_000);
});

it("inspect: an import that is a FIFO is a diagnostic at the import, not a hang", async () => {
  fifo("imp.yaml");
  const importer = join(dir, "importer.yaml");
  writeFileSync(importer, 'name: s\nplatforms: [linux/amd64]\nimports:\n  b: imp.yaml\nstages:\n  build:\n    from: b\n    run: ["echo hi > /out"]\nimage:\n  from: scratch\n  copy: [{ from: build, src: /out, dest: /app }]\n  entrypoint: [/app]\n');
  const r = await run("inspect", importer, "--context", dir);
  expect(r.stderr).toMatch(/importer\.yaml:4:3: error\[unreadable_import\]: cannot read imp\.yaml from the build context: is not a regular file/);
  expect(r.code).toBe(1);
}, 10_000);

describe("a lockfile that is not a regular file", () => {
  // The lockfile beside a definition is read by lock, outdated, compile, build and release: a FIFO there
  // would block the read forever, so each refuses it by path, exit 2, before any work.
  const lk = join(dir, "lk");
  mkdirSync(lk);
  const text = 'name: s\nplatforms: [linux/amd64]\nstages:\n  build:\n    from: scratch\n    run: ["echo hi > /out"]\nimage:\n  from: scratch\n  copy: [{ from: build, src: /out, dest: /app }]\n  entrypoint: [/app]\n';
  const withFifo = join(lk, "f.yaml");
  writeFileSync(withFifo, text);
  execFileSync("mkfifo", [join(lk, "f.lock.json")]);
  const withDir = join(lk, "d.yaml");
  writeFileSync(withDir, text);
  mkdirSync(join(lk, "d.lock.json"));
  const fifoMessage = /cannot read the lockfile .*lk\/f\.lock\.json: is not a regular file \(the lockfile beside a definition must be a file/;
  it.each([
    ["lock", () => ["lock", withFifo], fifoMessage],
    ["lock --check", () => ["lock", "--check", withFifo], fifoMessage],
    ["outdated", () => ["outdated", withFifo], fifoMessage],
    ["compile", () => ["compile", withFifo, "--context", dir, "--platform", "linux/amd64"], fifoMessage],
    ["build", () => ["build", withFifo, "--context", dir, "-o", `oci=${join(dir, "never.tar")}`], fifoMessage],
    ["release", () => ["release", withFifo, "--context", dir, "--verify", "--out", join(dir, "rel")], fifoMessage],
    ["lock, a directory", () => ["lock", withDir], /cannot read the lockfile .*lk\/d\.lock\.json: is a directory/],
  ])("%s: one line naming it, exit 2, no hang", async (_name, args, message) => {
    const r = await run(...args());
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(r.code).toBe(2);
  }, 10_000);
});
