// Pinning against real servers on 127.0.0.1 (started and stopped here): a
// git daemon with a branch, a lightweight and an annotated tag, and an HTTP
// server with a release listing and tarballs. `caisson lock` pins them
// (twice: byte-identical), --frozen fails on unpinned inputs and passes on
// images/, a new upstream release makes `outdated` report it and `--write`
// update the definition so that the next real build uses it, a tampered
// source-store file is rejected by the engine with nothing exported, and
// `--mirror` serves a source whose upstream is unreachable.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostPlatform } from "../../src/compile/index.js";
import { formatPlatform } from "../../src/llb/index.js";
import { caisson as runCaisson, engineError, IN_CI } from "../e2e/helpers.js";
import { git, serveGit, serveReleases, type Stoppable } from "./servers.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

/** `node bin/caisson.js …` in `cwd`, asynchronously (loopback servers live in this process); CI is unset unless given. */
function caisson(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  return runCaisson(args, { cwd, env: { CI: "", ...env } });
}

/** A gzipped tarball holding app/VERSION = `version`, made with tar(1). */
function tarball(tmp: string, version: string): Buffer {
  const dir = mkdtempSync(join(tmp, "tar-"));
  mkdirSync(join(dir, "app"));
  writeFileSync(join(dir, "app/VERSION"), `${version}\n`);
  const file = join(dir, "app.tar.gz");
  const r = spawnSync("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-czf", file, "-C", dir, "app"]);
  if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
  return readFileSync(file);
}

const PLATFORM = formatPlatform(hostPlatform());

const definition = (gitUrl: string, http: string) => `# The pinning test's definition: every input is a moving reference.
name: pinned
version: 1.0.0
platforms: [${PLATFORM}]
sources:
  code:
    git: ${gitUrl}
    ref: v1.0.0 # a lightweight tag
    release: { tags: "v?(\\\\d+\\\\.\\\\d+\\\\.\\\\d+)" }
  tarball:
    url: ${http}/releases/app-1.0.0.tar.gz   # no sha256: the lockfile pins it
    release:
      listing: ${http}/releases/
      pattern: "app-(\\\\d+\\\\.\\\\d+\\\\.\\\\d+)\\\\.tar\\\\.gz"
    extract: true
stages:
  build:
    from: caisson/debian:bookworm
    mounts: { /code: code, /tarball: tarball }
    run:
      - mkdir -p /out && cp /code/VERSION /out/code-version && cp /tarball/app/VERSION /out/tarball-version
image:
  copy:
    - { from: build, src: /out, dest: /out }
`;

describe("pinning against loopback git and HTTP servers", () => {
  let tmp = "";
  let ctx = "";
  let work = "";
  let gitd: Stoppable | undefined;
  let http: (Stoppable & { requests: string[] }) | undefined;
  const files = new Map<string, Buffer>();
  const commits: Record<string, string> = {};

  beforeAll(async () => {
    if (engineError && !IN_CI) return;
    const r = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT, encoding: "utf8" });
    if (!existsSync(join(ROOT, "dist/cli/main.js"))) throw new Error(`tsc failed: ${r.stdout}${r.stderr}`);
    tmp = mkdtempSync(join(tmpdir(), "caisson-pinning-"));
    // The repository: main with three commits; v1.0.0 lightweight, v1.1.0 annotated, v1.2.0-rc.1 a pre-release.
    work = join(tmp, "work");
    mkdirSync(work);
    git(work, "init", "-q", "-b", "main");
    const commit = (v: string) => {
      writeFileSync(join(work, "VERSION"), `${v}\n`);
      git(work, "add", "VERSION");
      git(work, "commit", "-q", "-m", v);
      return git(work, "rev-parse", "HEAD");
    };
    commits["1.0.0"] = commit("1.0.0");
    git(work, "tag", "v1.0.0");
    commits["1.1.0"] = commit("1.1.0");
    git(work, "tag", "-a", "v1.1.0", "-m", "release 1.1.0");
    commits["1.2.0-rc.1"] = commit("1.2.0-rc.1");
    git(work, "tag", "-a", "v1.2.0-rc.1", "-m", "pre-release");
    mkdirSync(join(tmp, "git"));
    git(tmp, "clone", "-q", "--bare", work, join(tmp, "git/app.git"));
    gitd = await serveGit(join(tmp, "git"), "app.git");
    files.set("/releases/app-1.0.0.tar.gz", tarball(tmp, "1.0.0"));
    files.set("/releases/app-1.1.0.tar.gz", tarball(tmp, "1.1.0"));
    files.set("/releases/app-1.2.0-rc.1.tar.gz", tarball(tmp, "1.2.0-rc.1"));
    http = await serveReleases(files);
    ctx = join(tmp, "ctx");
    mkdirSync(join(ctx, "app"), { recursive: true });
    writeFileSync(join(ctx, "app/image.yaml"), definition(gitd.url, http.url));
  }, 120_000);

  afterAll(async () => {
    await gitd?.close();
    await http?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const need = () => {
    if (engineError) {
      if (IN_CI) throw new Error(`the Docker engine is required (CI=true): ${engineError}`);
      return false;
    }
    return true;
  };
  const lockPath = () => join(ctx, "app/image.lock.json");
  const readLock = () => JSON.parse(readFileSync(lockPath(), "utf8")) as { git: Record<string, { commit: string }>; http: Record<string, { sha256: string }>; images: Record<string, { digest: string }> };

  it("--frozen fails before locking, naming each unpinned input with file:line:col", async (t) => {
    if (!need()) return t.skip();
    const r = await caisson(["validate", "--frozen", "app/image.yaml"], ctx);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/app\/image\.yaml:8:10: error\[unpinned_source\]: source "code": git ref "v1\.0\.0" of git:\/\/127\.0\.0\.1:\d+\/app\.git is not pinned/);
    expect(r.stderr).toMatch(/app\/image\.yaml:11:10: error\[unpinned_source\]: source "tarball": http:\/\/127\.0\.0\.1:\d+\/releases\/app-1\.0\.0\.tar\.gz \(no sha256\)/);
    expect(r.stderr).toMatch(/app\/image\.yaml:18:11: error\[unpinned_image\]/);
    expect(r.stderr).toContain("run `caisson lock app/image.yaml`");
    // CI=true turns --frozen on by default; a build refuses too, before the engine.
    const b = await caisson(["build", "app/image.yaml", "--context", ".", "-o", "local=out-unlocked", "--no-check"], ctx, { CI: "true" });
    expect(b.code).toBe(1);
    expect(b.stderr).toContain("error[unpinned_source]");
    expect(existsSync(join(ctx, "out-unlocked"))).toBe(false);
  });

  it("lock pins the tag's commit, the tarball's sha256 and the image's digest; twice gives the same bytes", async (t) => {
    if (!need()) return t.skip();
    const r = await caisson(["lock", "app/image.yaml"], ctx);
    expect(r.code, r.stderr).toBe(0);
    const lock = readLock();
    expect(Object.values(lock.git)).toEqual([{ commit: commits["1.0.0"] }]);
    expect(Object.values(lock.http)[0]?.sha256).toBe(sha256(files.get("/releases/app-1.0.0.tar.gz") as Buffer));
    expect(Object.keys(lock.images)).toEqual(["docker.io/caisson/debian:bookworm"]);
    expect(lock.images["docker.io/caisson/debian:bookworm"]?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const before = readFileSync(lockPath());
    const mtime = statSync(lockPath()).mtimeMs;
    const again = await caisson(["lock", "app/image.yaml"], ctx);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("unchanged");
    expect(readFileSync(lockPath()).equals(before)).toBe(true);
    expect(statSync(lockPath()).mtimeMs).toBe(mtime);
    // --refresh re-resolves everything against the servers: still the same bytes.
    const refreshed = await caisson(["lock", "--refresh", "app/image.yaml"], ctx);
    expect(refreshed.code, refreshed.stderr).toBe(0);
    expect(readFileSync(lockPath()).equals(before)).toBe(true);
    const frozen = await caisson(["validate", "--frozen", "app/image.yaml"], ctx);
    expect(frozen.code, frozen.stderr).toBe(0);
  });

  it("an annotated tag and a branch resolve to their commit, not the tag object", async (t) => {
    if (!need()) return t.skip();
    const yaml = readFileSync(join(ctx, "app/image.yaml"), "utf8");
    mkdirSync(join(ctx, "refs"), { recursive: true });
    writeFileSync(join(ctx, "refs/annotated.yaml"), yaml.replace("ref: v1.0.0", "ref: v1.1.0"));
    writeFileSync(join(ctx, "refs/branch.yaml"), yaml.replace("ref: v1.0.0", "ref: main"));
    const r = await caisson(["lock", "refs/annotated.yaml", "refs/branch.yaml"], ctx);
    expect(r.code, r.stderr).toBe(0);
    const commitIn = (f: string) => Object.values((JSON.parse(readFileSync(join(ctx, f), "utf8")) as { git: Record<string, { commit: string }> }).git)[0]?.commit;
    const tagObject = git(work, "rev-parse", "v1.1.0");
    expect(tagObject).not.toBe(commits["1.1.0"]);
    expect(commitIn("refs/annotated.lock.json")).toBe(commits["1.1.0"]);
    expect(commitIn("refs/branch.lock.json")).toBe(commits["1.2.0-rc.1"]);
  });

  it("builds on the real engine from the pinned inputs", async (t) => {
    if (!need()) return t.skip();
    const r = await caisson(["build", "app/image.yaml", "--context", ".", "-o", "local=out-1", "--progress", "plain", "--no-check", "--frozen"], ctx);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(readFileSync(join(ctx, "out-1/out/code-version"), "utf8")).toBe("1.0.0\n");
    expect(readFileSync(join(ctx, "out-1/out/tarball-version"), "utf8")).toBe("1.0.0\n");
  });

  it("a new release makes outdated report it (exit 10); --write updates the definition and lockfile; the next build uses it", async (t) => {
    if (!need()) return t.skip();
    // Upstream: 1.1.0 exists already, pre-releases are ignored; now 1.3.0 appears in both.
    writeFileSync(join(work, "VERSION"), "1.3.0\n");
    git(work, "commit", "-qam", "1.3.0");
    commits["1.3.0"] = git(work, "rev-parse", "HEAD");
    git(work, "tag", "-a", "v1.3.0", "-m", "release 1.3.0");
    git(work, "push", "-q", join(tmp, "git/app.git"), "main", "--tags");
    files.set("/releases/app-1.3.0.tar.gz", tarball(tmp, "1.3.0"));
    const before = readFileSync(join(ctx, "app/image.yaml"), "utf8");

    const r = await caisson(["outdated", "app/image.yaml"], ctx);
    expect(r.code, r.stderr).toBe(10);
    expect(r.stdout).toMatch(/app\/image\.yaml\s+code\s+1\.0\.0\s+1\.3\.0\s+outdated\s+ref: v1\.3\.0/);
    expect(r.stdout).toMatch(/app\/image\.yaml\s+tarball\s+1\.0\.0\s+1\.3\.0\s+outdated\s+url: http:\/\/127\.0\.0\.1:\d+\/releases\/app-1\.3\.0\.tar\.gz/);
    const pre = await caisson(["outdated", "--pre", "--json", "app/image.yaml"], ctx);
    expect(pre.code).toBe(10);
    expect((JSON.parse(pre.stdout) as { latest: string }[]).map((c) => c.latest)).toEqual(["1.3.0", "1.3.0"]);

    const w = await caisson(["outdated", "--write", "app/image.yaml"], ctx);
    expect(w.code, w.stderr).toBe(10);
    const after = readFileSync(join(ctx, "app/image.yaml"), "utf8");
    // Only the changed values differ: comments and layout stay.
    expect(after).toBe(before.replace("ref: v1.0.0", "ref: v1.3.0").replace("app-1.0.0.tar.gz", "app-1.3.0.tar.gz").replace("version: 1.0.0", "version: 1.3.0"));
    const lock = readLock();
    expect(Object.keys(lock.git)[0]).toMatch(/#v1\.3\.0$/);
    expect(Object.values(lock.git)).toEqual([{ commit: commits["1.3.0"] }]);
    expect(Object.values(lock.http)[0]?.sha256).toBe(sha256(files.get("/releases/app-1.3.0.tar.gz") as Buffer));

    const up = await caisson(["outdated", "app/image.yaml"], ctx);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toContain("up to date");

    const b = await caisson(["build", "app/image.yaml", "--context", ".", "-o", "local=out-2", "--progress", "plain", "--no-check", "--frozen"], ctx);
    expect(b.code, b.stderr.slice(-3000)).toBe(0);
    expect(readFileSync(join(ctx, "out-2/out/code-version"), "utf8")).toBe("1.3.0\n");
    expect(readFileSync(join(ctx, "out-2/out/tarball-version"), "utf8")).toBe("1.3.0\n");
  });

  /**
   * A definition whose one http source is a tarball nobody has fetched before
   * (BuildKit keys downloaded files by their checksum, so a file it already
   * has would never be fetched again), published on the HTTP server at
   * `path` and pinned by sha256 in the definition.
   */
  const freshDefinition = (dir: string, url: string, path: string): { sha: string; bytes: Buffer } => {
    const bytes = tarball(tmp, `fresh-${Date.now()}-${Math.random()}`);
    files.set(path, bytes);
    mkdirSync(join(ctx, dir), { recursive: true });
    writeFileSync(
      join(ctx, dir, "image.yaml"),
      `name: ${dir}
platforms: [${PLATFORM}]
sources:
  tarball:
    url: ${url}
    sha256: ${sha256(bytes)}
    extract: true
stages:
  build:
    from: caisson/debian:bookworm
    mounts: { /tarball: tarball }
    run: [mkdir -p /out && cp /tarball/app/VERSION /out/tarball-version]
image:
  copy: [{ from: build, src: /out, dest: /out }]
`,
    );
    return { sha: sha256(bytes), bytes };
  };

  it("a tampered file in the source store is rejected by the engine, nothing is exported, and the error names the source and where it looked", async (t) => {
    if (!need()) return t.skip();
    const { sha, bytes } = freshDefinition("tampered", `${http?.url}/releases/app-9.9.9.tar.gz`, "/releases/app-9.9.9.tar.gz");
    expect((await caisson(["lock", "tampered/image.yaml"], ctx)).code).toBe(0); // pins the image tag
    const store = join(tmp, "store");
    mkdirSync(store, { recursive: true });
    const evil = Buffer.from(bytes);
    evil.writeUInt8((evil.readUInt8(evil.length - 1) ^ 1) & 0xff, evil.length - 1); // one bit flipped
    writeFileSync(join(store, sha), evil);
    const r = await caisson(["build", "tampered/image.yaml", "--context", ".", "-o", "local=out-tampered", "--source-store", store, "--progress", "plain", "--no-check", "--frozen"], ctx);
    expect(r.code, r.stderr.slice(-3000)).toBe(1);
    // The engine's own verdict (BuildKit checks http.checksum), then caisson's account of where it looked.
    expect(r.stderr).toMatch(/digest mismatch|checksum/i);
    expect(r.stderr).toContain(`source "tarball" (app-9.9.9.tar.gz, sha256 ${sha}) could not be fetched intact; looked in:`);
    expect(r.stderr).toContain(`${join(store, sha)}: corrupt: its sha256 is ${sha256(evil)}`);
    expect(existsSync(join(ctx, "out-tampered")) ? readdirSync(join(ctx, "out-tampered")) : []).toEqual([]);
    // The upstream server was never asked: the store's file was served, and refused.
    expect(http?.requests).not.toContain("/releases/app-9.9.9.tar.gz");
  });

  it("--mirror serves a source whose upstream is unreachable; a mirror without the file is named in the error", async (t) => {
    if (!need()) return t.skip();
    const { sha } = freshDefinition("mirrored", "http://upstream.invalid/releases/app-8.8.8.tar.gz", "/mirror/releases/app-8.8.8.tar.gz");
    expect((await caisson(["lock", "mirrored/image.yaml"], ctx)).code).toBe(0);
    const missing = await caisson(["build", "mirrored/image.yaml", "--context", ".", "-o", "local=out-missing", "--mirror", `http://upstream.invalid/=${http?.url}/nothing/`, "--no-check"], ctx);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`source "tarball" (app-8.8.8.tar.gz, sha256 ${sha}) could not be fetched intact; looked in:`);
    expect(missing.stderr).toMatch(new RegExp(`\\n    \\S*${sha}: missing\\n`));
    expect(missing.stderr).toContain(`${http?.url}/nothing/releases/app-8.8.8.tar.gz: HTTP 404`);
    expect(existsSync(join(ctx, "out-missing")) ? readdirSync(join(ctx, "out-missing")) : []).toEqual([]);
    const ok = await caisson(["build", "mirrored/image.yaml", "--context", ".", "-o", "local=out-mirror", "--mirror", `http://upstream.invalid/=${http?.url}/mirror/`, "--no-check", "--frozen"], ctx);
    expect(ok.code, ok.stderr.slice(-3000)).toBe(0);
    expect(readFileSync(join(ctx, "out-mirror/out/tarball-version"), "utf8")).toMatch(/^fresh-/);
  });

  it("--frozen passes on every definition in images/", async (t) => {
    if (!need()) return t.skip();
    const defs = readdirSync(join(ROOT, "images")).map((d) => `images/${d}/image.yaml`).filter((f) => existsSync(join(ROOT, f)));
    expect(defs.length).toBeGreaterThan(0);
    const v = await caisson(["validate", "--frozen", ...defs], ROOT);
    expect(v.code, v.stderr).toBe(0);
    // A bootstrap definition (images/debian) is built by `caisson bootstrap`, not compiled.
    for (const f of defs.filter((d) => !/^bootstrap:/m.test(readFileSync(join(ROOT, d), "utf8")))) {
      const c = await caisson(["compile", f, "--frozen", "--json", "--source-mirror", "http://127.0.0.1:9"], ROOT, { CI: "true" });
      expect(c.code, c.stderr).toBe(0);
    }
  });
});
