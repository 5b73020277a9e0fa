// apt sources parsing and the parsers of apt's output (no network, no apt).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { archiveName, DebianError, parseDeb822Sources, parseLegacySources, readArchives, SOURCES_ENV } from "../../src/debian/index.js";
import {
  archiveOf,
  parseParagraphs,
  parsePolicy,
  parsePrintUris,
  parseRequest,
  parseSimulation,
  signatureFailure,
  sourcesList,
  statusParagraph,
} from "../../src/debian/apt.js";

// Mirrors here are placeholders under the reserved .invalid domain.
const M = "http://mirror.invalid";

describe("deb822 sources", () => {
  const text = `# a comment
Types: deb deb-src
URIs: ${M}/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# comment inside a stanza
URIs: ${M}/debian-security/
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: ${M}/sources-only
Suites: bookworm
Components: main

Types: deb
Enabled: no
URIs: ${M}/disabled
Suites: bookworm
Components: main

Types: deb
URIs: ${M}/debian
Suites: bookworm-backports bookworm
Components: main non-free-firmware
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NZJPR8lsD3K87ZM18gzyQZJD+w
 -----END PGP PUBLIC KEY BLOCK-----
`;
  it("reads deb stanzas, skips deb-src and disabled ones, merges suites of the same URI", () => {
    expect(parseDeb822Sources(text)).toEqual([
      {
        name: "debian",
        uri: `${M}/debian`,
        suites: ["bookworm", "bookworm-updates", "bookworm-backports"],
        components: ["main", "contrib", "non-free-firmware"],
        signedBy: "/usr/share/keyrings/debian-archive-keyring.gpg",
      },
      { name: "debian-security", uri: `${M}/debian-security`, suites: ["bookworm-security"], components: ["main"], signedBy: "/usr/share/keyrings/debian-archive-keyring.gpg" },
    ]);
  });
  it("keeps an inline key as the Signed-By value", () => {
    const [a] = parseDeb822Sources(`Types: deb\nURIs: ${M}/x/debian\nSuites: s\nComponents: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n -----END PGP PUBLIC KEY BLOCK-----\n`);
    expect(a!.signedBy).toBe("\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----");
  });
  it("names archives by the last segment of their URI", () => {
    expect(archiveName(`${M}/debian`)).toBe("debian");
    expect(archiveName(`${M}/pub/debian-security/`)).toBe("debian-security");
    expect(archiveName("file:/srv/repo")).toBe("repo");
    expect(() => archiveName(M)).toThrow(DebianError);
  });
});

describe("one-line sources", () => {
  it("reads deb lines with options, one suite per line, merging the same URI", () => {
    const text = [
      `deb [arch=amd64 signed-by=/k.gpg] ${M}/debian bookworm main`,
      `deb [ signed-by=/k.gpg ] ${M}/debian bookworm-updates main contrib # trailing comment`,
      `deb-src ${M}/debian bookworm main`,
      `# deb ${M}/commented bookworm main`,
      `deb ${M}/debian-security bookworm-security main`,
    ].join("\n");
    expect(parseLegacySources(text)).toEqual([
      { name: "debian", uri: `${M}/debian`, suites: ["bookworm", "bookworm-updates"], components: ["main", "contrib"], signedBy: "/k.gpg" },
      { name: "debian-security", uri: `${M}/debian-security`, suites: ["bookworm-security"], components: ["main"] },
    ]);
  });
});

describe("readArchives", () => {
  const dir = mkdtempSync(join(tmpdir(), "caisson-sources-"));
  const saved = process.env[SOURCES_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[SOURCES_ENV];
    else process.env[SOURCES_ENV] = saved;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads only the given deb822 file, or the one $CAISSON_DEBIAN_SOURCES names", async () => {
    const a = join(dir, "a.sources");
    const b = join(dir, "b.sources");
    writeFileSync(a, `Types: deb\nURIs: ${M}/a/debian\nSuites: s\nComponents: main\n`);
    writeFileSync(b, `Types: deb\nURIs: ${M}/b/debian-security\nSuites: s-security\nComponents: main\n`);
    expect((await readArchives(a)).map((x) => x.uri)).toEqual([`${M}/a/debian`]);
    process.env[SOURCES_ENV] = b;
    expect((await readArchives()).map((x) => x.name)).toEqual(["debian-security"]);
    expect((await readArchives(a)).map((x) => x.name)).toEqual(["debian"]);
  });
  it("reads a one-line file when its name ends in .list", async () => {
    const l = join(dir, "x.list");
    writeFileSync(l, `deb ${M}/debian bookworm main\n`);
    expect((await readArchives(l)).map((x) => x.suites)).toEqual([["bookworm"]]);
  });
  it("fails for a missing file or one without deb archives", async () => {
    await expect(readArchives(join(dir, "nope.sources"))).rejects.toThrow(/does not exist/);
    const e = join(dir, "empty.sources");
    writeFileSync(e, `Types: deb-src\nURIs: ${M}/debian\nSuites: s\nComponents: main\n`);
    await expect(readArchives(e)).rejects.toThrow(/no enabled "deb" archive/);
  });
  it("refuses a FIFO or a directory by path, without blocking on it", async () => {
    const fifo = join(dir, "fifo.sources");
    execFileSync("mkfifo", [fifo]);
    const folder = join(dir, "folder.sources");
    mkdirSync(folder);
    await expect(readArchives(fifo)).rejects.toThrow(DebianError);
    await expect(readArchives(fifo)).rejects.toThrow(/cannot read the apt sources file .*fifo\.sources: is not a regular file/);
    process.env[SOURCES_ENV] = fifo;
    await expect(readArchives()).rejects.toThrow(/fifo\.sources: is not a regular file/);
    await expect(readArchives(folder)).rejects.toThrow(/cannot read the apt sources file .*folder\.sources: is a directory/);
  }, 5_000);
});

describe("apt output parsers", () => {
  it("parses Inst lines (upgrades, foreign architectures, trailing []) and Remv lines", () => {
    const text = [
      "NOTE: This is only a simulation!",
      "Inst libgcc-s1 (12.2.0-14+deb12u1 Debian:12.15/oldstable [amd64]) []",
      "Inst libc6:arm64 (2.36-9+deb12u14 Debian:12.15/oldstable [arm64])",
      "Inst tzdata [2025b-0+deb12u1] (2026f-0+deb12u1 Debian-Security:12/oldstable-security [all])",
      "Remv foo [1.0]",
      "Conf libc6:arm64 (2.36-9+deb12u14 Debian:12.15/oldstable [arm64])",
    ].join("\n");
    expect(parseSimulation(text)).toEqual({
      install: [
        { name: "libgcc-s1", arch: "amd64", version: "12.2.0-14+deb12u1" },
        { name: "libc6", arch: "arm64", version: "2.36-9+deb12u14" },
        { name: "tzdata", arch: "all", version: "2026f-0+deb12u1", old: "2025b-0+deb12u1" },
      ],
      remove: ["foo"],
    });
  });
  it("decodes print-uris URIs and finds their archive by the longest URI prefix", () => {
    const uris = parsePrintUris(`'${M}/debian/pool/main/g/gcc-12/libstdc%2b%2b6_12.2.0-14%2bdeb12u1_amd64.deb' libstdc++6_12.2.0-14+deb12u1_amd64.deb 612604 MD5Sum:d5a1\n'${M}/debian-security/pool/updates/main/z/zlib/zlib1g_1.2.13.dfsg-1%2bdeb12u1_amd64.deb' zlib1g_1%3a1.2.13.dfsg-1+deb12u1_amd64.deb 86880 \n`);
    expect(uris).toEqual([`${M}/debian/pool/main/g/gcc-12/libstdc++6_12.2.0-14+deb12u1_amd64.deb`, `${M}/debian-security/pool/updates/main/z/zlib/zlib1g_1.2.13.dfsg-1+deb12u1_amd64.deb`]);
    const archives = parseDeb822Sources(`Types: deb\nURIs: ${M}/debian ${M}/debian-security\nSuites: s\nComponents: main\n`);
    expect(archiveOf(archives, uris[1]!)).toEqual({ archive: archives[1], path: "pool/updates/main/z/zlib/zlib1g_1.2.13.dfsg-1+deb12u1_amd64.deb" });
    expect(archiveOf(archives, "http://elsewhere.invalid/debian/pool/x.deb")).toBeUndefined();
  });
  it("parses apt-cache policy: candidate and the sources of each version", () => {
    const text = `make:
  Installed: (none)
  Candidate: 4.3-4.1
  Version table:
     4.3-4.1 500
        500 ${M}/debian bookworm/main amd64 Packages
libc6:arm64:
  Installed: 2.36-9+deb12u7
  Candidate: 2.36-9+deb12u14
  Version table:
     2.36-9+deb12u14 500
        500 ${M}/debian-security bookworm-security/main arm64 Packages
 *** 2.36-9+deb12u7 100
        100 /var/lib/dpkg/status
ghost:
  Installed: (none)
  Candidate: (none)
  Version table:
`;
    const p = parsePolicy(text);
    expect(p.get("make")).toEqual({ candidate: "4.3-4.1", versions: [{ version: "4.3-4.1", sources: [{ uri: `${M}/debian`, suite: "bookworm" }] }] });
    expect(p.get("libc6:arm64")?.versions.map((v) => v.version)).toEqual(["2.36-9+deb12u14", "2.36-9+deb12u7"]);
    expect(p.get("libc6:arm64")?.versions[0]!.sources[0]!.suite).toBe("bookworm-security");
    expect(p.get("ghost")?.candidate).toBeUndefined();
  });
  it("renders a Packages paragraph as an installed status paragraph", () => {
    const [q] = parseParagraphs(`\nPackage: make\nSource: make-dfsg\nVersion: 4.3-4.1\nArchitecture: amd64\nDepends: libc6 (>= 2.27)\nDescription: utility for directing compilation\nDescription-md5: 3ef1\nTag: devel::buildtools,\n role::program\nFilename: pool/main/m/make-dfsg/make_4.3-4.1_amd64.deb\nSize: 395632\nMD5sum: ad23\nSHA256: a1a8\n\n`);
    expect(q!.get("sha256")).toBe("a1a8");
    expect(q!.get("Package")).toBe("make");
    expect(statusParagraph(q!.text)).toBe(
      "Package: make\nStatus: install ok installed\nSource: make-dfsg\nVersion: 4.3-4.1\nArchitecture: amd64\nDepends: libc6 (>= 2.27)\nDescription: utility for directing compilation\nTag: devel::buildtools,\n role::program",
    );
  });
  it("accepts package requests as users write them, nothing else", () => {
    expect(parseRequest("libc6:arm64=2.36-9+deb12u14")).toEqual({ name: "libc6", arch: "arm64", version: "2.36-9+deb12u14" });
    expect(parseRequest("gcc=4:12.2.0-3")).toEqual({ name: "gcc", version: "4:12.2.0-3" });
    expect(parseRequest("g++")).toEqual({ name: "g++" });
    for (const bad of ["-o", "make=", "Make", "make:arm64:x", "make;rm"]) expect(() => parseRequest(bad)).toThrow(DebianError);
  });
  it("writes one sources.list line per suite with signed-by", () => {
    const archives = parseDeb822Sources(`Types: deb\nURIs: ${M}/debian\nSuites: a b\nComponents: main contrib\nSigned-By: /k.gpg\n`);
    expect(sourcesList(archives, (a) => a.signedBy)).toBe(`deb [signed-by=/k.gpg] ${M}/debian a main contrib\ndeb [signed-by=/k.gpg] ${M}/debian b main contrib\n`);
  });
  it("names the archive and suite of a Release that fails verification", () => {
    const archives = parseDeb822Sources(`Types: deb\nURIs: ${M}/debian\nSuites: stable\nComponents: main\n`);
    const out = `W: GPG error: ${M}/debian stable InRelease: The following signatures were invalid: BADSIG 0123 test\nE: The repository '${M}/debian stable InRelease' is not signed.\n`;
    expect(signatureFailure(out, archives)).toBe('apt-get update: the Release file of archive "debian" suite stable failed signature verification: The following signatures were invalid: BADSIG 0123 test');
    expect(signatureFailure("Hit:1 x\nReading package lists...\n", archives)).toBeUndefined();
  });
});
