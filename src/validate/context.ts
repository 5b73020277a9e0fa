// What the semantic pass's modules share while they walk one definition: the
// diagnostics, the names declared (sources, imports, stages), the dependency
// edges between them, and the moving references found so far.
import { error, warning } from "../diag/index.js";
import type { Diagnostic, RelatedSpan } from "../diag/index.js";
import type { LoadedDocument, MapEntry, YamlNode } from "../load/index.js";
import type { MovingRef, Span } from "../model/index.js";
import { checkAbsolutePath } from "./refs.js";
import type { ParseResult } from "./refs.js";
import { str } from "./nodes.js";

export class Context {
  readonly diagnostics: Diagnostic[] = [];
  readonly sources = new Map<string, MapEntry>();
  readonly imports = new Map<string, MapEntry>();
  readonly stages = new Map<string, MapEntry>();
  /** Stage → stages it depends on, with the span of each reference. */
  readonly edges = new Map<string, { to: string; span: Span }[]>();
  /** Names referred to from anywhere (for unused warnings). */
  readonly used = new Map<string, Set<string>>();
  readonly imageUses = new Set<string>();
  /** References written without a pin, in the order written. */
  readonly moving: MovingRef[] = [];
  /** dpkg architectures of the definition's platforms (the list form of `packages:` is pinned for each). */
  targetArches: string[] = [];

  constructor(readonly doc: LoadedDocument) {}

  err(code: string, message: string, span: Span, hint?: string, related?: RelatedSpan[]): void {
    this.diagnostics.push(error(code, message, span, { hint, related }));
  }
  warn(code: string, message: string, span: Span, hint?: string): void {
    this.diagnostics.push(warning(code, message, span, { hint }));
  }
  /** The value of a parse, or undefined after reporting its error at `span`. */
  check<T>(r: ParseResult<T>, code: string, span: Span): T | undefined {
    if (r.ok) return r.value;
    this.err(code, r.message, span, r.hint);
    return undefined;
  }

  /** Records that `owner` (a stage, or the image when undefined) depends on `name`. */
  use(owner: string | undefined, name: string, span: Span): void {
    if (owner === undefined) {
      this.imageUses.add(name);
      return;
    }
    const set = this.used.get(owner) ?? new Set<string>();
    set.add(name);
    this.used.set(owner, set);
    if (this.stages.has(name)) {
      const list = this.edges.get(owner) ?? [];
      list.push({ to: name, span });
      this.edges.set(owner, list);
    }
  }

  /** An absolute, normalised path, or undefined after reporting why not. */
  absPath(n: YamlNode | undefined, what: string): string | undefined {
    const t = str(n);
    if (t === undefined || n === undefined) return undefined;
    const r = checkAbsolutePath(t);
    if (r.ok) return r.value;
    this.err("invalid_path", `${what}: ${r.message}`, n.span, r.hint);
    return undefined;
  }
}
