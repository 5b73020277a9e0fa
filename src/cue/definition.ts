// A CUE definition → the definition model's input: CUE evaluates the package
// (`cue export`), the exported value is JSON text that the rest of the
// pipeline reads like any definition, and diagnostics on it are re-pointed
// at the CUE that set each value (CUE is asked where: see `locate`).
import { posix } from "node:path";
import { error, type Diagnostic } from "../diag/index.js";
import { LineIndex } from "../diag/index.js";
import { checkText, loadDefinition, Spanner, type YamlNode } from "../load/index.js";
import type { Span } from "../model/index.js";
import { cueDiagnostics, parseCueErrors, spanAt, splitCuePath, type FileLookup } from "./errors.js";
import { CUE_LIMITS } from "./limits.js";
import { runCue, type CueRun } from "./run.js";

/** A CUE definition as read: its files by the user's paths, the folder they were read from, and what to evaluate. */
export interface CueInput {
  /** Every .cue file CUE may read (the package, the module's other packages, cue.mod/), by the user's path. */
  readonly files: ReadonlyMap<string, string>;
  /** The folder `files` were read from: the module root (it holds cue.mod/), or the definition's own folder. */
  readonly root: string;
  /** The definition: a .cue file, or a package directory. */
  readonly entry: string;
  readonly entryIsDir: boolean;
}

/** The evaluated definition and what follows from it. */
export interface CueResult {
  /** The exported value's name (`<entry>.export.json`) and text, for validate and compile; absent when CUE failed. */
  readonly exported?: { readonly file: string; readonly text: string };
  /** CUE's own errors (and the limits), at CUE's positions. */
  readonly diagnostics: Diagnostic[];
  /** Every text a diagnostic can point into: the .cue files and the exported JSON. */
  readonly texts: Map<string, string>;
  /** Diagnostics on the exported JSON re-pointed at the CUE that set each value (where CUE can tell). */
  point(diagnostics: readonly Diagnostic[]): Promise<Diagnostic[]>;
}

/** Where the files sit in the evaluator's own file system (a name no message about the user's files would hold). */
const MOUNT = "/caisson-cue-mount";
const PROBE = "caisson_probe_.cue";

type Path = readonly (string | number)[];

/** Evaluates a CUE definition with CUE itself; never throws for bad input. */
export async function evaluateCue(input: CueInput): Promise<CueResult> {
  const texts = new Map(input.files);
  const entryFile = input.entryIsDir ? [...input.files.keys()].find((f) => posix.dirname(f) === posix.normalize(input.entry)) : input.entry;
  const at0: Span = { file: entryFile ?? input.entry, start: 0, end: 0 };
  const result = (diagnostics: Diagnostic[], exported?: CueResult["exported"]): CueResult => ({
    ...(exported ? { exported } : {}),
    diagnostics,
    texts,
    point: async (ds) => (exported ? (await point(input, exported, at0, ds)).map((d) => named(d, exported.file, input.entry)) : [...ds]),
  });
  const pre = precheck(input);
  if (pre.length > 0) return result(pre);
  const run = await exportWith(input);
  if (run.stopped) return result([stoppedDiagnostic(run, at0)]);
  if (run.code !== 0) {
    const errors = parseCueErrors(run.stderr, cwdOf(input)).map((e) => ({ ...e, message: userPaths(input, e.message) }));
    const lookup = lookupOf(input);
    const mod = errors.some((e) => e.positions.every((p) => lookup(p.file) === undefined)) ? await moduleFileProblem(input) : undefined;
    if (mod) return result([mod]);
    const unplaced = errors.filter((e) => e.positions.length === 0 && e.path !== "").map((e) => ({ path: splitCuePath(e.path) }));
    const placed = unplaced.length > 0 ? await locate(input, unplaced) : new Map<string, Span>();
    const diagnostics = cueDiagnostics(errors, lookupOf(input), ownPackage(input), (p) => placed.get(keyOf(splitCuePath(p))) ?? at0);
    return result(diagnostics.length > 0 ? diagnostics : [error("cue_error", `cue export failed (exit status ${run.code}) without saying why`, at0)]);
  }
  const file = `${input.entry.replace(/\/+$/, "")}.export.json`;
  texts.set(file, run.stdout);
  return result([], { file, text: run.stdout });
}

/** The limits, and the files' text (size, encoding, line endings), before CUE sees anything. */
function precheck(input: CueInput): Diagnostic[] {
  if (input.files.size > CUE_LIMITS.files) {
    return [error("too_large", `more than ${CUE_LIMITS.files} .cue files under ${input.root} (the limit for one definition)`, { file: input.entry, start: 0, end: 0 }, {
      hint: "give the definition's own folder a cue.mod/ of its own, or move unrelated .cue files out of the module",
    })];
  }
  let total = 0;
  for (const [file, text] of input.files) {
    const lines = new LineIndex(text);
    total += lines.byteLength;
    if (total > CUE_LIMITS.inputBytes) {
      return [error("too_large", `the .cue files read for this definition pass ${CUE_LIMITS.inputBytes.toLocaleString("en-US")} bytes (8 MiB), the limit, in this file`, { file, start: 0, end: 0 }, {
        hint: "split the module, or check that the folder holds only the definition's own .cue files",
      })];
    }
    // CUE reports raw control characters itself, as syntax errors at their position.
    const sp = new Spanner(file, text, lines);
    const bad = checkText(text, sp).filter((d) => d.code !== "control_character");
    if (bad.length > 0) return bad;
    const deep = tooDeepAt(text);
    if (deep !== undefined) {
      return [error("too_deep", `nesting deeper than ${CUE_LIMITS.depth} levels of braces, brackets and parentheses (the limit)`, sp.span(deep, deep + 1), {
        hint: "a definition nests a few levels deep: flatten it, or name the inner values",
      })];
    }
  }
  return [];
}

/**
 * Where a CUE text first nests deeper than CUE_LIMITS.depth (a UTF-16
 * index), counting braces, brackets and parentheses outside comments and
 * string literals (`"…"`, `'…'`, their multi-line and `#"…"#` forms).
 */
function tooDeepAt(text: string): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "/" && text[i + 1] === "/") {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? text.length : nl;
    } else if (c === '"' || c === "'" || (c === "#" && /^#+["']/.test(text.slice(i, i + 64)))) {
      const hashes = /^#*/.exec(text.slice(i, i + 64))?.[0].length ?? 0;
      const q = text[i + hashes] as string;
      const multi = text.startsWith(q.repeat(3), i + hashes);
      const end = (multi ? q.repeat(3) : q) + "#".repeat(hashes);
      let k = i + hashes + (multi ? 3 : 1);
      while (k < text.length && !text.startsWith(end, k)) k += text[k] === "\\" && hashes === 0 ? 2 : 1;
      i = k + end.length - 1;
    } else if (c === "{" || c === "[" || c === "(") {
      if (++depth > CUE_LIMITS.depth) return i;
    } else if (c === "}" || c === "]" || c === ")") depth--;
  }
  return undefined;
}

const cwdOf = (input: CueInput): string => posix.join(MOUNT, posix.relative(input.root, input.entryIsDir ? input.entry : posix.dirname(input.entry)));

/** A message with the evaluator's paths (its mount) said as the user's. */
function userPaths(input: CueInput, text: string): string {
  return text.replace(new RegExp(`${MOUNT}(/[^\\s"'),:]*)?`, "g"), (_m, rest?: string) => posix.join(input.root, rest ?? ""));
}

/**
 * What is wrong with cue.mod/module.cue, at its position, when CUE refused
 * it: CUE says so without one (`invalid cue.mod file: …`, or a `module`
 * that is not a string). The file is evaluated alone for its syntax errors;
 * a `module` that is not a string is reported at the field.
 */
async function moduleFileProblem(input: CueInput): Promise<Diagnostic | undefined> {
  const file = posix.join(input.root, "cue.mod", "module.cue");
  const text = input.files.get(file);
  if (text === undefined) return undefined;
  const hint = 'cue.mod/module.cue declares the module\'s name: write module: "example.com/name"';
  const run = await runCue(["export", "--out", "json", "./module.cue"], { files: { [`${MOUNT}/module.cue`]: text }, cwd: MOUNT });
  if (run.stopped) return undefined;
  if (run.code !== 0) {
    const e = parseCueErrors(run.stderr, MOUNT)[0];
    const p = e?.positions[0];
    if (!e || !p) return undefined;
    const span = spanAt((q) => (q === `${MOUNT}/module.cue` ? { file, text } : undefined), p);
    return span ? error("cue_module", userPaths(input, e.message), span, { hint }) : undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(run.stdout);
  } catch {
    return undefined;
  }
  const module = (value as { module?: unknown } | null)?.module;
  if (module === undefined || typeof module === "string") return undefined;
  const at = /^[ \t]*module[ \t]*:/m.exec(text);
  const start = Buffer.byteLength(text.slice(0, (at?.index ?? 0) + (at ? at[0].indexOf("module") : 0)));
  return error("cue_module", `module is ${JSON.stringify(module)}, not a string`, { file, start, end: start + (at ? 6 : 0) }, { hint });
}

/** The evaluator's view of the files, and the way back from its paths to the user's. */
function mounted(input: CueInput): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [f, t] of input.files) files[posix.join(MOUNT, posix.relative(input.root, f))] = t;
  return files;
}

function lookupOf(input: CueInput): FileLookup {
  return (p) => {
    if (!p.startsWith(`${MOUNT}/`) || posix.basename(p) === PROBE) return undefined;
    const file = posix.join(input.root, posix.relative(MOUNT, p));
    const text = input.files.get(file);
    return text === undefined ? undefined : { file, text };
  };
}

/** `cue export` of the definition, with extra files (the probe) beside it. */
function exportWith(input: CueInput, extra?: { name: string; text: string }): Promise<CueRun> {
  const cwd = cwdOf(input);
  const files = mounted(input);
  if (extra) files[posix.join(cwd, extra.name)] = extra.text;
  const target = input.entryIsDir ? ["."] : [`./${posix.basename(input.entry)}`, ...(extra ? [`./${extra.name}`] : [])];
  return runCue(["export", "--out", "json", "--all-errors", ...target], { files, cwd });
}

function stoppedDiagnostic(run: CueRun, span: Span): Diagnostic {
  switch (run.stopped ?? "crash") {
    case "time":
      return error("cue_timeout", `CUE did not finish evaluating within ${CUE_LIMITS.seconds} seconds (the limit)`, span, {
        hint: "look for a comprehension or a recursive definition that grows without end",
      });
    case "memory":
      return error("cue_memory", `CUE used more than ${CUE_LIMITS.memoryBytes / 1024 / 1024} MiB evaluating this definition (the limit)`, span, {
        hint: "look for a list or struct generated from a large range, or nesting that grows without end",
      });
    case "output":
      return error("too_large", `the exported value is larger than ${CUE_LIMITS.outputBytes / 1024 / 1024} MiB (the limit)`, span, {
        hint: "a definition exports a few kilobytes: look for a generated list or deep nesting",
      });
    case "crash":
      return error("cue_error", `CUE failed evaluating this definition: ${run.why ?? "no reason given"}`, span, {
        hint: "look for a value nested very deeply or generated without end",
      });
  }
}

/** True for a span in the definition's own package (its folder), rather than in a template it imports. */
function ownPackage(input: CueInput): (s: Span) => boolean {
  const dir = input.entryIsDir ? posix.normalize(input.entry) : posix.dirname(input.entry);
  return (s) => posix.dirname(s.file) === dir;
}

/** The package clause of the definition's package, for the probe file (which must belong to it). */
function packageClause(input: CueInput): string {
  const dir = input.entryIsDir ? posix.normalize(input.entry) : posix.dirname(input.entry);
  for (const [f, t] of input.files) {
    if (posix.dirname(f) !== dir || (!input.entryIsDir && f !== input.entry)) continue;
    const m = /^package\s+([A-Za-z_$#][A-Za-z0-9_$]*)/m.exec(t);
    if (m) return `package ${m[1]}\n`;
  }
  return "";
}

/** A CUE value that holds `leaf` at `path` and is open everywhere else. */
function probeValue(path: Path, leaf: string): string {
  const [head, ...rest] = path;
  if (head === undefined) return leaf;
  if (typeof head === "number") return `[${"_, ".repeat(head)}${probeValue(rest, leaf)}, ...]`;
  return `{${JSON.stringify(head)}: ${probeValue(rest, leaf)}}`;
}

/**
 * A value that conflicts with `value` and is of its kind where it is a
 * scalar (so CUE reports the conflict with the value itself, not with a type
 * constraint of the schema), else null.
 */
function probeLeaf(value: unknown): string {
  if (typeof value === "string") return JSON.stringify("\u0000");
  if (typeof value === "number") return JSON.stringify(value + 1);
  if (typeof value === "boolean") return String(!value);
  return "null";
}

/** A path, and the exported value found there (when known). */
interface Probe {
  readonly path: Path;
  readonly value?: unknown;
}

const keyOf = (p: Path): string => JSON.stringify(p);

/**
 * Where CUE set the values at these paths: one more evaluation with a probe
 * file that unifies each with a conflicting value, so CUE reports a conflict
 * with every place that contributed to it (CUE's positions, not a search of
 * the text). Of those, a position shared by unrelated paths (the struct that
 * encloses everything) is left out when there are others; one in the
 * definition's own package is preferred, the innermost (last) of them. Paths
 * CUE cannot place are left out.
 */
async function locate(input: CueInput, probes: readonly Probe[]): Promise<Map<string, Span>> {
  const found = new Map<string, Span>();
  const fields = probes.filter((p) => typeof p.path[0] === "string");
  if (fields.length === 0) return found;
  const text = packageClause(input) + fields.map((p) => `${JSON.stringify(p.path[0])}: ${probeValue(p.path.slice(1), probeLeaf(p.value))}`).join("\n") + "\n";
  const run = await exportWith(input, { name: PROBE, text });
  if (run.stopped) return found;
  const lookup = lookupOf(input);
  const spansBy = new Map<string, Span[]>();
  const pathsAt = new Map<string, Set<string>>();
  for (const e of parseCueErrors(run.stderr, cwdOf(input))) {
    const key = keyOf(splitCuePath(e.path));
    for (const p of e.positions) {
      const span = spanAt(lookup, p);
      if (!span) continue;
      spansBy.set(key, [...(spansBy.get(key) ?? []), span]);
      const at = `${span.file}:${span.start}`;
      pathsAt.set(at, (pathsAt.get(at) ?? new Set()).add(key));
    }
  }
  const related = (a: string, b: string): boolean => a.startsWith(b.slice(0, -1)) || b.startsWith(a.slice(0, -1));
  const shared = (s: Span): boolean => {
    const keys = [...(pathsAt.get(`${s.file}:${s.start}`) ?? [])];
    return keys.some((a) => keys.some((b) => !related(a, b)));
  };
  const own = ownPackage(input);
  for (const [key, spans] of spansBy) {
    const specific = spans.filter((s) => !shared(s));
    const pool = specific.length > 0 ? specific : spans;
    const best = pool.filter(own).sort((a, b) => b.start - a.start)[0] ?? pool[0];
    if (best) found.set(key, best);
  }
  return found;
}

/** The path of the deepest node of the exported JSON that holds a span (a key counts as its entry). */
function pathAt(node: YamlNode, span: Span, path: (string | number)[] = []): (string | number)[] {
  const inside = (s: Span): boolean => s.start <= span.start && span.end <= s.end;
  if (node.kind === "map") {
    for (const e of node.entries) {
      if (inside(e.keySpan) || (inside(e.span) && !inside(e.value.span))) return [...path, e.key];
      if (inside(e.value.span)) return pathAt(e.value, span, [...path, e.key]);
    }
  } else if (node.kind === "seq") {
    for (const [i, item] of node.items.entries()) if (inside(item.span)) return pathAt(item, span, [...path, i]);
  }
  return path;
}

/**
 * A diagnostic's words about the export (`run \`caisson lock x.cue.export.json\``, from the
 * pipeline, which knows the definition by that name) say the definition the user gave instead.
 */
function named(d: Diagnostic, exportFile: string, entry: string): Diagnostic {
  const say = (text: string): string => text.split(exportFile).join(entry);
  return { ...d, message: say(d.message), ...(d.hint !== undefined ? { hint: say(d.hint) } : {}) };
}

/**
 * Re-points diagnostics on the exported JSON at the CUE behind each value;
 * one on the whole value (a missing top-level key) at the definition's
 * first line; the rest keep their JSON span.
 */
async function point(input: CueInput, exported: NonNullable<CueResult["exported"]>, top: Span, diagnostics: readonly Diagnostic[]): Promise<Diagnostic[]> {
  const root = loadDefinition(exported.file, exported.text).doc.root;
  const ours = (s: Span): boolean => s.file === exported.file;
  if (!root || !diagnostics.some((d) => ours(d.span) || d.related?.some((r) => ours(r.span)))) return [...diagnostics];
  const value = JSON.parse(exported.text) as unknown;
  const at = (p: Path): unknown => p.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[k] : undefined), value);
  // A struct or list is placed by its first scalar (a conflict with a whole
  // struct would hide the conflicts inside it); a scalar conflicts with a
  // value of its own kind, so CUE names the place that set it.
  const leaf = (p: Path): Path => {
    const v = at(p);
    if (Array.isArray(v) && v.length > 0) return leaf([...p, 0]);
    const first = v !== null && typeof v === "object" && !Array.isArray(v) ? Object.keys(v)[0] : undefined;
    return first === undefined ? p : leaf([...p, first]);
  };
  const wanted = new Map<string, Probe>();
  const placeOf = (s: Span): Path => leaf(pathAt(root, s));
  // `name` is in every definition: its conflict shows which positions enclose everything.
  for (const p of [["name"], ...diagnostics.flatMap((d) => [d.span, ...(d.related ?? []).map((r) => r.span)]).filter(ours).map(placeOf)]) {
    wanted.set(keyOf(p), { path: p, value: at(p) });
  }
  const found = await locate(input, [...wanted.values()]);
  const moved = (s: Span): Span => (!ours(s) ? s : pathAt(root, s).length === 0 ? top : (found.get(keyOf(placeOf(s))) ?? s));
  return diagnostics.map((d) => ({ ...d, span: moved(d.span), ...(d.related ? { related: d.related.map((r) => ({ ...r, span: moved(r.span) })) } : {}) }));
}
