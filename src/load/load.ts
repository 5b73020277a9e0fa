import { isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments } from "yaml";
import type { Document, Node as YNode, Pair, YAMLError } from "yaml";
import { error, warning } from "../diag/index.js";
import type { Diagnostic } from "../diag/index.js";
import { LineIndex } from "../diag/index.js";
import type { Span } from "../model/index.js";
import { createNode } from "./node.js";
import type { MapEntry, ScalarNode, YamlNode } from "./node.js";

/** A parsed definition: its text, a line index, and the tree (absent when the file could not be parsed). */
export interface LoadedDocument {
  readonly file: string;
  readonly text: string;
  readonly lines: LineIndex;
  /** The tree; undefined when the file has syntax errors or is empty. */
  readonly root?: YamlNode;
}

/** The result of loading: the document and every problem found while parsing. */
export interface LoadResult {
  readonly doc: LoadedDocument;
  readonly diagnostics: Diagnostic[];
}

/** The syntax a file name implies: JSON for `.json`, YAML otherwise. */
export function syntaxOf(file: string): "json" | "yaml" {
  return /\.json$/i.test(file) ? "json" : "yaml";
}

const CORE_TAG = /^tag:yaml\.org,2002:/;

/** Builds spans from yaml's UTF-16 ranges, trimming trailing blanks and converting to bytes. */
class Spanner {
  constructor(
    readonly file: string,
    readonly text: string,
    readonly lines: LineIndex,
  ) {}
  span(start: number, end: number): Span {
    let s = Math.max(0, Math.min(this.text.length, start));
    let e = Math.max(s, Math.min(this.text.length, end));
    while (e > s && /\s/.test(this.text[e - 1] ?? "")) e--;
    if (s > e) s = e;
    return { file: this.file, start: this.lines.toByte(s), end: this.lines.toByte(e) };
  }
  ofNode(node: YNode | null | undefined, fallback: number): Span {
    const r = node?.range;
    return r ? this.span(r[0], r[1]) : this.span(fallback, fallback);
  }
}

/** Converts a yaml Document into our tree, reporting aliases, anchors, custom tags, odd keys and duplicates. */
class Converter {
  readonly diagnostics: Diagnostic[] = [];
  constructor(private readonly sp: Spanner) {}

  private props(node: YNode, span: Span): void {
    if (node.anchor !== undefined) {
      this.diagnostics.push(
        error("yaml_anchor", `YAML anchors (&${node.anchor}) are not supported`, span, {
          hint: "write each value out in full; definitions are meant to be read without indirection",
        }),
      );
    }
    if (node.tag !== undefined && !CORE_TAG.test(node.tag)) {
      this.diagnostics.push(
        error("yaml_tag", `custom YAML tag "${node.tag}" is not supported`, span, {
          hint: "remove the tag (quote the value if it must be a string)",
        }),
      );
    }
  }

  convert(node: unknown, fallback: number): YamlNode {
    if (isAlias(node)) {
      const span = this.sp.ofNode(node, fallback);
      this.diagnostics.push(
        error("yaml_alias", `YAML aliases (*${node.source}) are not supported`, span, {
          hint: "write the value out in full instead of referring to an anchor",
        }),
      );
      return createNode({ kind: "scalar", value: null, text: "", plain: true }, span);
    }
    if (isMap(node)) {
      const span = this.sp.ofNode(node, fallback);
      this.props(node, span);
      const entries: MapEntry[] = [];
      const seen = new Map<string, MapEntry>();
      for (const item of node.items) {
        const e = this.pair(item, span.start);
        if (!e) continue;
        const first = seen.get(e.key);
        if (first) {
          this.diagnostics.push(
            error("duplicate_key", `duplicate key "${e.key}"`, e.keySpan, {
              hint: "remove one of the two entries",
              related: [{ span: first.keySpan, message: "first defined here" }],
            }),
          );
          continue;
        }
        seen.set(e.key, e);
        entries.push(e);
      }
      return createNode({ kind: "map", entries }, span);
    }
    if (isSeq(node)) {
      const span = this.sp.ofNode(node, fallback);
      this.props(node, span);
      const items = node.items.map((it) => this.convert(it, span.start));
      return createNode({ kind: "seq", items }, span);
    }
    if (isScalar(node)) {
      const span = this.sp.ofNode(node, fallback);
      this.props(node, span);
      return this.scalar(node.value, node.source, node.type, span);
    }
    // A missing value (`key:` with nothing after it) or anything unexpected.
    const span = this.sp.span(fallback, fallback);
    return createNode({ kind: "scalar", value: null, text: "", plain: true }, span);
  }

  private scalar(raw: unknown, source: unknown, type: string | undefined, span: Span): ScalarNode {
    const plain = type === "PLAIN" || type === undefined;
    let value: ScalarNode["value"];
    if (raw === null || typeof raw === "string" || typeof raw === "number" || typeof raw === "boolean") value = raw;
    else if (typeof raw === "bigint") value = Number(raw);
    else value = String(raw);
    const text = typeof source === "string" ? source : value === null ? "" : String(value);
    return createNode({ kind: "scalar", value, text, plain }, span);
  }

  private pair(item: unknown, fallback: number): MapEntry | undefined {
    if (!isPair(item)) return undefined;
    const p = item as Pair<unknown, unknown>;
    const k = p.key;
    const keyNode = k as YNode | null;
    const keyStart = keyNode?.range?.[0] ?? fallback;
    if (!isScalar(k) || k.value === null || k.value === undefined) {
      const span = this.sp.ofNode(keyNode, fallback);
      this.diagnostics.push(
        error("yaml_key", isAlias(k) ? "a key cannot be an alias" : "keys must be plain strings", span, {
          hint: "write a simple key such as `name:`",
        }),
      );
      return undefined;
    }
    const keySpan = this.sp.ofNode(k, fallback);
    this.props(k, keySpan);
    const key = typeof k.source === "string" ? k.source : String(k.value);
    const valueEnd = (p.value as YNode | null)?.range?.[1] ?? k.range?.[1] ?? keyStart;
    const value = this.convert(p.value, k.range?.[1] ?? keyStart);
    return { key, keySpan, value, span: this.sp.span(keyStart, valueEnd) };
  }
}

/** First line of a yaml error message, without its own "at line …" suffix and code frame. */
function cleanYamlMessage(message: string): string {
  const first = message.split("\n")[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, "").replace(/:$/, "");
}

function yamlDiagnostic(e: YAMLError, sp: Spanner, severity: "error" | "warning"): Diagnostic {
  const span = sp.span(e.pos[0], Math.max(e.pos[0], e.pos[1]));
  const msg = cleanYamlMessage(e.message);
  if (e.code === "TAB_AS_INDENT") {
    return error("yaml_tab", "tabs are not allowed as indentation in YAML", span, { hint: "indent with spaces" });
  }
  const make = severity === "error" ? error : warning;
  return make(severity === "error" ? "yaml_syntax" : "yaml_warning", msg, span);
}

/** JSON.parse's own diagnosis, with the position it names (Node 20 says "at position N"). */
function jsonDiagnostic(text: string, sp: Spanner): Diagnostic | undefined {
  try {
    JSON.parse(text.replace(/^\uFEFF/, ""));
    return undefined;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const m = /at position (\d+)/.exec(message);
    const bom = text.startsWith("\uFEFF") ? 1 : 0;
    const pos = m ? Number(m[1]) + bom : text.length;
    const clean = message
      .replace(/ in JSON at position \d+.*$/s, "")
      .replace(/ \(line \d+ column \d+\)$/, "")
      .replace(/, ".*" is not valid JSON$/s, "");
    return error("json_syntax", `invalid JSON: ${clean}`, sp.span(pos, pos + 1));
  }
}

/**
 * Parses a definition (YAML, or JSON for `.json` files) into a tree with
 * spans. Never throws for bad input: every problem is a diagnostic.
 */
export function loadDefinition(file: string, text: string): LoadResult {
  const lines = new LineIndex(text);
  const sp = new Spanner(file, text, lines);
  const diagnostics: Diagnostic[] = [];
  const noTree = (): LoadResult => ({ doc: { file, text, lines }, diagnostics });

  if (syntaxOf(file) === "json") {
    const d = jsonDiagnostic(text, sp);
    if (d) {
      diagnostics.push(d);
      return noTree();
    }
  }

  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, {
      keepSourceTokens: true,
      uniqueKeys: false,
      prettyErrors: false,
      version: "1.2",
      schema: "core",
      merge: false,
      strict: true,
    }) as Document.Parsed[];
  } catch (e) {
    // The parser is not expected to throw; if it does, say so without a stack.
    diagnostics.push(error("yaml_syntax", `cannot parse: ${e instanceof Error ? e.message : String(e)}`, sp.span(0, 0)));
    return noTree();
  }
  if (!Array.isArray(docs)) docs = [];

  let syntaxError = false;
  for (const d of docs) {
    for (const e of d.errors) {
      diagnostics.push(yamlDiagnostic(e, sp, "error"));
      syntaxError = true;
    }
    for (const w of d.warnings) {
      if (w.code === "TAG_RESOLVE_FAILED") continue; // reported as yaml_tag below
      diagnostics.push(yamlDiagnostic(w, sp, "warning"));
    }
  }
  if (docs.length > 1) {
    const second = docs[1];
    const start = second?.range?.[0] ?? 0;
    diagnostics.push(
      error("multiple_documents", `a definition holds one YAML document, found ${docs.length}`, sp.span(start, start + 3), {
        hint: "remove the `---` separator and everything after it, or split the file",
      }),
    );
    syntaxError = true;
  }
  const doc = docs[0];
  if (!doc || doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null && !doc.contents.tag)) {
    if (!syntaxError) {
      diagnostics.push(
        error("empty_definition", "the definition is empty", sp.span(0, 0), {
          hint: "start with `name:`, `platforms:`, `stages:` and `image:` (see docs/format.md)",
        }),
      );
    }
    return noTree();
  }
  if (syntaxError) return noTree();

  const conv = new Converter(sp);
  const root = conv.convert(doc.contents, 0);
  diagnostics.push(...conv.diagnostics);
  return { doc: { file, text, lines, root }, diagnostics };
}
