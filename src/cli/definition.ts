// A definition as the commands read it: YAML or JSON text as it is, or a CUE
// definition (a .cue file or a package directory) evaluated by CUE into the
// JSON the pipeline reads, with its diagnostics re-pointed at the CUE.
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { isAbsolute, posix, relative } from "node:path";
import { error, type Diagnostic } from "../diag/index.js";
import { readText, UsageError } from "./io.js";

/** What a command compiles or validates, whatever the definition's language. */
export interface DefinitionSource {
  /** The name the pipeline knows the text by: the file, or a CUE definition's `<entry>.export.json`. */
  readonly file: string;
  /** The text to validate; absent when CUE could not evaluate the definition. */
  readonly text?: string;
  /** CUE's own errors (none for YAML and JSON). */
  readonly diagnostics: readonly Diagnostic[];
  /** Every text a diagnostic can point into, for printing. */
  readonly texts: Map<string, string>;
  /** Diagnostics re-pointed at the CUE that set each value (YAML and JSON: unchanged). */
  readonly point: (diagnostics: readonly Diagnostic[]) => Promise<Diagnostic[]>;
  /** The path the lockfile sits beside: the definition the user named (a package directory: `<dir>/image.cue`). */
  readonly lockBeside: string;
}

/** True for a CUE definition: a .cue file, or a directory (a CUE package). */
export async function isCueDefinition(path: string): Promise<boolean> {
  if (/\.cue$/i.test(path)) return true;
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** A YAML or JSON definition's text, as a DefinitionSource. */
export function textDefinition(file: string, text: string): DefinitionSource {
  return { file, text, diagnostics: [], texts: new Map([[file, text]]), point: (d) => Promise.resolve([...d]), lockBeside: file };
}

/** Reads a definition; a CUE one is evaluated (CUE's WebAssembly build is loaded only then). */
export async function readDefinition(path: string): Promise<DefinitionSource> {
  if (!(await isCueDefinition(path))) return textDefinition(path, await readText(path));
  const entryIsDir = !/\.cue$/i.test(path);
  const entry = posix.normalize(path).replace(/(.)\/+$/, "$1");
  const { evaluateCue, CUE_LIMITS } = await import("../cue/index.js");
  const { skipped, ...files } = await readCueFiles(entry, entryIsDir, CUE_LIMITS.files);
  const r = await evaluateCue({ ...files, entry, entryIsDir });
  for (const s of skipped) r.texts.set(s.file, "");
  const links = skipped.map((s) =>
    error("cue_symlink", `${s.file}: ${s.why}`, { file: s.file, start: 0, end: 0 }, { hint: "copy the file into the module, or remove the link" }),
  );
  return {
    file: r.exported?.file ?? entry,
    // A link not read is an error: the definition is not what its folder shows.
    ...(r.exported && links.length === 0 ? { text: r.exported.text } : {}),
    diagnostics: [...links, ...r.diagnostics],
    texts: r.texts,
    point: r.point,
    lockBeside: entryIsDir ? posix.join(entry, "image.cue") : entry,
  };
}

/** The import paths a CUE file declares (`import "a"`, `import ( b "c" )`), without a `:package` qualifier. */
export function cueImports(text: string): string[] {
  const out: string[] = [];
  const decl = /^[ \t]*import[ \t]*(\([^)]*\)|(?:[A-Za-z_$][\w$]*[ \t]+)?"[^"\n]*")/gm;
  for (let m = decl.exec(text); m; m = decl.exec(text)) {
    for (const q of (m[1] as string).matchAll(/"([^"\n]*)"/g)) out.push((q[1] as string).replace(/:.*$/, ""));
  }
  return out;
}

/** A .cue symlink not read: it leads out of the module (or the definition's folder), or to no regular file. */
export interface SkippedLink {
  readonly file: string;
  readonly why: string;
}

/**
 * The .cue files directly in a folder (none when it is not one), sorted: a
 * symlink is read when it resolves to a regular file inside `inside`, else
 * noted in `skipped`.
 */
async function cueFilesIn(dir: string, inside: string, skipped: SkippedLink[]): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries) {
    if (!e.name.endsWith(".cue")) continue;
    const file = posix.join(dir, e.name);
    if (e.isFile()) out.push(file);
    else if (e.isSymbolicLink()) {
      const [real, top] = await Promise.all([realpath(file).catch(() => undefined), realpath(inside).catch(() => inside)]);
      const st = real === undefined ? undefined : await stat(real).catch(() => undefined);
      const rel = real === undefined ? ".." : relative(top, real);
      if (real === undefined || !st) skipped.push({ file, why: "a symlink to nothing (a missing file), skipped" });
      else if (rel.startsWith("..") || isAbsolute(rel)) skipped.push({ file, why: `a symlink to outside the module (${real}), skipped` });
      else if (!st.isFile()) skipped.push({ file, why: "a symlink to something that is not a regular file, skipped" });
      else out.push(file);
    }
  }
  return out.sort();
}

/**
 * The .cue files CUE reads for a definition, and the folder they are read
 * relative to (the module root: the nearest folder above with a cue.mod/,
 * else the definition's own folder). A file is read alone; a package
 * directory with its .cue files and those of the folders above it up to the
 * module root (CUE's package instances span them). Then, transitively, the
 * packages they import from the module (`<module>/<folder>`) or from
 * cue.mod/{pkg,gen,usr}; CUE's standard library needs no files. At most
 * `maxFiles` files (more is reported as too_large).
 */
async function readCueFiles(entry: string, entryIsDir: boolean, maxFiles: number): Promise<{ root: string; files: Map<string, string>; skipped: SkippedLink[] }> {
  const dir = entryIsDir ? entry : posix.dirname(entry);
  if (entryIsDir && !(await stat(dir).catch(() => undefined))?.isDirectory()) throw new UsageError(`cannot read ${entry}: no such directory`);
  let root: string | undefined;
  for (let d = dir; ; d = posix.dirname(d)) {
    if ((await lstat(posix.join(d, "cue.mod")).catch(() => undefined))?.isDirectory()) {
      root = d;
      break;
    }
    if (posix.dirname(d) === d) break;
  }
  const files = new Map<string, string>();
  const skipped: SkippedLink[] = [];
  const inside = root ?? dir;
  const add = async (f: string): Promise<void> => {
    if (!files.has(f) && files.size <= maxFiles) files.set(f, await readText(f));
  };
  if (!entryIsDir) await add(entry);
  else {
    const own = await cueFilesIn(dir, inside, skipped);
    if (own.length === 0) throw new UsageError(`${entry}: no .cue files in the directory`);
    for (const f of own) await add(f);
    for (let d = posix.dirname(dir); root !== undefined && posix.relative(root, d).split("/")[0] !== ".." && d !== dir; d = posix.dirname(d)) {
      for (const f of await cueFilesIn(d, inside, skipped)) await add(f);
      if (d === root || posix.dirname(d) === d) break;
    }
  }
  if (root === undefined) return { root: dir, files, skipped };
  const modFile = posix.join(root, "cue.mod", "module.cue");
  await add(modFile).catch(() => undefined);
  const module = /module:\s*"([^"]+)"/.exec(files.get(modFile) ?? "")?.[1];
  const seen = new Set<string>();
  for (let i = 0; i < files.size; i++) {
    const text = [...files.values()][i] as string;
    for (const imp of cueImports(text)) {
      if (seen.has(imp) || !imp.split("/")[0]?.includes(".")) continue;
      seen.add(imp);
      const dirs = module !== undefined && imp.startsWith(`${module}/`) ? [posix.join(root, imp.slice(module.length + 1))] : ["pkg", "gen", "usr"].map((k) => posix.join(root, "cue.mod", k, imp));
      for (const d of dirs) {
        if (posix.relative(root, d).startsWith("..")) continue;
        for (const f of await cueFilesIn(d, inside, skipped)) await add(f);
      }
    }
  }
  return { root, files, skipped };
}
