// Unit tests of src/lock (lockfile format, applying pins, --frozen
// diagnostics, ls-remote parsing, mirrors) and src/outdated (version order,
// editing a definition in place).
import { describe, expect, it } from "vitest";
import { formatDiagnostics, hasErrors } from "../../src/diag/index.js";
import { applyMirrors, applyPins, lockPathFor, mirrorUrls, parseLockfile, parseMirror, serializeLockfile, type Lockfile } from "../../src/lock/index.js";
import { commitForRef, parseLsRemote } from "../../src/lock/resolve.js";
import { compareVersions, latest, parseVersion, writeUpdates } from "../../src/outdated/index.js";
import { compileDefinition } from "../../src/compile/index.js";
import { checkDefinition } from "../../src/validate/index.js";

const C1 = "1".repeat(40);
const C2 = "2".repeat(40);
const TAGOBJ = "3".repeat(40);
const SHA = "a".repeat(64);
const DIGEST = `sha256:${"b".repeat(64)}`;

const DEF = `# a comment that must survive
name: app
version: 1.2.0
platforms: [linux/amd64]
sources:
  code: { git: "https://git.example.org/app.git", ref: v1.2.0, release: { tags: "v?(\\\\d+\\\\.\\\\d+\\\\.\\\\d+)" } }
  tarball:
    url: https://dl.example.org/releases/app-1.2.0.tar.gz   # moving: no sha256
    release: { listing: "https://dl.example.org/releases/", pattern: "app-(\\\\d+\\\\.\\\\d+\\\\.\\\\d+)\\\\.tar\\\\.gz" }
stages:
  build:
    from: caisson/debian:bookworm
    mounts: { /src: code, /t: tarball }
    run: [make]
image:
  copy: [{ from: build, src: /out/app, dest: /app }]
`;

const LOCK: Lockfile = {
  git: { "https://git.example.org/app.git#v1.2.0": { commit: C1 } },
  http: { "https://dl.example.org/releases/app-1.2.0.tar.gz": { sha256: SHA, size: 10 } },
  images: { "docker.io/caisson/debian:bookworm": { digest: DIGEST } },
};

describe("lockfile", () => {
  it("lives beside the definition", () => {
    expect(lockPathFor("images/redis/image.yaml")).toBe("images/redis/image.lock.json");
    expect(lockPathFor("x/app.json")).toBe("x/app.lock.json");
  });

  it("serialises with sorted keys, whatever the insertion order, and round-trips", () => {
    const a = serializeLockfile({ git: { b: { commit: C1 }, a: { commit: C2 } }, http: {}, images: {} });
    const b = serializeLockfile({ git: { a: { commit: C2 }, b: { commit: C1 } }, http: {}, images: {} });
    expect(a).toBe(b);
    expect(a.endsWith("}\n")).toBe(true);
    expect(a.indexOf('"a"')).toBeLessThan(a.indexOf('"b"'));
    expect(serializeLockfile(parseLockfile(serializeLockfile(LOCK)))).toBe(serializeLockfile(LOCK));
  });

  it("rejects malformed pins", () => {
    expect(() => parseLockfile("{", "x.lock.json")).toThrow(/x.lock.json: not JSON/);
    expect(() => parseLockfile('{"lockfileVersion":1,"git":{"u#r":{"commit":"main"}}}')).toThrow(/malformed entry git/);
    expect(() => parseLockfile('{"lockfileVersion":9}')).toThrow(/lockfileVersion 9/);
  });
});

describe("moving references", () => {
  it("validate accepts them and records each with its place", () => {
    const r = checkDefinition("app/image.yaml", DEF);
    expect(hasErrors(r.diagnostics)).toBe(false);
    expect(r.definition?.moving?.map((m) => m.kind)).toEqual(["git", "http", "image"]);
  });

  it("applyPins fills in commit, sha256 and digest from the lockfile", () => {
    const def = checkDefinition("app/image.yaml", DEF).definition!;
    const r = applyPins(def, LOCK, { frozen: true });
    expect(r.diagnostics).toEqual([]);
    const byName = new Map(r.definition.sources.map((s) => [s.name, s]));
    expect(byName.get("code")).toMatchObject({ kind: "git", commit: C1, ref: "v1.2.0" });
    expect(byName.get("tarball")).toMatchObject({ kind: "http", sha256: SHA });
    expect(r.definition.stages[0]?.from).toMatchObject({ kind: "image", ref: `docker.io/caisson/debian:bookworm@${DIGEST}` });
  });

  it("--frozen names every unpinned input with file:line:col and the fix", () => {
    const def = checkDefinition("app/image.yaml", DEF).definition!;
    const r = applyPins(def, undefined, { frozen: true });
    const printed = formatDiagnostics(r.diagnostics, new Map([["app/image.yaml", DEF]]));
    expect(printed).toContain('app/image.yaml:6:56: error[unpinned_source]: source "code": git ref "v1.2.0" of https://git.example.org/app.git is not pinned in the definition, and there is no lockfile (app/image.lock.json)');
    expect(printed).toContain("app/image.yaml:8:10: error[unpinned_source]: source \"tarball\": https://dl.example.org/releases/app-1.2.0.tar.gz (no sha256)");
    expect(printed).toContain("app/image.yaml:12:11: error[unpinned_image]");
    expect(printed).toContain("run `caisson lock app/image.yaml`");
  });

  it("without --frozen, an unpinned image tag stays a warning but an unpinned source is an error", () => {
    const def = checkDefinition("app/image.yaml", DEF).definition!;
    const r = applyPins(def, { ...LOCK, images: {} });
    expect(r.diagnostics.map((d) => `${d.severity}:${d.code}`)).toEqual(["warning:unpinned_image"]);
    const r2 = applyPins(def, { ...LOCK, git: {} });
    expect(r2.diagnostics.map((d) => `${d.severity}:${d.code}`)).toEqual(["error:unpinned_source"]);
  });

  it("a stale pin (the ref changed) does not count", () => {
    const def = checkDefinition("app/image.yaml", DEF.replace("ref: v1.2.0", "ref: v1.3.0")).definition!;
    expect(applyPins(def, LOCK).unresolved.map((m) => m.kind)).toEqual(["git"]);
  });

  it("compileDefinition lowers the pinned values, and refuses without them", async () => {
    const opts = { buildPlatform: { os: "linux", architecture: "amd64" } };
    const ok = await compileDefinition("app/image.yaml", DEF, { ...opts, lock: LOCK, frozen: true });
    expect(hasErrors(ok.diagnostics)).toBe(false);
    const json = JSON.stringify(ok.results?.[0]?.definition.def.map((b) => Buffer.from(b).toString("latin1")));
    expect(json).toContain(`git.example.org/app.git#${C1}`);
    expect(json).toContain(`sha256:${SHA}`);
    expect(json).toContain(`docker.io/caisson/debian:bookworm@${DIGEST}`);
    const bad = await compileDefinition("app/image.yaml", DEF, opts);
    expect(bad.results).toBeUndefined();
    expect(bad.diagnostics.filter((d) => d.severity === "error").map((d) => d.code)).toEqual(["unpinned_source", "unpinned_source"]);
  });

  it("a git source needs a commit or a ref; a bad release pattern is reported", () => {
    const r = checkDefinition("x.yaml", DEF.replace(", ref: v1.2.0", ""));
    expect(r.diagnostics.filter((d) => d.severity === "error").map((d) => d.code)).toEqual(["unpinned_source"]);
    const p = checkDefinition("x.yaml", DEF.replace("tags: \"v?(", "tags: \"v?(?:").replace("pattern: \"app-(", "pattern: \"app-(["));
    expect(p.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.code}: ${d.message}`)).toEqual([
      expect.stringMatching(/^invalid_pattern: release pattern "v\?\(\?:.*has no group for the version$/),
      expect.stringMatching(/^invalid_pattern: release pattern "app-\(\[.*is not a regular expression/),
    ]);
  });
});

describe("git refs", () => {
  const out = [`${C1}\tHEAD`, `${C1}\trefs/heads/main`, `${C2}\trefs/tags/v1.0.0`, `${TAGOBJ}\trefs/tags/v1.1.0`, `${C1}\trefs/tags/v1.1.0^{}`].join("\n");
  const refs = parseLsRemote(out);
  it("resolves branches, lightweight tags, and annotated tags to their commit (not the tag object)", () => {
    expect(commitForRef(refs, "main")).toBe(C1);
    expect(commitForRef(refs, "v1.0.0")).toBe(C2);
    expect(commitForRef(refs, "v1.1.0")).toBe(C1);
    expect(commitForRef(refs, "refs/tags/v1.1.0")).toBe(C1);
    expect(() => commitForRef(refs, "nope", "u")).toThrow(/u has no branch or tag "nope"/);
  });
  it("refuses a name that is both a branch and a tag of different commits", () => {
    const amb = parseLsRemote(`${C1}\trefs/heads/x\n${C2}\trefs/tags/x\n`);
    expect(() => commitForRef(amb, "x")).toThrow(/both a branch and a tag/);
  });
});

describe("mirrors", () => {
  it("rewrites by the longest matching prefix, then falls back to the URL", () => {
    const ms = [parseMirror("https://dl.example.org/=http://127.0.0.1:1/a/"), parseMirror("https://dl.example.org/releases/=http://127.0.0.1:1/b/")];
    expect(mirrorUrls("https://dl.example.org/releases/x.tgz", ms)).toEqual([
      "http://127.0.0.1:1/b/x.tgz",
      "http://127.0.0.1:1/a/releases/x.tgz",
      "https://dl.example.org/releases/x.tgz",
    ]);
    expect(() => parseMirror("nope")).toThrow(/from-prefix/);
    const def = applyPins(checkDefinition("app/image.yaml", DEF).definition!, LOCK).definition;
    const mirrored = applyMirrors(def, ms);
    expect(mirrored.sources.find((s) => s.name === "tarball")).toMatchObject({ url: "http://127.0.0.1:1/b/app-1.2.0.tar.gz", sha256: SHA });
  });
});

describe("versions", () => {
  it("orders semantic versions, pre-releases before their release", () => {
    const vs = ["1.10.0", "1.2.0", "1.2.0-rc.1", "1.2.0-rc.10", "1.2.0-rc.2", "2.0.0-beta", "1.9"].map((t) => parseVersion(t)!);
    expect([...vs].sort(compareVersions).map((v) => v.text)).toEqual(["1.2.0-rc.1", "1.2.0-rc.2", "1.2.0-rc.10", "1.2.0", "1.9", "1.10.0", "2.0.0-beta"]);
    expect(latest(vs.map((version) => ({ version })))?.version.text).toBe("1.10.0");
    expect(latest(vs.map((version) => ({ version })), true)?.version.text).toBe("2.0.0-beta");
  });
});

describe("outdated --write", () => {
  it("edits only the values that change, keeping comments and layout", async () => {
    const r = await writeUpdates(
      "app/image.yaml",
      DEF,
      new Map([["code", { oldVersion: "1.2.0", newVersion: "1.3.0", ref: "v1.3.0", commit: C2 }]]),
    );
    const expected = DEF.replace("ref: v1.2.0", "ref: v1.3.0").replace("version: 1.2.0", "version: 1.3.0");
    expect(r.text).toBe(expected);
    expect(r.notes.some((n) => n.includes("app/image.yaml:8:") && n.includes("still mentions 1.2.0"))).toBe(true);
  });
});
