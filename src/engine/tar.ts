// A small, deterministic ustar writer: enough for image layers and OCI
// archives (regular files, directories, symlinks; fixed owner and mtime).

export type TarEntry =
  | { readonly type: "file"; readonly path: string; readonly data: Uint8Array; readonly mode?: number; readonly uid?: number; readonly gid?: number }
  | { readonly type: "dir"; readonly path: string; readonly mode?: number; readonly uid?: number; readonly gid?: number }
  | { readonly type: "symlink"; readonly path: string; readonly target: string };

/** Every entry gets this mtime (2025-01-01T00:00:00Z): same inputs, same bytes. */
export const TAR_MTIME = 1735689600;

function octal(n: number, width: number): string {
  const s = n.toString(8);
  if (s.length > width - 1) throw new Error(`tar: ${n} does not fit a ${width}-byte field`);
  return s.padStart(width - 1, "0") + "\0";
}

function splitName(path: string): { name: string; prefix: string } {
  const bytes = Buffer.byteLength(path);
  if (bytes <= 100) return { name: path, prefix: "" };
  for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix };
  }
  throw new Error(`tar: path too long for ustar: ${path}`);
}

/** The 512-byte ustar header of `e` holding `size` bytes, dated `mtime` (seconds). */
export function tarHeader(e: TarEntry, size: number, mtime = TAR_MTIME): Buffer {
  const h = Buffer.alloc(512);
  const path = e.type === "dir" && !e.path.endsWith("/") ? e.path + "/" : e.path;
  const { name, prefix } = splitName(path);
  const mode = e.type === "symlink" ? 0o777 : (e.mode ?? (e.type === "dir" ? 0o755 : 0o644));
  const uid = e.type === "symlink" ? 0 : (e.uid ?? 0);
  const gid = e.type === "symlink" ? 0 : (e.gid ?? 0);
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode, 8), 100, "ascii");
  h.write(octal(uid, 8), 108, "ascii");
  h.write(octal(gid, 8), 116, "ascii");
  h.write(octal(size, 12), 124, "ascii");
  h.write(octal(mtime, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(e.type === "file" ? "0" : e.type === "dir" ? "5" : "2", 156, "ascii");
  if (e.type === "symlink") h.write(e.target, 157, 100, "utf8");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "ascii");
  return h;
}

/** The tar archive of `entries`, in the order given, every entry dated `mtime`, ending with two zero blocks. */
export function tar(entries: readonly TarEntry[], mtime = TAR_MTIME): Buffer {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.type === "file" ? e.data : new Uint8Array(0);
    parts.push(tarHeader(e, data.length, mtime));
    if (data.length > 0) {
      parts.push(data);
      const pad = (512 - (data.length % 512)) % 512;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
