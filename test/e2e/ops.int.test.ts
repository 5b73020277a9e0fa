// Every kind of op the lowering emits, run on the real engine through
// `caisson build`: image, local (path + exclude), http (sha256-pinned, from a
// loopback server started here) and git (pinned commit, from a loopback
// `git daemon`) sources; exec with bind, cache and tmpfs mounts; stage copies,
// patches, imports; the runtime image's copy/mkdir/mkfile file actions.
// The result is checked file by file in a local export.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  caisson,
  engineError,
  ensureDist,
  fillTemplate,
  lockedFixture,
  git,
  IN_CI,
  layerEntries,
  parseProgress,
  readOciLayout,
  requireEngine,
  run,
  serveFiles,
  serveGit,
  sha256,
  type GitFixtureServer,
  type HttpFixtureServer,
} from "./helpers.js";

interface DumpedOp {
  op: {
    source?: { identifier: string; attrs?: Record<string, string> };
    exec?: { meta: { args: string[] }; mounts: { mountType?: string; readonly?: boolean }[]; network?: string };
    file?: { actions: Record<string, unknown>[] };
  };
}

describe.skipIf(engineError !== undefined && !IN_CI)("every op kind on the real engine", () => {
  const nonce = `${process.pid}-${Date.now()}`;
  let tmp = "";
  let ctx = "";
  let http: HttpFixtureServer | undefined;
  let gitd: GitFixtureServer | undefined;
  let pinned = "";
  let firstOut = "";
  const note = `a note served over loopback http (${nonce})\n`;

  beforeAll(async () => {
    requireEngine();
    ensureDist();
    tmp = mkdtempSync(join(tmpdir(), "caisson-e2e-ops-srv-"));
    // The http sources: a tarball (extracted by the build) and a plain file renamed by `filename`.
    mkdirSync(join(tmp, "tar/payload"), { recursive: true });
    writeFileSync(join(tmp, "tar/payload/data.txt"), `from the tarball (${nonce})\n`);
    run("tar", ["-czf", join(tmp, "payload.tar.gz"), "-C", join(tmp, "tar"), "payload"]);
    const tarball = readFileSync(join(tmp, "payload.tar.gz"));
    http = await serveFiles(new Map<string, Uint8Array | string>([["/payload.tar.gz", tarball], ["/v1/note", note]]));

    // The git source: a bare repository with two commits; the definition pins the first.
    const work = join(tmp, "work");
    mkdirSync(work);
    git(work, "init", "-q", "-b", "main");
    writeFileSync(join(work, "README.md"), `pinned commit (${nonce})\n`);
    git(work, "add", "README.md");
    git(work, "commit", "-q", "-m", "pinned");
    pinned = git(work, "rev-parse", "HEAD");
    writeFileSync(join(work, "README.md"), "a later commit the build must not see\n");
    git(work, "commit", "-q", "-am", "later");
    mkdirSync(join(tmp, "git"));
    git(tmp, "clone", "-q", "--bare", work, join(tmp, "git/repo.git"));
    gitd = await serveGit(join(tmp, "git"), "repo.git");

    ctx = await lockedFixture("ops");
    firstOut = join(ctx, "out1");
    const template = readFileSync(join(ctx, "image.template.yaml"), "utf8");
    writeFileSync(
      join(ctx, "image.yaml"),
      fillTemplate(template, {
        HTTP: http.url,
        TARBALL_SHA256: sha256(tarball),
        NOTE_SHA256: sha256(note),
        GIT: gitd.url,
        GIT_COMMIT: pinned,
        CACHE_ID: `e2e-ops-${nonce}`,
      }),
    );
    writeFileSync(join(ctx, "files/build-id"), `first-${nonce}\n`);
  });

  afterAll(async () => {
    await http?.close();
    await gitd?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (ctx) rmSync(ctx, { recursive: true, force: true });
  });

  it("the definition lowers to every kind of op and mount", async () => {
    const r = await caisson(["compile", join(ctx, "image.yaml"), "--context", ctx, "--platform", "linux/amd64", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const ops = (JSON.parse(r.stdout) as DumpedOp[]).map((d) => d.op);
    const schemes = new Set(ops.flatMap((o) => (o.source ? [o.source.identifier.replace(/:\/\/.*/, "")] : [])));
    expect([...schemes].sort()).toEqual(["docker-image", "git", "http", "local"]);
    const mounts = new Set(ops.flatMap((o) => (o.exec?.mounts ?? []).map((m) => m.mountType ?? (m.readonly ? "BIND-RO" : "BIND"))));
    expect([...mounts].sort()).toEqual(["BIND", "BIND-RO", "CACHE", "TMPFS"]);
    const actions = new Set(ops.flatMap((o) => (o.file?.actions ?? []).flatMap((a) => ["copy", "mkdir", "mkfile"].filter((k) => k in a))));
    expect([...actions].sort()).toEqual(["copy", "mkdir", "mkfile"]);
    // The extracted tarball is a copy with unpack; the patch step runs patch.
    expect(JSON.stringify(ops)).toContain('"attemptUnpackDockerCompatibility":true');
    expect(ops.some((o) => o.exec?.meta.args.join(" ").includes("patch -p1"))).toBe(true);
  });

  it("builds it on the engine: each source, mount, copy, patch and import shows in the image", async () => {
    const out = firstOut;
    const oci = join(ctx, "out1.oci.tar");
    const r = await caisson(["build", join(ctx, "image.yaml"), "--context", ctx, "-o", `local=${out}`, "-o", `oci=${oci}`, "--progress", "plain"]);
    expect(r.code, r.stderr).toBe(0);
    const f = (p: string) => readFileSync(join(out, p), "utf8");

    // Local source with `path: files`: the folder's contents, nothing else of the context (exclude: see below).
    const listing = run("find", ["."], { cwd: join(out, "out/files") }).split("\n").filter(Boolean).sort();
    expect(listing.filter((p) => !/drop\.tmp|secret/.test(p))).toEqual([".", "./build-id", "./greeting.txt", "./keep.txt"]);
    // The patch from the local `patches` source, checked against its sha256 and applied in workdir /work.
    expect(f("out/files/greeting.txt")).toBe("hello, patched world\n");
    expect(r.stderr).toContain("caisson: applying /greeting.patch");
    // The imported builder definition's runtime image is the stage's base.
    expect(f("out/builder-mark")).toBe("built by the imported builder on x86_64\n");
    // http sources via the loopback server (caisson's source store redirects to it): extracted, and renamed.
    expect(f("out/http-tarball.txt")).toBe(`from the tarball (${nonce})\n`);
    expect(f("out/http-note.txt")).toBe(note);
    expect(http?.requests).toEqual(expect.arrayContaining(["/payload.tar.gz", "/v1/note"]));
    // git source at the pinned commit (not the branch tip), without .git.
    expect(f("out/git-readme.md")).toBe(`pinned commit (${nonce})\n`);
    expect(f("out/git-listing")).toBe("README.md\n");
    // tmpfs mount: a tmpfs, and nothing written there stays.
    expect(f("out/scratch-fs")).toBe("tmpfs\n");
    expect(f("out/scratch-listing")).toBe("file\n");
    // Cache mount: empty on the first build.
    expect(f("out/cache-before")).toBe("empty\n");

    // Runtime image from scratch: mkdir /etc + mkfile passwd/group, copies (stage and source, with mode), volume and workdir dirs.
    expect(f("etc/passwd")).toBe("root:x:0:0:root:/root:/sbin/nologin\ncaisson:x:65532:65532:caisson:/nonexistent:/sbin/nologin\n");
    expect(f("etc/group")).toBe("root:x:0:\ncaisson:x:65532:\n");
    expect(f("etc/keep.txt")).toBe("kept\n");
    expect(statSync(join(out, "etc/keep.txt")).mode & 0o777).toBe(0o600);
    expect(statSync(join(out, "data")).isDirectory()).toBe(true);
    expect(statSync(join(out, "srv")).isDirectory()).toBe(true);
    // Owners and modes, from the OCI export's layer (a local export does not keep owners).
    const layout = mkdtempSync(join(tmpdir(), "caisson-e2e-ops-oci-"));
    try {
      const images = readOciLayout(oci, layout);
      expect(images.map((i) => i.platform)).toEqual(["linux/amd64"]);
      const entries = new Map([...(images[0]?.layers ?? [])].flatMap((l) => [...layerEntries(l)]));
      expect(entries.get("data")).toBe("drwxr-xr-x 65532/65532");
      expect(entries.get("srv")).toBe("drwxr-xr-x 0/0");
      expect(entries.get("etc/passwd")).toBe("-rw-r--r-- 0/0");
      expect(entries.get("etc/keep.txt")).toBe("-rw------- 0/0");
      expect(entries.get("out/http-note.txt")).toMatch(/ 0\/0$/);
      // The entrypoint compiled with the stage's toolchain, with its libraries collected (an exec with an output mount).
      expect(entries.get("bin/ok")).toMatch(/^-rwx.* 0\/0$/);
      expect(entries.has("lib/x86_64-linux-gnu/libc.so.6")).toBe(true);
    } finally {
      rmSync(layout, { recursive: true, force: true });
    }

    // Each run step actually ran (nothing came from an earlier build's cache).
    const steps = parseProgress(r.stderr)[0]?.filter((v) => /^\[linux\/amd64\] prepare \d\/5:/.test(v.name)) ?? [];
    expect(steps).toHaveLength(5);
    expect(steps.every((v) => v.done && !v.cached)).toBe(true);
  });

  // BUG (src/lower/lower.ts, local sources): `exclude` patterns are handed to
  // BuildKit as they are, but BuildKit matches them against paths relative to
  // the context root, so with `path: files` the pattern "*.tmp" only excludes
  // <context>/*.tmp, never files/drop.tmp. They should be prefixed with the
  // source's path (keeping a leading "!"). Flip to `it` when fixed.
  it("a local source's `exclude` patterns apply inside its `path`", () => {
    const listing = run("find", ["."], { cwd: join(firstOut, "out/files") }).split("\n").filter(Boolean).sort();
    expect(listing).toEqual([".", "./build-id", "./greeting.txt", "./keep.txt"]);
  });

  it("a second build sees what the first wrote to the cache mount", async () => {
    writeFileSync(join(ctx, "files/build-id"), `second-${nonce}\n`);
    const out = join(ctx, "out2");
    const r = await caisson(["build", join(ctx, "image.yaml"), "--context", ctx, "-o", `local=${out}`, "--progress", "plain"]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(out, "out/files/build-id"), "utf8")).toBe(`second-${nonce}\n`);
    expect(readFileSync(join(out, "out/cache-before"), "utf8")).toBe(`first-${nonce}\n`);
  });
});
