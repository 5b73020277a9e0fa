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

interface Pending {
  entry: WalkEntry;
  parent: Pending | undefined;
  listed: boolean;
}

/**
 * Lists `root` through `filter`, calling `emit` per entry in protocol order.
 * A hard-linked file seen again is sent with `linkname` naming the first
 * listed path, as fsutil does.
 */
export async function walk(root: string, filter: WalkFilter, emit: (e: WalkEntry) => Promise<void>): Promise<void> {
  const firstLink = new Map<string, string>();

  const list = async (p: Pending | undefined): Promise<void> => {
    if (!p || p.listed) return;
    await list(p.parent);
    p.listed = true;
    await emit(p.entry);
  };

  const visit = async (dirAbs: string, dirRel: string, parent: Pending | undefined): Promise<void> => {
    // Synchronous calls: one system call each, where a promise would wait
    // for a thread-pool round trip per entry (most of a walk's time).
    const names = readdirSync(dirAbs).sort(byteOrder);
    for (const name of names) {
      const rel = dirRel === "" ? name : `${dirRel}/${name}`;
      const abs = join(dirAbs, name);
      const st = lstatSync(abs, { bigint: true });
      const isDir = st.isDirectory();
      const decision = filter.decide(rel, isDir);
      if (decision === "prune") continue;
      let linkname = st.isSymbolicLink() ? readlinkSync(abs) : "";
      const inode = st.isFile() && st.nlink > 1n ? `${st.dev}:${st.ino}` : undefined;
      if (decision === "keep" && inode !== undefined) {
        const first = firstLink.get(inode);
        if (first === undefined) firstLink.set(inode, rel);
        else linkname = first;
      }
      const node: Pending = { entry: { path: rel, abs, stat: wireStat(rel, st, linkname) }, parent, listed: false };
      if (decision === "keep") await list(node);
      if (isDir) await visit(abs, rel, node);
    }
  };

  await visit(root, "", undefined);
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
