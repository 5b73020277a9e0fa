// What Debian's checksec 2.6.0 (`checksec --file=F --output=json`) would
// print for a file, computed from the parsed ELF instead of readelf text.
//
// checksec decides every property by grepping `readelf -W` output; each rule
// below names the pipeline it mirrors (from /usr/bin/checksec, filecheck()),
// including its quirks. The properties caisson itself reports (analyze.ts)
// are decided on ELF semantics instead; docs/elf.md lists the differences.

import { DF_BIND_NOW, DT, ET, PF, PT, SHT } from "./constants.js";
import { FORTIFIABLE } from "./fortify-list.js";
import type { DynamicEntry, ElfFile, ElfSymbol } from "./parse.js";

/** checksec's JSON fields for one file (counts as numbers rather than strings). */
export interface ChecksecReport {
  readonly relro: "no" | "partial" | "full";
  readonly canary: "yes" | "no";
  readonly nx: "yes" | "no";
  readonly pie: "yes" | "no" | "dso" | "rel" | "not_elf";
  readonly rpath: "yes" | "no";
  readonly runpath: "yes" | "no";
  readonly symbols: "yes" | "no";
  readonly fortifySource: "yes" | "no";
  /** Dynamic symbols that are a libc `__X_chk` ("fortified"). */
  readonly fortified: number;
  /** fortified + dynamic symbols named like a fortifiable libc function ("fortify-able"). */
  readonly fortifiable: number;
}

export interface ChecksecOptions {
  /**
   * Base names X of libc's `__X_chk` functions. checksec reads them from the
   * host's libc; defaults to the built-in glibc 2.36 list.
   */
  readonly fortifiable?: readonly string[];
}

const YES = "yes";
const NO = "no";
const yn = (b: boolean): "yes" | "no" => (b ? YES : NO);

/** checksec's verdicts for a parsed file. */
export function checksecReport(elf: ElfFile, options: ChecksecOptions = {}): ChecksecReport {
  const dynLines = readelfDynamicLines(elf);
  // readelf -s / --dyn-syms print only tables named by section headers (no -D).
  const dynsym = elf.dynsymFromSegment ? [] : (elf.dynsym ?? []);
  const hasPhdr = (t: number): boolean => elf.programHeaders.some((p) => p.type === t);

  // readelf -l | grep -q GNU_RELRO; then readelf -d | grep -q BIND_NOW.
  // DF_1_NOW alone is printed as "NOW" in FLAGS_1, so checksec misses it.
  const relro = !hasPhdr(PT.GNU_RELRO) ? NO : dynLines.some((l) => l.includes("BIND_NOW")) ? "full" : "partial";

  // readelf -s | grep -Eq '__stack_chk_fail|__stack_chk_guard|__intel_security_cookie'
  // (substring match over .dynsym and .symtab).
  const canary = [...dynsym, ...(elf.symtab ?? [])].some((s) => CANARY_RE.test(s.name));

  // readelf -l | grep GNU_STACK | grep -q RWE: only R+W+X counts as executable.
  const stacks = elf.programHeaders.filter((p) => p.type === PT.GNU_STACK);
  const rwe = PF.R | PF.W | PF.X;
  const nx = stacks.length > 0 && !stacks.some((p) => (p.flags & rwe) === rwe);

  // readelf -h Type; for DYN, readelf -d | grep -q DEBUG (i.e. DT_DEBUG).
  let pie: ChecksecReport["pie"];
  switch (elf.header.type) {
    case ET.EXEC:
      pie = NO;
      break;
    case ET.DYN:
      pie = dynLines.some((l) => l.includes("DEBUG")) ? YES : "dso";
      break;
    case ET.REL:
      pie = "rel";
      break;
    default:
      pie = "not_elf";
  }

  // readelf -d | awk -F'[][]' '/RPATH/ {print $2}' read into an array split on
  // ':': "yes" iff the bracketed value of the first matching line is non-empty.
  const pathFlag = (word: string): "yes" | "no" => {
    const line = dynLines.find((l) => l.includes(word));
    return yn(line !== undefined && (line.split(/[[\]]/)[1] ?? "") !== "");
  };

  // readelf --symbols | grep '\.symtab'
  const symbols = elf.sections.some((s) => (s.type === SHT.SYMTAB || s.type === SHT.DYNSYM) && s.name.includes(".symtab"));

  // readelf --dyn-syms | awk '{print $8}' | sed 's/_*//; s/@.*//'; then count
  // exact matches against libc's "X_chk" and "X" lists (duplicates count).
  const base = new Set(options.fortifiable ?? FORTIFIABLE);
  const chk = new Set([...base].map((b) => `${b}_chk`));
  let fortified = 0;
  let unfortified = 0;
  let anyChk = false;
  for (const s of dynsym) {
    const f = awkEighthField(elf, s);
    if (f === undefined) continue;
    const name = f.replace(/^_*/, "");
    if (name === "") continue;
    if (name.endsWith("_chk")) anyChk = true;
    if (chk.has(name)) fortified++;
    if (base.has(name)) unfortified++;
  }

  return {
    relro,
    canary: yn(canary),
    nx: yn(nx),
    pie,
    rpath: pathFlag("RPATH"),
    runpath: pathFlag("RUNPATH"),
    symbols: yn(symbols),
    fortifySource: yn(anyChk),
    fortified,
    fortifiable: fortified + unfortified,
  };
}

const CANARY_RE = /__stack_chk_fail|__stack_chk_guard|__intel_security_cookie/;

/**
 * The text `readelf -d` prints per dynamic entry, reduced to what checksec's
 * greps can see: the tag name, DT_FLAGS names, and the strings of string tags.
 */
function readelfDynamicLines(elf: ElfFile): string[] {
  return elf.dynamic.map((e) => `(${dynTagName(e.tag)}) ${dynValueText(elf, e)}`);
}

function dynTagName(tag: number): string {
  switch (tag) {
    case DT.NEEDED:
      return "NEEDED";
    case DT.SONAME:
      return "SONAME";
    case DT.RPATH:
      return "RPATH";
    case DT.RUNPATH:
      return "RUNPATH";
    case DT.DEBUG:
      return "DEBUG";
    case DT.BIND_NOW:
      return "BIND_NOW";
    case DT.FLAGS:
      return "FLAGS";
    case DT.FLAGS_1:
      return "FLAGS_1";
    default:
      return "OTHER"; // no other readelf tag name contains BIND_NOW, DEBUG or RPATH
  }
}

const STRING_TAGS: ReadonlyMap<number, string> = new Map([
  [DT.NEEDED, "Shared library"],
  [DT.SONAME, "Library soname"],
  [DT.RPATH, "Library rpath"],
  [DT.RUNPATH, "Library runpath"],
  [DT.AUXILIARY, "Auxiliary library"],
  [DT.FILTER, "Filter library"],
  [DT.CONFIG, "Configuration file"],
  [DT.DEPAUDIT, "Dependency audit library"],
  [DT.AUDIT, "Audit library"],
]);

function dynValueText(elf: ElfFile, e: DynamicEntry): string {
  const label = STRING_TAGS.get(e.tag);
  if (label !== undefined) {
    const s = elf.dynString(e);
    return s === undefined ? `0x${e.value.toString(16)}` : `${label}: [${s}]`;
  }
  // DT_FLAGS_1 names (NOW, PIE, …) contain none of the grepped words.
  if (e.tag === DT.FLAGS) return (e.value & BigInt(DF_BIND_NOW)) !== 0n ? "Flags: BIND_NOW" : "Flags:";
  return `0x${e.value.toString(16)}`;
}

/**
 * The 8th whitespace-separated field of a `readelf -W --dyn-syms` line
 * (binutils 2.40: Num Value Size Type Bind Vis [other] Ndx Name), when it is
 * the symbol's name; undefined when readelf's rendering shifts the columns.
 */
function awkEighthField(elf: ElfFile, s: ElfSymbol): string | undefined {
  if (s.name === "") return undefined;
  const osabi = elf.header.osabi;
  // Type column: IFUNC only for GNU/FreeBSD OSABI, else "<OS specific>: 10".
  if (s.type >= 10 && !(s.type === 10 && (osabi === 3 || osabi === 9))) return undefined;
  // Bind column: UNIQUE only for GNU OSABI.
  if (s.bind >= 3 && !(s.bind === 10 && osabi === 3)) return undefined;
  // st_other bits beyond visibility print as an extra " [..] " column.
  if ((s.other & ~3) !== 0) return undefined;
  // Section indexes in the OS range print as "OS [0x..]" (two fields).
  if (s.shndx >= 0xff20 && s.shndx <= 0xff3f) return undefined;
  return s.name.split(/[ \t]/)[0];
}
