// A definition as the commands read it: YAML or JSON text as it is, or a CUE
// definition (a .cue file or a package directory) evaluated by CUE into the
// JSON the pipeline reads, with its diagnostics re-pointed at the CUE.
import { lstat, readdir, stat } from "node:fs/promises";
import { posix } from "node:path";
import type { Diagnostic } from "../diag/index.js";
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

/** Reads a definition; a CUE one is evaluated (CUE's WebAssembly build is loaded only then). */
export async function readDefinition(path: string): Promise<DefinitionSource> {
  if (!(await isCueDefinition(path))) {
    const text = await readText(path);
    return { file: path, text, diagnostics: [], texts: new Map([[path, text]]), point: (d) => Promise.resolve([...d]), lockBeside: path };
  }
  const entryIsDir = !/\.cue$/i.test(path);
  const entry = posix.normalize(path).replace(/(.)\/+$/, "$1");
  const { evaluateCue, CUE_LIMITS } = await import("../cue/index.js");
  const files = await readCueFiles(entry, entryIsDir, CUE_LIMITS.files);
  const r = await evaluateCue({ ...files, entry, entryIsDir });
  return {
    file: r.exported?.file ?? entry,
    ...(r.exported ? { text: r.exported.text } : {}),
    diagnostics: r.diagnostics,
    texts: r.texts,
    point: r.point,
    lockBeside: entryIsDir ? posix.join(entry, "image.cue") : entry,
  };
}

const SKIP = /^(\.|node_modules$)/;

/**
 * The .cue files CUE may read for a definition: with a module (a cue.mod/
 * in the definition's folder or above it), every .cue file of the module
 * (its packages can import each other), symlinks not followed; without one,
 * the file alone, or the package directory's own .cue files.
 */
async function readCueFiles(entry: string, entryIsDir: boolean, maxFiles: number): Promise<{ root: string; files: Map<string, string> }> {
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
  const add = async (f: string): Promise<void> => {
    files.set(f, await readText(f));
  };
  if (root === undefined) {
    if (!entryIsDir) await add(entry);
    else for (const f of (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && e.name.endsWith(".cue")).map((e) => e.name).sort()) await add(posix.join(dir, f));
    if (files.size === 0) throw new UsageError(`${entry}: no .cue files in the directory`);
    return { root: dir, files };
  }
  // The module, breadth-first; a module too large for the limit is reported by the evaluator (too_large).
  const queue = [root];
  for (let d = queue.shift(); d !== undefined && files.size <= maxFiles; d = queue.shift()) {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = posix.join(d, e.name);
      if (e.isDirectory() && (!SKIP.test(e.name) || e.name === "cue.mod")) queue.push(p);
      else if (e.isFile() && e.name.endsWith(".cue")) await add(p);
    }
  }
  if (!entryIsDir && !files.has(entry)) await add(entry);
  return { root, files };
}
