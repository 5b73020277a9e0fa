// A small tar reader: ustar, GNU long names (L/K) and PAX headers (x/g),
// including extended attributes (SCHILY.xattr.*, LIBARCHIVE.xattr.*). The
// archive is one buffer in memory; file contents are zero-copy views into it.
// Pure: bytes in, records out.

export type TarType = "file" | "hardlink" | "symlink" | "char" | "block" | "dir" | "fifo";

export interface TarRecord {
  /** Normalised path without leading "/" or "./" and without a trailing "/"; "" is the root. */
  readonly path: string;
  readonly type: TarType;
  /** Permission bits including setuid (0o4000), setgid (0o2000) and sticky (0o1000). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** Symlink target as written, or the (normalised) path a hard link points to. */
  readonly linkTarget?: string;
  /** Extended attributes from PAX headers, e.g. `security.capability`. */
  readonly xattrs?: Readonly<Record<string, Uint8Array>>;
  /** The file's bytes: a view into the archive buffer (empty for non-files). */
  readonly data: Uint8Array;
}

export class TarError extends Error {
  override readonly name = "TarError";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`tar: ${message} (at offset ${offset})`);
  }
}

const BLOCK = 512;
const decoder = new TextDecoder("utf-8");
const EMPTY = new Uint8Array(0);

function cstring(buf: Uint8Array, start: number, len: number): string {
  let end = start;
  const max = start + len;
  while (end < max && buf[end] !== 0) end++;
  return decoder.decode(buf.subarray(start, end));
}

/** A numeric header field: octal text, or base-256 when the high bit of the first byte is set. */
function numeric(buf: Uint8Array, start: number, len: number, offset: number, field: string): number {
  const first = buf[start] ?? 0;
  if (first & 0x80) {
    if (first === 0xff) throw new TarError(`negative base-256 ${field}`, offset);
    let n = first & 0x7f;
    for (let i = 1; i < len; i++) {
      n = n * 256 + (buf[start + i] ?? 0);
      if (n > Number.MAX_SAFE_INTEGER) throw new TarError(`${field} too large`, offset);
    }
    return n;
  }
  let n = 0;
  let seen = false;
  for (let i = start; i < start + len; i++) {
    const c = buf[i] ?? 0;
    if (c === 0) break;
    if (c === 0x20) {
      if (seen) break;
      continue;
    }
    if (c < 0x30 || c > 0x37) throw new TarError(`bad octal digit in ${field}`, offset);
    n = n * 8 + (c - 0x30);
    seen = true;
  }
  return n;
}

function isZeroBlock(buf: Uint8Array, off: number): boolean {
  for (let i = off; i < off + BLOCK; i++) if (buf[i] !== 0) return false;
  return true;
}

function checksumOk(buf: Uint8Array, off: number): boolean {
  const stored = numeric(buf, off + 148, 8, off, "checksum");
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (buf[off + i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** Normalises an archive path: no leading "/" or "./", no "." or empty segments, ".." resolved (clamped at the root). */
export function normalizeTarPath(p: string): string {
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return out.join("/");
}

interface Pax {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  xattrs?: Record<string, Uint8Array>;
}

function parsePax(data: Uint8Array, offset: number, into: Pax): void {
  let i = 0;
  while (i < data.length) {
    let sp = i;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = Number(decoder.decode(data.subarray(i, sp)));
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) {
      // Trailing NUL padding is tolerated; anything else is corrupt.
      if (data.subarray(i).every((b) => b === 0)) return;
      throw new TarError("malformed PAX record", offset);
    }
    const rec = data.subarray(sp + 1, i + len - 1); // without the trailing "\n"
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new TarError("PAX record without '='", offset);
    const key = decoder.decode(rec.subarray(0, eq));
    const raw = rec.subarray(eq + 1);
    switch (key) {
      case "path":
        into.path = decoder.decode(raw);
        break;
      case "linkpath":
        into.linkpath = decoder.decode(raw);
        break;
      case "size":
      case "uid":
      case "gid": {
        const n = Number(decoder.decode(raw));
        if (!Number.isSafeInteger(n) || n < 0) throw new TarError(`bad PAX ${key}`, offset);
        into[key] = n;
        break;
      }
      default:
        if (key.startsWith("SCHILY.xattr.")) {
          (into.xattrs ??= {})[key.slice("SCHILY.xattr.".length)] = raw;
        } else if (key.startsWith("LIBARCHIVE.xattr.")) {
          const name = decodeURIComponent(key.slice("LIBARCHIVE.xattr.".length));
          (into.xattrs ??= {})[name] = Buffer.from(decoder.decode(raw), "base64");
        }
    }
    i += len;
  }
}

/** Every entry of a tar archive, in order (PAX/GNU meta entries folded into the entry they describe). */
export function readTar(buf: Uint8Array): TarRecord[] {
  const out: TarRecord[] = [];
  let off = 0;
  let pax: Pax = {};
  let globalPax: Pax = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  let ended = false;
  while (off + BLOCK <= buf.length) {
    if (isZeroBlock(buf, off)) {
      ended = true;
      break;
    }
    if (!checksumOk(buf, off)) throw new TarError("header checksum mismatch", off);
    const flag = String.fromCharCode(buf[off + 156] ?? 0);
    const headerSize = numeric(buf, off + 124, 12, off, "size");
    const size = flag === "x" || flag === "g" || flag === "L" || flag === "K" ? headerSize : (pax.size ?? globalPax.size ?? headerSize);
    const dataStart = off + BLOCK;
    if (dataStart + size > buf.length) throw new TarError(`entry data (${size} bytes) runs past the end of the archive`, off);
    const data = buf.subarray(dataStart, dataStart + size);
    const next = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    switch (flag) {
      case "x":
        parsePax(data, off, pax);
        off = next;
        continue;
      case "g":
        parsePax(data, off, globalPax);
        off = next;
        continue;
      case "L":
        longName = cstring(data, 0, data.length);
        off = next;
        continue;
      case "K":
        longLink = cstring(data, 0, data.length);
        off = next;
        continue;
      case "V":
      case "M":
        off = next;
        pax = {};
        longName = longLink = undefined;
        continue;
    }
    const magic = cstring(buf, off + 257, 6);
    let name = cstring(buf, off, 100);
    if (magic === "ustar") {
      const prefix = cstring(buf, off + 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const rawPath = pax.path ?? longName ?? globalPax.path ?? name;
    const rawLink = pax.linkpath ?? longLink ?? globalPax.linkpath ?? cstring(buf, off + 157, 100);
    let type: TarType;
    switch (flag) {
      case "1":
        type = "hardlink";
        break;
      case "2":
        type = "symlink";
        break;
      case "3":
        type = "char";
        break;
      case "4":
        type = "block";
        break;
      case "5":
      case "D":
        type = "dir";
        break;
      case "6":
        type = "fifo";
        break;
      default:
        // "0", "\0", "7", and (POSIX) any unknown type: a regular file. A
        // pre-POSIX name ending in "/" is a directory.
        type = flag === "\0" && rawPath.endsWith("/") ? "dir" : "file";
    }
    const xattrs = globalPax.xattrs || pax.xattrs ? { ...globalPax.xattrs, ...pax.xattrs } : undefined;
    const rec: TarRecord = {
      path: normalizeTarPath(rawPath),
      type,
      mode: numeric(buf, off + 100, 8, off, "mode") & 0o7777,
      uid: pax.uid ?? globalPax.uid ?? numeric(buf, off + 108, 8, off, "uid"),
      gid: pax.gid ?? globalPax.gid ?? numeric(buf, off + 116, 8, off, "gid"),
      size: type === "file" ? size : 0,
      ...(type === "symlink" ? { linkTarget: rawLink } : type === "hardlink" ? { linkTarget: normalizeTarPath(rawLink) } : {}),
      ...(xattrs ? { xattrs } : {}),
      data: type === "file" ? data : EMPTY,
    };
    out.push(rec);
    pax = {};
    longName = longLink = undefined;
    off = next;
  }
  // A layer cut short at a block boundary still lacks the end-of-archive blocks every tar writer adds.
  if (!ended && off > 0) throw new TarError("no end-of-archive marker: the archive is truncated", off);
  return out;
}
