import type { Span } from "../model/index.js";
import type { Diagnostic } from "./diagnostic.js";
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

interface Snippet {
  readonly line: number;
  readonly text: string;
  readonly column: number;
  readonly width: number;
  readonly label: string | undefined;
  readonly mark: string;
}

function snippet(idx: LineIndex, span: Span, label: string | undefined, mark: string): Snippet {
  const start = idx.position(span.start);
  const end = idx.position(Math.max(span.start, span.end));
  const text = idx.lineText(start.line).replace(/\t/g, " ");
  const lineLen = [...text].length;
  const endCol = end.line === start.line ? end.column : lineLen + 1;
  const width = Math.max(1, endCol - start.column);
  return { line: start.line, text, column: start.column, width, label, mark };
}

function renderSnippets(snips: readonly Snippet[], gutter: number, out: string[]): void {
  const pad = " ".repeat(gutter);
  out.push(`${pad} |`);
  for (const s of snips) {
    out.push(`${String(s.line).padStart(gutter)} | ${s.text}`.trimEnd());
    const under = `${" ".repeat(s.column - 1)}${s.mark.repeat(s.width)}`;
    out.push(`${pad} | ${under}${s.label ? ` ${s.label}` : ""}`);
  }
}

/** `file:line:col` of a span's start, or just the file when its text is unknown. */
function where(sources: Sources, span: Span): string {
  const idx = sources.index(span.file);
  if (!idx) return span.file;
  const p = idx.position(span.start);
  return `${span.file}:${p.line}:${p.column}`;
}

/** Renders one diagnostic rustc-style: a header, the source line, carets with the hint, related spans. */
function formatOne(d: Diagnostic, sources: Sources): string {
  const out: string[] = [`${where(sources, d.span)}: ${d.severity}[${d.code}]: ${d.message}`];
  const idx = sources.index(d.span.file);
  if (!idx) {
    if (d.hint) out.push(`   = help: ${d.hint}`);
    for (const r of d.related ?? []) out.push(`   = note: ${where(sources, r.span)}: ${r.message}`);
    return out.join("\n");
  }
  const snips: Snippet[] = [snippet(idx, d.span, d.hint, "^")];
  const others: string[] = [];
  for (const r of d.related ?? []) {
    const ridx = sources.index(r.span.file);
    if (r.span.file === d.span.file && ridx) snips.push(snippet(ridx, r.span, r.message, "-"));
    else others.push(`   = note: ${where(sources, r.span)}: ${r.message}`);
  }
  const gutter = Math.max(2, ...snips.map((s) => String(s.line).length));
  renderSnippets(snips, gutter, out);
  out.push(...others);
  return out.join("\n");
}

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
 */
export function formatDiagnostics(diagnostics: readonly Diagnostic[], lookup?: SourceLookup): string {
  if (diagnostics.length === 0) return "";
  const sources = new Sources(lookup);
  return `${diagnostics.map((d) => formatOne(d, sources)).join("\n\n")}\n\n${summary(diagnostics)}\n`;
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
      message: d.message,
      file: d.span.file,
      line: s?.line ?? 0,
      column: s?.column ?? 0,
      endLine: e?.line ?? 0,
      endColumn: e?.column ?? 0,
      hint: d.hint ?? null,
    };
  });
}
