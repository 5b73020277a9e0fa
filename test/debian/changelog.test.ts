// Debian version ordering and changelog CVE extraction.
import { IN_CI } from "../support/ci.js";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { changelogCves, compareVersions, cvesSince, debChangelog, parseChangelog, parseVersion } from "../../src/debian/index.js";
import { buildDeb, haveDebTools } from "../support/debrepo.js";

const skip = !haveDebTools() && !IN_CI;

describe("compareVersions", () => {
  const ordered: [string, string][] = [
    ["1.0", "1.1"],
    ["1.0~rc1", "1.0"],
    ["1.0~~", "1.0~"],
    ["1.0", "1.0+b1"],
    ["1.0", "1.0a"],
    ["1.0a", "1.0+"],
    ["1.0-1", "1.0-2"],
    ["1.0-9", "1.0-10"],
    ["2.36-9+deb12u9", "2.36-9+deb12u10"],
    ["2.36-9+deb12u14", "2.36-10"],
    ["9.9", "1:0.1"],
    ["4:12.2.0-3", "5:1"],
    ["1.2.3", "1.2.10"],
    ["1.0-1", "1.0.1-1"],
    ["0", "0.0.1"],
    ["7.0.15-1~deb12u1", "7.0.15-1~deb12u2"],
    ["7.0.15-1~deb12u6", "7.0.15-1"],
    ["2026b-0+deb12u1", "2026f-0+deb12u1"],
  ];
  it.each(ordered)("%s < %s", (a, b) => {
    expect(compareVersions(a, b)).toBe(-1);
    expect(compareVersions(b, a)).toBe(1);
  });
  it.each([
    ["1.0", "1.0-0"],
    ["0:1.0", "1.0"],
    ["1.01", "1.1"],
    ["1.0-0", "1.0-"],
  ])("%s = %s", (a, b) => expect(compareVersions(a, b)).toBe(0));
  it("parses epoch, upstream and revision (the last dash)", () => {
    expect(parseVersion("1:2.3-4-5")).toEqual({ epoch: 1, upstream: "2.3-4", revision: "5" });
    expect(() => parseVersion("x:1")).toThrow(/epoch/);
    expect(() => parseVersion("abc")).toThrow(/start with a digit/);
  });

  const dpkg = spawnSync("dpkg", ["--version"], { stdio: "ignore" }).status === 0;
  it.skipIf(!dpkg && !IN_CI)("agrees with dpkg --compare-versions", () => {
    const part = fc.stringMatching(/^[0-9][0-9a-z.+~]{0,5}$/);
    const version = fc.tuple(fc.option(fc.integer({ min: 0, max: 3 })), part, fc.option(fc.stringMatching(/^[0-9a-z.+~]{1,5}$/))).map(
      ([e, u, r]) => `${e === null ? "" : `${e}:`}${u}${r === null ? "" : `-${r}`}`,
    );
    fc.assert(
      fc.property(version, version, (a, b) => {
        const mine = compareVersions(a, b);
        const lt = spawnSync("dpkg", ["--compare-versions", a, "lt", b]).status === 0;
        const eq = spawnSync("dpkg", ["--compare-versions", a, "eq", b]).status === 0;
        expect(mine, `${a} vs ${b}`).toBe(lt ? -1 : eq ? 0 : 1);
      }),
      { numRuns: 150 },
    );
  });
});

const CHANGELOG = `redis (5:7.0.15-1~deb12u6) bookworm-security; urgency=medium

  * Fix CVE-2025-49844 (use-after-free in the Lua parser) and
    CVE-2025-46817.
  * Also fixes CVE-2025-46819.

 -- Maintainer <m@example.invalid>  Mon, 06 Oct 2025 10:00:00 +0000

redis (5:7.0.15-1~deb12u5) bookworm; urgency=medium

  * CVE-2025-27151: stack overflow in redis-check-aof.
  * Again CVE-2025-46817 mentioned.

 -- Maintainer <m@example.invalid>  Mon, 01 Sep 2025 10:00:00 +0000

redis (5:7.0.15-1~deb12u4) bookworm; urgency=medium

  * CVE-2024-46981, CVE-2024-51741.

 -- Maintainer <m@example.invalid>  Mon, 06 Jan 2025 10:00:00 +0000

redis (5:7.0.15-1~deb12u3) bookworm; urgency=medium

  * CVE-2024-31449.

 -- Maintainer <m@example.invalid>  Mon, 07 Oct 2024 10:00:00 +0000
`;

describe("changelogs", () => {
  it("parses entries with source, version and distributions", () => {
    const entries = parseChangelog(CHANGELOG);
    expect(entries.map((e) => [e.source, e.version, e.distributions])).toEqual([
      ["redis", "5:7.0.15-1~deb12u6", "bookworm-security"],
      ["redis", "5:7.0.15-1~deb12u5", "bookworm"],
      ["redis", "5:7.0.15-1~deb12u4", "bookworm"],
      ["redis", "5:7.0.15-1~deb12u3", "bookworm"],
    ]);
    expect(entries[0]!.text).toContain("CVE-2025-46817.");
    expect(entries[0]!.text).not.toContain("deb12u5");
  });
  it("collects the CVE ids of entries newer than the current version, unique and ordered", () => {
    expect(cvesSince(CHANGELOG, "5:7.0.15-1~deb12u4")).toEqual(["CVE-2025-27151", "CVE-2025-46817", "CVE-2025-46819", "CVE-2025-49844"]);
    expect(cvesSince(CHANGELOG, "5:7.0.15-1~deb12u6")).toEqual([]);
    expect(cvesSince(CHANGELOG, "5:7.0.15-1~deb12u2")).toContain("CVE-2024-31449");
    expect(cvesSince("not a changelog", "1.0")).toEqual([]);
  });
});

describe.skipIf(skip)("changelogs of .deb files", () => {
  const dir = mkdtempSync(join(tmpdir(), "caisson-changelog-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const deb = (name: string, bytes: Buffer) => {
    const file = join(dir, `${name}.deb`);
    writeFileSync(file, bytes);
    return file;
  };

  it("reads usr/share/doc/<pkg>/changelog.Debian.gz and returns the CVEs since the pinned version", async () => {
    const file = deb("redis", buildDeb({ name: "redis", version: "5:7.0.15-1~deb12u6", arch: "amd64", files: { "usr/share/doc/redis/changelog.Debian.gz": gzipSync(CHANGELOG) } }, dir));
    expect(await debChangelog(file)).toBe(CHANGELOG);
    expect(await changelogCves(file, "5:7.0.15-1~deb12u5")).toEqual(["CVE-2025-46817", "CVE-2025-46819", "CVE-2025-49844"]);
  });

  it("reads a native package's changelog.gz", async () => {
    const text = "caisson-native (2.0) unstable; urgency=high\n\n  * CVE-2026-0001.\n\n -- M <m@example.invalid>  Mon, 06 Oct 2025 10:00:00 +0000\n";
    const file = deb("native", buildDeb({ name: "caisson-native", version: "2.0", files: { "usr/share/doc/caisson-native/changelog.gz": gzipSync(text) } }, dir));
    expect(await changelogCves(file, "1.0")).toEqual(["CVE-2026-0001"]);
  });

  it("returns nothing for a package whose doc directory is a symlink", async () => {
    const file = deb("linked", buildDeb({ name: "caisson-linked", version: "1.0", files: {}, links: { "usr/share/doc/caisson-linked": "caisson-other" } }, dir));
    expect(await debChangelog(file)).toBeUndefined();
    expect(await changelogCves(file, "0.1")).toEqual([]);
  });

  it("fails naming the file when it is not a .deb", async () => {
    const file = join(dir, "bogus.deb");
    writeFileSync(file, "not a deb");
    await expect(changelogCves(file, "1.0", "bogus")).rejects.toThrow(/bogus\.deb/);
  });
});
