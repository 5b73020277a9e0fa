// Structural parse of an ELF file: header, program headers, section headers,
// dynamic entries, symbol tables and notes. No interpretation of hardening
// here (see analyze.ts); every offset read from the file is bounds-checked by
// ByteReader and every loop is bounded by the file size or an explicit cap.

import { ElfError } from "./errors.js";
import { ByteReader, fmtOff, toSafe } from "./reader.js";
import { DT, NT_GNU_PROPERTY_TYPE_0, PN_XNUM, PT, SHN_XINDEX, SHT } from "./constants.js";

/** Safety caps: far above anything a real toolchain emits. */
export const LIMITS = {
  sections: 1 << 20,
  programHeaders: 1 << 16,
  notes: 1 << 16,
  gnuHashChain: 1 << 24,
} as const;

export interface ElfHeader {
  readonly elfClass: 32 | 64;
  readonly endianness: "little" | "big";
  readonly osabi: number;
  readonly type: number;
  readonly machine: number;
  readonly flags: number;
  readonly entry: bigint;
}

export interface ProgramHeader {
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: bigint;
  readonly filesz: number;
  readonly memsz: bigint;
  readonly align: bigint;
}

export interface SectionHeader {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: bigint;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly entsize: number;
}

export interface DynamicEntry {
  readonly tag: number;
  readonly value: bigint;
}

export interface ElfSymbol {
  readonly name: string;
  /** STT_* */
  readonly type: number;
  /** STB_* */
  readonly bind: number;
  /** st_other: visibility in the low 2 bits, psABI flags above. */
  readonly other: number;
  readonly shndx: number;
}

export interface GnuProperty {
  readonly type: number;
  /** First 32-bit word of pr_data, when pr_datasz >= 4. */
  readonly value: number | undefined;
}

export interface ElfFile {
  readonly header: ElfHeader;
  readonly programHeaders: readonly ProgramHeader[];
  readonly sections: readonly SectionHeader[];
  /** Entries of the dynamic section up to (not including) the first DT_NULL. */
  readonly dynamic: readonly DynamicEntry[];
  /** Resolves a string-valued dynamic entry (DT_NEEDED, DT_RPATH, …). */
  readonly dynString: (e: DynamicEntry) => string | undefined;
  /** `.dynsym`, or the dynamic symbol table found via DT_SYMTAB when there are no section headers. */
  readonly dynsym: readonly ElfSymbol[] | undefined;
  /** True when `dynsym` was found through the dynamic segment (no section headers). */
  readonly dynsymFromSegment: boolean;
  /** `.symtab` (all SHT_SYMTAB sections), undefined when stripped. */
  readonly symtab: readonly ElfSymbol[] | undefined;
  readonly interpreter: string | undefined;
  readonly gnuProperties: readonly GnuProperty[];
  readonly buildId: string | undefined;
}

const MAGIC = [0x7f, 0x45, 0x4c, 0x46];

/** True when `bytes` starts with the ELF magic. Cheap; does not validate anything else. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && MAGIC.every((b, i) => bytes[i] === b);
}

/** Parses the structure of an ELF file. Throws ElfError on anything out of bounds. */
export function parseElf(bytes: Uint8Array): ElfFile {
  if (!isElf(bytes)) throw new ElfError("not_elf", "not an ELF file (missing \\x7fELF magic)", 0);
  if (bytes.length < 16) throw new ElfError("truncated", `ELF identification truncated (${bytes.length} bytes)`, 0);
  const cls = bytes[4];
  const data = bytes[5];
  if (cls !== 1 && cls !== 2) throw new ElfError("bad_ident", `unknown ELF class ${cls ?? "?"} in e_ident[EI_CLASS]`, 4);
  if (data !== 1 && data !== 2) {
    throw new ElfError("bad_ident", `unknown data encoding ${data ?? "?"} in e_ident[EI_DATA]`, 5);
  }
  const is64 = cls === 2;
  const r = new ByteReader(bytes, data === 1);
  const ehsize = is64 ? 64 : 52;
  r.check(0, ehsize, "ELF header");

  // Word-size-dependent field reader.
  const word = (off: number, what: string): bigint => (is64 ? r.u64(off, what) : BigInt(r.u32(off, what)));
  const offField = (off: number, what: string): number => toSafe(word(off, what), what);

  const header: ElfHeader = {
    elfClass: is64 ? 64 : 32,
    endianness: data === 1 ? "little" : "big",
    osabi: r.u8(7, "e_ident[EI_OSABI]"),
    type: r.u16(16, "e_type"),
    machine: r.u16(18, "e_machine"),
    entry: word(24, "e_entry"),
    flags: r.u32(is64 ? 48 : 36, "e_flags"),
  };
  const phoff = offField(is64 ? 32 : 28, "e_phoff");
  const shoff = offField(is64 ? 40 : 32, "e_shoff");
  const phentsize = r.u16(is64 ? 54 : 42, "e_phentsize");
  let phnum = r.u16(is64 ? 56 : 44, "e_phnum");
  const shentsize = r.u16(is64 ? 58 : 46, "e_shentsize");
  let shnum = r.u16(is64 ? 60 : 48, "e_shnum");
  let shstrndx = r.u16(is64 ? 62 : 50, "e_shstrndx");
  const stdShent = is64 ? 64 : 40;
  const stdPhent = is64 ? 56 : 32;

  // Section header 0 carries the real counts when they overflow 16 bits.
  if (shoff !== 0) {
    if (shentsize !== stdShent) {
      throw new ElfError("bad_header", `e_shentsize is ${shentsize}, expected ${stdShent} for ELF${header.elfClass}`);
    }
    r.check(shoff, stdShent, "section header 0");
    if (shnum === 0) shnum = offField(shoff + (is64 ? 32 : 20), "section 0 sh_size (e_shnum overflow)");
    if (shstrndx === SHN_XINDEX) shstrndx = r.u32(shoff + (is64 ? 40 : 24), "section 0 sh_link (e_shstrndx overflow)");
    if (phnum === PN_XNUM) phnum = r.u32(shoff + (is64 ? 44 : 28), "section 0 sh_info (e_phnum overflow)");
  } else {
    shnum = 0;
  }
  if (shnum > LIMITS.sections) throw new ElfError("too_large", `${shnum} section headers exceed the cap of ${LIMITS.sections}`);
  if (phnum > LIMITS.programHeaders) {
    throw new ElfError("too_large", `${phnum} program headers exceed the cap of ${LIMITS.programHeaders}`);
  }

  // Program headers.
  const programHeaders: ProgramHeader[] = [];
  if (phnum > 0) {
    if (phentsize !== stdPhent) {
      throw new ElfError("bad_header", `e_phentsize is ${phentsize}, expected ${stdPhent} for ELF${header.elfClass}`);
    }
    r.check(phoff, phnum * stdPhent, "program header table");
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * stdPhent;
      const what = `program header ${i}`;
      programHeaders.push(
        is64
          ? {
              type: r.u32(o, what),
              flags: r.u32(o + 4, what),
              offset: toSafe(r.u64(o + 8, what), `${what} p_offset`),
              vaddr: r.u64(o + 16, what),
              filesz: toSafe(r.u64(o + 32, what), `${what} p_filesz`),
              memsz: r.u64(o + 40, what),
              align: r.u64(o + 48, what),
            }
          : {
              type: r.u32(o, what),
              offset: r.u32(o + 4, what),
              vaddr: BigInt(r.u32(o + 8, what)),
              filesz: r.u32(o + 16, what),
              memsz: BigInt(r.u32(o + 20, what)),
              flags: r.u32(o + 24, what),
              align: BigInt(r.u32(o + 28, what)),
            },
      );
    }
  }

  // Section headers (names resolved after all are read).
  const raw: Omit<SectionHeader, "name">[] = [];
  const nameOffs: number[] = [];
  if (shnum > 0) {
    r.check(shoff, shnum * stdShent, "section header table");
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * stdShent;
      const what = `section header ${i}`;
      nameOffs.push(r.u32(o, what));
      raw.push({
        index: i,
        type: r.u32(o + 4, what),
        flags: word(o + 8, what),
        offset: offField(o + (is64 ? 24 : 16), `${what} sh_offset`),
        size: offField(o + (is64 ? 32 : 20), `${what} sh_size`),
        link: r.u32(o + (is64 ? 40 : 24), what),
        info: r.u32(o + (is64 ? 44 : 28), what),
        entsize: offField(o + (is64 ? 56 : 36), `${what} sh_entsize`),
      });
    }
  }
  const shstr = shstrndx !== 0 && shstrndx < raw.length ? raw[shstrndx] : undefined;
  if (shstr !== undefined && shstr.type !== SHT.NOBITS) r.check(shstr.offset, shstr.size, "section name string table");
  const sections: SectionHeader[] = raw.map((s, i) => ({
    ...s,
    name: shstr === undefined ? "" : (r.cstring(shstr.offset + (nameOffs[i] ?? 0), shstr.offset + shstr.size) ?? ""),
  }));
  const sectionData = (s: SectionHeader, what: string): { off: number; size: number } => {
    if (s.type === SHT.NOBITS) return { off: 0, size: 0 };
    r.check(s.offset, s.size, `${what} (section ${s.index} ${JSON.stringify(s.name)})`);
    return { off: s.offset, size: s.size };
  };

  const loads = programHeaders.filter((p) => p.type === PT.LOAD);
  /** File offset of a virtual address, via the PT_LOAD segment containing it. */
  const vaddrToOffset = (addr: bigint): number | undefined => {
    for (const p of loads) {
      if (addr >= p.vaddr && addr < p.vaddr + BigInt(p.filesz)) {
        const off = p.offset + Number(addr - p.vaddr);
        return r.has(off, 1) ? off : undefined;
      }
    }
    return undefined;
  };

  // Interpreter.
  let interpreter: string | undefined;
  const interp = programHeaders.find((p) => p.type === PT.INTERP);
  if (interp !== undefined) {
    r.check(interp.offset, interp.filesz, "PT_INTERP segment");
    const end = interp.offset + interp.filesz;
    interpreter = r.cstring(interp.offset, end) ?? (interp.filesz > 0 ? latin1Slice(bytes, interp.offset, end) : "");
  }

  // Dynamic section: PT_DYNAMIC, else the SHT_DYNAMIC section.
  const dynamic: DynamicEntry[] = [];
  const dynSeg = programHeaders.find((p) => p.type === PT.DYNAMIC);
  const dynSec = sections.find((s) => s.type === SHT.DYNAMIC);
  let dynArea: { off: number; size: number } | undefined;
  if (dynSeg !== undefined) {
    r.check(dynSeg.offset, dynSeg.filesz, "PT_DYNAMIC segment");
    dynArea = { off: dynSeg.offset, size: dynSeg.filesz };
  } else if (dynSec !== undefined) {
    dynArea = sectionData(dynSec, "dynamic section");
  }
  if (dynArea !== undefined) {
    const ent = is64 ? 16 : 8;
    const n = Math.floor(dynArea.size / ent);
    for (let i = 0; i < n; i++) {
      const o = dynArea.off + i * ent;
      const tagBig = word(o, "dynamic entry");
      // d_tag is signed; tags of interest all fit in 32 bits.
      const tag = tagBig > 0xffffffffn ? -1 : Number(tagBig);
      if (tag === DT.NULL) break;
      dynamic.push({ tag, value: word(o + ent / 2, "dynamic entry") });
    }
  }
  const dynValue = (tag: number): bigint | undefined => dynamic.find((e) => e.tag === tag)?.value;

  // Dynamic string table: DT_STRTAB/DT_STRSZ mapped through PT_LOAD, else the
  // section linked from .dynamic.
  let dynStr: { off: number; end: number } | undefined;
  const strtabAddr = dynValue(DT.STRTAB);
  if (strtabAddr !== undefined) {
    const off = vaddrToOffset(strtabAddr);
    if (off !== undefined) {
      const sz = dynValue(DT.STRSZ);
      const end = sz === undefined || sz > BigInt(bytes.length) ? bytes.length : Math.min(bytes.length, off + Number(sz));
      dynStr = { off, end };
    }
  }
  if (dynStr === undefined && dynSec !== undefined) {
    const linked = sections[dynSec.link];
    if (linked !== undefined && linked.type === SHT.STRTAB) {
      const d = sectionData(linked, "dynamic string table");
      dynStr = { off: d.off, end: d.off + d.size };
    }
  }
  const dynStrCache = new Map<bigint, string | undefined>();
  const dynString = (e: DynamicEntry): string | undefined => {
    if (dynStr === undefined || e.value >= BigInt(dynStr.end - dynStr.off)) return undefined;
    if (!dynStrCache.has(e.value)) dynStrCache.set(e.value, r.cstring(dynStr.off + Number(e.value), dynStr.end, 1 << 16));
    return dynStrCache.get(e.value);
  };

  // Symbol tables.
  const symSize = is64 ? 24 : 16;
  const readSymbols = (off: number, count: number, str: { off: number; end: number } | undefined): ElfSymbol[] => {
    r.check(off, count * symSize, "symbol table");
    const out: ElfSymbol[] = [];
    for (let i = 0; i < count; i++) {
      const o = off + i * symSize;
      const nameOff = r.u32(o, "st_name");
      const info = r.u8(o + (is64 ? 4 : 12), "st_info");
      const other = r.u8(o + (is64 ? 5 : 13), "st_other");
      const shndx = r.u16(o + (is64 ? 6 : 14), "st_shndx");
      const name = str === undefined ? "" : (r.cstring(str.off + nameOff, str.end, 1 << 16) ?? "");
      out.push({ name, type: info & 0xf, bind: info >> 4, other, shndx });
    }
    return out;
  };
  const tableFromSection = (s: SectionHeader): ElfSymbol[] => {
    const d = sectionData(s, "symbol table");
    const strSec = sections[s.link];
    let str: { off: number; end: number } | undefined;
    if (strSec !== undefined && strSec.type !== SHT.NOBITS) {
      const sd = sectionData(strSec, "symbol string table");
      str = { off: sd.off, end: sd.off + sd.size };
    }
    return readSymbols(d.off, Math.floor(d.size / symSize), str);
  };

  let symtab: ElfSymbol[] | undefined;
  let dynsym: ElfSymbol[] | undefined;
  let dynsymFromSegment = false;
  // Real files have one .symtab and one .dynsym in disjoint ranges; many
  // tables over the same bytes would multiply the work, so cap the total.
  let symbolsLeft = Math.floor(bytes.length / symSize) + 1;
  for (const s of sections) {
    if (s.type !== SHT.SYMTAB && s.type !== SHT.DYNSYM) continue;
    symbolsLeft -= Math.floor(s.size / symSize);
    if (symbolsLeft < 0) throw new ElfError("bad_header", "symbol tables overlap: more symbol entries than fit in the file");
    if (s.type === SHT.SYMTAB) symtab = (symtab ?? []).concat(tableFromSection(s));
    else dynsym = (dynsym ?? []).concat(tableFromSection(s));
  }
  if (dynsym === undefined && sections.length === 0) {
    // No section headers (e.g. sstrip'd): find .dynsym through the dynamic segment.
    const symAddr = dynValue(DT.SYMTAB);
    const symOff = symAddr === undefined ? undefined : vaddrToOffset(symAddr);
    if (symOff !== undefined) {
      const count = dynSymCount(r, is64, dynValue, vaddrToOffset);
      if (count !== undefined) {
        const fit = Math.min(count, Math.floor((bytes.length - symOff) / symSize));
        dynsym = readSymbols(symOff, fit, dynStr);
        dynsymFromSegment = true;
      }
    }
  }

  // Notes: PT_NOTE segments, else SHT_NOTE sections (relocatable objects).
  const noteAreas: { off: number; size: number; align: number }[] = [];
  for (const p of programHeaders) {
    if (p.type !== PT.NOTE) continue;
    r.check(p.offset, p.filesz, "PT_NOTE segment");
    noteAreas.push({ off: p.offset, size: p.filesz, align: p.align === 8n ? 8 : 4 });
  }
  if (programHeaders.length === 0) {
    for (const s of sections) {
      if (s.type !== SHT.NOTE) continue;
      const d = sectionData(s, "note section");
      noteAreas.push({ ...d, align: s.name === ".note.gnu.property" && is64 ? 8 : 4 });
    }
  }
  const gnuProperties: GnuProperty[] = [];
  let buildId: string | undefined;
  let noteCount = 0;
  for (const area of noteAreas) {
    let o = area.off;
    const end = area.off + area.size;
    while (o + 12 <= end) {
      if (++noteCount > LIMITS.notes) throw new ElfError("too_large", `more than ${LIMITS.notes} notes`);
      const namesz = r.u32(o, "note namesz");
      const descsz = r.u32(o + 4, "note descsz");
      const type = r.u32(o + 8, "note type");
      const nameOff = o + 12;
      // As readelf: name and desc are padded relative to the note start.
      const descOff = o + alignUp(12 + namesz, area.align);
      const next = o + alignUp(descOff - o + descsz, area.align);
      if (descOff + descsz > end) {
        throw new ElfError("truncated", `note at ${fmtOff(o)} (namesz ${namesz}, descsz ${descsz}) overruns its segment`, o);
      }
      const name = namesz === 4 ? r.cstring(nameOff, nameOff + 4) : undefined;
      if (name === "GNU") {
        if (type === NT_GNU_PROPERTY_TYPE_0) parseProperties(r, descOff, descsz, is64 ? 8 : 4, gnuProperties);
        if (gnuProperties.length > LIMITS.notes) throw new ElfError("too_large", `more than ${LIMITS.notes} GNU properties`);
        else if (type === 3 /* NT_GNU_BUILD_ID */ && descsz <= 64) {
          buildId = Array.from(bytes.subarray(descOff, descOff + descsz), (b) => b.toString(16).padStart(2, "0")).join("");
        }
      }
      if (next <= o) break; // cannot happen (header is 12 bytes), but never loop in place
      o = next;
    }
  }

  return { header, programHeaders, sections, dynamic, dynString, dynsym, dynsymFromSegment, symtab, interpreter, gnuProperties, buildId };
}

function parseProperties(r: ByteReader, off: number, size: number, align: number, out: GnuProperty[]): void {
  let o = off;
  const end = off + size;
  let guard = 0;
  while (o + 8 <= end && guard++ < 4096) {
    const type = r.u32(o, "gnu property type");
    const datasz = r.u32(o + 4, "gnu property size");
    if (o + 8 + datasz > end) {
      throw new ElfError("truncated", `GNU property ${fmtOff(type)} at ${fmtOff(o)} overruns its note`, o);
    }
    out.push({ type, value: datasz >= 4 ? r.u32(o + 8, "gnu property value") : undefined });
    o += 8 + alignUp(datasz, align);
  }
}

/** Number of dynamic symbols from DT_HASH (nchain) or DT_GNU_HASH (walk of the last chain). */
function dynSymCount(
  r: ByteReader,
  is64: boolean,
  dynValue: (tag: number) => bigint | undefined,
  vaddrToOffset: (a: bigint) => number | undefined,
): number | undefined {
  const hashAddr = dynValue(DT.HASH);
  const hashOff = hashAddr === undefined ? undefined : vaddrToOffset(hashAddr);
  if (hashOff !== undefined) return r.u32(hashOff + 4, "DT_HASH nchain");
  const gnuAddr = dynValue(DT.GNU_HASH);
  const g = gnuAddr === undefined ? undefined : vaddrToOffset(gnuAddr);
  if (g === undefined) return undefined;
  const nbuckets = r.u32(g, "DT_GNU_HASH nbuckets");
  const symoffset = r.u32(g + 4, "DT_GNU_HASH symoffset");
  const bloomSize = r.u32(g + 8, "DT_GNU_HASH bloom size");
  const buckets = g + 16 + bloomSize * (is64 ? 8 : 4);
  r.check(buckets, nbuckets * 4, "DT_GNU_HASH buckets");
  let max = 0;
  for (let i = 0; i < nbuckets; i++) max = Math.max(max, r.u32(buckets + i * 4, "DT_GNU_HASH bucket"));
  if (max < symoffset) {
    // Nothing hashed (an executable exporting nothing): the table's length is
    // not recorded anywhere. ld puts .dynstr right after .dynsym, so use the gap.
    const sym = dynValue(DT.SYMTAB);
    const str = dynValue(DT.STRTAB);
    if (sym !== undefined && str !== undefined && str > sym && str - sym < 1n << 32n) {
      return Number((str - sym) / BigInt(is64 ? 24 : 16));
    }
    return symoffset;
  }
  const chains = buckets + nbuckets * 4;
  for (let i = max; i - max < LIMITS.gnuHashChain; i++) {
    if ((r.u32(chains + (i - symoffset) * 4, "DT_GNU_HASH chain") & 1) !== 0) return i + 1;
  }
  throw new ElfError("too_large", `DT_GNU_HASH chain longer than ${LIMITS.gnuHashChain}`);
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function latin1Slice(b: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...b.subarray(start, Math.min(end, start + 4096)));
}
