// Test helpers: a tar writer with the features the reader must handle (GNU
// long names, PAX paths and xattrs, base-256 numbers, hard links), an OCI
// layout archive builder, and small ELF files for image fixtures.

import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { DF_1_NOW, DF_1_PIE, DF_BIND_NOW, DT, PF } from "../../src/elf/constants.js";
import { buildElf, type ElfSpec } from "../elf/build-elf.js";

export interface TEntry {
  readonly path: string;
  readonly type?: "file" | "dir" | "symlink" | "hardlink" | "char" | "fifo";
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly data?: Uint8Array | string;
  readonly link?: string;
  readonly xattrs?: Record<string, Uint8Array | string>;
  /** How to store a path longer than 100 bytes (default pax). */
  readonly long?: "gnu" | "pax" | "ustar";
  /** Write uid/gid in base-256. */
  readonly base256?: boolean;
}

const enc = new TextEncoder();
const bytes = (d: Uint8Array | string | undefined): Uint8Array => (d === undefined ? new Uint8Array(0) : typeof d === "string" ? enc.encode(d) : d);

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

function header(o: { name: string; prefix?: string; mode: number; uid: number; gid: number; size: number; flag: string; link?: string; base256?: boolean }): Buffer {
  const h = Buffer.alloc(512);
  h.write(o.name, 0, 100, "utf8");
  h.write(octal(o.mode, 8), 100, "ascii");
  if (o.base256) {
    h[108] = 0x80;
    h.writeUInt32BE(o.uid, 112);
    h[116] = 0x80;
    h.writeUInt32BE(o.gid, 120);
  } else {
    h.write(octal(o.uid, 8), 108, "ascii");
    h.write(octal(o.gid, 8), 116, "ascii");
  }
  h.write(octal(o.size, 12), 124, "ascii");
  h.write(octal(1735689600, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(o.flag, 156, "ascii");
  if (o.link) h.write(o.link, 157, 100, "utf8");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  if (o.prefix) h.write(o.prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "ascii");
  return h;
}

function pad(b: Uint8Array): Uint8Array[] {
  const r = (512 - (b.length % 512)) % 512;
  return r ? [b, Buffer.alloc(r)] : [b];
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const k = enc.encode(` ${key}=`);
  let len = k.length + value.length + 1;
  len += String(len).length;
  if (String(len).length !== String(len - String(len).length).length) len++;
  return Buffer.concat([enc.encode(String(len)), k, value, enc.encode("\n")]);
}

/** A tar archive of the entries (directories get a trailing "/"). */
export function makeTar(entries: readonly TEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const type = e.type ?? "file";
    const data = type === "file" ? bytes(e.data) : new Uint8Array(0);
    const path = type === "dir" && !e.path.endsWith("/") ? e.path + "/" : e.path;
    const flag = { file: "0", dir: "5", symlink: "2", hardlink: "1", char: "3", fifo: "6" }[type];
    const pax: Uint8Array[] = [];
    let name = path;
    let prefix: string | undefined;
    let link = e.link;
    if (Buffer.byteLength(path) > 100) {
      if (e.long === "gnu") {
        const d = enc.encode(path + "\0");
        parts.push(header({ name: "././@LongLink", mode: 0, uid: 0, gid: 0, size: d.length, flag: "L" }), ...pad(d));
        name = path.slice(0, 100);
      } else if (e.long === "ustar") {
        const i = path.lastIndexOf("/", path.length - 2);
        prefix = path.slice(0, i);
        name = path.slice(i + 1);
      } else {
        pax.push(paxRecord("path", enc.encode(path)));
        name = path.slice(0, 100);
      }
    }
    if (link && Buffer.byteLength(link) > 100) {
      if (e.long === "gnu") {
        const d = enc.encode(link + "\0");
        parts.push(header({ name: "././@LongLink", mode: 0, uid: 0, gid: 0, size: d.length, flag: "K" }), ...pad(d));
      } else pax.push(paxRecord("linkpath", enc.encode(link)));
      link = link.slice(0, 100);
    }
    for (const [k, v] of Object.entries(e.xattrs ?? {})) pax.push(paxRecord(`SCHILY.xattr.${k}`, bytes(v)));
    if (pax.length) {
      const d = Buffer.concat(pax);
      parts.push(header({ name: "PaxHeaders/x", mode: 0o644, uid: 0, gid: 0, size: d.length, flag: "x" }), ...pad(d));
    }
    parts.push(
      header({
        name,
        ...(prefix ? { prefix } : {}),
        mode: e.mode ?? (type === "dir" ? 0o755 : type === "symlink" ? 0o777 : 0o644),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        size: data.length,
        flag,
        ...(link !== undefined ? { link } : {}),
        ...(e.base256 ? { base256: true } : {}),
      }),
    );
    if (data.length) parts.push(...pad(data));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export interface ImageSpec {
  readonly platform: { os: string; architecture: string; variant?: string };
  readonly config: Record<string, unknown>;
  /** Layer tars, bottom first. */
  readonly layers: readonly Uint8Array[];
  /** gzip the layers (default true). */
  readonly gzip?: boolean;
}

function sha(b: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(b).digest("hex");
}

/**
 * An OCI layout archive, shaped like BuildKit's `--output type=oci`:
 * index.json → nested index → per-platform manifests, with an attestation
 * manifest per platform unless `attestations: false`.
 */
export function makeOciArchive(images: readonly ImageSpec[], opts: { nested?: boolean; attestations?: boolean } = {}): Uint8Array {
  const blobs = new Map<string, Uint8Array>();
  const put = (b: Uint8Array): { digest: string; size: number } => {
    const d = sha(b);
    blobs.set(d, b);
    return { digest: d, size: b.length };
  };
  const json = (o: unknown): Uint8Array => enc.encode(JSON.stringify(o));
  const descs: unknown[] = [];
  for (const img of images) {
    const layers = img.layers.map((l) => {
      const gz = img.gzip ?? true;
      const b = gz ? gzipSync(l) : l;
      return { mediaType: gz ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar", ...put(b) };
    });
    const config = { ...img.platform, rootfs: { type: "layers", diff_ids: img.layers.map(sha) }, config: img.config };
    const cfg = { mediaType: "application/vnd.oci.image.config.v1+json", ...put(json(config)) };
    const manifest = { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: cfg, layers };
    const m = put(json(manifest));
    descs.push({ mediaType: "application/vnd.oci.image.manifest.v1+json", ...m, platform: img.platform });
    if (opts.attestations ?? true) {
      const att = { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", ...put(json({})) }, layers: [] };
      descs.push({
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        ...put(json(att)),
        platform: { os: "unknown", architecture: "unknown" },
        annotations: { "vnd.docker.reference.digest": m.digest, "vnd.docker.reference.type": "attestation-manifest" },
      });
    }
  }
  const inner = { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: descs };
  let top: unknown = inner;
  if (opts.nested ?? true) {
    const i = put(json(inner));
    top = { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [{ mediaType: "application/vnd.oci.image.index.v1+json", ...i, annotations: { "org.opencontainers.image.created": "2025-01-01T00:00:00Z" } }] };
  }
  const entries: TEntry[] = [
    { path: "oci-layout", data: '{"imageLayoutVersion":"1.0.0"}' },
    { path: "index.json", data: JSON.stringify(top) },
    { path: "blobs", type: "dir" },
    { path: "blobs/sha256", type: "dir" },
    ...[...blobs].map(([d, b]) => ({ path: `blobs/sha256/${d.slice(7)}`, data: b, mode: 0o444 })),
  ];
  return makeTar(entries);
}

// --- ELF files ---------------------------------------------------------------

const ET_EXEC = 2;
const ET_DYN = 3;
export const RW = PF.R | PF.W;
export const RWX = PF.R | PF.W | PF.X;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

export const LDSO: Record<number, string> = { 62: "/lib64/ld-linux-x86-64.so.2", 183: "/lib/ld-linux-aarch64.so.1" };

export interface ExeOptions {
  machine?: number;
  needed?: string[];
  pie?: boolean;
  relro?: "none" | "partial" | "full";
  canary?: boolean;
  stack?: number | null;
  fortify?: "yes" | "no" | "none";
  rpath?: string;
  runpath?: string;
  interp?: string | null;
}

/** A dynamically linked executable: hardened unless told otherwise. */
export function exe(o: ExeOptions = {}): Uint8Array {
  const machine = o.machine ?? EM_X86_64;
  const pie = o.pie ?? true;
  const relro = o.relro ?? "full";
  const dynamic: NonNullable<ElfSpec["dynamic"]>[number][] = (o.needed ?? ["libc.so.6"]).map((n) => ({ tag: DT.NEEDED, str: n }));
  if (relro === "full") dynamic.push({ tag: DT.FLAGS, value: BigInt(DF_BIND_NOW) });
  if (pie || relro === "full") dynamic.push({ tag: DT.FLAGS_1, value: BigInt((pie ? DF_1_PIE : 0) | (relro === "full" ? DF_1_NOW : 0)) });
  if (o.rpath) dynamic.push({ tag: DT.RPATH, str: o.rpath });
  if (o.runpath) dynamic.push({ tag: DT.RUNPATH, str: o.runpath });
  const dynsym = [{ name: "puts" }];
  if (o.canary ?? true) dynsym.push({ name: "__stack_chk_fail" });
  const fortify = o.fortify ?? "yes";
  if (fortify === "yes") dynsym.push({ name: "__memcpy_chk" }, { name: "strcpy" });
  if (fortify === "no") dynsym.push({ name: "memcpy" }, { name: "strcpy" });
  const interp = o.interp === null ? undefined : (o.interp ?? LDSO[machine]);
  return buildElf({
    elfClass: 64,
    little: true,
    type: pie ? ET_DYN : ET_EXEC,
    machine,
    ...(interp ? { interp } : {}),
    ...(o.stack === null ? {} : { stackFlags: o.stack ?? RW }),
    relro: relro !== "none",
    dynamic,
    dynsym,
  });
}

/** A shared library with a SONAME (partial RELRO unless told otherwise). */
export function lib(soname: string, o: { machine?: number; relro?: "partial" | "full"; canary?: boolean; needed?: string[]; stack?: number; runpath?: string } = {}): Uint8Array {
  const dynamic: NonNullable<ElfSpec["dynamic"]>[number][] = [{ tag: DT.SONAME, str: soname }, ...(o.needed ?? []).map((n) => ({ tag: DT.NEEDED, str: n }))];
  if (o.relro === "full") dynamic.push({ tag: DT.FLAGS, value: BigInt(DF_BIND_NOW) });
  if (o.runpath) dynamic.push({ tag: DT.RUNPATH, str: o.runpath });
  return buildElf({
    elfClass: 64,
    little: true,
    type: ET_DYN,
    machine: o.machine ?? EM_X86_64,
    stackFlags: o.stack ?? RW,
    relro: true,
    dynamic,
    dynsym: o.canary === false ? [{ name: "memcpy", shndx: 1 }] : [{ name: "__stack_chk_fail", shndx: 1 }],
  });
}

/** Files of a minimal glibc runtime for x86_64 (merged /usr): loader and libc, Debian-style paths. */
export function glibcFiles(machine = EM_X86_64): TEntry[] {
  const triple = machine === EM_X86_64 ? "x86_64-linux-gnu" : "aarch64-linux-gnu";
  const ld = machine === EM_X86_64 ? "ld-linux-x86-64.so.2" : "ld-linux-aarch64.so.1";
  const out: TEntry[] = [
    { path: "usr", type: "dir" },
    { path: "usr/lib", type: "dir" },
    { path: `usr/lib/${triple}`, type: "dir" },
    { path: `usr/lib/${triple}/libc.so.6`, data: lib("libc.so.6", { machine }), mode: 0o755 },
    { path: `usr/lib/${triple}/${ld}`, data: lib(ld, { machine, canary: false }), mode: 0o755 },
    { path: "lib", type: "symlink", link: "usr/lib" },
  ];
  if (machine === EM_X86_64) {
    out.push({ path: "usr/lib64", type: "dir" }, { path: `usr/lib64/${ld}`, type: "symlink", link: `../lib/${triple}/${ld}` }, { path: "lib64", type: "symlink", link: "usr/lib64" });
  } else {
    out.push({ path: `usr/lib/${ld}`, type: "symlink", link: `${triple}/${ld}` });
  }
  return out;
}

export const PASSWD: TEntry[] = [
  { path: "etc", type: "dir" },
  { path: "etc/passwd", data: "root:x:0:0:root:/root:/sbin/nologin\ncaisson:x:65532:65532:caisson:/nonexistent:/sbin/nologin\n" },
  { path: "etc/group", data: "root:x:0:\ncaisson:x:65532:\nextra:x:700:caisson\n" },
];

export const GOOD_CONFIG = { User: "65532:65532", Entrypoint: ["/app/server"], Volumes: { "/data": {} }, WorkingDir: "/data" };

/** A good image's one layer: hardened server, glibc, passwd, /data owned by the user, /tmp sticky. */
export function goodLayer(machine = EM_X86_64, extra: TEntry[] = []): Uint8Array {
  return makeTar([
    ...glibcFiles(machine),
    ...PASSWD,
    { path: "app", type: "dir" },
    { path: "app/server", data: exe({ machine }), mode: 0o755 },
    { path: "data", type: "dir", uid: 65532, gid: 65532, mode: 0o700 },
    { path: "tmp", type: "dir", mode: 0o1777 },
    ...extra,
  ]);
}
