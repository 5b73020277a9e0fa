// Agreement with Debian's checksec 2.6.0 on a corpus of system files and of
// binaries compiled with and without each mitigation (amd64 and arm64).
//
// Two comparisons:
//  1. report.checksec (our mirror of checksec's rules) must equal checksec's
//     JSON on RELRO, canary, NX, PIE, FORTIFY, RPATH, RUNPATH for every file,
//     except the cases in COMPAT_EXCEPTIONS.
//  2. caisson's own verdicts (decided on ELF semantics) may differ from
//     checksec only where a SEMANTIC_DIFFERENCES predicate proves the reason.

import { readFileSync, rmSync } from "node:fs";
import { basename } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DT } from "../../src/elf/constants.js";
import { FORTIFIABLE, analyzeElf, parseElf, reportOf } from "../../src/elf/index.js";
import type { ElfFile, ElfReport } from "../../src/elf/index.js";
import {
  TOOLCHAINS,
  compileFixtures,
  hasCommand,
  hostLibcFortifiable,
  runChecksec,
  systemCorpus,
} from "./corpus.js";
import type { ChecksecJson } from "./corpus.js";

const PROPERTIES = ["relro", "canary", "nx", "pie", "fortify", "rpath", "runpath"] as const;
type Property = (typeof PROPERTIES)[number];
type Verdicts = Record<Property, string>;

const haveTools = hasCommand("checksec") && hasCommand("readelf") && hasCommand("gcc");
const haveCross = hasCommand("aarch64-linux-gnu-gcc");

function theirs(c: ChecksecJson): Verdicts {
  return {
    relro: c.relro,
    canary: c.canary,
    nx: c.nx,
    pie: c.pie,
    fortify: `${c.fortify_source}/${c.fortified}/${c["fortify-able"]}`,
    rpath: c.rpath,
    runpath: c.runpath,
  };
}

function oursCompat(r: ElfReport): Verdicts {
  const c = r.checksec;
  return {
    relro: c.relro,
    canary: c.canary,
    nx: c.nx,
    pie: c.pie,
    fortify: `${c.fortifySource}/${c.fortified}/${c.fortifiable}`,
    rpath: c.rpath,
    runpath: c.runpath,
  };
}

const yn = (b: boolean): string => (b ? "yes" : "no");

/** caisson's semantic verdicts in checksec's vocabulary (FORTIFY: yes/no only). */
function oursSemantic(r: ElfReport): Verdicts {
  return {
    relro: r.relro === "none" ? "no" : r.relro,
    canary: yn(r.canary),
    nx: yn(r.nx),
    pie: r.type === "EXEC" ? "no" : r.type === "DYN" ? (r.pie ? "yes" : "dso") : r.type === "REL" ? "rel" : "not_elf",
    fortify: yn(r.fortify.fortified.length > 0),
    rpath: yn(r.rpath.some((p) => p !== "")),
    runpath: yn(r.runpath.some((p) => p !== "")),
  };
}

interface Exception {
  /** Why checksec and we legitimately disagree; printed in the summary. */
  readonly reason: string;
  readonly property: Property;
  /** The files (base names) it excuses: an exception covers no file it does not name. */
  readonly files: readonly string[];
  /** The one disagreement it excuses on them: our verdict and checksec's. */
  readonly ours: string;
  readonly theirs: string;
  /** True when the disagreement on this file is due to `reason` (the cause, checked on the file itself). */
  readonly applies: (elf: ElfFile, r: ElfReport, checksec: ChecksecJson) => boolean;
  /** Files it must excuse on every run (compiled fixtures): an exception that stops firing is stale. */
  readonly required?: readonly string[];
}

/** The exception that excuses `ours` vs `theirs` on `property` of `file`, if any. */
function excuse(list: readonly Exception[], file: string, property: Property, ours: string, theirs: string, elf: ElfFile, r: ElfReport, c: ChecksecJson) {
  const name = basename(file);
  return list.find((e) => e.property === property && e.files.includes(name) && e.ours === ours && e.theirs === theirs && e.applies(elf, r, c));
}

/**
 * Known disagreements of report.checksec with checksec itself. Empty: the
 * mirror reproduces checksec on every file of the corpus. Add an entry (with
 * the file, the two verdicts and a predicate that proves the cause) rather
 * than loosening the comparison.
 */
const COMPAT_EXCEPTIONS: readonly Exception[] = [];

const dynHas = (elf: ElfFile, tag: number): boolean => elf.dynamic.some((e) => e.tag === tag);

const NO_SHDR = ["amd64-no-section-headers", "arm64-no-section-headers"];

/** Where caisson's semantic verdict differs from checksec on purpose (docs/elf.md), file by file. */
const SEMANTIC_DIFFERENCES: readonly Exception[] = [
  {
    // readelf -s without -D prints nothing when there are no section headers,
    // so checksec sees no symbols at all; we read .dynsym via DT_SYMTAB.
    reason: "no section headers: checksec (readelf -s) sees no dynamic symbols",
    property: "canary",
    files: NO_SHDR,
    required: NO_SHDR,
    ours: "yes",
    theirs: "no",
    applies: (elf) => elf.dynsymFromSegment,
  },
  {
    reason: "no section headers: checksec (readelf --dyn-syms) sees no dynamic symbols",
    property: "fortify",
    files: NO_SHDR,
    required: NO_SHDR,
    ours: "yes",
    theirs: "no",
    applies: (elf) => elf.dynsymFromSegment,
  },
  {
    // checksec calls an ET_DYN "PIE" iff `readelf -d` mentions DEBUG (DT_DEBUG).
    // libc.so.6 is an executable shared object (it has PT_INTERP) without DT_DEBUG:
    // a PIE to us, a DSO to checksec.
    reason: "checksec decides PIE by DT_DEBUG, we by DF_1_PIE / PT_INTERP",
    property: "pie",
    files: ["libc.so.6"],
    ours: "yes",
    theirs: "dso",
    applies: (elf, r) => r.type === "DYN" && r.pie && !dynHas(elf, DT.DEBUG) && r.interpreter !== undefined,
  },
  {
    // checksec says FORTIFY "yes" when any dynamic symbol ends in _chk,
    // including ones the file defines (libc itself, the sanitizer runtime
    // exporting its interceptors). We count only imported __X_chk with X a libc function.
    reason: "checksec counts any *_chk dynamic symbol, we only imported libc __X_chk",
    property: "fortify",
    files: ["libc.so.6", "libasan.so.8.0.0", "libasan.so.8"],
    ours: "no",
    theirs: "yes",
    applies: (elf, r) =>
      r.fortify.fortified.length === 0 &&
      (elf.dynsym ?? []).some((s) => s.name.split("@")[0]?.endsWith("_chk") === true && s.shndx !== 0),
  },
];

// Never skipped: without checksec, binutils, gcc and the arm64 cross compiler the test fails, saying what to install.
describe("agreement with Debian checksec", () => {
  let files: string[] = [];
  let checksec = new Map<string, ChecksecJson>();
  let checksecMs = 0;
  let fortifiable: string[] = [];
  let fixtureDir: string | undefined;

  afterAll(() => {
    if (fixtureDir !== undefined) rmSync(fixtureDir, { recursive: true, force: true });
  });

  beforeAll(async () => {
    if (!haveTools) throw new Error("checksec, readelf and gcc are required (apt-get install checksec binutils gcc)");
    if (!haveCross) throw new Error("aarch64-linux-gnu-gcc is required for the arm64 fixtures (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)");
    const toolchains = TOOLCHAINS;
    const fixtures = compileFixtures(toolchains);
    fixtureDir = fixtures.dir;
    files = [...systemCorpus(), ...fixtures.files];
    fortifiable = hostLibcFortifiable();
    const t0 = performance.now();
    checksec = await runChecksec(files);
    checksecMs = performance.now() - t0;
  }, 900_000);

  it("the corpus has the amd64 and the arm64 fixtures", () => {
    for (const arch of ["amd64", "arm64"]) expect(files.filter((f) => basename(f).startsWith(`${arch}-`)).length, arch).toBeGreaterThan(10);
  });

  it("the built-in fortifiable list covers the host libc's __*_chk functions", () => {
    const builtIn = new Set(FORTIFIABLE);
    expect(fortifiable.filter((f) => !builtIn.has(f)), "update src/elf/fortify-list.ts").toEqual([]);
  });

  it("report.checksec agrees with checksec on every file × 7 properties", () => {
    expect(checksec.size, "checksec reported on every file").toBe(files.length);
    const mismatches: string[] = [];
    const explained = new Map<string, number>();
    let agreedFiles = 0;
    let agreedVerdicts = 0;
    let oursMs = 0;
    for (const f of files) {
      const c = checksec.get(f);
      if (c === undefined) continue;
      const t0 = performance.now();
      const bytes = readFileSync(f);
      const elf = parseElf(bytes);
      const r = reportOf(elf, f, { fortifiable });
      oursMs += performance.now() - t0;
      const a = oursCompat(r);
      const b = theirs(c);
      let fileOk = true;
      for (const p of PROPERTIES) {
        if (a[p] === b[p]) {
          agreedVerdicts++;
          continue;
        }
        fileOk = false;
        const ex = excuse(COMPAT_EXCEPTIONS, f, p, a[p], b[p], elf, r, c);
        if (ex !== undefined) explained.set(ex.reason, (explained.get(ex.reason) ?? 0) + 1);
        else mismatches.push(`${f}: ${p}: ours ${a[p]}, checksec ${b[p]}`);
      }
      if (fileOk) agreedFiles++;
    }
    console.log(
      `agreed on ${agreedFiles}/${files.length} files × 7 properties ` +
        `(${agreedVerdicts}/${files.length * 7} verdicts); ` +
        `caisson ${oursMs.toFixed(0)} ms vs checksec ${checksecMs.toFixed(0)} ms wall (4 parallel batches)`,
    );
    for (const [reason, n] of explained) console.log(`  explained (${n}): ${reason}`);
    expect(mismatches).toEqual([]);
  }, 120_000);

  it("caisson's own verdicts differ from checksec only for documented reasons", () => {
    const unexplained: string[] = [];
    const byReason = new Map<string, string[]>();
    let same = 0;
    for (const f of files) {
      const c = checksec.get(f);
      if (c === undefined) continue;
      const elf = parseElf(readFileSync(f));
      const r = reportOf(elf, f, { fortifiable });
      const a = oursSemantic(r);
      const b = theirs(c);
      b.fortify = c.fortify_source;
      for (const p of PROPERTIES) {
        if (a[p] === b[p]) {
          same++;
          continue;
        }
        const ex = excuse(SEMANTIC_DIFFERENCES, f, p, a[p], b[p], elf, r, c);
        if (ex === undefined) unexplained.push(`${f}: ${p}: ours ${a[p]}, checksec ${b[p]}`);
        else byReason.set(`${ex.property}: ${ex.reason}`, [...(byReason.get(`${ex.property}: ${ex.reason}`) ?? []), basename(f)]);
      }
    }
    console.log(`semantic verdicts equal to checksec: ${same}/${files.length * 7}`);
    for (const [reason, fs] of byReason) {
      console.log(`  ${fs.length} × ${reason}: ${fs.slice(0, 5).join(", ")}${fs.length > 5 ? ", …" : ""}`);
    }
    expect(unexplained).toEqual([]);
    // The fixtures' exceptions fire on exactly the files they name, every run.
    for (const e of SEMANTIC_DIFFERENCES.filter((x) => x.required)) {
      expect((byReason.get(`${e.property}: ${e.reason}`) ?? []).sort(), e.reason).toEqual([...(e.required ?? [])].sort());
    }
  }, 120_000);

  it("compiled fixtures carry exactly the mitigations they were built with", () => {
    const fixture = (name: string): ElfReport | undefined => {
      const f = files.find((p) => basename(p) === name);
      return f === undefined ? undefined : analyzeElf(readFileSync(f), name);
    };
    for (const arch of TOOLCHAINS.map((t) => t.arch)) {
      const h = fixture(`${arch}-hardened`);
      expect(h).toMatchObject({ pie: true, relro: "full", canary: true, nx: true, linking: "dynamic", stripped: false });
      expect(h?.fortify.fortified).toEqual(expect.arrayContaining(["printf", "snprintf", "strcpy"]));
      expect(h?.machine).toBe(arch === "amd64" ? "x86_64" : "aarch64");
      expect(fixture(`${arch}-no-pie`)).toMatchObject({ pie: false, type: "EXEC" });
      expect(fixture(`${arch}-norelro`)?.relro).toBe("none");
      expect(fixture(`${arch}-lazy`)?.relro).toBe("partial");
      expect(fixture(`${arch}-no-canary`)?.canary).toBe(false);
      expect(fixture(`${arch}-execstack`)?.nx).toBe(false);
      expect(fixture(`${arch}-no-fortify`)?.fortify).toMatchObject({ assessed: true, fortified: [] });
      expect(fixture(`${arch}-no-fortify`)?.fortify.unfortified).toEqual(expect.arrayContaining(["printf", "snprintf", "strcpy"]));
      expect(fixture(`${arch}-rpath`)).toMatchObject({ rpath: ["/opt/caisson/lib:$ORIGIN/../lib"], runpath: [] });
      expect(fixture(`${arch}-runpath`)).toMatchObject({ rpath: [], runpath: ["/opt/caisson/lib"] });
      expect(fixture(`${arch}-static`)).toMatchObject({ linking: "static", pie: false, interpreter: undefined, needed: [] });
      expect(fixture(`${arch}-static-pie`)).toMatchObject({ linking: "static-pie", pie: true, interpreter: undefined });
      expect(fixture(`${arch}-shared-lib.so`)).toMatchObject({ pie: false, sharedLibrary: true, type: "DYN" });
      expect(fixture(`${arch}-object.o`)).toMatchObject({ type: "REL", linking: "none" });
      const noShdr = fixture(`${arch}-no-section-headers`);
      expect(noShdr?.symbols.dynsym).toBe(h?.symbols.dynsym);
      expect(noShdr?.fortify).toEqual(h?.fortify);
      expect(noShdr?.canary).toBe(true);
      expect(noShdr?.checksec.canary).toBe("no"); // readelf -s shows nothing without section headers
    }
  }, 120_000);
});
