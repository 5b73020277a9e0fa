// The private apt state against a real signed repository on loopback.
import { IN_CI } from "../support/ci.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { debStatus, DebianError, DebianSignatureError, fetchDebs, openApt, readArchives, type Apt } from "../../src/debian/index.js";
import { haveDebTools, makeDebRepo, type DebRepo } from "../support/debrepo.js";

// Without apt, dpkg-deb and gpg these tests are skipped on a developer's
// machine, never under CI=true (there they fail).
const skip = !haveDebTools() && !IN_CI;

describe.skipIf(skip)("private apt state on a loopback repository", () => {
  let repo: DebRepo;
  let apt: Apt;

  beforeAll(async () => {
    repo = await makeDebRepo({
      suite: "stable",
      packages: [
        { name: "caisson-test-lib", version: "1.0-1", arch: "amd64", multiArch: "same" },
        { name: "caisson-test-lib", version: "1.0-1", arch: "arm64", multiArch: "same" },
        { name: "caisson-test-hello", version: "1.0", arch: "amd64", depends: "caisson-test-lib (>= 1.0)" },
        { name: "caisson-test-hello", version: "0.9", arch: "amd64", depends: "caisson-test-lib" },
        { name: "caisson-test-data", version: "2:3.1+ds-2", arch: "all" },
        { name: "caisson-test-base", version: "1", arch: "amd64", essential: true, priority: "required" },
        { name: "caisson-test-req", version: "1", arch: "all", priority: "required" },
        { name: "caisson-test-broken", version: "1", arch: "amd64", depends: "caisson-test-nowhere" },
      ],
    });
    apt = await openApt({ archives: await readArchives(repo.sourcesFile), native: "amd64", foreign: ["arm64"] });
  }, 120_000);

  afterAll(async () => {
    await apt?.close();
    await repo?.close();
  });

  it("resolves the closure: hello pulls lib, pinned by sha256 with archive and pool path", async () => {
    const pins = await apt.resolve(["caisson-test-hello"]);
    expect(pins.map((p) => `${p.name}:${p.arch}=${p.version}`)).toEqual(["caisson-test-hello:amd64=1.0", "caisson-test-lib:amd64=1.0-1"]);
    for (const p of pins) {
      expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(p.archive).toBe("debian");
      expect(p.path).toBe(repo.poolPath(p.name, p.version, p.arch));
      expect(p.size).toBe(repo.file(p.path)!.length);
    }
  });

  it("honours a version request, a foreign architecture and epochs", async () => {
    const pins = await apt.resolve(["caisson-test-hello=0.9", "caisson-test-lib:arm64", "caisson-test-data=2:3.1+ds-2"]);
    expect(pins.map((p) => `${p.name}:${p.arch}=${p.version}`)).toEqual([
      "caisson-test-data:all=2:3.1+ds-2",
      "caisson-test-hello:amd64=0.9",
      "caisson-test-lib:amd64=1.0-1",
      "caisson-test-lib:arm64=1.0-1",
    ]);
    expect(pins[0]!.path).toBe("pool/main/c/caisson-test-data/caisson-test-data_3.1+ds-2_all.deb");
  });

  it("resolves against a status: what is installed already is not in the closure", async () => {
    const lib = await apt.resolve(["caisson-test-lib"]);
    const status = await apt.status(lib);
    expect(status).toMatch(/^Package: caisson-test-lib\nStatus: install ok installed\n/);
    expect(status).toContain("Version: 1.0-1");
    expect(status).not.toMatch(/^(Filename|Size|SHA256|MD5sum):/m);
    const pins = await apt.resolve(["caisson-test-hello"], status);
    expect(pins.map((p) => p.name)).toEqual(["caisson-test-hello"]);
    await expect(apt.status([{ ...lib[0]!, version: "0.1" }, ...lib])).rejects.toThrow(/caisson-test-lib:amd64=0\.1 .*is not in the apt lists any more/);
    await expect(apt.status([{ ...lib[0]!, sha256: "0".repeat(64) }])).rejects.toThrow(/not in the apt lists/);
  });

  it("takes the status of pins from their .deb files too (for versions the lists no longer have)", async () => {
    const lib = await apt.resolve(["caisson-test-lib"]);
    const store = mkdtempSync(join(tmpdir(), "caisson-debstore-"));
    try {
      const files = await fetchDebs(lib, { store, archives: await readArchives(repo.sourcesFile) });
      const status = await debStatus(files.map((f) => f.file));
      expect(status).toMatch(/^Package: caisson-test-lib\nStatus: install ok installed\n/);
      expect(status).toContain("Multi-Arch: same");
      expect((await apt.resolve(["caisson-test-hello"], status)).map((p) => p.name)).toEqual(["caisson-test-hello"]);
    } finally {
      rmSync(store, { recursive: true, force: true });
    }
  });

  it("pins exact packages without their dependencies", async () => {
    const [hello, ...rest] = await apt.pins(["caisson-test-hello:amd64=0.9"]);
    expect(rest).toEqual([]);
    expect(hello).toMatchObject({ name: "caisson-test-hello", version: "0.9", arch: "amd64", archive: "debian", path: repo.poolPath("caisson-test-hello", "0.9", "amd64") });
    expect(hello!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await apt.pins(["caisson-test-data"])).map((p) => `${p.name}:${p.arch}=${p.version}`)).toEqual(["caisson-test-data:all=2:3.1+ds-2"]);
    await expect(apt.pins(["caisson-test-hello=5"])).rejects.toThrow(/caisson-test-hello=5: .*'5'/);
  });

  it("names the package and apt's reason when a request cannot be met", async () => {
    await expect(apt.resolve(["caisson-test-nosuch"])).rejects.toThrow(DebianError);
    await expect(apt.resolve(["caisson-test-nosuch"])).rejects.toThrow(/caisson-test-nosuch.*Unable to locate package caisson-test-nosuch/);
    await expect(apt.resolve(["caisson-test-hello=7"])).rejects.toThrow(/Version '7' for 'caisson-test-hello' was not found/);
    await expect(apt.resolve(["caisson-test-broken"])).rejects.toThrow(/caisson-test-broken.*caisson-test-nowhere/);
    await expect(apt.resolve(["caisson-test-lib:s390x"])).rejects.toThrow(/architecture s390x/);
    await expect(apt.resolve(["-o=x"])).rejects.toThrow(/not a Debian package request/);
  });

  it("lists minbase: Essential and required packages of the native architecture, and apt", async () => {
    const names = await apt.minbase();
    expect(names).toEqual(["apt", "caisson-test-base", "caisson-test-req"]);
  });

  it("tells candidates, and a newer version becomes the candidate after an update", async () => {
    const before = await apt.candidates([{ name: "caisson-test-hello", arch: "amd64" }, { name: "caisson-test-data", arch: "all" }, { name: "caisson-test-nosuch", arch: "amd64" }]);
    expect(before.get("caisson-test-hello:amd64")).toEqual({ version: "1.0", archive: "debian", suite: "stable", security: false });
    expect(before.get("caisson-test-data:all")?.version).toBe("2:3.1+ds-2");
    expect(before.has("caisson-test-nosuch:amd64")).toBe(false);

    repo.add({ name: "caisson-test-hello", version: "1.1", arch: "amd64", depends: "caisson-test-lib" });
    const again = await openApt({ archives: await readArchives(repo.sourcesFile), native: "amd64" });
    try {
      const after = await again.candidates([{ name: "caisson-test-hello", arch: "amd64" }]);
      expect(after.get("caisson-test-hello:amd64")?.version).toBe("1.1");
    } finally {
      await again.close();
      repo.remove("caisson-test-hello", "1.1");
    }
  });
});

describe.skipIf(skip)("signature verification", () => {
  it("fails naming apt's reason when a suite has no Release file", async () => {
    const repo = await makeDebRepo({ packages: [{ name: "caisson-test-lib", version: "1", arch: "all" }] });
    try {
      const [archive] = await readArchives(repo.sourcesFile);
      const err = await openApt({ archives: [{ ...archive!, suites: ["nosuch"] }], native: "amd64" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DebianError);
      expect(err).not.toBeInstanceOf(DebianSignatureError);
      expect(String(err)).toMatch(/apt-get update failed: .*nosuch.*Release/);
    } finally {
      await repo.close();
    }
  }, 60_000);

  for (const signature of ["bad", "unknown-key"] as const) {
    it(`refuses a Release whose signature is ${signature === "bad" ? "wrong" : "by an unknown key"}`, async () => {
      const repo = await makeDebRepo({ signature, packages: [{ name: "caisson-test-lib", version: "1", arch: "all" }] });
      try {
        const archives = await readArchives(repo.sourcesFile);
        const err = await openApt({ archives, native: "amd64" }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(DebianSignatureError);
        expect(String(err)).toMatch(/archive "debian" suite stable failed signature verification: .*(BADSIG|NO_PUBKEY)/);
      } finally {
        await repo.close();
      }
    }, 60_000);
  }
});
