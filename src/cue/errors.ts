// CUE's error output → diagnostics. `cue export` prints each error as a
// line `path: message:` followed by the positions it comes from, one per
// line, indented (`    ./image.cue:12:7`); those positions are CUE's own,
// and become the diagnostic's span (the first) and its related spans.
import { posix } from "node:path";
import { error, type Diagnostic } from "../diag/index.js";
import type { Span } from "../model/index.js";

/** One error as CUE printed it: the value's path (empty at the top), the message, and where. */
export interface CueError {
  readonly path: string;
  readonly message: string;
  readonly positions: readonly { readonly file: string; readonly line: number; readonly column: number }[];
}

const POSITION = /^\s+(\S.*?):(\d+):(\d+)$/;

/** Splits CUE's stderr into errors; position paths are made absolute against `cwd` (CUE prints them relative to it). */
export function parseCueErrors(stderr: string, cwd: string): CueError[] {
  const out: { path: string; message: string; positions: CueError["positions"][number][] }[] = [];
  for (const line of stderr.split("\n")) {
    if (line.trim() === "") continue;
    const pos = POSITION.exec(line);
    const last = out[out.length - 1];
    if (pos && last) {
      last.positions.push({ file: posix.resolve(cwd, pos[1] as string), line: Number(pos[2]), column: Number(pos[3]) });
    } else if (/^\s/.test(line) && last) {
      last.message += ` ${line.trim()}`;
    } else {
      const text = goFormatting(line.replace(/:$/, ""));
      // `path: message`; a message without a path (a syntax error) has no `: ` before a space-free prefix.
      const m = /^([^\s:]+|(?:[^\s:]*"[^"]*")+[^\s:]*): (.*)$/.exec(text);
      out.push(m && !/^(import failed|expected|string literal|illegal|missing)$/.test(m[1] as string) ? { path: m[1] as string, message: m[2] as string, positions: [] } : { path: "", message: text, positions: [] });
    }
  }
  return out;
}

/**
 * CUE's text without Go's formatting leftovers: an argument its format did
 * not use (`…%!(EXTRA string=example.com/m/x)`) is dropped, and an import
 * that failed says which import it was.
 */
function goFormatting(text: string): string {
  const extra = /%!\(EXTRA (?:[\w.*[\]]+=)?([^)]*)\)/.exec(text);
  if (!extra) return text;
  const clean = text.replace(extra[0], "");
  return /^import failed: /.test(clean) ? clean.replace(/^import failed: /, `import ${JSON.stringify(extra[1])} failed: `) : clean;
}

/** A CUE path as printed (`stages.build."/src".0`) → its labels and list indices. */
export function splitCuePath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|([^."]+)/g;
  for (let m = re.exec(path); m; m = re.exec(path)) {
    if (m[1] !== undefined) out.push(JSON.parse(`"${m[1]}"`) as string);
    else out.push(/^\d+$/.test(m[2] as string) ? Number(m[2]) : (m[2] as string));
  }
  return out;
}

/** What kind of problem CUE reports, as a stable code, with the fix. */
function classify(message: string): { code: string; hint: string } {
  if (/conflicting values|mismatched types/.test(message)) {
    return { code: "cue_conflict", hint: "two places give this field values that do not unify: keep one (a template can give a default, `*value | type`, that a definition overrides)" };
  }
  if (/out of bound|invalid value/.test(message)) return { code: "cue_invalid", hint: "the value does not meet the constraint shown (the schema's or a template's): change the value" };
  if (/not allowed/.test(message)) return { code: "cue_not_allowed", hint: "the struct is closed (a #definition): remove the field, or add it to the definition" };
  if (/incomplete value|non-concrete/.test(message)) {
    return { code: "cue_incomplete", hint: "a definition is exported as data: give the field a concrete value (or a default, `*value | type`)" };
  }
  if (/cycle/.test(message)) return { code: "cue_cycle", hint: "a value refers to itself: break the cycle by giving one of the fields a value of its own" };
  if (/import (?:"[^"]*" )?failed|cannot find package|package .* not found/.test(message)) {
    return { code: "cue_import", hint: "imports resolve inside the module (the cue.mod/ above the definition) or from CUE's standard library" };
  }
  if (/^(expected|string literal|illegal|missing|unexpected)|not terminated/.test(message)) {
    return { code: "cue_syntax", hint: "fix the CUE syntax here (`cue fmt` prints what it parses)" };
  }
  return { code: "cue_error", hint: "see the CUE language reference for this error" };
}

/** Byte offset of a 1-based line and byte column in a text (CUE counts columns in bytes). */
function offsetOf(text: string, line: number, column: number): number {
  let at = 0;
  let l = 1;
  while (l < line) {
    const nl = text.indexOf("\n", at);
    if (nl < 0) break;
    at = nl + 1;
    l++;
  }
  return Buffer.byteLength(text.slice(0, at)) + Math.max(0, column - 1);
}

/** The span of the token at a position: a quoted string whole, else the word; at least one byte. */
function tokenSpan(file: string, text: string, line: number, column: number): Span {
  const start = offsetOf(text, line, column);
  const rest = Buffer.from(text).subarray(start, start + 400).toString("utf8");
  const m = /^"(?:[^"\\\n]|\\.)*"|^[A-Za-z0-9_.#$-]+/.exec(rest);
  return { file, start, end: start + Math.max(1, m ? Buffer.byteLength(m[0]) : 1) };
}

/** How the evaluator's files map back to the user's: CUE's path → the user's path and text. */
export type FileLookup = (cuePath: string) => { readonly file: string; readonly text: string } | undefined;

/** A CUE position as a span in the user's file, or undefined for a file that is not theirs (the probe). */
export function spanAt(lookup: FileLookup, p: CueError["positions"][number]): Span | undefined {
  const f = lookup(p.file);
  return f ? tokenSpan(f.file, f.text, p.line, p.column) : undefined;
}

/** Positions shown with a CUE error besides its main one. */
const RELATED = 4;

/**
 * A diagnostic for each CUE error, at the last of its positions in the
 * definition's own package (the value written there, rather than the
 * template or schema it met), else its first; a few others as related
 * spans. An error without a position (CUE prints none for some incomplete
 * values) is placed by `fallback` from its path.
 */
export function cueDiagnostics(errors: readonly CueError[], lookup: FileLookup, own: (s: Span) => boolean, fallback: (path: string) => Span): Diagnostic[] {
  return errors
    .filter((e) => !/^\d+ errors in empty disjunction$/.test(e.message))
    .map((e) => {
      const spans = e.positions.map((p) => spanAt(lookup, p)).filter((s): s is Span => s !== undefined);
      const main = spans.filter(own).sort((a, b) => b.start - a.start)[0] ?? spans[0];
      const { code, hint } = classify(e.message);
      const where = e.path ? `${e.path}: ` : "";
      return error(code, `${where}${e.message}`, main ?? fallback(e.path), {
        hint,
        related: spans.filter((s) => s !== main).slice(0, RELATED).map((span) => ({ span, message: "and here" })),
      });
    });
}
