// diag: diagnostics as data, and their printing.
//  - diagnostic.ts: the Diagnostic record, error/warning constructors, DiagnosticError
//  - line-index.ts: UTF-8 byte offsets ↔ UTF-16 indices, line/column derived on demand
//  - printer.ts: rustc-style text with source snippets and a summary line; the JSON form
//  - suggest.ts: edit distance and "did you mean" for names and keys
export type { Diagnostic, DiagnosticExtras, RelatedSpan, Severity } from "./diagnostic.js";
export { DiagnosticError, error, hasErrors, sortDiagnostics, warning } from "./diagnostic.js";
export type { Position } from "./line-index.js";
export { LineIndex } from "./line-index.js";
export type { JsonDiagnostic, SourceLookup } from "./printer.js";
export { formatDiagnostics, summary, toJsonDiagnostics, visible } from "./printer.js";
export { closest, didYouMean, editDistance } from "./suggest.js";
