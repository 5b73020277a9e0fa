import type { Span } from "../model/index.js";

/** How bad a diagnostic is: errors stop the build, warnings do not (yet). */
export type Severity = "error" | "warning";

/** A secondary location that explains a diagnostic (the other duplicate, the cycle's next edge). */
export interface RelatedSpan {
  readonly span: Span;
  readonly message: string;
}

/**
 * A problem found in a definition, as data. `code` is stable snake_case (see
 * docs/format.md for the catalogue); wording and printing live elsewhere.
 */
export interface Diagnostic {
  readonly severity: Severity;
  readonly code: string;
  readonly message: string;
  readonly span: Span;
  /** The fix, shown under the span. */
  readonly hint?: string;
  readonly related?: readonly RelatedSpan[];
}

/** Options shared by the constructors below. */
export interface DiagnosticExtras {
  readonly hint?: string | undefined;
  readonly related?: readonly RelatedSpan[] | undefined;
}

function make(severity: Severity, code: string, message: string, span: Span, extras?: DiagnosticExtras): Diagnostic {
  const d: { -readonly [K in keyof Diagnostic]: Diagnostic[K] } = { severity, code, message, span };
  if (extras?.hint !== undefined) d.hint = extras.hint;
  if (extras?.related !== undefined && extras.related.length > 0) d.related = extras.related;
  return d;
}

/** An error diagnostic. */
export function error(code: string, message: string, span: Span, extras?: DiagnosticExtras): Diagnostic {
  return make("error", code, message, span, extras);
}

/** A warning diagnostic. */
export function warning(code: string, message: string, span: Span, extras?: DiagnosticExtras): Diagnostic {
  return make("warning", code, message, span, extras);
}

/** True when any diagnostic in the list is an error. */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

/** Sorts by file, then position, errors before warnings at the same place; stable otherwise. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) =>
      (a.span.file < b.span.file ? -1 : a.span.file > b.span.file ? 1 : 0) ||
      a.span.start - b.span.start ||
      (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1),
  );
}

/**
 * Thrown by callers that want an exception (the CLI, the frontend) when a
 * definition has errors. Carries the whole list; never shows a stack to users.
 */
export class DiagnosticError extends Error {
  override readonly name = "DiagnosticError";
  readonly diagnostics: readonly Diagnostic[];
  constructor(diagnostics: readonly Diagnostic[]) {
    const n = diagnostics.filter((d) => d.severity === "error").length;
    const first = diagnostics.find((d) => d.severity === "error") ?? diagnostics[0];
    super(first ? `${first.message}${n > 1 ? ` (and ${n - 1} more error${n > 2 ? "s" : ""})` : ""}` : "invalid definition");
    this.diagnostics = diagnostics;
  }
}
