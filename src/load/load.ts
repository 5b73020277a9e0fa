import { Composer, isAlias, isMap, isPair, isScalar, isSeq, Parser } from "yaml";
import type { CST, Document, Node as YNode, Pair, YAMLError } from "yaml";
import type { Span } from "../model/index.js";
import { error, warning } from "../diag/index.js";
import type { Diagnostic } from "../diag/index.js";
import { LineIndex } from "../diag/index.js";
import { parseJson } from "./json.js";
import { LIMITS } from "./limits.js";
import { createNode } from "./node.js";
import type { MapEntry, ScalarNode, YamlNode } from "./node.js";
import { checkText, Spanner, tooDeep, tooManyNodes } from "./text.js";

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

const ofNode = (sp: Spanner, node: YNode | null | undefined, fallback: number): Span => {
  const r = node?.range;
  return r ? sp.span(r[0], r[1]) : sp.span(fallback, fallback);
};

/** A string with half of a surrogate pair (from an escape such as "\ud800"): it has no UTF-8 form. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Converts a yaml Document into our tree, reporting odd keys, duplicates and
 * text with no UTF-8 form. Tags, anchors and aliases were reported from the
 * CST (see `scanTokens`); an alias becomes a null scalar here. Recursion is
 * bounded: the CST was checked against LIMITS.depth first.
 */
class Converter {
  readonly diagnostics: Diagnostic[] = [];
  constructor(private readonly sp: Spanner) {}

  convert(node: unknown, fallback: number): YamlNode {
    if (isAlias(node)) {
      return createNode({ kind: "scalar", value: null, text: "", plain: true }, ofNode(this.sp, node, fallback));
    }
    if (isMap(node)) {
      const span = ofNode(this.sp, node, fallback);
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
      const span = ofNode(this.sp, node, fallback);
      const start = node.range?.[0] ?? fallback;
      const items = node.items.map((it) => this.convert(it, start));
      return createNode({ kind: "seq", items }, span);
    }
    if (isScalar(node)) {
      const span = ofNode(this.sp, node, fallback);
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
    if (typeof value === "string" && LONE_SURROGATE.test(value)) {
      this.diagnostics.push(
        error("invalid_encoding", "an escape gives half of a surrogate pair (\\ud800–\\udfff): the text cannot be written as UTF-8", span, {
          hint: "write the character itself, or both halves of the pair (\"\\ud83d\\ude00\"), or \\U0001F600",
        }),
      );
    }
    return createNode({ kind: "scalar", value, text, plain }, span);
  }

  private pair(item: unknown, fallback: number): MapEntry | undefined {
    if (!isPair(item)) return undefined;
    const p = item as Pair<unknown, unknown>;
    const k = p.key;
    const keyNode = k as YNode | null;
    const keyStart = keyNode?.range?.[0] ?? fallback;
    if (!isScalar(k) || k.value === null || k.value === undefined) {
      const span = ofNode(this.sp, keyNode, fallback);
      if (!isAlias(k)) {
        this.diagnostics.push(
          error("yaml_key", "keys must be plain strings", span, {
            hint: "write a simple key such as `name:`",
          }),
        );
      }
      return undefined;
    }
    const keySpan = ofNode(this.sp, k, fallback);
    const key = typeof k.source === "string" ? k.source : String(k.value);
    if (LONE_SURROGATE.test(key)) {
      this.diagnostics.push(
        error("invalid_encoding", "an escape gives half of a surrogate pair (\\ud800–\\udfff): the key cannot be written as UTF-8", keySpan, {
          hint: "write the character itself, or both halves of the pair",
        }),
      );
    }
    const valueEnd = (p.value as YNode | null)?.range?.[1] ?? k.range?.[1] ?? keyStart;
    const value = this.convert(p.value, k.range?.[1] ?? keyStart);
    return { key, keySpan, value, span: this.sp.span(keyStart, valueEnd) };
  }
}

const COLLECTIONS = new Set(["block-map", "block-seq", "flow-collection"]);
const VALUES = new Set(["block-map", "block-seq", "flow-collection", "scalar", "single-quoted-scalar", "double-quoted-scalar", "block-scalar", "alias"]);

/**
 * One pass over the CST, with an explicit stack (no recursion): the first
 * collection nested deeper than LIMITS.depth, the node count, and every tag,
 * anchor and alias at its own token, so a diagnostic underlines the `!!float`,
 * `&x` or `*x` itself.
 */
function scanTokens(tokens: readonly CST.Token[], sp: Spanner): { fatal?: Diagnostic; props: Diagnostic[] } {
  const props: Diagnostic[] = [];
  let nodes = 0;
  const stack: [unknown, number][] = tokens.map((t): [unknown, number] => [t, 0]).reverse();
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== "object") continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        const x: unknown = v[i];
        if (x !== null && typeof x === "object") stack.push([x, depth]);
      }
      continue;
    }
    const t = v as { type?: unknown; offset?: unknown; source?: unknown };
    let inner = depth;
    if (typeof t.type === "string" && typeof t.offset === "number") {
      const off = t.offset;
      const src = typeof t.source === "string" ? t.source : "";
      if (VALUES.has(t.type) && ++nodes > LIMITS.nodes) return { fatal: tooManyNodes(sp, off), props };
      if (COLLECTIONS.has(t.type)) {
        inner = depth + 1;
        if (inner > LIMITS.depth) return { fatal: tooDeep(sp, off, off + 1, inner), props };
      } else if (t.type === "tag") {
        props.push(
          error("yaml_tag", `YAML tag ${JSON.stringify(src)} is not allowed${/^!!(str|int|float|bool|null)$/.test(src) ? ": it changes the value's type" : ""}`, sp.span(off, off + src.length), {
            hint: /^!!(str|int|float|bool|null)$/.test(src) || src === "!" ? "remove the tag; quote the value if it must be a string (\"80\"), or write it as the type it is" : "remove the tag: a definition holds plain strings, numbers, booleans, lists and maps",
          }),
        );
      } else if (t.type === "anchor") {
        props.push(
          error("yaml_anchor", `YAML anchors (${src}) are not supported`, sp.span(off, off + src.length), {
            hint: "write each value out in full; definitions are meant to be read without indirection",
          }),
        );
      } else if (t.type === "alias") {
        props.push(
          error("yaml_alias", `YAML aliases (${src}) are not supported`, sp.span(off, off + src.length), {
            hint: "write the value out in full instead of referring to an anchor",
          }),
        );
      }
    }
    // Children pushed in reverse, so they are visited in document order (the first node past a limit is the first in the file).
    const children: [unknown, number][] = [];
    for (const [k, x] of Object.entries(v)) {
      if (k === "source" || x === null || typeof x !== "object") continue;
      children.push([x, inner]);
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i] as [unknown, number]);
  }
  props.sort((a, b) => a.span.start - b.span.start);
  return { props };
}

/** First line of a yaml error message, without its own "at line …" suffix and code frame. */
function cleanYamlMessage(message: string): string {
  const first = message.split("\n")[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, "").replace(/:$/, "");
}

const SYNTAX_HINT = "check the indentation, quotes and brackets here (see docs/format.md, \"YAML rules\"); quoting a value often helps";

function yamlDiagnostic(e: YAMLError, sp: Spanner, severity: "error" | "warning"): Diagnostic {
  const span = sp.span(e.pos[0], Math.max(e.pos[0] + 1, e.pos[1]));
  const msg = cleanYamlMessage(e.message);
  if (e.code === "TAB_AS_INDENT") {
    return error("yaml_tab", "tabs are not allowed as indentation in YAML", span, { hint: "indent with spaces" });
  }
  const make = severity === "error" ? error : warning;
  return make(severity === "error" ? "yaml_syntax" : "yaml_warning", msg, span, { hint: SYNTAX_HINT });
}

/**
 * Parses a definition (YAML, or JSON for `.json` files) into a tree with
 * spans. Never throws for bad input: every problem is a diagnostic. The text
 * is checked first (size, encoding, line endings, control characters; see
 * text.ts), then its depth and size against LIMITS before anything recurses.
 */
export function loadDefinition(file: string, text: string): LoadResult {
  const lines = new LineIndex(text);
  const sp = new Spanner(file, text, lines);
  const diagnostics: Diagnostic[] = [];
  const noTree = (): LoadResult => ({ doc: { file, text, lines }, diagnostics });

  diagnostics.push(...checkText(text, sp));
  if (diagnostics.length > 0) return noTree();

  if (syntaxOf(file) === "json") {
    const r = parseJson(text, sp);
    diagnostics.push(...r.diagnostics);
    if (!r.root) {
      if (diagnostics.length === 0) {
        diagnostics.push(
          error("empty_definition", "the definition is empty", sp.span(0, 0), {
            hint: "start with `name:`, `platforms:`, `stages:` and `image:` (see docs/format.md)",
          }),
        );
      }
      return noTree();
    }
    return { doc: { file, text, lines, root: r.root }, diagnostics };
  }

  const options = { keepSourceTokens: false, uniqueKeys: false, prettyErrors: false, version: "1.2", schema: "core", merge: false, strict: true } as const;
  const tokens = [...new Parser().parse(text)];
  const scanned = scanTokens(tokens, sp);
  if (scanned.fatal) {
    diagnostics.push(scanned.fatal);
    return noTree();
  }
  let docs: Document.Parsed[];
  try {
    docs = [...new Composer(options).compose(tokens)] as Document.Parsed[];
  } catch (e) {
    // The parser is not expected to throw; if it does, say so without a stack.
    diagnostics.push(error("yaml_syntax", `cannot parse: ${e instanceof Error ? e.message : String(e)}`, sp.span(0, 0), { hint: SYNTAX_HINT }));
    return noTree();
  }

  let syntaxError = false;
  for (const d of docs) {
    for (const e of d.errors) {
      diagnostics.push(yamlDiagnostic(e, sp, "error"));
      syntaxError = true;
    }
    for (const w of d.warnings) {
      if (w.code === "TAG_RESOLVE_FAILED") continue; // reported as yaml_tag
      diagnostics.push(yamlDiagnostic(w, sp, "warning"));
    }
  }
  diagnostics.push(...scanned.props);
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
    if (!syntaxError && scanned.props.length === 0) {
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
