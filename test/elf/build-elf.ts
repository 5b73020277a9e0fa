// Writes small, valid ELF files for unit tests: any class and byte order,
// one PT_LOAD mapping the whole file at address 0 (so vaddr == offset),
// optional interpreter, dynamic section, symbol tables, GNU property note.

import { DT, PT, SHT } from "../../src/elf/constants.js";

export interface SymbolSpec {
  readonly name: string;
  readonly shndx?: number;
  readonly type?: number;
  readonly bind?: number;
  readonly other?: number;
}

export interface DynSpec {
  readonly tag: number;
  readonly value?: bigint;
  /** For string tags: the string, placed in .dynstr. */
  readonly str?: string;
}

export interface ElfSpec {
  readonly elfClass: 32 | 64;
  readonly little: boolean;
  readonly type: number;
  readonly machine: number;
  readonly interp?: string;
  /** p_flags of PT_GNU_STACK; omitted = no PT_GNU_STACK. */
  readonly stackFlags?: number;
  readonly relro?: boolean;
  readonly dynamic?: readonly DynSpec[];
  readonly dynsym?: readonly SymbolSpec[];
  readonly symtab?: readonly SymbolSpec[];
  /** GNU properties (pr_type, 32-bit value) in a PT_NOTE / .note.gnu.property. */
  readonly properties?: readonly { readonly type: number; readonly value: number }[];
  /** Omit the section header table. */
  readonly noSections?: boolean;
}

class Out {
  bytes: number[] = [];
  constructor(readonly little: boolean) {}
  get pos(): number {
    return this.bytes.length;
  }
  align(a: number): void {
    while (this.bytes.length % a !== 0) this.bytes.push(0);
  }
  u8(v: number): void {
    this.bytes.push(v & 0xff);
  }
  uN(v: bigint, n: number): void {
    const b: number[] = [];
    for (let i = 0; i < n; i++) b.push(Number((v >> BigInt(8 * i)) & 0xffn));
    this.bytes.push(...(this.little ? b : b.reverse()));
  }
  u16(v: number): void {
    this.uN(BigInt(v), 2);
  }
  u32(v: number): void {
    this.uN(BigInt(v), 4);
  }
  put(at: number, v: bigint, n: number): void {
    const b: number[] = [];
    for (let i = 0; i < n; i++) b.push(Number((v >> BigInt(8 * i)) & 0xffn));
    (this.little ? b : b.reverse()).forEach((x, i) => (this.bytes[at + i] = x));
  }
  str(s: string): void {
    for (const c of s) this.bytes.push(c.charCodeAt(0) & 0xff);
    this.bytes.push(0);
  }
}

class StrTab {
  data = "\0";
  add(s: string): number {
    if (s === "") return 0;
    const at = this.data.length;
    this.data += `${s}\0`;
    return at;
  }
}

/** Builds the file. Offsets equal virtual addresses. */
export function buildElf(spec: ElfSpec): Uint8Array {
  const is64 = spec.elfClass === 64;
  const w = (o: Out, v: bigint | number): void => o.uN(BigInt(v), is64 ? 8 : 4);
  const o = new Out(spec.little);
  const ehsize = is64 ? 64 : 52;
  const phent = is64 ? 56 : 32;
  const shent = is64 ? 64 : 40;

  interface Ph {
    type: number;
    flags: number;
    off: number;
    size: number;
    align: number;
  }
  const phs: Ph[] = [];
  const load: Ph = { type: PT.LOAD, flags: 5, off: 0, size: 0, align: 0x1000 };
  phs.push(load);
  const interpPh: Ph | undefined = spec.interp === undefined ? undefined : { type: PT.INTERP, flags: 4, off: 0, size: 0, align: 1 };
  if (interpPh) phs.push(interpPh);
  const dynPh: Ph | undefined = spec.dynamic === undefined ? undefined : { type: PT.DYNAMIC, flags: 6, off: 0, size: 0, align: 8 };
  if (dynPh) phs.push(dynPh);
  const notePh: Ph | undefined =
    spec.properties === undefined ? undefined : { type: PT.NOTE, flags: 4, off: 0, size: 0, align: is64 ? 8 : 4 };
  if (notePh) phs.push(notePh);
  if (spec.stackFlags !== undefined) phs.push({ type: PT.GNU_STACK, flags: spec.stackFlags, off: 0, size: 0, align: 16 });
  if (spec.relro === true) phs.push({ type: PT.GNU_RELRO, flags: 4, off: 0, size: 0, align: 1 });

  // Placeholder header + program headers, patched at the end.
  for (let i = 0; i < ehsize + phs.length * phent; i++) o.u8(0);

  interface Sh {
    name: string;
    type: number;
    off: number;
    size: number;
    link: number;
    entsize: number;
    info: number;
  }
  const shs: Sh[] = [{ name: "", type: SHT.NULL, off: 0, size: 0, link: 0, entsize: 0, info: 0 }];

  if (interpPh && spec.interp !== undefined) {
    interpPh.off = o.pos;
    o.str(spec.interp);
    interpPh.size = o.pos - interpPh.off;
    shs.push({ name: ".interp", type: 1, off: interpPh.off, size: interpPh.size, link: 0, entsize: 0, info: 0 });
  }

  const symEnt = is64 ? 24 : 16;
  const writeSyms = (syms: readonly SymbolSpec[], strtab: StrTab): { off: number; size: number } => {
    o.align(8);
    const off = o.pos;
    for (const s of [{ name: "" } as SymbolSpec, ...syms]) {
      const name = strtab.add(s.name);
      const info = ((s.bind ?? (s.name === "" ? 0 : 1)) << 4) | (s.type ?? (s.name === "" ? 0 : 2));
      if (is64) {
        o.u32(name);
        o.u8(info);
        o.u8(s.other ?? 0);
        o.u16(s.shndx ?? 0);
        o.uN(0n, 8);
        o.uN(0n, 8);
      } else {
        o.u32(name);
        o.u32(0);
        o.u32(0);
        o.u8(info);
        o.u8(s.other ?? 0);
        o.u16(s.shndx ?? 0);
      }
    }
    return { off, size: o.pos - off };
  };
  const writeStr = (t: StrTab): { off: number; size: number } => {
    const off = o.pos;
    for (const c of t.data) o.u8(c.charCodeAt(0));
    return { off, size: o.pos - off };
  };

  // .dynsym + .dynstr (string tag values go in .dynstr too).
  const dynstr = new StrTab();
  const dynEntries = (spec.dynamic ?? []).map((d) => ({ tag: d.tag, value: d.str === undefined ? (d.value ?? 0n) : BigInt(dynstr.add(d.str)) }));
  let dynsymLoc: { off: number; size: number } | undefined;
  if (spec.dynsym !== undefined) {
    dynsymLoc = writeSyms(spec.dynsym, dynstr);
    shs.push({ name: ".dynsym", type: SHT.DYNSYM, off: dynsymLoc.off, size: dynsymLoc.size, link: shs.length + 1, entsize: symEnt, info: 1 });
  }
  let hashOff: number | undefined;
  if (dynsymLoc !== undefined) {
    // DT_HASH with one bucket: nchain gives the symbol count.
    const count = spec.dynsym?.length ?? 0;
    hashOff = o.pos;
    [1, count + 1, 0, ...new Array<number>(count + 1).fill(0)].forEach((v) => o.u32(v));
  }
  let dynstrLoc: { off: number; size: number } | undefined;
  if (spec.dynamic !== undefined || spec.dynsym !== undefined) {
    dynstrLoc = writeStr(dynstr);
    shs.push({ name: ".dynstr", type: SHT.STRTAB, off: dynstrLoc.off, size: dynstrLoc.size, link: 0, entsize: 0, info: 0 });
  }
  const dynstrIndex = shs.length - 1;

  if (dynPh && dynstrLoc) {
    o.align(8);
    dynPh.off = o.pos;
    const all = [
      ...dynEntries,
      { tag: DT.STRTAB, value: BigInt(dynstrLoc.off) },
      { tag: DT.STRSZ, value: BigInt(dynstrLoc.size) },
      ...(dynsymLoc ? [{ tag: DT.SYMTAB, value: BigInt(dynsymLoc.off) }] : []),
      ...(hashOff !== undefined ? [{ tag: DT.HASH, value: BigInt(hashOff) }] : []),
      { tag: DT.NULL, value: 0n },
    ];
    for (const e of all) {
      w(o, e.tag);
      w(o, e.value);
    }
    dynPh.size = o.pos - dynPh.off;
    shs.push({ name: ".dynamic", type: SHT.DYNAMIC, off: dynPh.off, size: dynPh.size, link: dynstrIndex, entsize: is64 ? 16 : 8, info: 0 });
  }

  if (notePh && spec.properties !== undefined) {
    o.align(8);
    notePh.off = o.pos;
    const pad = is64 ? 8 : 4;
    const descsz = spec.properties.length * (8 + pad);
    o.u32(4);
    o.u32(descsz);
    o.u32(5); // NT_GNU_PROPERTY_TYPE_0
    o.str("GNU");
    for (const p of spec.properties) {
      o.u32(p.type);
      o.u32(4);
      o.u32(p.value);
      if (pad === 8) o.u32(0);
    }
    notePh.size = o.pos - notePh.off;
    shs.push({ name: ".note.gnu.property", type: SHT.NOTE, off: notePh.off, size: notePh.size, link: 0, entsize: 0, info: 0 });
  }

  if (spec.symtab !== undefined) {
    const strtab = new StrTab();
    const loc = writeSyms(spec.symtab, strtab);
    shs.push({ name: ".symtab", type: SHT.SYMTAB, off: loc.off, size: loc.size, link: shs.length + 1, entsize: symEnt, info: 1 });
    const s = writeStr(strtab);
    shs.push({ name: ".strtab", type: SHT.STRTAB, off: s.off, size: s.size, link: 0, entsize: 0, info: 0 });
  }

  const shstr = new StrTab();
  const nameOffs = shs.map((s) => shstr.add(s.name));
  const shstrndx = shs.length;
  const shstrName = shstr.add(".shstrtab");
  const shstrLoc = writeStr(shstr);
  shs.push({ name: ".shstrtab", type: SHT.STRTAB, off: shstrLoc.off, size: shstrLoc.size, link: 0, entsize: 0, info: 0 });
  nameOffs.push(shstrName);

  o.align(8);
  const shoff = o.pos;
  if (spec.noSections !== true) {
    shs.forEach((s, i) => {
      o.u32(nameOffs[i] ?? 0);
      o.u32(s.type);
      w(o, 0); // flags
      w(o, s.off); // addr
      w(o, s.off);
      w(o, s.size);
      o.u32(s.link);
      o.u32(s.info);
      w(o, 8);
      w(o, s.entsize);
    });
  }
  load.size = o.pos;

  // ELF header.
  [0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, spec.little ? 1 : 2, 1].forEach((b, i) => (o.bytes[i] = b));
  const n = is64 ? 8 : 4;
  o.put(16, BigInt(spec.type), 2);
  o.put(18, BigInt(spec.machine), 2);
  o.put(20, 1n, 4);
  o.put(24, 0n, n); // entry
  o.put(24 + n, BigInt(ehsize), n); // phoff
  o.put(24 + 2 * n, BigInt(spec.noSections === true ? 0 : shoff), n);
  const f = 24 + 3 * n;
  o.put(f + 4, BigInt(ehsize), 2);
  o.put(f + 6, BigInt(phent), 2);
  o.put(f + 8, BigInt(phs.length), 2);
  o.put(f + 10, BigInt(shent), 2);
  o.put(f + 12, BigInt(spec.noSections === true ? 0 : shs.length), 2);
  o.put(f + 14, BigInt(spec.noSections === true ? 0 : shstrndx), 2);

  phs.forEach((p, i) => {
    const at = ehsize + i * phent;
    if (is64) {
      o.put(at, BigInt(p.type), 4);
      o.put(at + 4, BigInt(p.flags), 4);
      o.put(at + 8, BigInt(p.off), 8);
      o.put(at + 16, BigInt(p.off), 8);
      o.put(at + 24, BigInt(p.off), 8);
      o.put(at + 32, BigInt(p.size), 8);
      o.put(at + 40, BigInt(p.size), 8);
      o.put(at + 48, BigInt(p.align), 8);
    } else {
      o.put(at, BigInt(p.type), 4);
      o.put(at + 4, BigInt(p.off), 4);
      o.put(at + 8, BigInt(p.off), 4);
      o.put(at + 12, BigInt(p.off), 4);
      o.put(at + 16, BigInt(p.size), 4);
      o.put(at + 20, BigInt(p.size), 4);
      o.put(at + 24, BigInt(p.flags), 4);
      o.put(at + 28, BigInt(p.align), 4);
    }
  });
  return Uint8Array.from(o.bytes);
}
