// The local directory as fsutil's sender lists it: depth first, a directory
// before its children, siblings in byte order of their names; symlinks are
// entries (never followed), the root is not listed. Filters decide per path;
// a directory a filter hides is still listed, just before the first entry
// below it that is kept.
import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { join, posix } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StatSchema } from "../../gen/fsutil/types/stat_pb.js";
import { isPrefixOnly, matches, parsePatterns, reachesInto } from "./patterns.js";
import { wireStat } from "./stat.js";

/** keep: list it; hide: do not list it (but look below a directory); prune: skip it and all below. */
export type Decision = "keep" | "hide" | "prune";

export interface WalkFilter {
  decide(path: string, isDir: boolean): Decision;
}

/** What fsutil's filter makes of include, exclude and follow-path options. */
export interface FilterOptions {
  includes?: readonly string[] | undefined;
  excludes?: readonly string[] | undefined;
  /** Already resolved to paths inside the root (see `resolveFollowPaths`). */
  followPaths?: readonly string[] | undefined;
}

/** fsutil's include/exclude filter: both pattern lists, with its shortcuts for pruning whole directories. */
export function patternFilter(opts: FilterOptions): WalkFilter {
  const includes = parsePatterns([...(opts.includes ?? []), ...(opts.followPaths ?? [])]);
  const excludes = parsePatterns(opts.excludes ?? []);
  const prefixIncludes = includes.every((p) => p.exclusion || isPrefixOnly(p));
  const prefixExceptions = excludes.every((p) => !p.exclusion || isPrefixOnly(p));
  const anyExceptions = excludes.some((p) => p.exclusion);
  return {
    decide(path, isDir) {
      let hide = false;
      if (includes.length > 0 && !matches(includes, path)) {
        if (isDir && prefixIncludes && !reachesInto(includes, false, path)) return "prune";
        hide = true;
      }
      if (excludes.length > 0 && matches(excludes, path)) {
        if (isDir && prefixExceptions && (!anyExceptions || !reachesInto(excludes, true, path))) return "prune";
        hide = true;
      }
      return hide ? "hide" : "keep";
    },
  };
}

/** Both filters at once: listed only when both keep it. */
export function bothFilters(a: WalkFilter, b: WalkFilter): WalkFilter {
  return {
    decide(path, isDir) {
      const x = a.decide(path, isDir);
      const y = b.decide(path, isDir);
      if (x === "prune" || y === "prune") return "prune";
      return x === "keep" && y === "keep" ? "keep" : "hide";
    },
  };
}

export interface WalkEntry {
  /** Relative, `/`-separated. */
  readonly path: string;
  /** Where it is on disk. */
  readonly abs: string;
  readonly stat: MessageInitShape<typeof StatSchema>;
}

/** Byte order of UTF-8 names, as Go sorts strings. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** A name as UTF-8 text, or undefined when its bytes are not UTF-8 (fsutil's paths are proto strings: such a name cannot be sent). */
function utf8Name(name: Buffer): string | undefined {
  const text = name.toString("utf8");
  return Buffer.from(text).equals(name) ? text : undefined;
}

/** A name's bytes for a message: UTF-8 as it is, every other byte as \xHH. */
function showBytes(name: Buffer): string {
  let out = "";
  for (let i = 0; i < name.length; ) {
    const b = name[i] as number;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    const part = len > 0 ? name.subarray(i, i + len) : undefined;
    if (part && part.length === len && utf8Name(part) !== undefined) {
      out += part.toString("utf8");
      i += len;
    } else {
      out += `\\x${b.toString(16).padStart(2, "0")}`;
      i++;
    }
  }
  return out;
}

/** A path for a message: at most 200 characters, its middle left out (a context can nest thousands of folders). */
export function shortPath(path: string): string {
  return path.length <= 200 ? path : `${path.slice(0, 80)}…(${path.length - 160} characters)…${path.slice(-80)}`;
}

function fsCode(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === "ENAMETOOLONG" ? "the path is too long" : code === "EACCES" ? "permission denied" : (code ?? (e as Error).message);
}

/** A context file fsutil's protocol cannot carry, or the walk cannot read. */
export class WalkError extends Error {
  override readonly name = "WalkError";
}

interface Pending {
  entry: WalkEntry;
  parent: Pending | undefined;
  listed: boolean;
}

/**
 * Lists `root` through `filter`, calling `emit` per entry in protocol order.
 * A hard-linked file seen again is sent with `linkname` naming the first
 * listed path, as fsutil does. Sockets are skipped, as docker's context tar
 * skips them (fsutil would send an empty regular file); named pipes and
 * devices are sent as what they are. A name that is not UTF-8 cannot be
 * sent: refused when the entry would be sent, else skipped.
 */
export async function walk(root: string, filter: WalkFilter, emit: (e: WalkEntry) => Promise<void>): Promise<void> {
  const firstLink = new Map<string, string>();
  const SLASH = Buffer.from("/");

  const list = async (p: Pending | undefined): Promise<void> => {
    if (!p || p.listed) return;
    await list(p.parent);
    p.listed = true;
    await emit(p.entry);
  };

  /** `shown`: the directory's path for messages, set once a name on the way is not UTF-8. */
  const visit = async (dirAbs: Buffer, dirRel: string, parent: Pending | undefined, shown: string | undefined): Promise<void> => {
    // Synchronous calls: one system call each, where a promise would wait
    // for a thread-pool round trip per entry (most of a walk's time).
    let names: Buffer[];
    try {
      names = readdirSync(dirAbs, { encoding: "buffer" }).sort(Buffer.compare);
    } catch (e) {
      throw new WalkError(`cannot read ${shortPath(shown ?? dirRel)}: ${fsCode(e)}`);
    }
    for (const raw of names) {
      const text = utf8Name(raw);
      const name = text ?? raw.toString("utf8");
      const rel = dirRel === "" ? name : `${dirRel}/${name}`;
      const bad = shown !== undefined || text === undefined ? `${shown ?? dirRel}${dirRel === "" ? "" : "/"}${showBytes(raw)}` : undefined;
      const absBuf = Buffer.concat([dirAbs, SLASH, raw]);
      let st;
      try {
        st = lstatSync(absBuf, { bigint: true });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT") continue; // gone since the listing
        throw new WalkError(`cannot read ${shortPath(bad ?? rel)}: ${fsCode(e)}`);
      }
      if (st.isSocket()) continue;
      const isDir = st.isDirectory();
      const decision = filter.decide(rel, isDir);
      if (decision === "prune") continue;
      if (decision === "keep" && bad !== undefined) throw new WalkError(`a file name that is not UTF-8: ${shortPath(bad)}; rename it or exclude it`);
      let linkname = "";
      if (st.isSymbolicLink()) {
        const target = readlinkSync(absBuf, { encoding: "buffer" });
        const t = utf8Name(target);
        if (t === undefined && decision === "keep") throw new WalkError(`a symlink whose target is not UTF-8: ${shortPath(bad ?? rel)} → ${showBytes(target)}; change it or exclude it`);
        linkname = t ?? "";
      }
      const inode = st.isFile() && st.nlink > 1n ? `${st.dev}:${st.ino}` : undefined;
      if (decision === "keep" && inode !== undefined) {
        const first = firstLink.get(inode);
        if (first === undefined) firstLink.set(inode, rel);
        else linkname = first;
      }
      const node: Pending = { entry: { path: rel, abs: absBuf.toString("utf8"), stat: wireStat(rel, st, linkname) }, parent, listed: false };
      if (decision === "keep") await list(node);
      if (isDir) await visit(absBuf, rel, node, bad);
    }
  };

  await visit(Buffer.from(root), "", undefined, undefined);
}

function hasWildcard(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    if (name[i] === "\\") i++;
    else if ("*?[".includes(name[i] as string)) return true;
  }
  return false;
}

/** Relative and clean, `..` stopping at the root (a path "/x" means root's x). */
function inside(p: string): string {
  return posix.normalize(`/${p}`).slice(1).replace(/\/$/, "");
}

/**
 * fsutil's FollowLinks: each follow path, with every symlink on the way
 * replaced by its target (taken inside the root) and the symlink itself
 * kept, becomes an include pattern. A base name with wildcards follows every
 * matching symlink. `undefined` when one of them is the root (no filter).
 */
export async function resolveFollowPaths(root: string, paths: readonly string[]): Promise<string[] | undefined> {
  const resolved = new Set<string>();
  const targetsOf = async (p: string, wildcard: boolean): Promise<string[] | undefined> => {
    const base = posix.basename(p);
    const dir = posix.dirname(p);
    if (wildcard && hasWildcard(base)) {
      let names: string[] = [];
      try {
        names = readdirSync(join(root, dir));
      } catch {
        // no such directory: nothing to follow
      }
      const [pattern] = parsePatterns([base]);
      let out: string[] | undefined;
      for (const n of names) {
        if (!pattern?.test(n)) continue;
        const t = await targetsOf(dir === "." ? n : `${dir}/${n}`, false);
        if (t) out = [...(out ?? []), ...t];
      }
      return out;
    }
    const st = lstatSync(join(root, p), { throwIfNoEntry: false });
    if (!st?.isSymbolicLink()) return undefined;
    const link = readlinkSync(join(root, p));
    return [link.startsWith("/") ? inside(link) : inside(posix.join(dir, link))];
  };
  const add = async (path: string, depth: number): Promise<void> => {
    if (depth > 40) return; // a symlink loop: fsutil would not end either
    const parts = inside(path).split("/");
    let current = "";
    for (let i = 0; i < parts.length; i++) {
      current = current === "" ? (parts[i] as string) : `${current}/${parts[i] as string}`;
      if (current === "") break;
      const targets = await targetsOf(current, true);
      const rest = parts.slice(i + 1).join("/");
      if ((rest === "" || targets) && resolved.has(current)) return;
      if (targets) {
        resolved.add(current);
        for (const t of targets) await add(rest === "" ? t : `${t}/${rest}`, depth + 1);
        return;
      }
      if (rest === "") break;
    }
    resolved.add(current === "" ? "." : current);
  };
  for (const p of paths) await add(p, 0);
  const sorted = [...resolved].sort(byteOrder);
  if (sorted.includes(".")) return undefined;
  return sorted.filter((s, i) => !sorted.slice(0, i).some((prev) => s.startsWith(`${prev}/`)));
}
