// A root filesystem in a plain directory (BuildKit's `type=local` output),
// or one subfolder per platform (linux_amd64, linux_arm64) for multi-platform
// output. Ownership and modes are the host's; extended attributes (file
// capabilities) are not read: Node.js has no xattr API.

import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, type Stats } from "node:fs";
import { join } from "node:path";
import { ImageFs, type FileType } from "./fs.js";
import type { OciPlatform } from "./oci.js";

const PLATFORM_DIR = /^([a-z0-9]+)_([a-z0-9]+)(?:_(v[0-9a-z]+))?$/;

/** The platform subfolders of a multi-platform local export, or undefined when `dir` is itself a root filesystem. */
export function platformDirs(dir: string): { platform: OciPlatform; path: string }[] | undefined {
  const ents = readdirSync(dir, { withFileTypes: true });
  if (ents.length === 0) return undefined;
  const out: { platform: OciPlatform; path: string }[] = [];
  for (const e of ents) {
    const m = PLATFORM_DIR.exec(e.name);
    if (!e.isDirectory() || !m || !["linux", "windows", "freebsd", "darwin"].includes(m[1]!)) return undefined;
    out.push({ platform: { os: m[1]!, architecture: m[2]!, ...(m[3] ? { variant: m[3] } : {}) }, path: join(dir, e.name) });
  }
  return out;
}

function typeOf(st: Stats): FileType | undefined {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isCharacterDevice()) return "char";
  if (st.isBlockDevice()) return "block";
  if (st.isFIFO()) return "fifo";
  return undefined;
}

function needsBytes(rel: string, head: Uint8Array, n: number): boolean {
  if (n >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46) return true;
  if (n >= 2 && head[0] === 0x23 && head[1] === 0x21) return true;
  return rel === "/etc/passwd" || rel === "/etc/group" || rel === "/etc/ld.so.conf" || rel.startsWith("/etc/ld.so.conf.d/");
}

/** Reads a directory tree into an ImageFs (hard links are read as separate files). */
export function readRootDir(dir: string): ImageFs {
  const fs = new ImageFs();
  const head = new Uint8Array(4);
  const rootSt = lstatSync(dir);
  fs.addEntry({ path: "", type: "dir", mode: rootSt.mode, uid: rootSt.uid, gid: rootSt.gid, size: 0 });
  const walk = (abs: string, rel: string): void => {
    for (const name of readdirSync(abs).sort()) {
      const a = join(abs, name);
      const r = `${rel}/${name}`;
      const st = lstatSync(a);
      const type = typeOf(st);
      if (!type) continue; // sockets
      let data: Uint8Array | undefined;
      if (type === "file" && st.size > 0) {
        const fd = openSync(a, "r");
        let n = 0;
        try {
          n = readSync(fd, head, 0, 4, 0);
        } finally {
          closeSync(fd);
        }
        if (needsBytes(r, head, n)) data = readFileSync(a);
      }
      fs.addEntry({
        path: r,
        type,
        mode: st.mode,
        uid: st.uid,
        gid: st.gid,
        size: type === "file" ? st.size : 0,
        ...(type === "symlink" ? { linkTarget: readlinkSync(a) } : {}),
        ...(data ? { data } : {}),
      });
      if (type === "dir") walk(a, r);
    }
  };
  walk(dir, "");
  return fs;
}
