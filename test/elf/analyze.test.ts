// Unit tests on handcrafted ELF files (build-elf.ts): every class and byte
// order, each property decided from exactly the structure that implies it.

import { describe, expect, it } from "vitest";
import {
  DF_1_NOW,
  DF_1_PIE,
  DF_BIND_NOW,
  DT,
  GNU_PROPERTY_AARCH64_FEATURE_1_AND,
  GNU_PROPERTY_X86_FEATURE_1_AND,
  PF,
} from "../../src/elf/constants.js";
import { ElfError, analyzeElf, isElf, machineName, parseElf } from "../../src/elf/index.js";
import { buildElf } from "./build-elf.js";
import type { ElfSpec } from "./build-elf.js";

const ET_EXEC = 2;
const ET_DYN = 3;
const RW = PF.R | PF.W;
const RWX = PF.R | PF.W | PF.X;

const pie64: ElfSpec = {
  elfClass: 64,
  little: true,
  type: ET_DYN,
  machine: 62,
  interp: "/lib64/ld-linux-x86-64.so.2",
  stackFlags: RW,
  relro: true,
  dynamic: [
    { tag: DT.NEEDED, str: "libc.so.6" },
    { tag: DT.FLAGS, value: BigInt(DF_BIND_NOW) },
    { tag: DT.FLAGS_1, value: BigInt(DF_1_NOW | DF_1_PIE) },
    { tag: DT.DEBUG, value: 0n },
  ],
  dynsym: [{ name: "__stack_chk_fail" }, { name: "__memcpy_chk" }, { name: "strcpy" }, { name: "puts" }],
  symtab: [{ name: "main", shndx: 1 }],
  properties: [{ type: GNU_PROPERTY_X86_FEATURE_1_AND, value: 3 }],
};

describe("isElf", () => {
  it("checks the magic only", () => {
    expect(isElf(Uint8Array.from([0x7f, 0x45, 0x4c, 0x46]))).toBe(true);
    expect(isElf(Uint8Array.from([0x7f, 0x45, 0x4c]))).toBe(false);
    expect(isElf(new TextEncoder().encode("#!/bin/sh\n"))).toBe(false);
  });
});

describe("analyzeElf on handcrafted files", () => {
  it("reports a hardened x86_64 PIE", () => {
    const r = analyzeElf(buildElf(pie64), "pie64");
    expect(r).toMatchObject({
      name: "pie64",
      elfClass: 64,
      endianness: "little",
      type: "DYN",
      machine: "x86_64",
      interpreter: "/lib64/ld-linux-x86-64.so.2",
      linking: "dynamic",
      pie: true,
      sharedLibrary: false,
      relro: "full",
      bindNow: true,
      canary: true,
      nx: true,
      needed: ["libc.so.6"],
      stripped: false,
      symbols: { symtab: 2, dynsym: 5 },
      cet: { ibt: true, shstk: true },
      aarch64: undefined,
      fortify: { assessed: true, fortified: ["memcpy"], unfortified: ["strcpy"] },
    });
    expect(r.checksec).toEqual({
      relro: "full",
      canary: "yes",
      nx: "yes",
      pie: "yes",
      rpath: "no",
      runpath: "no",
      symbols: "yes",
      fortifySource: "yes",
      fortified: 1,
      fortifiable: 2,
    });
  });

  it("reads big-endian 32-bit files (ppc, RPATH, executable stack, no RELRO)", () => {
    const r = analyzeElf(
      buildElf({
        elfClass: 32,
        little: false,
        type: ET_EXEC,
        machine: 20,
        interp: "/lib/ld.so.1",
        stackFlags: RWX,
        dynamic: [
          { tag: DT.NEEDED, str: "libc.so.6" },
          { tag: DT.RPATH, str: "/opt/lib:$ORIGIN" },
        ],
        dynsym: [{ name: "printf" }, { name: "__printf_chk" }],
      }),
    );
    expect(r).toMatchObject({
      elfClass: 32,
      endianness: "big",
      type: "EXEC",
      machine: "ppc",
      pie: false,
      relro: "none",
      nx: false,
      canary: false,
      rpath: ["/opt/lib:$ORIGIN"],
      runpath: [],
      stripped: true,
      fortify: { fortified: ["printf"], unfortified: ["printf"] },
    });
    expect(r.checksec).toMatchObject({ relro: "no", nx: "no", pie: "no", rpath: "yes", runpath: "no", symbols: "no" });
  });

  it("reads big-endian 64-bit files (s390x shared library with SONAME and RUNPATH)", () => {
    const r = analyzeElf(
      buildElf({
        elfClass: 64,
        little: false,
        type: ET_DYN,
        machine: 22,
        stackFlags: RW,
        relro: true,
        dynamic: [
          { tag: DT.SONAME, str: "libfoo.so.1" },
          { tag: DT.RUNPATH, str: "/usr/lib/foo" },
        ],
        dynsym: [{ name: "foo", shndx: 5 }],
      }),
    );
    expect(r).toMatchObject({
      machine: "s390x",
      endianness: "big",
      pie: false,
      sharedLibrary: true,
      soname: "libfoo.so.1",
      runpath: ["/usr/lib/foo"],
      relro: "partial",
      linking: "dynamic",
    });
    expect(r.checksec).toMatchObject({ pie: "dso", relro: "partial", runpath: "yes", rpath: "no" });
  });

  it("counts DF_1_NOW as bind-now, as the loader does, while checksec does not", () => {
    const r = analyzeElf(
      buildElf({ ...pie64, dynamic: [{ tag: DT.FLAGS_1, value: BigInt(DF_1_NOW | DF_1_PIE) }, { tag: DT.DEBUG }] }),
    );
    expect(r.relro).toBe("full");
    expect(r.checksec.relro).toBe("partial");
  });

  it("treats DT_BIND_NOW as bind-now", () => {
    const r = analyzeElf(buildElf({ ...pie64, dynamic: [{ tag: DT.BIND_NOW }] }));
    expect([r.relro, r.checksec.relro]).toEqual(["full", "full"]);
  });

  it("follows checksec's RWE rule for NX only in the checksec view", () => {
    const rx = analyzeElf(buildElf({ ...pie64, stackFlags: PF.R | PF.X }));
    expect(rx.nx).toBe(false);
    expect(rx.checksec.nx).toBe("yes");
    const { stackFlags: _dropped, ...noStack } = pie64;
    const none = analyzeElf(buildElf(noStack));
    expect([none.nx, none.checksec.nx]).toEqual([false, "no"]);
  });

  it("decides PIE by DF_1_PIE or PT_INTERP; checksec by DT_DEBUG", () => {
    const noDebug = analyzeElf(buildElf({ ...pie64, dynamic: [{ tag: DT.FLAGS_1, value: BigInt(DF_1_PIE) }] }));
    expect([noDebug.pie, noDebug.checksec.pie]).toEqual([true, "dso"]);
  });

  it("recognizes static and static-pie executables", () => {
    const stat = analyzeElf(buildElf({ elfClass: 64, little: true, type: ET_EXEC, machine: 183, stackFlags: RW }));
    expect(stat).toMatchObject({ linking: "static", pie: false, machine: "aarch64", interpreter: undefined });
    const spie = analyzeElf(
      buildElf({ elfClass: 64, little: true, type: ET_DYN, machine: 183, dynamic: [{ tag: DT.FLAGS_1, value: BigInt(DF_1_PIE) }] }),
    );
    expect(spie).toMatchObject({ linking: "static-pie", pie: true });
  });

  it("reads AArch64 BTI/PAC properties", () => {
    const r = analyzeElf(
      buildElf({ elfClass: 64, little: true, type: ET_DYN, machine: 183, properties: [{ type: GNU_PROPERTY_AARCH64_FEATURE_1_AND, value: 3 }] }),
    );
    expect(r.aarch64).toEqual({ bti: true, pac: true });
    expect(r.cet).toBeUndefined();
  });

  it("finds .dynsym through DT_HASH when there are no section headers", () => {
    const r = analyzeElf(buildElf({ ...pie64, noSections: true }));
    expect(r.symbols.dynsym).toBe(5);
    expect(r.canary).toBe(true);
    expect(r.checksec.canary).toBe("no"); // readelf -s needs section headers
    expect(r.cet).toEqual({ ibt: true, shstk: true });
  });

  it("mirrors checksec's substring and column quirks", () => {
    const r = analyzeElf(
      buildElf({
        ...pie64,
        dynsym: [
          { name: "my__stack_chk_fail_hook" }, // substring: checksec says canary
          { name: "___memcpy_chk" }, // leading underscores stripped by checksec
          { name: "memset", other: 0x80 }, // st_other flag shifts readelf's columns
          { name: "foo_chk", shndx: 3 }, // any *_chk → FORTIFY yes for checksec
        ],
      }),
    );
    expect(r.canary).toBe(false);
    expect(r.checksec).toMatchObject({ canary: "yes", fortifySource: "yes", fortified: 1, fortifiable: 1 });
    expect(r.fortify.fortified).toEqual([]);
  });

  it("maps machine numbers by class", () => {
    expect(machineName(243, 64)).toBe("riscv64");
    expect(machineName(3, 32)).toBe("i386");
    expect(machineName(40, 32)).toBe("arm");
    expect(machineName(21, 64)).toBe("ppc64");
    expect(machineName(9999, 64)).toBe("unknown(9999)");
  });
});

describe("ElfError on malformed input", () => {
  const good = buildElf(pie64);
  const errorOf = (b: Uint8Array): ElfError => {
    try {
      parseElf(b);
    } catch (e) {
      if (e instanceof ElfError) return e;
      throw e;
    }
    throw new Error("parsed without error");
  };

  it("rejects non-ELF and bad identification", () => {
    expect(errorOf(new Uint8Array(0)).code).toBe("not_elf");
    const badClass = good.slice();
    badClass[4] = 7;
    expect(errorOf(badClass)).toMatchObject({ code: "bad_ident", offset: 4 });
    const badData = good.slice();
    badData[5] = 0;
    expect(errorOf(badData).code).toBe("bad_ident");
  });

  it("reports truncation with the structure and offset", () => {
    expect(errorOf(good.slice(0, 20)).message).toMatch(/ELF header at offset 0x0 \(64 bytes\) lies outside the file \(20 bytes\)/);
    expect(errorOf(good.slice(0, 100)).message).toMatch(/section header 0 at offset 0x[0-9a-f]+ \(64 bytes\)/);
    const manyPh = good.slice();
    new DataView(manyPh.buffer).setUint16(56, 1000, true); // e_phnum
    expect(errorOf(manyPh).message).toMatch(/program header table at offset 0x40 \(56000 bytes\)/);
    expect(errorOf(good.slice(0, good.length - 8)).message).toMatch(/section header table/);
  });

  it("rejects absurd counts and sizes", () => {
    const b = good.slice();
    new DataView(b.buffer).setBigUint64(32, 0xffffffffffffff00n, true); // e_phoff
    expect(errorOf(b).code).toBe("too_large");
    const e = good.slice();
    new DataView(e.buffer).setUint16(54, 7, true); // e_phentsize
    expect(errorOf(e)).toMatchObject({ code: "bad_header" });
  });
});
