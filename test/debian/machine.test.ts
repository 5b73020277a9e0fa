// The resolver and fetcher against this machine's own apt sources (its
// configured Debian mirror). Runs where the machine has deb822 sources, and
// always under CI=true. Nothing here knows a version or a hash of the mirror:
// only shapes are checked.
import { IN_CI } from "../support/ci.js";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changelogCves, compareVersions, fetchDebs, openApt, readArchives, SOURCES_ENV, type Apt, type DebianArchive, type DebPin } from "../../src/debian/index.js";

function machineHasDeb822Sources(): boolean {
  const dir = "/etc/apt/sources.list.d";
  if (!existsSync(dir)) return false;
  return readdirSync(dir).some((f) => f.endsWith(".sources") && /^Types:.*\bdeb\b/m.test(readFileSync(join(dir, f), "utf8")));
}

const run = IN_CI || machineHasDeb822Sources();

describe.runIf(run)("this machine's apt sources", () => {
  let archives: DebianArchive[];
  let apt: Apt;
  let make: DebPin[];

  beforeAll(async () => {
    const saved = process.env[SOURCES_ENV];
    delete process.env[SOURCES_ENV];
    try {
      archives = await readArchives();
    } finally {
      if (saved !== undefined) process.env[SOURCES_ENV] = saved;
    }
    apt = await openApt({ archives, native: "amd64", foreign: ["arm64"] });
    make = await apt.resolve(["make"]);
  }, 300_000);
  afterAll(async () => {
    await apt?.close();
  });

  it("resolves make on amd64 with an empty status: a closure with libc6, every file pinned by sha256", () => {
    const names = archives.map((a) => a.name);
    expect(make.map((p) => p.name)).toContain("make");
    expect(make.map((p) => p.name)).toContain("libc6");
    for (const p of make) {
      expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(p.size).toBeGreaterThan(0);
      expect(names).toContain(p.archive);
      expect(p.path).toMatch(/^pool\/.+\.deb$/);
      expect(["amd64", "all"]).toContain(p.arch);
    }
  });

  it("resolves a foreign-architecture request pinned to the version apt chose", async () => {
    const libc6 = make.find((p) => p.name === "libc6")!;
    const arm = await apt.resolve([`libc6:arm64`]);
    const foreign = arm.find((p) => p.name === "libc6" && p.arch === "arm64");
    expect(foreign?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(foreign?.sha256).not.toBe(libc6.sha256);
    const candidates = await apt.candidates([{ name: "libc6", arch: "amd64" }, { name: "libc6", arch: "arm64" }]);
    expect(candidates.get("libc6:amd64")?.version).toBe(libc6.version);
    expect(candidates.get("libc6:arm64")?.version).toBe(foreign!.version);
  }, 120_000);

  it("resolves nothing more on top of the closure's own status", async () => {
    const status = await apt.status(make);
    expect(status.match(/^Status: install ok installed$/gm)?.length).toBe(make.length);
    expect(await apt.resolve(["make"], status)).toEqual([]);
  }, 120_000);

  it("lists a minbase that has apt, dpkg and the shell", async () => {
    const names = await apt.minbase();
    for (const n of ["apt", "dpkg", "base-files", "coreutils", "dash"]) expect(names).toContain(n);
    expect(new Set(names).size).toBe(names.length);
  }, 120_000);

  it("fetches make's .deb from its archive and reads its changelog", async () => {
    const store = mkdtempSync(join(tmpdir(), "caisson-debstore-"));
    try {
      const pin = make.find((p) => p.name === "make")!;
      const [got] = await fetchDebs([pin], { store, archives });
      expect(got!.from).toBe("archive");
      const cves = await changelogCves(got!.file, "0");
      for (const c of cves) expect(c).toMatch(/^CVE-\d{4}-\d{4,}$/);
      expect(compareVersions(pin.version, "0")).toBe(1);
    } finally {
      rmSync(store, { recursive: true, force: true });
    }
  }, 300_000);
});
