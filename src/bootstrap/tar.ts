// Just enough tar for the bootstrap: listing a (pax / GNU / ustar) archive
// with each member's data offset, and writing a deterministic ustar archive
// from in-memory data and files on disk.
import { tarHeader } from "../engine/tar.js";
import { createReadStream } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import type { Writable } from "node:stream";
import { BootstrapError } from "./exec.js";

export interface TarMember {
  /** Path as stored, e.g. `./etc/apt/sources.list` (pax / GNU long names resolved). */
  readonly path: string;
  /** ustar type flag: "0" file, "5" directory, "2" symlink, "1" hard link, "3"/"4" devices, … */
  readonly type: string;
  readonly size: number;
  readonly mode: number;
  readonly linkname: string;
  /** Byte offset of the member's data in the archive. */
  readonly offset: number;
}

function cstr(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString("utf8", start, end === -1 || end > start + len ? start + len : end);
}

function num(b: Buffer, start: number, len: number): number {
  if (b[start]! & 0x80) {
    // base-256 (GNU) for large values
    let n = 0;
    for (let i = start + 1; i < start + len; i++) n = n * 256 + b[i]!;
    return n;
  }
  const s = cstr(b, start, len).trim();
  return s === "" ? 0 : parseInt(s, 8);
}

function parsePax(data: Buffer): Map<string, string> {
  const m = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp === -1) break;
    const len = parseInt(data.toString("ascii", i, sp), 10);
    if (!(len > 0)) break;
    const rec = data.toString("utf8", sp + 1, i + len - 1);
    const eq = rec.indexOf("=");
    if (eq > 0) m.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return m;
}

/** Lists the members of the tar archive at `path`. */
export async function listTar(path: string): Promise<TarMember[]> {
  const fh = await open(path, "r");
  try {
    const members: TarMember[] = [];
    const hdr = Buffer.alloc(512);
    let pos = 0;
    let pax = new Map<string, string>();
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const { bytesRead } = await fh.read(hdr, 0, 512, pos);
      if (bytesRead < 512) throw new BootstrapError(`${path}: truncated tar at ${pos}`);
      if (hdr.every((b) => b === 0)) break;
      const type = String.fromCharCode(hdr[156] || 0x30);
      const size = num(hdr, 124, 12);
      const dataOff = pos + 512;
      pos = dataOff + Math.ceil(size / 512) * 512;
      if (type === "x" || type === "L" || type === "K") {
        const data = await readAt(fh, dataOff, size);
        if (type === "x") pax = parsePax(data);
        else if (type === "L") longName = cstr(data, 0, data.length);
        else longLink = cstr(data, 0, data.length);
        continue;
      }
      if (type === "g") continue;
      const prefix = cstr(hdr, 345, 155);
      const name = cstr(hdr, 0, 100);
      const path0 = pax.get("path") ?? longName ?? (prefix ? `${prefix}/${name}` : name);
      members.push({
        path: path0,
        type,
        size: pax.has("size") ? Number(pax.get("size")) : size,
        mode: num(hdr, 100, 8),
        linkname: pax.get("linkpath") ?? longLink ?? cstr(hdr, 157, 100),
        offset: dataOff,
      });
      pax = new Map();
      longName = undefined;
      longLink = undefined;
    }
    return members;
  } finally {
    await fh.close();
  }
}

async function readAt(fh: FileHandle, offset: number, size: number): Promise<Buffer> {
  const b = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const { bytesRead } = await fh.read(b, got, size - got, offset + got);
    if (bytesRead === 0) throw new BootstrapError(`truncated tar member at ${offset}`);
    got += bytesRead;
  }
  return b;
}

/** The data of one member of the archive at `path`. */
export async function readMember(path: string, m: TarMember): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    return await readAt(fh, m.offset, m.size);
  } finally {
    await fh.close();
  }
}

/** Whether the file at `path` contains `needle` anywhere (streamed, chunk borders handled). */
export async function fileContains(path: string, needle: Buffer): Promise<boolean> {
  let carry = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const buf = Buffer.concat([carry, chunk as Buffer]);
    if (buf.indexOf(needle) !== -1) return true;
    carry = buf.subarray(Math.max(0, buf.length - needle.length + 1));
  }
  return false;
}

// ---------------------------------------------------------------- writing

export type TarSource =
  | { readonly type: "dir"; readonly path: string }
  | { readonly type: "file"; readonly path: string; readonly data: Uint8Array }
  | { readonly type: "file"; readonly path: string; readonly file: string; readonly size: number };

/** A ustar header: owner 0:0, mode 0644 / 0755, the given mtime. */
export function ustarHeader(e: { readonly type: "dir" | "file"; readonly path: string }, size: number, mtime: number): Buffer {
  try {
    return tarHeader(e.type === "dir" ? { type: "dir", path: e.path } : { type: "file", path: e.path, data: new Uint8Array(0) }, size, mtime);
  } catch (err) {
    throw new BootstrapError((err as Error).message);
  }
}

function write(out: Writable, b: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(b, (err) => (err ? reject(err) : resolve()));
  });
}

/** Streams a ustar archive of `entries`, in the order given, to `out` (not ended). */
export async function writeTar(out: Writable, entries: readonly TarSource[], mtime: number): Promise<void> {
  for (const e of entries) {
    if (e.type === "dir") {
      await write(out, ustarHeader(e, 0, mtime));
      continue;
    }
    const size = "data" in e ? e.data.length : e.size;
    await write(out, ustarHeader(e, size, mtime));
    if ("data" in e) {
      await write(out, e.data);
    } else {
      let n = 0;
      for await (const chunk of createReadStream(e.file)) {
        n += (chunk as Buffer).length;
        await write(out, chunk as Buffer);
      }
      if (n !== size) throw new BootstrapError(`tar: ${e.file} changed size while archiving`);
    }
    const pad = (512 - (size % 512)) % 512;
    if (pad) await write(out, Buffer.alloc(pad));
  }
  await write(out, Buffer.alloc(1024));
}
