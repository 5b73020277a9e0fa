// Debian packages of stages (`packages:`): bare names are moving references
// that the lockfile pins; --frozen and compilation refuse unpinned ones;
// `caisson lock` resolves them through apt (faked here); lowering installs
// exactly the pinned versions in one step before the stage's commands.
import { describe, expect, it } from "vitest";
import { formatDiagnostics, hasErrors } from "../../src/diag/index.js";
import { applyPins, parseLockfile, serializeLockfile, type Lockfile } from "../../src/lock/index.js";
import { lockDefinition } from "../../src/lock/lock.js";
import { parseAptPolicy, type DebianQuery } from "../../src/lock/resolve.js";
import { compileDefinition } from "../../src/compile/index.js";
import { dumpDefinition } from "../../src/llb/index.js";
import { parseDebianPackage } from "../../src/validate/refs.js";
import { checkDefinition } from "../../src/validate/index.js";

const BASE = "caisson/debian:bookworm@sha256:afafc3d453bf6e705cb4df326492b866180d95c863b5217234d2fcc402fba351";
const DEF = `name: app
platforms: [linux/amd64]
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
const LOCK: Lockfile = {
  git: {},
  http: {},
  images: {},
  debian: { make: "4.3-4.1", "libc6:arm64": "2.36-9+deb12u14", "amd64/gcc-aarch64-linux-gnu": "4:12.2.0-3" },
};

function model(text = DEF) {
  const r = checkDefinition("app/image.yaml", text);
  expect(hasErrors(r.diagnostics), formatDiagnostics(r.diagnostics, new Map([["app/image.yaml", text]]))).toBe(false);
  return r.definition!;
}

async function compile(lock: Lockfile | undefined, opts: { frozen?: boolean; build?: string } = {}) {
  return compileDefinition("app/image.yaml", DEF, {
    buildPlatform: { os: "linux", architecture: opts.build ?? "amd64" },
    platforms: [{ os: "linux", architecture: "amd64" }],
    ...(lock ? { lock } : {}),
    ...(opts.frozen ? { frozen: true } : {}),
  });
}

describe("packages: specs", () => {
  it("parses name, name=version, name:arch and name:arch=version", () => {
    expect(parseDebianPackage("make")).toEqual({ ok: true, value: { name: "make" } });
    expect(parseDebianPackage("gcc=4:12.2.0-3")).toEqual({ ok: true, value: { name: "gcc", version: "4:12.2.0-3" } });
    expect(parseDebianPackage("libc6:arm64=2.36-9+deb12u14")).toEqual({ ok: true, value: { name: "libc6", arch: "arm64", version: "2.36-9+deb12u14" } });
    expect(parseDebianPackage("libc6:arm65").ok).toBe(false);
    expect(parseDebianPackage("Make").ok).toBe(false);
  });

  it("bare names become moving references, in the order written, with the build architecture of the map form", () => {
    const def = model();
    expect(def.moving?.map((m) => (m.kind === "debian" ? [m.stage, m.package, m.buildArch] : m.kind))).toEqual([
      ["build", "make", undefined],
      ["build", "libc6:arm64", undefined],
      ["cross", "gcc-aarch64-linux-gnu", "amd64"],
    ]);
    const build = def.stages.find((s) => s.name === "build")!;
    expect(build.packages?.all.map((p) => [p.name, p.arch, p.version])).toEqual([
      ["make", undefined, ""],
      ["libc6", "arm64", ""],
      ["patch", undefined, "2.7.6-7"],
    ]);
    expect(Object.keys(def.stages.find((s) => s.name === "cross")!.packages?.byBuildArch ?? {})).toEqual(["amd64", "arm64"]);
  });
});

describe("lockfile debian section", () => {
  it("is written sorted, only when there is one, and round-trips", () => {
    const text = serializeLockfile(LOCK);
    expect(text).toMatch(/"debian": \{\n {4}"amd64\/gcc-aarch64-linux-gnu": "4:12\.2\.0-3",\n {4}"libc6:arm64": "2\.36-9\+deb12u14",\n {4}"make": "4\.3-4\.1"\n {2}\}/);
    expect(serializeLockfile(parseLockfile(text))).toBe(text);
    expect(serializeLockfile({ git: {}, http: {}, images: {} })).not.toContain("debian");
    expect(() => parseLockfile('{"lockfileVersion":1,"debian":{"make":"latest"}}')).toThrow(/malformed entry debian\["make"\]/);
  });
});

describe("pins of Debian packages", () => {
  it("applies versions from the lockfile to the model", () => {
    const { definition, diagnostics, unresolved } = applyPins(model(), LOCK);
    expect(diagnostics).toEqual([]);
    expect(unresolved).toEqual([]);
    const build = definition.stages.find((s) => s.name === "build")!;
    expect(build.packages?.all.map((p) => p.version)).toEqual(["4.3-4.1", "2.36-9+deb12u14", "2.7.6-7"]);
    expect(definition.stages.find((s) => s.name === "cross")!.packages?.byBuildArch?.["amd64"]?.[0]?.version).toBe("4:12.2.0-3");
  });

  it("an unpinned package is an error at its place, with or without --frozen", () => {
    for (const frozen of [false, true]) {
      const { diagnostics } = applyPins(model(), { ...LOCK, debian: { make: "4.3-4.1" } }, { frozen });
      const text = formatDiagnostics(diagnostics, new Map([["app/image.yaml", DEF]]));
      expect(diagnostics.map((d) => [d.code, d.severity])).toEqual([
        ["unpinned_package", "error"],
        ["unpinned_package", "error"],
      ]);
      expect(text).toContain('app/image.yaml:7:22: error[unpinned_package]: stage "build": Debian package libc6:arm64 (no version) is pinned neither in the definition nor in app/image.lock.json');
      expect(text).toContain("run `caisson lock app/image.yaml` to pin it in the lockfile, or write the version: libc6:arm64=<version>");
      expect(text).toContain("(for builds on amd64)");
    }
  });

  it("compiles to one install step per stage, before the commands, as root, exactly the pinned versions", async () => {
    expect((await compile(undefined)).results).toBeUndefined();
    const r = await compile(LOCK);
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const dump = JSON.stringify(dumpDefinition(r.results![0]!.definition));
    expect(dump).toContain(
      "dpkg --add-architecture arm64 && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends 'make=4.3-4.1' 'libc6:arm64=2.36-9+deb12u14' 'patch=2.7.6-7' && apt-get clean && rm -rf /var/lib/apt/lists/*",
    );
    expect(dump).toContain("'gcc-aarch64-linux-gnu=4:12.2.0-3'");
    expect(dump).not.toContain("gcc-x86-64-linux-gnu");
    expect(dump).toContain("build: install 3 Debian packages");
    expect(dump).toContain("cross: install 1 Debian package\"");
  });

  it("the map form fails to compile on a build architecture it does not list", async () => {
    const r = await compile(LOCK, { build: "riscv64" });
    expect(r.results).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.code, d.message])).toContainEqual([
      "no_packages_for_build_arch",
      'stage "cross" lists packages for amd64, arm64, not for riscv64, where it runs now',
    ]);
  });
});

describe("caisson lock for Debian packages", () => {
  const fake = (versions: Record<string, string>) => async (qs: readonly DebianQuery[]) =>
    new Map(qs.flatMap((q) => (versions[`${q.buildArch ?? "host"}/${q.package}`] ? [[q, versions[`${q.buildArch ?? "host"}/${q.package}`] as string] as const] : [])));

  it("resolves bare names (host architecture for the list form, the key's for the map form), keeps existing pins", async () => {
    const asked: DebianQuery[][] = [];
    const apt = fake({ "host/make": "4.3-4.1", "host/libc6:arm64": "2.36-9+deb12u14", "amd64/gcc-aarch64-linux-gnu": "4:12.2.0-3" });
    const r = await lockDefinition(model(), undefined, { debian: async (qs) => (asked.push([...qs]), apt(qs)) });
    expect(r.diagnostics).toEqual([]);
    expect(r.lock.debian).toEqual(LOCK.debian);
    expect(asked).toHaveLength(1);
    expect(r.changes).toContain("+ make → 4.3-4.1");
    const again = await lockDefinition(model(), r.lock, { debian: async (qs) => (asked.push([...qs]), apt(qs)) });
    expect(asked).toHaveLength(1); // nothing to ask: every package is pinned
    expect(serializeLockfile(again.lock)).toBe(serializeLockfile(r.lock));
  });

  it("a package without a candidate is an error at its place", async () => {
    const r = await lockDefinition(model(), undefined, { debian: fake({ "host/make": "4.3-4.1" }) });
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ["unresolvable_ref", "apt has no candidate for libc6:arm64 (apt-cache policy libc6:arm64)"],
      ["unresolvable_ref", "apt has no candidate for gcc-aarch64-linux-gnu on amd64 (apt-cache policy gcc-aarch64-linux-gnu)"],
    ]);
  });

  it("reads apt-cache policy output", () => {
    const text = "make:\n  Installed: (none)\n  Candidate: 4.3-4.1\n  Version table:\n     4.3-4.1 500\nlibc6:arm64:\n  Installed: (none)\n  Candidate: (none)\n";
    expect([...parseAptPolicy(text)]).toEqual([
      ["make", "4.3-4.1"],
      ["libc6:arm64", "(none)"],
    ]);
  });
});

describe("caisson outdated for Debian packages", () => {
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
  const apt = async (qs: readonly DebianQuery[]) =>
    new Map(qs.map((q) => [q, ({ make: "4.3-4.1", patch: "2.7.6-7", "libc6:arm64": "2.36-9+deb12u14" } as Record<string, string>)[q.package] as string] as const));

  it("reports newer candidates, pinned in the definition (--write edits the entry) or in the lockfile (lock --refresh)", async () => {
    const { checkOutdated, writeUpdates } = await import("../../src/outdated/index.js");
    const def = model(OUT);
    const checks = await checkOutdated(def, { debian: apt, lock: { git: {}, http: {}, images: {}, debian: { patch: "2.7.6-6" } } });
    expect(checks.map((c) => [c.source, c.rule, c.current, c.latest, c.status])).toEqual([
      ["build: make", "debian", "4.3-4.0", "4.3-4.1", "outdated"],
      ["build: patch", "debian", "2.7.6-6", "2.7.6-7", "outdated"],
      ["build: libc6:arm64", "debian", "2.36-9+deb12u14", "2.36-9+deb12u14", "up to date"],
    ]);
    expect(checks[1]?.update).toBeUndefined();
    expect(checks[1]?.message).toBe("pinned by the lockfile: caisson lock --refresh app/image.yaml");
    const updates = new Map(checks.filter((c) => c.update).map((c) => [c.source, c.update!]));
    const w = await writeUpdates("app/image.yaml", OUT, updates);
    expect(w.text).toBe(OUT.replace("make=4.3-4.0", "make=4.3-4.1"));
    expect(w.notes).toEqual(["app/image.yaml:6:16: build: make: make=4.3-4.0 → make=4.3-4.1"]);
  });
});
