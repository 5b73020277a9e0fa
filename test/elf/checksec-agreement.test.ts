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
import { DF_1_NOW, DT, PF, PT } from "../../src/elf/constants.js";
import { FORTIFIABLE, analyzeElf, parseElf, reportOf } from "../../src/elf/index.js";
import type { ElfFile, ElfReport } from "../../src/elf/index.js";
import {
  IN_CI,
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
  /** True when the disagreement on this file is due to `reason`. */
  readonly applies: (elf: ElfFile, r: ElfReport, checksec: ChecksecJson) => boolean;
}

/**
 * Known disagreements of report.checksec with checksec itself. Empty: the
 * mirror reproduces checksec on every file of the corpus. Add an entry (with
 * a predicate that proves the cause) rather than loosening the comparison.
 */
const COMPAT_EXCEPTIONS: readonly Exception[] = [];

const dynHas = (elf: ElfFile, tag: number): boolean => elf.dynamic.some((e) => e.tag === tag);
const flags1 = (elf: ElfFile): bigint => elf.dynamic.find((e) => e.tag === DT.FLAGS_1)?.value ?? 0n;

/** Where caisson's semantic verdict differs from checksec on purpose (docs/elf.md). */
const SEMANTIC_DIFFERENCES: readonly Exception[] = [
  {
    // readelf -s without -D prints nothing when there are no section headers,
    // so checksec sees no symbols at all; we read .dynsym via DT_SYMTAB.
    reason: "no section headers: checksec (readelf -s) sees no dynamic symbols",
    property: "canary",
    applies: (elf) => elf.dynsymFromSegment,
  },
  {
    reason: "no section headers: checksec (readelf --dyn-syms) sees no dynamic symbols",
    property: "fortify",
    applies: (elf) => elf.dynsymFromSegment,
  },
  {
    // checksec calls an ET_DYN "PIE" iff `readelf -d` mentions DEBUG (DT_DEBUG).
    // Executable shared objects (libc.so.6 has PT_INTERP) and PIEs linked
    // without DT_DEBUG are PIEs to us; DT_DEBUG-carrying non-PIEs are DSOs.
    reason: "checksec decides PIE by DT_DEBUG, we by DF_1_PIE / PT_INTERP",
    property: "pie",
    applies: (elf, r) => r.type === "DYN" && r.pie !== dynHas(elf, DT.DEBUG),
  },
  {
    // Full RELRO needs BIND_NOW; checksec greps "BIND_NOW", which readelf
    // prints for DT_BIND_NOW and DF_BIND_NOW but not for DF_1_NOW ("NOW").
    reason: "bind-now only via DF_1_NOW in DT_FLAGS_1, which checksec does not see",
    property: "relro",
    applies: (elf, r) => r.relro === "full" && (flags1(elf) & BigInt(DF_1_NOW)) !== 0n,
  },
  {
    // checksec treats the stack as executable only when GNU_STACK is exactly RWE.
    reason: "PT_GNU_STACK executable but not RWE, which checksec counts as NX",
    property: "nx",
    applies: (elf) =>
      elf.programHeaders.some((p) => p.type === PT.GNU_STACK && (p.flags & PF.X) !== 0 && p.flags !== (PF.R | PF.W | PF.X)),
  },
  {
    // checksec says FORTIFY "yes" when any dynamic symbol ends in _chk,
    // including ones the file defines (libc itself, libraries exporting
    // foo_chk). We count only imported __X_chk with X a libc function.
    reason: "checksec counts any *_chk dynamic symbol, we only imported libc __X_chk",
    property: "fortify",
    applies: (elf, r) =>
      r.fortify.fortified.length === 0 &&
      (elf.dynsym ?? []).some((s) => s.name.split("@")[0]?.endsWith("_chk") === true),
  },
  {
    reason: "checksec matches canary names as substrings (e.g. __stack_chk_fail_xyz)",
    property: "canary",
    applies: (elf, r) =>
      !r.canary &&
      [...(elf.dynsym ?? []), ...(elf.symtab ?? [])].some((s) =>
        /__stack_chk_fail|__stack_chk_guard|__intel_security_cookie/.test(s.name),
      ),
  },
];

describe.skipIf(!haveTools && !IN_CI)("agreement with Debian checksec", () => {
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
    const toolchains = TOOLCHAINS.filter((t) => t.arch === "amd64" || haveCross);
    const fixtures = compileFixtures(toolchains);
    fixtureDir = fixtures.dir;
    files = [...systemCorpus(), ...fixtures.files];
    fortifiable = hostLibcFortifiable();
    const t0 = performance.now();
    checksec = await runChecksec(files);
    checksecMs = performance.now() - t0;
  }, 900_000);

  it("has the arm64 cross compiler (required under CI)", () => {
    if (!haveCross) {
      const msg = "aarch64-linux-gnu-gcc missing: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross";
      if (IN_CI) throw new Error(msg);
      console.warn(`${msg}; arm64 fixtures skipped`);
    }
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
        const ex = COMPAT_EXCEPTIONS.find((e) => e.property === p && e.applies(elf, r, c));
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
  });

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
        const ex = SEMANTIC_DIFFERENCES.find((e) => e.property === p && e.applies(elf, r, c));
        if (ex === undefined) unexplained.push(`${f}: ${p}: ours ${a[p]}, checksec ${b[p]}`);
        else byReason.set(ex.reason, [...(byReason.get(ex.reason) ?? []), basename(f)]);
      }
    }
    console.log(`semantic verdicts equal to checksec: ${same}/${files.length * 7}`);
    for (const [reason, fs] of byReason) {
      console.log(`  ${fs.length} × ${reason}: ${fs.slice(0, 5).join(", ")}${fs.length > 5 ? ", …" : ""}`);
    }
    expect(unexplained).toEqual([]);
  });

  it("compiled fixtures carry exactly the mitigations they were built with", () => {
    const fixture = (name: string): ElfReport | undefined => {
      const f = files.find((p) => basename(p) === name);
      return f === undefined ? undefined : analyzeElf(readFileSync(f), name);
    };
    for (const arch of TOOLCHAINS.filter((t) => t.arch === "amd64" || haveCross).map((t) => t.arch)) {
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
  });
});
