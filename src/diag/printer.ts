import type { Span } from "../model/index.js";
import type { Diagnostic } from "./diagnostic.js";
import { LIMITS } from "../load/limits.js";
import { LineIndex } from "./line-index.js";

/** Where the printer finds a file's text: a map or a function; unknown files print without a snippet. */
export type SourceLookup = ReadonlyMap<string, string> | ((file: string) => string | undefined);

/** Caches one LineIndex per file for a printing session. */
class Sources {
  private readonly cache = new Map<string, LineIndex | undefined>();
  constructor(private readonly lookup: SourceLookup | undefined) {}
  index(file: string): LineIndex | undefined {
    if (this.cache.has(file)) return this.cache.get(file);
    const text =
      this.lookup === undefined ? undefined : typeof this.lookup === "function" ? this.lookup(file) : this.lookup.get(file);
    const idx = text === undefined ? undefined : new LineIndex(text);
    this.cache.set(file, idx);
    return idx;
  }
}

// Characters that must never reach a terminal raw: controls (C0, DEL, C1),
// format characters (bidi overrides and isolates, zero-width characters, BOM,
// soft hyphen, tag characters), line/paragraph separators, lone surrogates
// (U+DC80–U+DCFF are bytes that were not UTF-8, see src/load/text.ts).
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const INVISIBLE_G = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/** The visible form of one invisible character: `\x1b`, `\u202e`, `\u{e0001}`; a byte that was not UTF-8 as `\xff`. */
function escapeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp === 0x09) return "\\t";
  if (cp === 0x0a) return "\\n";
  if (cp === 0x0d) return "\\r";
  if (cp < 0x100) return `\\x${cp.toString(16).padStart(2, "0")}`;
  if (cp >= 0xdc80 && cp <= 0xdcff) return `\\x${(cp - 0xdc00).toString(16)}`;
  return cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, "0")}`;
}

/**
 * Text made safe for a terminal: escape sequences, other control
 * characters, NUL, zero-width and bidi characters are shown as escapes
 * (`\x1b`, `\u202e`), never written raw.
 */
export function visible(text: string): string {
  return INVISIBLE.test(text) ? text.replace(INVISIBLE_G, escapeChar) : text;
}

/** `visible` text clipped to LIMITS.messageChars (messages quote values, which may be huge). */
function shown(text: string): string {
  const t = text.length > LIMITS.messageChars * 2 ? text.slice(0, LIMITS.messageChars * 2) : text;
  const v = visible(t);
  return v.length > LIMITS.messageChars || t.length < text.length ? `${v.slice(0, LIMITS.messageChars)}…` : v;
}

interface Snippet {
  readonly line: number;
  /** The line as shown: invisible characters escaped, clipped around the span. */
  readonly text: string;
  /** 0-based cell where the marks start, and how many. */
  readonly at: number;
  readonly width: number;
  readonly label: string | undefined;
  readonly mark: string;
}

/** UTF-16 index of the code point `cp` columns into `text` (from `from`). */
function advance(text: string, from: number, cp: number): number {
  let i = from;
  for (let n = 0; n < cp && i < text.length; n++) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
  }
  return i;
}

function snippet(idx: LineIndex, span: Span, label: string | undefined, mark: string): Snippet {
  const start = idx.position(span.start);
  const end = idx.position(Math.max(span.start, span.end));
  const line = idx.lineText(start.line);
  const W = LIMITS.frameColumns;
  const s = start.character;
  const e = end.line === start.line ? Math.max(end.character, s + 1) : Infinity;
  // Only a window of code points around the span can be shown (escapes only make characters wider).
  const from = Math.max(0, s - W);
  const i0 = advance(line, 0, from);
  const i1 = advance(line, i0, s - from);
  const i2 = advance(line, i1, Math.min(e - s, 2 * W));
  const i3 = advance(line, i2, 2 * W);
  const cells = (t: string): string[] => [...t].map((ch) => (ch === "\t" ? " " : INVISIBLE.test(ch) ? escapeChar(ch) : ch));
  const pre = cells(line.slice(i0, i1));
  const marked = cells(line.slice(i1, i2));
  const post = cells(line.slice(i2, i3));
  let cutBefore = from > 0;
  let cutAfter = i3 < line.length;
  // Context before the span: what the span and the rest of the line leave, at least a third of the width.
  const len = (xs: readonly string[]): number => xs.reduce((n, x) => n + x.length, 0);
  const preBudget = Math.max(Math.floor(W / 3), W - len(marked) - len(post) - (cutAfter ? 1 : 0));
  let preText = "";
  for (let k = pre.length - 1; k >= 0; k--) {
    const c = pre[k] as string;
    if (preText.length + c.length > preBudget - (from > 0 || k > 0 ? 1 : 0)) {
      cutBefore = true;
      break;
    }
    preText = c + preText;
  }
  let body = "";
  let k = 0;
  for (; k < marked.length; k++) {
    const c = marked[k] as string;
    if (preText.length + body.length + c.length > W) break;
    body += c;
  }
  let tail = "";
  if (k === marked.length) {
    let j = 0;
    for (; j < post.length; j++) {
      const c = post[j] as string;
      if (preText.length + body.length + tail.length + c.length > W) break;
      tail += c;
    }
    if (j < post.length) cutAfter = true;
  } else cutAfter = true;
  const head = cutBefore ? "…" : "";
  const text = `${head}${preText}${body}${tail}${cutAfter ? "…" : ""}`;
  return { line: start.line, text, at: head.length + preText.length, width: Math.max(1, body.length), label, mark };
}

function renderSnippets(snips: readonly Snippet[], gutter: number, out: string[]): void {
  const pad = " ".repeat(gutter);
  out.push(`${pad} |`);
  for (const s of snips) {
    out.push(`${String(s.line).padStart(gutter)} | ${s.text}`.trimEnd());
    const under = `${" ".repeat(s.at)}${s.mark.repeat(s.width)}`;
    out.push(`${pad} | ${under}${s.label ? ` ${shown(s.label)}` : ""}`);
  }
}

/** `file:line:col` of a span's start, or just the file when its text is unknown. */
function where(sources: Sources, span: Span): string {
  const idx = sources.index(span.file);
  const file = shown(span.file);
  if (!idx) return file;
  const p = idx.position(span.start);
  return `${file}:${p.line}:${p.column}`;
}

/** Renders one diagnostic rustc-style: a header, the source line, carets with the hint, related spans. */
function formatOne(d: Diagnostic, sources: Sources): string {
  const out: string[] = [`${where(sources, d.span)}: ${d.severity}[${shown(d.code)}]: ${shown(d.message)}`];
  const idx = sources.index(d.span.file);
  const related = (d.related ?? []).slice(0, MAX_RELATED);
  const hidden = (d.related?.length ?? 0) - related.length;
  if (!idx) {
    if (d.hint) out.push(`   = help: ${shown(d.hint)}`);
    for (const r of related) out.push(`   = note: ${where(sources, r.span)}: ${shown(r.message)}`);
    if (hidden > 0) out.push(`   = note: and ${hidden} more`);
    return out.join("\n");
  }
  const snips: Snippet[] = [snippet(idx, d.span, d.hint, "^")];
  const others: string[] = [];
  for (const r of related) {
    const ridx = sources.index(r.span.file);
    if (r.span.file === d.span.file && ridx) snips.push(snippet(ridx, r.span, r.message, "-"));
    else others.push(`   = note: ${where(sources, r.span)}: ${shown(r.message)}`);
  }
  if (hidden > 0) others.push(`   = note: and ${hidden} more`);
  const gutter = Math.max(2, ...snips.map((s) => String(s.line).length));
  renderSnippets(snips, gutter, out);
  out.push(...others);
  return out.join("\n");
}

/** Related spans printed per diagnostic (a cycle through many stages names the rest in one line). */
const MAX_RELATED = 8;

/** "aborting due to 2 errors; 1 warning emitted", "1 warning emitted", or "" when the list is empty. */
export function summary(diagnostics: readonly Diagnostic[]): string {
  const e = diagnostics.filter((d) => d.severity === "error").length;
  const w = diagnostics.length - e;
  const ws = `${w} warning${w === 1 ? "" : "s"} emitted`;
  if (e > 0) return `aborting due to ${e} error${e === 1 ? "" : "s"}${w > 0 ? `; ${ws}` : ""}`;
  return w > 0 ? ws : "";
}

/**
 * Prints diagnostics in the order given, each followed by a blank line, then
 * the summary line. The text ends with a newline unless the list is empty.
 * At most LIMITS.printedDiagnostics diagnostics and about
 * LIMITS.printedBytes bytes are printed; one line counts the rest.
 */
export function formatDiagnostics(diagnostics: readonly Diagnostic[], lookup?: SourceLookup): string {
  if (diagnostics.length === 0) return "";
  const sources = new Sources(lookup);
  const blocks: string[] = [];
  let bytes = 0;
  for (const d of diagnostics) {
    if (blocks.length >= LIMITS.printedDiagnostics) break;
    const block = formatOne(d, sources);
    const size = Buffer.byteLength(block) + 2;
    if (blocks.length > 0 && bytes + size > LIMITS.printedBytes) break;
    blocks.push(block);
    bytes += size;
  }
  const rest = diagnostics.slice(blocks.length);
  if (rest.length > 0) {
    const e = rest.filter((d) => d.severity === "error").length;
    const w = rest.length - e;
    const parts = [e > 0 ? `${e} more error${e === 1 ? "" : "s"}` : "", w > 0 ? `${w} more warning${w === 1 ? "" : "s"}` : ""].filter(Boolean);
    blocks.push(`… and ${parts.join(" and ")} not shown (fix the ones above first)`);
  }
  return `${blocks.join("\n\n")}\n\n${summary(diagnostics)}\n`;
}

/** One diagnostic in `--format json` output; lines and columns are 1-based, the end exclusive. */
export interface JsonDiagnostic {
  readonly severity: Diagnostic["severity"];
  readonly code: string;
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  readonly hint: string | null;
}

/** Diagnostics as plain records for `--format json` (positions are 0 when the file's text is unknown). */
export function toJsonDiagnostics(diagnostics: readonly Diagnostic[], lookup?: SourceLookup): JsonDiagnostic[] {
  const sources = new Sources(lookup);
  return diagnostics.map((d) => {
    const idx = sources.index(d.span.file);
    const s = idx?.position(d.span.start);
    const e = idx?.position(d.span.end);
    return {
      severity: d.severity,
      code: d.code,
      message: shown(d.message),
      file: d.span.file,
      line: s?.line ?? 0,
      column: s?.column ?? 0,
      endLine: e?.line ?? 0,
      endColumn: e?.column ?? 0,
      hint: d.hint === undefined ? null : shown(d.hint),
    };
  });
}
