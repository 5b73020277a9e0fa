// ElfReport: the hardening properties of one ELF file, decided on ELF
// semantics (dynamic tags, segment flags, symbols, GNU properties). The
// checksec-compatible verdicts ride along in `checksec` (see checksec.ts).

import {
  DF_1_NOW,
  DF_1_PIE,
  DF_BIND_NOW,
  DT,
  EM,
  ET,
  GNU_PROPERTY_AARCH64_FEATURE_1_AND,
  GNU_PROPERTY_AARCH64_FEATURE_1_BTI,
  GNU_PROPERTY_AARCH64_FEATURE_1_PAC,
  GNU_PROPERTY_X86_FEATURE_1_AND,
  GNU_PROPERTY_X86_FEATURE_1_IBT,
  GNU_PROPERTY_X86_FEATURE_1_SHSTK,
  PF,
  PT,
  SHN_UNDEF,
  machineName,
} from "./constants.js";
import { checksecReport } from "./checksec.js";
import type { ChecksecOptions, ChecksecReport } from "./checksec.js";
import { FORTIFIABLE } from "./fortify-list.js";
import { parseElf } from "./parse.js";
import type { ElfFile } from "./parse.js";

export type ElfType = "NONE" | "REL" | "EXEC" | "DYN" | "CORE" | `unknown(${number})`;

/** How the file gets its code at run time. */
export type Linking =
  | "dynamic" // has PT_INTERP (or is a shared library with PT_DYNAMIC)
  | "static" // no PT_DYNAMIC and no PT_INTERP
  | "static-pie" // ET_DYN with DF_1_PIE and no PT_INTERP: self-relocating
  | "none"; // REL / CORE: not a loadable program

export interface ElfReport {
  readonly name: string | undefined;
  readonly elfClass: 32 | 64;
  readonly endianness: "little" | "big";
  readonly type: ElfType;
  /** Architecture name from e_machine: x86_64, aarch64, arm, i386, riscv64, ppc64, s390x, … */
  readonly machine: string;
  readonly interpreter: string | undefined;
  readonly linking: Linking;
  /** ET_DYN with DF_1_PIE, or ET_DYN with PT_INTERP. */
  readonly pie: boolean;
  /**
   * A shared library: ET_DYN that is not a PIE, or that has a DT_SONAME and no
   * DF_1_PIE (libc.so.6 is both: it has PT_INTERP so it can run).
   */
  readonly sharedLibrary: boolean;
  readonly relro: "none" | "partial" | "full";
  /** DT_BIND_NOW, DF_BIND_NOW in DT_FLAGS, or DF_1_NOW in DT_FLAGS_1. */
  readonly bindNow: boolean;
  /** A stack-protector symbol (__stack_chk_fail[_local], __stack_chk_guard, __intel_security_cookie) is present. */
  readonly canary: boolean;
  /** PT_GNU_STACK present and without PF_X. */
  readonly nx: boolean;
  readonly fortify: FortifyReport;
  readonly rpath: readonly string[];
  readonly runpath: readonly string[];
  readonly needed: readonly string[];
  readonly soname: string | undefined;
  /** No .symtab. */
  readonly stripped: boolean;
  readonly symbols: { readonly symtab: number; readonly dynsym: number };
  /** x86 CET from GNU_PROPERTY_X86_FEATURE_1_AND; undefined for other machines. */
  readonly cet: { readonly ibt: boolean; readonly shstk: boolean } | undefined;
  /** AArch64 GNU_PROPERTY_AARCH64_FEATURE_1_AND; undefined for other machines. */
  readonly aarch64: { readonly bti: boolean; readonly pac: boolean } | undefined;
  readonly buildId: string | undefined;
  /** What Debian's checksec 2.6.0 reports for this file. */
  readonly checksec: ChecksecReport;
}

export interface FortifyReport {
  /** False when there are no imported symbols to judge by (static binaries). */
  readonly assessed: boolean;
  /** Base names X of the `__X_chk` functions imported, sorted. */
  readonly fortified: readonly string[];
  /** Fortifiable libc functions imported in their plain form, sorted. */
  readonly unfortified: readonly string[];
}

export interface AnalyzeOptions extends ChecksecOptions {}

/** Parses and analyzes one ELF file. Throws ElfError (only) on malformed input. */
export function analyzeElf(bytes: Uint8Array, name?: string, options: AnalyzeOptions = {}): ElfReport {
  return reportOf(parseElf(bytes), name, options);
}

/** The report for an already parsed file. */
export function reportOf(elf: ElfFile, name?: string, options: AnalyzeOptions = {}): ElfReport {
  const { header } = elf;
  const hasPhdr = (t: number): boolean => elf.programHeaders.some((p) => p.type === t);
  const dynVals = (tag: number): bigint[] => elf.dynamic.filter((e) => e.tag === tag).map((e) => e.value);
  const dynStrs = (tag: number): string[] =>
    elf.dynamic.filter((e) => e.tag === tag).flatMap((e) => elf.dynString(e) ?? []);
  const anyBit = (tag: number, bit: number): boolean => dynVals(tag).some((v) => (v & BigInt(bit)) !== 0n);

  const isDyn = header.type === ET.DYN;
  const hasInterp = elf.interpreter !== undefined;
  const pieFlag = anyBit(DT.FLAGS_1, DF_1_PIE);
  const pie = isDyn && (pieFlag || hasInterp);

  let linking: Linking;
  if (header.type !== ET.EXEC && header.type !== ET.DYN) linking = "none";
  else if (hasInterp) linking = "dynamic";
  else if (isDyn && pieFlag) linking = "static-pie";
  else if (!hasPhdr(PT.DYNAMIC)) linking = "static";
  else linking = "dynamic";

  const bindNow = dynVals(DT.BIND_NOW).length > 0 || anyBit(DT.FLAGS, DF_BIND_NOW) || anyBit(DT.FLAGS_1, DF_1_NOW);
  const relro = !hasPhdr(PT.GNU_RELRO) ? "none" : bindNow ? "full" : "partial";

  const allSyms = [...(elf.dynsym ?? []), ...(elf.symtab ?? [])];
  const canary = allSyms.some((s) => CANARY_SYMBOLS.has(stripVersion(s.name)));

  const stacks = elf.programHeaders.filter((p) => p.type === PT.GNU_STACK);
  const nx = stacks.length > 0 && stacks.every((p) => (p.flags & PF.X) === 0);

  const fortify = fortifyOf(elf, options.fortifiable ?? FORTIFIABLE);

  const prop = (type: number): number | undefined => {
    let v: number | undefined;
    for (const p of elf.gnuProperties) if (p.type === type) v = p.value ?? 0;
    return v;
  };
  let cet: ElfReport["cet"];
  let aarch64: ElfReport["aarch64"];
  if (header.machine === EM.X86_64 || header.machine === EM.I386) {
    const f = prop(GNU_PROPERTY_X86_FEATURE_1_AND) ?? 0;
    cet = { ibt: (f & GNU_PROPERTY_X86_FEATURE_1_IBT) !== 0, shstk: (f & GNU_PROPERTY_X86_FEATURE_1_SHSTK) !== 0 };
  } else if (header.machine === EM.AARCH64) {
    const f = prop(GNU_PROPERTY_AARCH64_FEATURE_1_AND) ?? 0;
    aarch64 = {
      bti: (f & GNU_PROPERTY_AARCH64_FEATURE_1_BTI) !== 0,
      pac: (f & GNU_PROPERTY_AARCH64_FEATURE_1_PAC) !== 0,
    };
  }

  return {
    name,
    elfClass: header.elfClass,
    endianness: header.endianness,
    type: elfType(header.type),
    machine: machineName(header.machine, header.elfClass),
    interpreter: elf.interpreter,
    linking,
    pie,
    sharedLibrary: isDyn && (!pie || (!pieFlag && dynStrs(DT.SONAME).length > 0)),
    relro,
    bindNow,
    canary,
    nx,
    fortify,
    rpath: dynStrs(DT.RPATH),
    runpath: dynStrs(DT.RUNPATH),
    needed: dynStrs(DT.NEEDED),
    soname: dynStrs(DT.SONAME)[0],
    stripped: elf.symtab === undefined,
    symbols: { symtab: elf.symtab?.length ?? 0, dynsym: elf.dynsym?.length ?? 0 },
    cet,
    aarch64,
    buildId: elf.buildId,
    checksec: checksecReport(elf, options),
  };
}

const CANARY_SYMBOLS: ReadonlySet<string> = new Set([
  "__stack_chk_fail",
  "__stack_chk_fail_local",
  "__stack_chk_guard",
  "__intel_security_cookie",
]);

function stripVersion(name: string): string {
  const at = name.indexOf("@");
  return at < 0 ? name : name.slice(0, at);
}

function fortifyOf(elf: ElfFile, list: readonly string[]): FortifyReport {
  const base = new Set(list);
  const imported = (elf.dynsym ?? []).filter((s) => s.shndx === SHN_UNDEF && s.name !== "").map((s) => s.name);
  const fortified = new Set<string>();
  const unfortified = new Set<string>();
  for (const n of imported) {
    const m = /^__(.+)_chk$/.exec(n);
    if (m?.[1] !== undefined && base.has(m[1])) fortified.add(m[1]);
    else if (base.has(n)) unfortified.add(n);
  }
  return {
    assessed: imported.length > 0,
    fortified: [...fortified].sort(),
    unfortified: [...unfortified].sort(),
  };
}

function elfType(t: number): ElfType {
  switch (t) {
    case ET.NONE:
      return "NONE";
    case ET.REL:
      return "REL";
    case ET.EXEC:
      return "EXEC";
    case ET.DYN:
      return "DYN";
    case ET.CORE:
      return "CORE";
    default:
      return `unknown(${t})`;
  }
}
