// An image's flattened root filesystem: layers applied in order, OCI
// whiteouts honoured, symlinks resolvable inside the image root.

import { isElf } from "../elf/index.js";
import type { TarRecord, TarType } from "./tar.js";

export type FileType = TarType;

/** One file of a layer, as the layer readers hand it over. */
export interface FsInput {
  /** Absolute path in the image, e.g. "/usr/bin/redis-server"; "/" for the root. */
  readonly path: string;
  readonly type: FileType;
  /** Permission bits including setuid/setgid/sticky. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly linkTarget?: string;
  readonly xattrs?: Readonly<Record<string, Uint8Array>>;
  /**
   * The file's bytes. An FsEntry keeps them only for ELF files, scripts (`#!`)
   * and a few small configuration files the checks read (/etc/passwd,
   * /etc/group, /etc/ld.so.conf*).
   */
  readonly data?: Uint8Array;
}

/** A file of the flattened filesystem. */
export interface FsEntry extends FsInput {
  /** The file starts with \x7fELF. */
  readonly elf: boolean;
}

interface Node {
  entry: FsEntry;
  children: Map<string, Node> | undefined;
  /** Index of the layer that last wrote this node. */
  layer: number;
}

const ROOT_ENTRY: FsEntry = { path: "/", type: "dir", mode: 0o755, uid: 0, gid: 0, size: 0, elf: false };
const MAX_SYMLINKS = 40;

/** Whether the checks need this file's bytes. */
function keepData(path: string, data: Uint8Array): boolean {
  if (isElf(data)) return true;
  if (data.length >= 2 && data[0] === 0x23 && data[1] === 0x21) return true; // "#!"
  return data.length <= 1 << 20 && (path === "/etc/passwd" || path === "/etc/group" || path === "/etc/ld.so.conf" || path.startsWith("/etc/ld.so.conf.d/"));
}


export function makeEntry(absPath: string, r: FsInput): FsEntry {
  const data = r.type === "file" ? r.data : undefined;
  const elf = data !== undefined && isElf(data);
  return {
    path: absPath,
    type: r.type,
    mode: r.mode & 0o7777,
    uid: r.uid,
    gid: r.gid,
    size: r.size,
    ...(r.linkTarget !== undefined ? { linkTarget: r.linkTarget } : {}),
    ...(r.xattrs && Object.keys(r.xattrs).length > 0 ? { xattrs: r.xattrs } : {}),
    ...(data && keepData(absPath, data) ? { data } : {}),
    elf,
  };
}

function join(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

export class ImageFs {
  private readonly root: Node = { entry: ROOT_ENTRY, children: new Map(), layer: -1 };
  private layers = 0;
  private count = 0;

  /** Number of entries (not counting the root). */
  get size(): number {
    return this.count;
  }

  /**
   * Applies one layer (a tar's records, in order). Whiteouts (`.wh.<name>`,
   * `.wh..wh..opq`) hide only what lower layers hold, so they are applied
   * first, then the layer's own entries.
   */
  applyLayer(records: readonly TarRecord[]): void {
    const layer = this.layers++;
    const adds: TarRecord[] = [];
    for (const r of records) {
      const slash = r.path.lastIndexOf("/");
      const base = r.path.slice(slash + 1);
      if (!base.startsWith(".wh.")) {
        adds.push(r);
        continue;
      }
      const dirPath = slash < 0 ? "" : r.path.slice(0, slash);
      const dir = this.lookupDir(dirPath);
      if (!dir?.children) continue;
      if (base === ".wh..wh..opq") {
        for (const [name, child] of dir.children) if (child.layer < layer) this.remove(dir, name, child);
      } else {
        const name = base.slice(4);
        const child = dir.children.get(name);
        if (child && child.layer < layer) this.remove(dir, name, child);
      }
    }
    for (const r of adds) this.add(r, layer);
  }

  /** Adds one entry (used by the directory reader too); parents that do not exist are created as root-owned 0755 directories. */
  addEntry(r: FsInput): void {
    this.add(r, this.layers);
  }

  private remove(dir: Node, name: string, child: Node): void {
    dir.children?.delete(name);
    this.count -= 1 + this.countBelow(child);
  }

  private countBelow(n: Node): number {
    let c = 0;
    if (n.children) for (const ch of n.children.values()) c += 1 + this.countBelow(ch);
    return c;
  }

  private add(r: FsInput & { readonly path: string }, layer: number): void {
    const p = r.path.startsWith("/") ? r.path.slice(1) : r.path;
    if (p === "") {
      // The root directory's own metadata.
      if (r.type === "dir") this.root.entry = makeEntry("/", r);
      return;
    }
    const slash = p.lastIndexOf("/");
    const parentPath = slash < 0 ? "" : p.slice(0, slash);
    const name = p.slice(slash + 1);
    const parent = this.ensureDir(parentPath, layer);
    if (!parent) return; // parent is a non-directory: a tar extractor would fail too
    const absPath = join(parent.entry.path, name);
    let input: FsInput = r;
    if (r.type === "hardlink" && r.linkTarget !== undefined) {
      const target = this.lstat("/" + r.linkTarget);
      if (target && target.type === "file") {
        input = { ...r, type: "file", size: target.size, ...(target.data ? { data: target.data } : {}), ...(target.xattrs ? { xattrs: target.xattrs } : {}) };
        const entry: FsEntry = { ...makeEntry(absPath, input), elf: target.elf };
        this.put(parent, name, entry, layer);
        return;
      }
    }
    this.put(parent, name, makeEntry(absPath, input), layer);
  }

  private put(parent: Node, name: string, entry: FsEntry, layer: number): void {
    const children = parent.children!;
    const existing = children.get(name);
    if (existing) {
      if (entry.type === "dir" && existing.entry.type === "dir") {
        existing.entry = entry;
        existing.layer = layer;
        return;
      }
      this.count -= 1 + this.countBelow(existing);
    }
    children.set(name, { entry, children: entry.type === "dir" ? new Map() : undefined, layer });
    this.count++;
  }

  /** The directory node at a relative path, creating missing directories; follows symlinks in the path. */
  private ensureDir(rel: string, layer: number): Node | undefined {
    if (rel === "") return this.root;
    let node = this.root;
    for (const seg of rel.split("/")) {
      let child = node.children!.get(seg);
      if (!child) {
        const entry: FsEntry = { path: join(node.entry.path, seg), type: "dir", mode: 0o755, uid: 0, gid: 0, size: 0, elf: false };
        child = { entry, children: new Map(), layer };
        node.children!.set(seg, child);
        this.count++;
      } else if (child.entry.type === "symlink") {
        const resolved = this.resolveNode(child.entry.path, true);
        if (!resolved?.children) return undefined;
        child = resolved;
      }
      if (!child.children) return undefined;
      node = child;
    }
    return node;
  }

  private lookupDir(rel: string): Node | undefined {
    const n = rel === "" ? this.root : this.resolveNode("/" + rel, true);
    return n?.children ? n : undefined;
  }

  /**
   * Resolves an absolute path inside the image root, following symlinks in
   * every component, and in the last one when `follow`. `..` never leaves the root.
   */
  private resolveNode(path: string, follow: boolean): Node | undefined {
    let budget = MAX_SYMLINKS;
    const walk = (start: Node[], segs: string[], followLast: boolean): Node[] | undefined => {
      const stack = [...start];
      for (let i = 0; i < segs.length; i++) {
        const seg = segs[i]!;
        if (seg === "" || seg === ".") continue;
        if (seg === "..") {
          if (stack.length > 1) stack.pop();
          continue;
        }
        const cur = stack[stack.length - 1]!;
        const child = cur.children?.get(seg);
        if (!child) return undefined;
        const last = i === segs.length - 1 || segs.slice(i + 1).every((s) => s === "" || s === ".");
        if (child.entry.type === "symlink" && (!last || followLast)) {
          if (--budget < 0) return undefined;
          const target = child.entry.linkTarget ?? "";
          const base = target.startsWith("/") ? [this.root] : stack;
          const r = walk(base, target.split("/"), true);
          if (!r) return undefined;
          stack.length = 0;
          stack.push(...r);
          continue;
        }
        if (!last && !child.children) return undefined;
        stack.push(child);
      }
      return stack;
    };
    const r = walk([this.root], path.split("/"), follow);
    return r?.[r.length - 1];
  }

  /** The entry at `path` (symlinks in the directories followed, not in the last component). */
  lstat(path: string): FsEntry | undefined {
    return this.resolveNode(path, false)?.entry;
  }

  /** The entry `path` finally refers to, all symlinks followed. */
  stat(path: string): FsEntry | undefined {
    return this.resolveNode(path, true)?.entry;
  }

  /** Every entry, depth first, sorted by name within each directory (the root not included). */
  *entries(): IterableIterator<FsEntry> {
    const stack: Node[] = [this.root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n !== this.root) yield n.entry;
      if (n.children) {
        const kids = [...n.children.entries()].sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0));
        for (const [, k] of kids) stack.push(k);
      }
    }
  }

  /** Names in a directory (following symlinks), or undefined. */
  list(path: string): string[] | undefined {
    const n = this.resolveNode(path, true);
    return n?.children ? [...n.children.keys()].sort() : undefined;
  }
}
