// Sources: files over http(s), files of Debian source packages, git
// repositories and folders of the build context. A URL without sha256 and a
// git ref are moving references, pinned by the lockfile.
import type { MapEntry } from "../load/index.js";
import { child, entry } from "../load/index.js";
import type { SourceSpec } from "../model/index.js";
import type { Context } from "./context.js";
import { bool, items, map, str, type Mutable } from "./nodes.js";
import { checkContextPath, checkGitRef, checkGitUrl, checkHttpUrl, parseDebianSource } from "./refs.js";
import { releaseRule } from "./release.js";
import { patternProblem } from "../client/session/patterns.js";

export function source(ctx: Context, e: MapEntry): SourceSpec | undefined {
  const n = map(e.value);
  if (!n) return undefined;
  const name = e.key;
  const span = e.span;
  if (entry(n, "url")) {
    const urlNode = child(n, "url");
    const url = str(urlNode);
    const sha256 = str(child(n, "sha256"));
    if (url === undefined || !/^https?:\/\/\S+$/.test(url)) return undefined; // the schema reported it
    const u = checkHttpUrl(url);
    if (!u.ok) {
      ctx.err(u.code, `source "${name}": ${u.message}`, urlNode?.span ?? span, u.hint);
      return undefined;
    }
    if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
    const release = releaseRule(ctx, n, "listing");
    if (release === null) return undefined;
    let filename = str(child(n, "filename"));
    if (filename === undefined) {
      const last = url.replace(/[?#].*$/, "").replace(/^https?:\/\/[^/]*/, "").split("/").pop() ?? "";
      let decoded = last;
      try {
        decoded = decodeURIComponent(last);
      } catch {
        /* keep it encoded */
      }
      if (decoded === "" || decoded === "." || decoded === ".." || decoded.includes("/")) {
        ctx.err("missing_filename", `cannot derive a file name from the URL of source "${name}"`, child(n, "url")?.span ?? span, "add filename: <name>");
        return undefined;
      }
      filename = decoded;
    } else if (filename.includes("/") || filename === "." || filename === "..") {
      ctx.err("invalid_filename", `filename "${filename}" must be a plain file name`, child(n, "filename")?.span ?? span, "remove the directory part");
      return undefined;
    }
    if (sha256 === undefined) ctx.moving.push({ kind: "http", source: name, url, span: urlNode?.span ?? span });
    const spec: Mutable<Extract<SourceSpec, { kind: "http" }>> = { kind: "http", name, url, sha256: sha256 ?? "", filename, extract: bool(child(n, "extract"), false), span };
    if (release) spec.release = release;
    return spec;
  }
  if (entry(n, "debian")) {
    const debian = str(child(n, "debian"));
    const fileNode = child(n, "file");
    const file = str(fileNode);
    const sha256 = str(child(n, "sha256"));
    if (debian === undefined || !parseDebianSource(debian).ok) return undefined; // the schema reported it
    if (file !== undefined && (file.includes("/") || file.includes("\\") || file === "." || file === "..")) {
      const base = file.split(/[/\\]/).filter(Boolean).pop();
      ctx.err(
        "invalid_filename",
        `file "${file}" must be a plain file name`,
        fileNode?.span ?? span,
        base !== undefined && base !== "." && base !== ".." ? `the file's name in the source package, without the archive's directory: write "${base}"` : "give the file's name in the source package",
      );
      return undefined;
    }
    if (file === undefined || sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
    return { kind: "http", name, debian, sha256, filename: file, extract: bool(child(n, "extract"), false), span };
  }
  if (entry(n, "git")) {
    const url = str(child(n, "git"));
    const commit = str(child(n, "commit"));
    const refNode = child(n, "ref");
    const ref = str(refNode);
    if (url === undefined) return undefined;
    const u = checkGitUrl(url);
    if (!u.ok) ctx.err(u.code, `source "${name}": ${u.message}`, child(n, "git")?.span ?? span, u.hint);
    const refOk = ref === undefined || refNode === undefined || ctx.check(checkGitRef(ref), "invalid_ref", refNode.span) !== undefined;
    if (commit === undefined && entry(n, "commit") === undefined && ref === undefined) {
      if (entry(n, "ref") === undefined) {
        ctx.err("unpinned_source", `source "${name}" is not pinned: it has a git url but neither commit nor ref`, e.keySpan, "add ref: <branch or tag> and run `caisson lock <file>` to pin it, or commit: <full 40-hex commit id>");
      }
      return undefined;
    }
    if (commit !== undefined && !/^[0-9a-f]{40}$/.test(commit)) return undefined; // the schema reported it
    if (commit === undefined && ref === undefined) return undefined;
    const release = releaseRule(ctx, n, "git-tags");
    if (release === null || !u.ok || !refOk) return undefined;
    if (commit === undefined && ref !== undefined) ctx.moving.push({ kind: "git", source: name, url, ref, span: refNode?.span ?? span });
    const spec: Mutable<Extract<SourceSpec, { kind: "git" }>> = { kind: "git", name, url, commit: commit ?? "", keepGitDir: bool(child(n, "keepGitDir"), false), span };
    if (ref !== undefined) spec.ref = ref;
    if (release) spec.release = release;
    return spec;
  }
  if (entry(n, "path")) {
    const p = str(child(n, "path"));
    if (p === undefined) return undefined;
    const path = ctx.check(checkContextPath(p), "invalid_path", child(n, "path")?.span ?? span);
    if (path === undefined) return undefined;
    const exclude: string[] = [];
    let patternsOk = true;
    for (const item of items(child(n, "exclude"))) {
      const pattern = str(item);
      if (pattern === undefined) continue;
      const problem = patternProblem(pattern);
      if (problem !== undefined) {
        ctx.err("invalid_pattern", `source "${name}": exclude pattern ${JSON.stringify(pattern)} is not a valid pattern`, item.span, problem);
        patternsOk = false;
      }
      exclude.push(pattern);
    }
    if (!patternsOk) return undefined;
    return { kind: "local", name, path, exclude, span, pathSpan: child(n, "path")?.span ?? span };
  }
  return undefined;
}

