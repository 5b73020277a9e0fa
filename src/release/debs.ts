// What caisson knows of the Debian packages a build installed: each pinned
// .deb (from the sha256 store) with its control paragraph, md5sums and the
// files it holds, so a shipped file can be traced to the package it was
// copied from (compared by content, not only by name).
import { createHash } from "node:crypto";
import { readDeb, run, type Paragraph } from "../bootstrap/index.js";
import { readTar } from "../check/index.js";
import { storeFile, type DebPin } from "../debian/index.js";

export interface DebContents {
  readonly pin: DebPin;
  readonly control: Paragraph;
  /** md5sums lines by path (no leading slash), as in the .deb. */
  readonly md5sums: ReadonlyMap<string, string>;
  /** sha256 (hex) of each regular file, by path without a leading `./` or `/`; symlinks by path → target. */
  readonly files: ReadonlyMap<string, { readonly sha256?: string; readonly link?: string }>;
}

/** Reads the pinned .debs from the store; only `wanted` ones (by pin) are opened. */
export async function readDebContents(store: string, pins: readonly DebPin[]): Promise<DebContents[]> {
  const out: DebContents[] = [];
  for (const pin of pins) {
    const path = storeFile(store, pin);
    const [deb, fsys, md5] = await Promise.all([readDeb(path), run("dpkg-deb", ["--fsys-tarfile", path]), run("dpkg-deb", ["--info", path, "md5sums"]).catch(() => Buffer.alloc(0))]);
    if (deb.sha256 !== pin.sha256) throw new Error(`${path}: sha256 ${deb.sha256}, pinned ${pin.sha256}`);
    const files = new Map<string, { sha256?: string; link?: string }>();
    for (const r of readTar(fsys)) {
      if (r.type === "file") files.set(r.path, { sha256: createHash("sha256").update(r.data).digest("hex") });
      else if (r.type === "symlink" && r.linkTarget !== undefined) files.set(r.path, { link: r.linkTarget });
    }
    const md5sums = new Map<string, string>();
    for (const line of md5.toString("utf8").split("\n")) {
      const m = /^([0-9a-f]{32})\s+(\S.*)$/.exec(line);
      if (m) md5sums.set(m[2] as string, m[1] as string);
    }
    out.push({ pin, control: deb.control, md5sums, files });
  }
  return out;
}

/** The same path with and without the /usr merge (lib/x → usr/lib/x and back). */
export function pathVariants(path: string): string[] {
  const p = path.replace(/^\/+/, "");
  const merged = /^(bin|sbin|lib|lib32|lib64|libx32)\//;
  if (merged.test(p)) return [p, `usr/${p}`];
  if (/^usr\//.test(p) && merged.test(p.slice(4))) return [p, p.slice(4)];
  return [p];
}

/** The content of `path` in a package, its symlinks followed (a copy dereferences them: /lib64/ld-linux-x86-64.so.2). */
function contentIn(deb: DebContents, path: string): string | undefined {
  let p = path;
  for (let i = 0; i < 8; i++) {
    const f = deb.files.get(p);
    if (!f) return undefined;
    if (f.sha256 !== undefined) return f.sha256;
    const link = f.link ?? "";
    const joined = link.startsWith("/") ? link : `${p.slice(0, p.lastIndexOf("/") + 1)}${link}`;
    const parts: string[] = [];
    for (const seg of joined.split("/")) {
      if (seg === "" || seg === ".") continue;
      if (seg === "..") parts.pop();
      else parts.push(seg);
    }
    p = parts.join("/");
  }
  return undefined;
}

/** The package whose file at (a /usr-merge variant of) `path` has exactly this content. */
export function owningPackage(debs: readonly DebContents[], path: string, sha256hex: string): { deb: DebContents; path: string } | undefined {
  for (const deb of debs) {
    for (const v of pathVariants(path)) if (contentIn(deb, v) === sha256hex) return { deb, path: v };
  }
  return undefined;
}
