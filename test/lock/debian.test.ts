// Debian packages of stages (`packages:`), pinned by content: each stage's
// request (as written) on each build architecture is a moving reference; the
// lockfile (version 2) pins its whole closure, every .deb by sha256 and pool
// path; compilation installs exactly those files, fetched as http sources
// by checksum and installed with no network; `caisson lock` resolves
// closures through a DebianResolver and `caisson outdated` compares the pins
// with apt's candidates (both faked here: nothing is downloaded).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileDefinition } from "../../src/compile/index.js";
import { DebianError, type Apt, type Candidate } from "../../src/debian/index.js";
import { formatDiagnostics, hasErrors, type Diagnostic } from "../../src/diag/index.js";
import { dumpDefinition } from "../../src/llb/index.js";
import { applyPins, parseLockfile, serializeLockfile, type Lockfile } from "../../src/lock/index.js";
import type { DebianResolver } from "../../src/lock/debian.js";
import { lockDefinition } from "../../src/lock/lock.js";
import type { DebianClosure } from "../../src/lock/lockfile.js";
import { LowerError, lowerImage } from "../../src/lower/index.js";
import type { DebPin, ImageDefinition, MovingRef } from "../../src/model/index.js";
import { checkOutdated, writeUpdates, type Check } from "../../src/outdated/index.js";
import { checkDefinition } from "../../src/validate/index.js";

const FILE = "app/image.yaml";
const BASE = "caisson/debian:bookworm@sha256:afafc3d453bf6e705cb4df326492b866180d95c863b5217234d2fcc402fba351";
const DEF = `name: app
platforms: [linux/amd64, linux/arm64]
stages:
  build:
    from: ${BASE}
    user: "1000"
    packages: [make, "libc6:arm64", patch=2.7.6-7]
    run: [make]
  cross:
    from: build
    packages:
      amd64: [gcc-aarch64-linux-gnu]
      arm64: [gcc-x86-64-linux-gnu=4:12.2.0-3]
    run: [make]
image:
  from: cross
  user: { uid: 0, gid: 0, rootReason: "a build image" }
`;
const BUILD_REQUEST = ["make", "libc6:arm64", "patch=2.7.6-7"];

/** A well-formed, obviously synthetic pin: its sha256 is that of its file name. */
function pin(name: string, version: string, arch: string, archive = "debian"): DebPin {
  const file = `${name}_${version.replace(/^\d+:/, "")}_${arch}.deb`;
  return { name, version, arch, sha256: createHash("sha256").update(file).digest("hex"), size: file.length * 1000, archive, path: `pool/main/${name[0]}/${name}/${file}` };
}

const CLOSURES: Record<string, DebianClosure> = {
  "build/amd64": { request: BUILD_REQUEST, from: `docker.io/${BASE}`, packages: [pin("libc6", "2.36-9+deb12u14", "arm64"), pin("make", "4.3-4.1", "amd64"), pin("patch", "2.7.6-7", "amd64")] },
  "build/arm64": { request: BUILD_REQUEST, from: `docker.io/${BASE}`, packages: [pin("libc6", "2.36-9+deb12u14", "arm64"), pin("make", "4.3-4.1", "arm64"), pin("patch", "2.7.6-7", "arm64")] },
  "cross/amd64": {
    request: ["gcc-aarch64-linux-gnu"],
    from: "stage:build",
    packages: [pin("gcc-12-cross-base", "12.2.0-14cross1", "all"), pin("gcc-aarch64-linux-gnu", "4:12.2.0-3", "amd64")],
  },
  "cross/arm64": { request: ["gcc-x86-64-linux-gnu=4:12.2.0-3"], from: "stage:build", packages: [pin("gcc-x86-64-linux-gnu", "4:12.2.0-3", "arm64")] },
};
const LOCK: Lockfile = { git: {}, http: {}, images: {}, debian: CLOSURES };

const AMD64 = { os: "linux", architecture: "amd64" } as const;
const ARM64 = { os: "linux", architecture: "arm64" } as const;
const MIRROR = "http://127.0.0.1:8080";

function model(text = DEF): ImageDefinition {
  const r = checkDefinition(FILE, text);
  expect(hasErrors(r.diagnostics), formatDiagnostics(r.diagnostics, new Map([[FILE, text]]))).toBe(false);
  return r.definition!;
}

type DebianRef = Extract<MovingRef, { kind: "debian" }>;
const debianRefs = (def: ImageDefinition): DebianRef[] => (def.moving ?? []).filter((m): m is DebianRef => m.kind === "debian");
const printed = (ds: readonly Diagnostic[], text = DEF) => formatDiagnostics(ds, new Map([[FILE, text]]));

describe("packages: as moving references", () => {
  it("one per stage and build architecture: the list form for every platform's dpkg architecture, the map form for each key", () => {
    const refs = debianRefs(model());
    expect(refs.map((m) => [m.stage, m.buildArch, m.request])).toEqual([
      ["build", "amd64", BUILD_REQUEST],
      ["build", "arm64", BUILD_REQUEST],
      ["cross", "amd64", ["gcc-aarch64-linux-gnu"]],
      ["cross", "arm64", ["gcc-x86-64-linux-gnu=4:12.2.0-3"]],
    ]);
    // The request is the packages as written (a version written stays in it); the span is the list.
    expect(refs.map((m) => DEF.slice(m.span.start, m.span.end))).toEqual([
      '[make, "libc6:arm64", patch=2.7.6-7]',
      '[make, "libc6:arm64", patch=2.7.6-7]',
      "[gcc-aarch64-linux-gnu]",
      "[gcc-x86-64-linux-gnu=4:12.2.0-3]",
    ]);
    const build = model().stages.find((s) => s.name === "build")!;
    expect(build.packages?.all.map((p) => [p.name, p.arch, p.version])).toEqual([
      ["make", undefined, ""],
      ["libc6", "arm64", ""],
      ["patch", undefined, "2.7.6-7"],
    ]);
    expect(build.packages?.closure).toBeUndefined();
  });

  it("a definition for one platform pins the list form for that architecture only; an empty list needs no pin", () => {
    const text = DEF.replace("platforms: [linux/amd64, linux/arm64]", "platforms: [linux/arm64]").replace("arm64: [gcc-x86-64-linux-gnu=4:12.2.0-3]", "arm64: []");
    expect(debianRefs(model(text)).map((m) => [m.stage, m.buildArch])).toEqual([
      ["build", "arm64"],
      ["cross", "amd64"],
    ]);
  });

  it("packages all written with versions are still pinned by content (the closure is more than the request)", () => {
    const text = DEF.replace("[make, \"libc6:arm64\", patch=2.7.6-7]", "[make=4.3-4.1]");
    expect(debianRefs(model(text))[0]?.request).toEqual(["make=4.3-4.1"]);
  });
});

describe("lockfile version 2: the debian section", () => {
  it("is written with sorted keys and packages, in a fixed field order, and round-trips", () => {
    const reversed: Lockfile = {
      git: {},
      http: {},
      images: {},
      debian: Object.fromEntries(Object.entries(CLOSURES).reverse().map(([k, c]) => [k, { ...c, packages: [...c.packages].reverse() }])),
    };
    const text = serializeLockfile(reversed);
    expect(text).toBe(serializeLockfile(LOCK));
    expect(JSON.parse(text).lockfileVersion).toBe(2);
    expect(Object.keys(JSON.parse(text).debian)).toEqual(["build/amd64", "build/arm64", "cross/amd64", "cross/arm64"]);
    const build = JSON.parse(text).debian["build/amd64"];
    expect(build.request).toEqual(BUILD_REQUEST); // the request keeps the order written
    expect(build.packages.map((p: DebPin) => p.name)).toEqual(["libc6", "make", "patch"]);
    expect(Object.keys(build.packages[0])).toEqual(["name", "version", "arch", "sha256", "size", "archive", "path"]);
    expect(parseLockfile(text)).toEqual(LOCK);
    expect(serializeLockfile(parseLockfile(text))).toBe(text);
  });

  it("the golden fixture's hand-made lockfile is well-formed and in the form caisson lock writes", () => {
    const file = "test/fixtures/valid/packages/image.lock.json";
    const text = readFileSync(file, "utf8");
    const lock = parseLockfile(text, file);
    expect(serializeLockfile(lock)).toBe(text);
    expect(Object.keys(lock.debian ?? {})).toEqual(["cross/amd64", "cross/arm64", "tools/amd64", "tools/arm64"]);
  });

  it("has no debian section when there are no closures", () => {
    expect(serializeLockfile({ git: {}, http: {}, images: {} })).not.toContain("debian");
    expect(serializeLockfile({ git: {}, http: {}, images: {}, debian: {} })).not.toContain("debian");
    expect(parseLockfile(serializeLockfile({ git: {}, http: {}, images: {} })).debian).toBeUndefined();
  });

  it("rejects malformed pins: a sha256 that is not one, a pool path with .. or an absolute one, a request that is not a package", () => {
    const withPin = (change: Partial<Record<keyof DebPin, unknown>>) =>
      JSON.stringify({ lockfileVersion: 2, debian: { "build/amd64": { request: ["make"], packages: [{ ...pin("make", "4.3-4.1", "amd64"), ...change }] } } });
    expect(() => parseLockfile(withPin({}))).not.toThrow();
    const malformed = /malformed entry debian\["build\/amd64"\]/;
    expect(() => parseLockfile(withPin({ sha256: "abc" }), "x.lock.json")).toThrow(/^x\.lock\.json: malformed entry debian\["build\/amd64"\]$/);
    expect(() => parseLockfile(withPin({ sha256: "A".repeat(64) }))).toThrow(malformed);
    expect(() => parseLockfile(withPin({ path: "pool/main/m/../../etc/passwd.deb" }))).toThrow(malformed);
    expect(() => parseLockfile(withPin({ path: "../make_4.3-4.1_amd64.deb" }))).toThrow(malformed);
    expect(() => parseLockfile(withPin({ path: "/pool/main/m/make/make_4.3-4.1_amd64.deb" }))).toThrow(malformed);
    expect(() => parseLockfile(withPin({ path: "pool/main/m/make/make_4.3-4.1_amd64.tar" }))).toThrow(malformed);
    expect(() => parseLockfile(withPin({ archive: "deb.example/debian" }))).toThrow(malformed);
    expect(() => parseLockfile(withPin({ version: "latest" }))).toThrow(malformed);
    expect(() => parseLockfile(withPin({ size: -1 }))).toThrow(malformed);
    expect(() => parseLockfile(withPin({ size: undefined }))).toThrow(malformed);
    const withRequest = (request: unknown) => JSON.stringify({ lockfileVersion: 2, debian: { "build/amd64": { request, packages: [] } } });
    expect(() => parseLockfile(withRequest(["make; rm -rf /"]))).toThrow(malformed);
    expect(() => parseLockfile(withRequest("make"))).toThrow(malformed);
    expect(() => parseLockfile(JSON.stringify({ lockfileVersion: 2, debian: { "build/amd64": { request: ["make"] } } }))).toThrow(malformed);
    // Names that could climb out of a snapshot template, and architectures dpkg would take as options.
    expect(() => parseLockfile(withPin({ archive: ".." }))).toThrow(malformed);
    expect(() => parseLockfile(withPin({ archive: "." }))).toThrow(malformed);
    expect(() => parseLockfile(withPin({ arch: "--force-all" }))).toThrow(malformed);
    expect(() => parseLockfile(withPin({ arch: "evil" }))).toThrow(malformed);
    // One .deb per package and architecture, and per file name (they share one directory when installed).
    const two = (a: DebPin, b: DebPin) => JSON.stringify({ lockfileVersion: 2, debian: { "build/amd64": { request: ["make"], packages: [a, b] } } });
    expect(() => parseLockfile(two(pin("make", "4.3-4.1", "amd64"), pin("make", "4.3-4.2", "amd64")))).toThrow(malformed);
    expect(() => parseLockfile(two(pin("make", "4.3-4.1", "amd64"), { ...pin("patch", "2.7.6-7", "amd64"), path: "pool/other/make_4.3-4.1_amd64.deb" }))).toThrow(malformed);
    expect(() => parseLockfile(two(pin("libc6", "2.36-9", "amd64"), pin("libc6", "2.36-9", "arm64")))).not.toThrow();
  });

  it("a closure that does not record its base is stale", () => {
    const { from: _from, ...unrecorded } = CLOSURES["build/amd64"]!;
    const r = applyPins(model(), { ...LOCK, debian: { ...CLOSURES, "build/amd64": unrecorded } });
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ["unpinned_package", expect.stringContaining("resolved them on top of an unrecorded base") as unknown as string],
    ]);
  });

  it("reads version 1 lockfiles without Debian pins; refuses version 1 ones with them, naming caisson lock --refresh", () => {
    const v1 = parseLockfile(JSON.stringify({ lockfileVersion: 1, git: {}, http: { "https://dl.example.org/a.tar.gz": { sha256: "a".repeat(64) } }, images: {} }));
    expect(v1.http["https://dl.example.org/a.tar.gz"]?.sha256).toBe("a".repeat(64));
    expect(v1.debian).toBeUndefined();
    const old = JSON.stringify({ lockfileVersion: 1, git: {}, http: {}, images: {}, debian: { make: "4.3-4.1" } });
    expect(() => parseLockfile(old, "app/image.lock.json")).toThrow(
      "app/image.lock.json: lockfileVersion 1 is not supported (this caisson writes 2); run `caisson lock --refresh` to rewrite it",
    );
  });
});

describe("applyPins: Debian closures", () => {
  it("attaches each build architecture's closure to its stage", () => {
    const { definition, diagnostics, unresolved } = applyPins(model(), LOCK);
    expect(diagnostics).toEqual([]);
    expect(unresolved).toEqual([]);
    const stage = (n: string) => definition.stages.find((s) => s.name === n)!;
    expect(stage("build").packages?.closure).toEqual({ amd64: CLOSURES["build/amd64"]!.packages, arm64: CLOSURES["build/arm64"]!.packages });
    expect(stage("cross").packages?.closure).toEqual({ amd64: CLOSURES["cross/amd64"]!.packages, arm64: CLOSURES["cross/arm64"]!.packages });
    // What was written is left as it was.
    expect(stage("build").packages?.all.map((p) => p.version)).toEqual(["", "", "2.7.6-7"]);
  });

  it("a closure the lockfile pins for another request is an error at the packages, with or without --frozen", () => {
    const stale: Lockfile = { ...LOCK, debian: { ...CLOSURES, "build/amd64": { ...CLOSURES["build/amd64"]!, request: ["make", "patch=2.7.6-6"] } } };
    for (const frozen of [false, true]) {
      const { diagnostics, unresolved } = applyPins(model(), stale, { frozen });
      expect(unresolved.map((m) => (m.kind === "debian" ? `${m.stage}/${m.buildArch}` : m.kind))).toEqual(["build/amd64"]);
      expect(diagnostics.map((d) => [d.code, d.severity])).toEqual([["unpinned_package", "error"]]);
      const d = diagnostics[0]!;
      expect(DEF.slice(d.span.start, d.span.end)).toBe('[make, "libc6:arm64", patch=2.7.6-7]');
      expect(printed(diagnostics)).toContain(
        'app/image.yaml:7:15: error[unpinned_package]: stage "build": Debian packages for builds on amd64 (make libc6:arm64 patch=2.7.6-7): app/image.lock.json pins the closure of make patch=2.7.6-6 instead (the definition changed since it was locked)',
      );
      expect(d.hint).toBe("run `caisson lock app/image.yaml` to pin it in the lockfile");
    }
  });

  it("a closure missing from the lockfile, or no lockfile at all, is an error that says the closure is not pinned", () => {
    const { [`cross/arm64`]: _, ...rest } = CLOSURES;
    const missing = applyPins(model(), { ...LOCK, debian: rest });
    expect(missing.diagnostics.map((d) => [d.code, d.message])).toEqual([
      [
        "unpinned_package",
        'stage "cross": Debian packages for builds on arm64 (gcc-x86-64-linux-gnu=4:12.2.0-3): the closure is pinned neither in the definition nor in app/image.lock.json; Debian packages are pinned by content (every .deb\'s sha256) in the lockfile',
      ],
    ]);
    expect(DEF.slice(missing.diagnostics[0]!.span.start, missing.diagnostics[0]!.span.end)).toBe("[gcc-x86-64-linux-gnu=4:12.2.0-3]");
    const none = applyPins(model(), undefined);
    expect(none.diagnostics).toHaveLength(4);
    expect(none.diagnostics[0]?.message).toContain("the closure is not pinned in the definition, and there is no lockfile (app/image.lock.json)");
    expect(none.definition.stages.every((s) => s.packages?.closure === undefined)).toBe(true);
  });
});

describe("applyPins: a pin's architecture against its key's", () => {
  const TARGET = `name: app
platforms: [linux/arm64]
stages:
  t:
    from: ${BASE}
    on: target
    packages: [hello]
    run: [hello]
image:
  from: t
  user: { uid: 0, gid: 0, rootReason: "a build image" }
`;
  const closure = (packages: DebPin[]): Lockfile => ({ ...LOCK, debian: { "t/arm64": { request: ["hello"], from: `docker.io/${BASE}`, packages } } });

  it("refuses an amd64 .deb pinned under <stage>/arm64, naming the lockfile, the key, the package and the fix", () => {
    const r = applyPins(model(TARGET), closure([pin("hello", "2.10-3", "amd64"), pin("libc6", "2.36-9+deb12u14", "arm64")]), { lockPath: "app/image.lock.json" });
    expect(r.unresolved.map((m) => (m.kind === "debian" ? `${m.stage}/${m.buildArch}` : m.kind))).toEqual(["t/arm64"]);
    expect(r.definition.stages[0]?.packages?.closure).toBeUndefined();
    expect(printed(r.diagnostics, TARGET)).toContain(
      'app/image.yaml:7:15: error[wrong_arch_pin]: stage "t": app/image.lock.json pins under "t/arm64", for builds on arm64, a .deb of another architecture: hello 2.10-3 (amd64); only arm64, all can be installed there',
    );
    expect(r.diagnostics.map((d) => d.hint)).toEqual(["run `caisson lock --refresh app/image.yaml` to resolve the closure again (the lockfile was edited, or written for another architecture)"]);
    // The same under --frozen, and through compile (not left for apt to find).
    expect(applyPins(model(TARGET), closure([pin("hello", "2.10-3", "amd64")]), { frozen: true }).diagnostics.map((d) => d.code)).toEqual(["wrong_arch_pin"]);
  });

  it("accepts .debs of the key's architecture, of all, and of a foreign architecture the request names", () => {
    expect(applyPins(model(TARGET), closure([pin("hello", "2.10-3", "arm64"), pin("tzdata", "2024a-0+deb12u1", "all")])).diagnostics).toEqual([]);
    // build/amd64 asks for libc6:arm64: its arm64 .debs are installed with dpkg --add-architecture.
    expect(applyPins(model(), LOCK).diagnostics).toEqual([]);
    const foreign = { ...LOCK, debian: { ...CLOSURES, "build/amd64": { ...CLOSURES["build/amd64"]!, packages: [...CLOSURES["build/amd64"]!.packages, pin("libgcc-s1", "12.2.0-14", "arm64")] } } };
    expect(applyPins(model(), foreign).diagnostics).toEqual([]);
    // …but not one it does not name.
    const other = { ...LOCK, debian: { ...CLOSURES, "build/amd64": { ...CLOSURES["build/amd64"]!, packages: [...CLOSURES["build/amd64"]!.packages, pin("libc6", "2.36-9+deb12u14", "armhf")] } } };
    expect(applyPins(model(), other).diagnostics.map((d) => d.message)).toEqual([
      'stage "build": app/image.lock.json pins under "build/amd64", for builds on amd64, a .deb of another architecture: libc6 2.36-9+deb12u14 (armhf); only amd64, all and arm64 (named as libc6:arm64) can be installed there',
    ]);
  });
});

describe("lowering pinned closures", () => {
  async function compile(lock: Lockfile | undefined, o: { build?: typeof AMD64 | typeof ARM64; text?: string; mirror?: boolean; archives?: Record<string, string> } = {}) {
    return compileDefinition(FILE, o.text ?? DEF, {
      buildPlatform: o.build ?? AMD64,
      platforms: [AMD64],
      ...(lock ? { lock } : {}),
      ...(o.mirror === false ? {} : { sourceMirror: MIRROR }),
      ...(o.archives ? { debianArchives: o.archives } : {}),
    });
  }
  type Entry = { digest: string; op: Record<string, any>; metadata?: { description?: Record<string, string> } };
  async function dump(lock: Lockfile, o: Parameters<typeof compile>[1] = {}): Promise<Entry[]> {
    const r = await compile(lock, o);
    expect(r.results, printed(r.diagnostics)).toBeDefined();
    return dumpDefinition(r.results![0]!.definition) as unknown as Entry[];
  }
  const name = (e: Entry) => e.metadata?.description?.["llb.customname"] ?? "";
  const httpSources = (entries: Entry[]) => entries.filter((e) => String(e.op["source"]?.identifier ?? "").startsWith("http"));
  const installs = (entries: Entry[]) => entries.filter((e) => e.op["exec"] && name(e).includes(": install "));

  it("fetches every pinned .deb of the build architecture as an http source with its checksum", async () => {
    const entries = await dump(LOCK);
    const pins = [...CLOSURES["build/amd64"]!.packages, ...CLOSURES["cross/amd64"]!.packages];
    expect(httpSources(entries).map((e) => e.op["source"])).toEqual(
      expect.arrayContaining(
        pins.map((p) => ({ identifier: `${MIRROR}/sha256/${p.sha256}`, attrs: { "http.checksum": `sha256:${p.sha256}`, "http.filename": p.path.slice(p.path.lastIndexOf("/") + 1) } })),
      ),
    );
    expect(httpSources(entries)).toHaveLength(pins.length);
    // Nothing of the other build architecture's closures.
    const text = JSON.stringify(entries);
    for (const p of CLOSURES["build/arm64"]!.packages.filter((p) => p.arch === "arm64" && p.name !== "libc6")) expect(text).not.toContain(p.sha256);
    expect(text).not.toContain("gcc-x86-64-linux-gnu");
  });

  it("without a source mirror, fetches each .deb from its archive by pool path", async () => {
    const entries = await dump(LOCK, { mirror: false, archives: { debian: "http://127.0.0.1:9/debian/" } });
    const make = CLOSURES["build/amd64"]!.packages.find((p) => p.name === "make")!;
    expect(httpSources(entries).map((e) => e.op["source"].identifier)).toContain(`http://127.0.0.1:9/debian/${make.path}`);
    expect(httpSources(entries).find((e) => e.op["source"].identifier.endsWith(make.path))?.op["source"].attrs["http.checksum"]).toBe(`sha256:${make.sha256}`);
  });

  it("installs the files alone, as root, with no network, from a read-only mount, before the stage's commands", async () => {
    const entries = await dump(LOCK);
    const [build, cross] = installs(entries);
    expect(installs(entries).map(name)).toEqual([
      "build: install 3 Debian packages (3 .deb pinned by sha256)",
      "cross: install 1 Debian package (2 .deb pinned by sha256)",
    ]);
    for (const e of [build!, cross!]) {
      const exec = e.op["exec"];
      expect(exec.network).toBe("NONE");
      expect(exec.meta.user).toBe("root");
      expect(exec.mounts).toContainEqual(expect.objectContaining({ dest: "/var/cache/caisson/debs", readonly: true }));
      const script: string = exec.meta.args[2];
      expect(script).toContain("apt-get install");
      expect(script).not.toContain("apt-get update");
    }
    const script: string = build!.op["exec"].meta.args[2];
    for (const p of CLOSURES["build/amd64"]!.packages) expect(script).toContain(`'/var/cache/caisson/debs/${p.path.slice(p.path.lastIndexOf("/") + 1)}'`);
    // The stage's own command runs on top of the install, as the stage's user, with its network.
    const run = entries.find((e) => name(e) === "build 1/1: make")!;
    expect(run.op["inputs"][0].digest).toBe(build!.digest);
    expect(run.op["exec"].meta.user).toBe("1000");
    expect(run.op["exec"].network).toBeUndefined();
    expect(entries.indexOf(build!)).toBeLessThan(entries.indexOf(run));
    // The gather step copies exactly the fetched files into the mounted directory.
    const gather = entries.find((e) => name(e) === "build: install 3 Debian packages (3 .deb pinned by sha256): gather")!;
    expect(build!.op["inputs"].map((i: { digest: string }) => i.digest)).toContain(gather.digest);
  });

  it("adds the architectures of foreign pins (never `all`) to dpkg first", async () => {
    const [build, cross] = installs(await dump(LOCK));
    expect(build!.op["exec"].meta.args[2]).toMatch(/^set -e\ndpkg --add-architecture arm64\nDEBIAN_FRONTEND=noninteractive apt-get install /);
    expect(cross!.op["exec"].meta.args[2]).not.toContain("--add-architecture");
    const armBuild = installs(await dump(LOCK, { build: ARM64 }));
    expect(armBuild.map((e) => e.op["exec"].meta.args[2]).join("\n")).not.toContain("--add-architecture");
  });

  it("no closure for the build architecture is a LowerError unpinned_package", () => {
    const def = model(); // no pins applied
    let caught: unknown;
    try {
      lowerImage(def, { buildPlatform: AMD64, target: AMD64, sourceMirror: MIRROR });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(LowerError);
    const d = (caught as LowerError).diagnostic;
    expect([d.code, d.message]).toEqual(["unpinned_package", 'stage "build": the Debian packages for builds on amd64 are not pinned by content']);
    expect(DEF.slice(d.span.start, d.span.end)).toBe('[make, "libc6:arm64", patch=2.7.6-7]');
    expect(d.hint).toContain("caisson lock app/image.yaml");
  });

  it("a build platform outside the definition's platforms has no closure for the list form: unpinned_package", async () => {
    const text = DEF.replace("platforms: [linux/amd64, linux/arm64]", "platforms: [linux/amd64]");
    const { ["build/arm64"]: _, ...amd64Only } = CLOSURES;
    const r = await compile({ ...LOCK, debian: amd64Only }, { build: ARM64, text });
    expect(r.results).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([["unpinned_package", 'stage "build": the Debian packages for builds on arm64 are not pinned by content']]);
  });

  it("a pin whose archive no apt source names is a LowerError no_debian_archive", async () => {
    const none = await compile(LOCK, { mirror: false });
    expect(none.results).toBeUndefined();
    expect(none.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ["no_debian_archive", 'stage "build": libc6 2.36-9+deb12u14 comes from the Debian archive "debian", which no apt source names'],
    ]);
    const security: Lockfile = {
      ...LOCK,
      debian: { ...CLOSURES, "cross/amd64": { ...CLOSURES["cross/amd64"]!, packages: [pin("gcc-aarch64-linux-gnu", "4:12.2.0-3", "amd64", "debian-security")] } },
    };
    const r = await compile(security, { mirror: false, archives: { debian: "http://127.0.0.1:9/debian" } });
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ["no_debian_archive", 'stage "cross": gcc-aarch64-linux-gnu 4:12.2.0-3 comes from the Debian archive "debian-security", which no apt source names'],
    ]);
    expect(DEF.slice(r.diagnostics[0]!.span.start, r.diagnostics[0]!.span.end)).toContain("amd64: [gcc-aarch64-linux-gnu]");
  });

  it("the map form fails to compile on a build architecture it does not list", async () => {
    const text = `name: app
platforms: [linux/amd64]
stages:
  cross:
    from: ${BASE}
    packages:
      amd64: [gcc-aarch64-linux-gnu]
      arm64: [gcc-x86-64-linux-gnu=4:12.2.0-3]
    run: [make]
image:
  from: cross
  user: { uid: 0, gid: 0, rootReason: "a build image" }
`;
    // The closures as locked for this text: the cross stage starts from the base image here.
    const lock: Lockfile = {
      ...LOCK,
      debian: Object.fromEntries(Object.entries(CLOSURES).map(([k, c]) => [k, k.startsWith("cross/") ? { ...c, from: `docker.io/${BASE}` } : c])),
    };
    const r = await compileDefinition(FILE, text, { buildPlatform: { os: "linux", architecture: "riscv64" }, platforms: [AMD64], lock, sourceMirror: MIRROR });
    expect(r.results).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ["no_packages_for_build_arch", 'stage "cross" lists packages for amd64, arm64, not for riscv64, where it runs now'],
    ]);
  });
});

describe("caisson lock for Debian packages (a fake resolver)", () => {
  /** Resolves from CLOSURES (or `override`), recording what it was asked and what it had already. */
  function fakeResolver(override: Record<string, DebPin[] | Error> = {}) {
    const calls: { key: string; request: readonly string[]; done: string[] }[] = [];
    let closed = 0;
    const resolver: DebianResolver = {
      async resolve(m, done) {
        const key = `${m.stage}/${m.buildArch}`;
        calls.push({ key, request: m.request, done: [...done.keys()] });
        const o = override[key];
        if (o instanceof Error) throw o;
        return o ?? [...CLOSURES[key]!.packages];
      },
      async close() {
        closed++;
      },
    };
    return { resolver, calls, closed: () => closed };
  }

  it("resolves every closure in stage order, each with the earlier ones, and lists what it added", async () => {
    const f = fakeResolver();
    const r = await lockDefinition(model(), undefined, { debian: f.resolver });
    expect(r.diagnostics).toEqual([]);
    expect(serializeLockfile(r.lock)).toBe(serializeLockfile(LOCK));
    expect(f.calls.map((c) => [c.key, c.request, c.done])).toEqual([
      ["build/amd64", BUILD_REQUEST, []],
      ["build/arm64", BUILD_REQUEST, ["build/amd64"]],
      ["cross/amd64", ["gcc-aarch64-linux-gnu"], ["build/amd64", "build/arm64"]],
      ["cross/arm64", ["gcc-x86-64-linux-gnu=4:12.2.0-3"], ["build/amd64", "build/arm64", "cross/amd64"]],
    ]);
    expect(f.closed()).toBe(1);
    const make = CLOSURES["build/amd64"]!.packages.find((p) => p.name === "make")!;
    expect(r.changes).toContain(`+ build/amd64: make:amd64 4.3-4.1 (sha256 ${make.sha256.slice(0, 12)}…)`);
    expect(r.changes).toHaveLength(Object.values(CLOSURES).reduce((n, c) => n + c.packages.length, 0));
  });

  it("keeps the closures the lockfile pins for the same request, and asks nothing", async () => {
    const f = fakeResolver();
    const r = await lockDefinition(model(), LOCK, { debian: f.resolver });
    expect(f.calls).toEqual([]);
    expect(r.changes).toEqual([]);
    expect(serializeLockfile(r.lock)).toBe(serializeLockfile(LOCK));
  });

  it("re-resolves a closure whose request changed, and drops closures nothing asks for", async () => {
    const f = fakeResolver();
    const existing: Lockfile = {
      ...LOCK,
      debian: { ...CLOSURES, "build/arm64": { ...CLOSURES["build/arm64"]!, request: ["make"] }, "gone/amd64": { request: ["make"], packages: [pin("make", "4.3-4.1", "amd64")] } },
    };
    const r = await lockDefinition(model(), existing, { debian: f.resolver });
    expect(f.calls.map((c) => c.key)).toEqual(["build/arm64"]);
    expect(Object.keys(r.lock.debian ?? {}).sort()).toEqual(["build/amd64", "build/arm64", "cross/amd64", "cross/arm64"]);
    expect(r.lock.debian?.["build/arm64"]?.request).toEqual(BUILD_REQUEST);
  });

  it("refresh (and refreshDebian) re-resolve everything; changes say what moved, came and went", async () => {
    for (const opt of [{ refresh: true }, { refreshDebian: true }]) {
      const f = fakeResolver({ "build/amd64": [pin("libc6", "2.36-9+deb12u14", "arm64"), pin("make", "4.3-4.2", "amd64"), pin("libgpm2", "1.20.7-10+b1", "amd64")] });
      const r = await lockDefinition(model(), LOCK, { ...opt, debian: f.resolver });
      expect(f.calls).toHaveLength(4);
      expect(r.changes).toEqual(["~ build/amd64: make:amd64 4.3-4.1 → 4.3-4.2", expect.stringMatching(/^\+ build\/amd64: libgpm2:amd64 1\.20\.7-10\+b1 \(sha256 [0-9a-f]{12}…\)$/), "- build/amd64: patch:amd64 2.7.6-7"]);
      expect(r.lock.debian?.["build/amd64"]?.packages.map((p) => `${p.name}=${p.version}`)).toEqual(["libc6=2.36-9+deb12u14", "make=4.3-4.2", "libgpm2=1.20.7-10+b1"]);
    }
  });

  it("a resolver error is an unresolvable_ref at the packages; the other closures are still locked", async () => {
    const f = fakeResolver({ "cross/amd64": new DebianError("apt cannot install gcc-aarch64-linux-gnu: E: Unable to locate package gcc-aarch64-linux-gnu") });
    const r = await lockDefinition(model(), undefined, { debian: f.resolver });
    expect(r.diagnostics.map((d) => [d.code, d.severity, d.message])).toEqual([
      ["unresolvable_ref", "error", 'stage "cross" on amd64: apt cannot install gcc-aarch64-linux-gnu: E: Unable to locate package gcc-aarch64-linux-gnu'],
    ]);
    const d = r.diagnostics[0]!;
    expect(DEF.slice(d.span.start, d.span.end)).toBe("[gcc-aarch64-linux-gnu]");
    expect(d.hint).toContain("caisson lock asks apt");
    expect(Object.keys(r.lock.debian ?? {})).toEqual(["build/amd64", "build/arm64", "cross/arm64"]);
    expect(f.calls.find((c) => c.key === "cross/arm64")?.done).not.toContain("cross/amd64");
    expect(f.closed()).toBe(1);
  });

  it("any other error is not a diagnostic: it propagates, and the resolver is still closed", async () => {
    const f = fakeResolver({ "build/arm64": new TypeError("a bug") });
    await expect(lockDefinition(model(), undefined, { debian: f.resolver })).rejects.toThrow("a bug");
    expect(f.closed()).toBe(1);
  });
});

describe("caisson outdated for Debian packages (a fake apt)", () => {
  const OUT = `name: app
platforms: [linux/amd64]
stages:
  build:
    from: ${BASE}
    packages: [make=4.3-4.0, patch, "libc6:arm64=2.36-9+deb12u14"]   # a comment that stays
    run: [make]
image:
  from: build
  user: { uid: 0, gid: 0, rootReason: "a build image" }
`;
  const OUT_REQUEST = ["make=4.3-4.0", "patch", "libc6:arm64=2.36-9+deb12u14"];
  const OUT_LOCK: Lockfile = {
    git: {},
    http: {},
    images: {},
    debian: {
      "build/amd64": {
        request: OUT_REQUEST,
        from: `docker.io/${BASE}`,
        packages: [pin("libc6", "2.36-9+deb12u14", "arm64"), pin("libfoo1", "1.0-1", "amd64"), pin("make", "4.3-4.0", "amd64"), pin("patch", "2.7.6-6", "amd64")],
      },
    },
  };
  /** apt with fixed candidates (`name:arch` → version); asked nothing else. */
  function fakeApt(candidates: Record<string, string | Candidate>) {
    const opened: [string, readonly string[]][] = [];
    const asked: string[][] = [];
    let closed = 0;
    const open = async (native: string, foreign: readonly string[]): Promise<Apt> => {
      opened.push([native, foreign]);
      return {
        dir: "/nonexistent",
        native,
        architectures: [native, ...foreign],
        async candidates(names) {
          asked.push(names.map((n) => `${n.name}:${n.arch}`));
          const out = new Map<string, Candidate>();
          for (const n of names) {
            const c = candidates[`${n.name}:${n.arch}`];
            if (c !== undefined) out.set(`${n.name}:${n.arch}`, typeof c === "string" ? { version: c, archive: "debian", suite: "bookworm", security: false } : c);
          }
          return out;
        },
        // Only asked for a security update's changelog (the newer .deb): none here, so nothing is downloaded.
        async resolve() {
          return [];
        },
        async pins() {
          return [];
        },
        async status() {
          throw new DebianError("not in this test");
        },
        async minbase() {
          throw new DebianError("not in this test");
        },
        async close() {
          closed++;
        },
      };
    };
    return { open, opened, asked, closed: () => closed };
  }
  const rows = (checks: readonly Check[]) => checks.map((c) => [c.source, c.status, c.current, c.latest]);

  it("reports each pinned .deb with a newer candidate; relock for all, an in-place edit for a version written in the definition", async () => {
    const apt = fakeApt({ "make:amd64": "4.3-4.1", "patch:amd64": "2.7.6-7", "libc6:arm64": "2.36-9+deb12u14", "libfoo1:amd64": "1.0-1" });
    const checks = await checkOutdated(model(OUT), { debianApt: apt.open, lock: OUT_LOCK });
    expect(apt.opened).toEqual([["amd64", ["arm64"]]]);
    expect(apt.asked).toEqual([["libc6:arm64", "libfoo1:amd64", "make:amd64", "patch:amd64"]]);
    expect(apt.closed()).toBe(1);
    expect(rows(checks)).toEqual([
      ["build/amd64: make:amd64", "outdated", "4.3-4.0", "4.3-4.1"],
      ["build/amd64: patch:amd64", "outdated", "2.7.6-6", "2.7.6-7"],
    ]);
    const [make, patch] = checks;
    expect(make?.rule).toBe("debian");
    expect(make?.security).toBeUndefined();
    expect(OUT.slice(make!.span.start, make!.span.end)).toBe("make=4.3-4.0");
    expect(make?.update).toEqual({ oldVersion: "4.3-4.0", newVersion: "4.3-4.1", relock: true, debian: { text: "make=4.3-4.1", span: make!.span } });
    // patch is written without a version: only re-locking moves it.
    expect(patch?.update).toEqual({ oldVersion: "2.7.6-6", newVersion: "2.7.6-7", relock: true });
    expect(OUT.slice(patch!.span.start, patch!.span.end)).toBe('[make=4.3-4.0, patch, "libc6:arm64=2.36-9+deb12u14"]');
    const w = await writeUpdates(FILE, OUT, new Map([[make!.source, make!.update!]]));
    expect(w.text).toBe(OUT.replace("make=4.3-4.0", "make=4.3-4.1"));
    expect(w.notes).toEqual(["app/image.yaml:6:16: build/amd64: make:amd64: make=4.3-4.0 → make=4.3-4.1"]);
  });

  it("a pinned package apt no longer has is reported as gone, to be re-locked", async () => {
    const apt = fakeApt({ "make:amd64": "4.3-4.0", "patch:amd64": "2.7.6-6", "libc6:arm64": "2.36-9+deb12u14" });
    const checks = await checkOutdated(model(OUT), { debianApt: apt.open, lock: OUT_LOCK });
    expect(checks.map((c) => [c.source, c.status, c.message, c.update?.relock])).toEqual([["build/amd64: libfoo1:amd64", "outdated", "no longer in the Debian archives", true]]);
  });

  it("one row per closure when nothing is newer", async () => {
    const apt = fakeApt({ "make:amd64": "4.3-4.0", "patch:amd64": "2.7.6-6", "libc6:arm64": "2.36-9+deb12u13", "libfoo1:amd64": "1.0-1" });
    const checks = await checkOutdated(model(OUT), { debianApt: apt.open, lock: OUT_LOCK });
    expect(checks.map((c) => [c.source, c.status, c.update])).toEqual([["build/amd64 (4 .deb)", "up to date", undefined]]);
  });

  it("marks a candidate from a security suite; a foreign pin written with its arch gets its edit", async () => {
    const apt = fakeApt({ "libc6:arm64": { version: "2.36-9+deb12u15", archive: "debian-security", suite: "bookworm-security", security: true } });
    const [libc] = await checkOutdated(model(OUT), { debianApt: apt.open, lock: OUT_LOCK });
    expect([libc?.source, libc?.status, libc?.security, libc?.cves]).toEqual(["build/amd64: libc6:arm64", "outdated", true, []]);
    expect(libc?.update?.debian?.text).toBe("libc6:arm64=2.36-9+deb12u15");
    const w = await writeUpdates(FILE, OUT, new Map([[libc!.source, libc!.update!]]));
    expect(w.text).toBe(OUT.replace('"libc6:arm64=2.36-9+deb12u14"', '"libc6:arm64=2.36-9+deb12u15"'));
  });

  it("a closure the lockfile does not pin is unknown, and apt is not asked", async () => {
    const apt = fakeApt({});
    const checks = await checkOutdated(model(OUT), { debianApt: apt.open, lock: { git: {}, http: {}, images: {} } });
    expect(checks.map((c) => [c.source, c.status, c.message])).toEqual([[`build/amd64 (${OUT_REQUEST.join(" ")})`, "unknown", "not pinned: run caisson lock app/image.yaml"]]);
    expect(apt.opened).toEqual([]);
  });

  it("apt failing is an error row for each of its closures", async () => {
    const checks = await checkOutdated(model(OUT), {
      debianApt: async () => {
        throw new DebianError("apt-get update failed");
      },
      lock: OUT_LOCK,
    });
    expect(checks.map((c) => [c.source, c.status, c.message])).toEqual([["build/amd64", "error", "apt-get update failed"]]);
  });

  it("the list form outdated on two build architectures edits the entry once", async () => {
    const text = OUT.replace("platforms: [linux/amd64]", "platforms: [linux/amd64, linux/arm64]");
    const lock: Lockfile = {
      ...OUT_LOCK,
      debian: {
        ...OUT_LOCK.debian,
        "build/arm64": { request: OUT_REQUEST, from: `docker.io/${BASE}`, packages: [pin("libc6", "2.36-9+deb12u14", "arm64"), pin("make", "4.3-4.0", "arm64"), pin("patch", "2.7.6-6", "arm64")] },
      },
    };
    const apt = fakeApt({ "make:amd64": "4.3-4.10", "make:arm64": "4.3-4.10" });
    // Packages this fake apt has no candidate for are reported as gone from the archives; not this test's subject.
    const checks = (await checkOutdated(model(text), { debianApt: apt.open, lock })).filter((c) => c.latest !== undefined);
    expect(rows(checks)).toEqual([
      ["build/amd64: make:amd64", "outdated", "4.3-4.0", "4.3-4.10"],
      ["build/arm64: make:arm64", "outdated", "4.3-4.0", "4.3-4.10"],
    ]);
    expect(apt.opened).toEqual([
      ["amd64", ["arm64"]],
      ["arm64", []],
    ]);
    const w = await writeUpdates(FILE, text, new Map(checks.map((c) => [c.source, c.update!])));
    expect(w.text).toBe(text.replace("make=4.3-4.0", "make=4.3-4.10"));
    expect(w.notes).toEqual(["app/image.yaml:6:16: build/amd64: make:amd64: make=4.3-4.0 → make=4.3-4.10"]);
    // Different candidates per architecture: one edit, and a note about the other.
    const split = (await checkOutdated(model(text), { debianApt: fakeApt({ "make:amd64": "4.3-4.1", "make:arm64": "4.3-4.1+b1" }).open, lock })).filter((c) => c.latest !== undefined);
    const w2 = await writeUpdates(FILE, text, new Map(split.map((c) => [c.source, c.update!])));
    expect(w2.text).toBe(text.replace("make=4.3-4.0", "make=4.3-4.1"));
    expect(w2.notes).toContain("app/image.yaml:6:16: note: build/arm64: make:arm64 would be make=4.3-4.1+b1; check which version this entry should have");
  });

  it("the map form: each build architecture's entry is the one edited", async () => {
    const text = `name: app
platforms: [linux/amd64, linux/arm64]
stages:
  cross:
    from: ${BASE}
    packages:
      amd64: [make=4.3-4.1, "libc6:arm64=2.36-9+deb12u13"]
      arm64: [make=4.3-4.0, "libc6:amd64=2.36-9+deb12u13"]
    run: [make]
image:
  from: cross
  user: { uid: 0, gid: 0, rootReason: "a build image" }
`;
    const lock: Lockfile = {
      git: {},
      http: {},
      images: {},
      debian: {
        "cross/amd64": { request: ["make=4.3-4.1", "libc6:arm64=2.36-9+deb12u13"], from: `docker.io/${BASE}`, packages: [pin("libc6", "2.36-9+deb12u13", "amd64"), pin("libc6", "2.36-9+deb12u13", "arm64"), pin("make", "4.3-4.1", "amd64")] },
        "cross/arm64": { request: ["make=4.3-4.0", "libc6:amd64=2.36-9+deb12u13"], from: `docker.io/${BASE}`, packages: [pin("libc6", "2.36-9+deb12u13", "amd64"), pin("make", "4.3-4.0", "arm64")] },
      },
    };
    const apt = fakeApt({ "libc6:amd64": "2.36-9+deb12u14", "libc6:arm64": "2.36-9+deb12u14", "make:amd64": "4.3-4.2", "make:arm64": "4.3-4.2" });
    const checks = await checkOutdated(model(text), { debianApt: apt.open, lock });
    const at = (c: Check) => text.slice(c.span.start, c.span.end);
    expect(checks.map((c) => [c.source, at(c), c.update?.debian?.text])).toEqual([
      // libc6:amd64 on amd64 is a dependency (Multi-Arch: same), not written for amd64 builds: re-locked only.
      ["cross/amd64: libc6:amd64", '[make=4.3-4.1, "libc6:arm64=2.36-9+deb12u13"]', undefined],
      ["cross/amd64: libc6:arm64", '"libc6:arm64=2.36-9+deb12u13"', "libc6:arm64=2.36-9+deb12u14"],
      ["cross/amd64: make:amd64", "make=4.3-4.1", "make=4.3-4.2"],
      ["cross/arm64: libc6:amd64", '"libc6:amd64=2.36-9+deb12u13"', "libc6:amd64=2.36-9+deb12u14"],
      ["cross/arm64: make:arm64", "make=4.3-4.0", "make=4.3-4.2"],
    ]);
    const w = await writeUpdates(FILE, text, new Map(checks.map((c) => [c.source, c.update!])));
    expect(w.text).toBe(text.replace(/2\.36-9\+deb12u13/g, "2.36-9+deb12u14").replace(/make=4\.3-4\.[01]/g, "make=4.3-4.2"));
  });
});
