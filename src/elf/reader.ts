// Bounds-checked little/big endian reads over a Uint8Array. Every read of
// file data goes through here, so an offset taken from the file can never
// cause a RangeError: it becomes an ElfError("truncated").

import { ElfError } from "./errors.js";

export class ByteReader {
  readonly bytes: Uint8Array;
  readonly size: number;
  readonly little: boolean;
  private readonly view: DataView;
  /**
   * Bytes string reads may still scan. A corrupted file can point thousands
   * of symbols at one long unterminated string; this bounds time and memory
   * to a small multiple of the file size.
   */
  private stringBudget: number;

  constructor(bytes: Uint8Array, little: boolean) {
    this.bytes = bytes;
    this.size = bytes.length;
    this.little = little;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.stringBudget = 8 * bytes.length + (1 << 20);
  }

  /** Throws unless [off, off+len) lies inside the file. */
  check(off: number, len: number, what: string): void {
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > this.size) {
      throw new ElfError(
        "truncated",
        `${what} at offset ${fmtOff(off)} (${len} bytes) lies outside the file (${this.size} bytes)`,
        Number.isSafeInteger(off) ? off : undefined,
      );
    }
  }

  has(off: number, len: number): boolean {
    return Number.isSafeInteger(off) && Number.isSafeInteger(len) && off >= 0 && len >= 0 && off + len <= this.size;
  }

  u8(off: number, what: string): number {
    this.check(off, 1, what);
    return this.view.getUint8(off);
  }

  u16(off: number, what: string): number {
    this.check(off, 2, what);
    return this.view.getUint16(off, this.little);
  }

  u32(off: number, what: string): number {
    this.check(off, 4, what);
    return this.view.getUint32(off, this.little);
  }

  u64(off: number, what: string): bigint {
    this.check(off, 8, what);
    return this.view.getBigUint64(off, this.little);
  }

  /**
   * NUL-terminated string starting at `off`, not reading past `end`.
   * Bytes are decoded as Latin-1 so any byte sequence round-trips.
   */
  cstring(off: number, end: number, maxLen = 4096): string | undefined {
    const stop = Math.min(end, this.size, off + maxLen);
    if (!Number.isSafeInteger(off) || off < 0 || off >= stop) return undefined;
    const nul = this.bytes.subarray(off, stop).indexOf(0);
    this.stringBudget -= nul < 0 ? stop - off : nul + 1;
    if (this.stringBudget < 0) {
      throw new ElfError("too_large", `string reads exceed ${8 * this.size + (1 << 20)} bytes: overlapping or corrupt string tables`, off);
    }
    if (nul < 0) return undefined; // unterminated within the table
    return latin1(this.bytes, off, off + nul);
  }
}

function latin1(b: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode(...b.subarray(i, Math.min(end, i + 4096)));
  }
  return s;
}

export function fmtOff(n: number | bigint): string {
  return typeof n === "bigint" || Number.isSafeInteger(n) ? `0x${n.toString(16)}` : String(n);
}

/** A file-derived 64-bit value as a number, or an ElfError if it cannot be an offset/size. */
export function toSafe(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ElfError("too_large", `${what} ${fmtOff(v)} is too large to be a file offset or size`);
  }
  return Number(v);
}
