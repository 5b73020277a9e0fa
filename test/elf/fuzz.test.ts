// Property tests: truncated and corrupted versions of real and handcrafted
// ELF files give a report or an ElfError (never another exception) quickly.

import { existsSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DT, PF } from "../../src/elf/constants.js";
import { ElfError, analyzeElf } from "../../src/elf/index.js";
import { buildElf } from "./build-elf.js";

/** Per-file time bound; analysis of a 2 MB libc takes ~10 ms. */
const MAX_MS = 2_000;

const handcrafted: [string, Uint8Array][] = [
  [
    "be32",
    buildElf({
      elfClass: 32,
      little: false,
      type: 3,
      machine: 8,
      interp: "/lib/ld.so.1",
      stackFlags: PF.R | PF.W,
      relro: true,
      dynamic: [
        { tag: DT.NEEDED, str: "libc.so.6" },
        { tag: DT.RUNPATH, str: "/opt" },
      ],
      dynsym: [{ name: "__stack_chk_fail" }, { name: "__memcpy_chk" }],
      symtab: [{ name: "main", shndx: 1 }],
      properties: [{ type: 0xc0000002, value: 3 }],
    }),
  ],
  [
    "le64-noshdr",
    buildElf({
      elfClass: 64,
      little: true,
      type: 3,
      machine: 62,
      interp: "/lib64/ld-linux-x86-64.so.2",
      dynamic: [{ tag: DT.NEEDED, str: "libc.so.6" }],
      dynsym: [{ name: "puts" }],
      properties: [{ type: 0xc0000002, value: 1 }],
      noSections: true,
    }),
  ],
];

const system = ["/usr/bin/true", "/usr/bin/ls", "/usr/lib/x86_64-linux-gnu/libc.so.6"]
  .filter((f) => existsSync(f))
  .map((f): [string, Uint8Array] => [f, new Uint8Array(readFileSync(f))]);

const samples = [...handcrafted, ...system];

/** Runs analyzeElf; fails the property on any exception other than ElfError or on a slow run. */
function analyzeSafely(bytes: Uint8Array): "report" | "error" {
  const t0 = performance.now();
  let outcome: "report" | "error";
  try {
    analyzeElf(bytes);
    outcome = "report";
  } catch (e) {
    if (!(e instanceof ElfError)) throw e;
    expect(e.message.length).toBeGreaterThan(0);
    outcome = "error";
  }
  const ms = performance.now() - t0;
  if (ms > MAX_MS) throw new Error(`analyzeElf took ${ms.toFixed(0)} ms on ${bytes.length} bytes`);
  return outcome;
}

/** Offsets worth corrupting: the headers and the section header table. */
function hotOffsets(b: Uint8Array): fc.Arbitrary<number> {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const is64 = b[4] === 2;
  const little = b[5] === 1;
  const shoff = Number(is64 ? view.getBigUint64(40, little) : BigInt(view.getUint32(32, little)));
  const last = b.length - 1;
  const arbs = [fc.integer({ min: 0, max: Math.min(last, 4095) }), fc.integer({ min: 0, max: last })];
  if (shoff > 0 && shoff < b.length) arbs.push(fc.integer({ min: shoff, max: last }));
  return fc.oneof(...arbs);
}

describe.each(samples)("fuzzing %s", (_name, bytes) => {
  const runs = bytes.length > 1 << 20 ? 40 : 250;

  it("survives truncation at every length", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length }), (n) => {
        const out = analyzeSafely(bytes.subarray(0, n));
        if (n === bytes.length) expect(out).toBe("report");
      }),
      { numRuns: runs },
    );
  }, 120_000);

  it("survives random byte flips", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(hotOffsets(bytes), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 24 }), (edits) => {
        const b = bytes.slice();
        for (const [at, v] of edits) b[at] = v;
        analyzeSafely(b);
      }),
      { numRuns: runs },
    );
  }, 120_000);

  it("survives extreme values written over header and table fields", () => {
    const extremes = [0n, 1n, 0x7fn, 0xffn, 0xffffn, 0x7fffffffn, 0xffffffffn, 0xffffffffffffffffn, BigInt(bytes.length), BigInt(bytes.length + 1)];
    fc.assert(
      fc.property(hotOffsets(bytes), fc.constantFrom(...extremes), fc.constantFrom(2, 4, 8), fc.boolean(), (at, v, width, little) => {
        const b = bytes.slice();
        const view = new DataView(b.buffer);
        const start = Math.min(at, b.length - width);
        if (start < 0) return;
        if (width === 2) view.setUint16(start, Number(v & 0xffffn), little);
        else if (width === 4) view.setUint32(start, Number(v & 0xffffffffn), little);
        else view.setBigUint64(start, v, little);
        analyzeSafely(b);
      }),
      { numRuns: runs },
    );
  }, 120_000);
});

describe("adversarial structures", () => {
  it("bounds work when every symbol points at one long unterminated string", () => {
    const names = Array.from({ length: 4000 }, (_, i) => `s${i}`);
    const b = buildElf({ elfClass: 64, little: true, type: 3, machine: 62, symtab: names.map((name) => ({ name })) });
    // Overwrite the string table's NULs after the first byte: no name ends.
    const text = new TextDecoder("latin1").decode(b);
    const at = text.indexOf("\0s0\0");
    expect(at).toBeGreaterThan(0);
    const end = text.indexOf(".symtab", at);
    for (let i = at + 1; i < end - 1; i++) if (b[i] === 0) b[i] = 0x41;
    expect(["report", "error"]).toContain(analyzeSafely(b));
  });
});
