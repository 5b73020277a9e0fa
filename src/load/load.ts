import { CST, Composer, isAlias, isMap, isPair, isScalar, isSeq, Lexer, Parser } from "yaml";
import type { Document, Node as YNode, Pair, YAMLError } from "yaml";
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


/**
 * One pass over the CST, with an explicit stack (no recursion): the first
 * collection nested deeper than LIMITS.depth, the node count, and every tag,
 * anchor and alias at its own token, so a diagnostic underlines the `!!float`,
 * `&x` or `*x` itself.
 */
function scanTokens(tokens: readonly CST.Token[], sp: Spanner): { fatal?: Diagnostic; props: Diagnostic[] } {
  const props: Diagnostic[] = [];
  let nodes = 0;
  // A stack of [token, depth], pushed in reverse so tokens are visited in document order.
  const stack: (CST.Token | undefined)[] = [];
  const depths: number[] = [];
  const push = (t: CST.Token | undefined, d: number): void => {
    if (t) {
      stack.push(t);
      depths.push(d);
    }
  };
  const pushAll = (ts: readonly CST.Token[] | undefined, d: number): void => {
    if (ts) for (let i = ts.length - 1; i >= 0; i--) push(ts[i], d);
  };
  for (let i = tokens.length - 1; i >= 0; i--) push(tokens[i], 0);
  while (stack.length > 0) {
    const t = stack.pop() as CST.Token;
    const depth = depths.pop() as number;
    switch (t.type) {
      case "document":
        pushAll(t.end, depth);
        push(t.value, depth);
        pushAll(t.start, depth);
        break;
      case "block-map":
      case "block-seq":
      case "flow-collection": {
        if (++nodes > LIMITS.nodes) return { fatal: tooManyNodes(sp, t.offset), props };
        const inner = depth + 1;
        if (inner > LIMITS.depth) return { fatal: tooDeep(sp, t.offset, t.offset + 1, inner), props };
        if (t.type === "flow-collection") pushAll(t.end, inner);
        const items = t.items as readonly { start: readonly CST.Token[]; key?: CST.Token | null; sep?: readonly CST.Token[]; value?: CST.Token }[];
        for (let i = items.length - 1; i >= 0; i--) {
          const it = items[i];
          if (!it) continue;
          push(it.value, inner);
          pushAll(it.sep, inner);
          push(it.key ?? undefined, inner);
          pushAll(it.start, inner);
        }
        break;
      }
      case "block-scalar":
        if (++nodes > LIMITS.nodes) return { fatal: tooManyNodes(sp, t.offset), props };
        pushAll(t.props, depth);
        break;
      case "scalar":
      case "single-quoted-scalar":
      case "double-quoted-scalar":
        if (++nodes > LIMITS.nodes) return { fatal: tooManyNodes(sp, t.offset), props };
        break;
      case "alias":
        if (++nodes > LIMITS.nodes) return { fatal: tooManyNodes(sp, t.offset), props };
        props.push(
          error("yaml_alias", `YAML aliases (${t.source}) are not supported`, sp.span(t.offset, t.offset + t.source.length), {
            hint: "write the value out in full instead of referring to an anchor",
          }),
        );
        break;
      case "anchor":
        props.push(
          error("yaml_anchor", `YAML anchors (${t.source}) are not supported`, sp.span(t.offset, t.offset + t.source.length), {
            hint: "write each value out in full; definitions are meant to be read without indirection",
          }),
        );
        break;
      case "tag": {
        const src = t.source;
        const coerces = /^!!(str|int|float|bool|null)$/.test(src);
        props.push(
          error("yaml_tag", `YAML tag ${JSON.stringify(src)} is not allowed${coerces ? ": it changes the value's type" : ""}`, sp.span(t.offset, t.offset + src.length), {
            hint: coerces || src === "!" ? "remove the tag; quote the value if it must be a string (\"80\"), or write it as the type it is" : "remove the tag: a definition holds plain strings, numbers, booleans, lists and maps",
          }),
        );
        break;
      }
      default:
        break;
    }
  }
  return { props };
}

/**
 * A bound on the nesting depth from the lexer's tokens alone, before the
 * parser runs: yaml's parser recurses when it closes many block levels at
 * once, so a few thousand levels must be refused before it sees them. Flow
 * brackets are counted exactly; block levels are the columns of `-`, `?` and
 * of the node that starts a line or follows them, each deeper than the one
 * it is inside (inside flow brackets too: the parser, recovering from
 * errors, nests block maps there). Returns where the bound first goes past
 * LIMITS.depth. The lexemes are collected for the parser (one lexing pass).
 */
function lexicalDepth(text: string, lexemes: string[]): { offset: number; length: number; level: number } | undefined {
  const cols: number[] = [];
  let flow = 0;
  let offset = 0;
  let lineStart = 0;
  let startsNode = true;
  let atScalar = false;
  const open = (col: number, at: number, length: number): { offset: number; length: number; level: number } | undefined => {
    while (cols.length > 0 && (cols[cols.length - 1] as number) >= col) cols.pop();
    cols.push(col);
    return cols.length + flow > LIMITS.depth ? { offset: at, length, level: cols.length + flow } : undefined;
  };
  for (const tok of new Lexer().lex(text)) {
    lexemes.push(tok);
    const at = offset;
    let hit: { offset: number; length: number; level: number } | undefined;
    const type = atScalar ? "scalar-source" : CST.tokenType(tok);
    atScalar = false;
    switch (type) {
      case "scalar":
        atScalar = true; // the marker; the source follows
        continue;
      case "doc-mode":
      case "flow-error-end":
        continue;
      case "newline":
        startsNode = true;
        break;
      case "space":
      case "comment":
      case "byte-order-mark":
      case "anchor":
      case "tag":
        break;
      case "seq-item-ind":
      case "explicit-key-ind":
        hit = open(at - lineStart, at, 1);
        startsNode = true;
        break;
      case "flow-map-start":
      case "flow-seq-start":
        if (startsNode) {
          // A flow collection starting a node: it is counted as a flow level, not as a block column too.
          while (cols.length > 0 && (cols[cols.length - 1] as number) >= at - lineStart) cols.pop();
        }
        flow++;
        if (cols.length + flow > LIMITS.depth) hit = { offset: at, length: 1, level: cols.length + flow };
        startsNode = false;
        break;
      case "flow-map-end":
      case "flow-seq-end":
        flow = Math.max(0, flow - 1);
        startsNode = false;
        break;
      case "doc-start":
      case "doc-end":
        cols.length = 0;
        flow = 0;
        startsNode = true;
        break;
      default:
        // A scalar's source, a quoted scalar, an alias, a block scalar header, `:`, `,`, a directive.
        if (startsNode && type !== "map-value-ind" && type !== "comma" && type !== "directive-line") hit = open(at - lineStart, at, Math.max(1, tok.length));
        startsNode = false;
    }
    if (hit) return hit;
    offset += tok.length;
    const nl = tok.lastIndexOf("\n");
    if (nl >= 0) lineStart = at + nl + 1;
  }
  return undefined;
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
  const lexemes: string[] = [];
  const deep = lexicalDepth(text, lexemes);
  if (deep) {
    diagnostics.push(tooDeep(sp, deep.offset, deep.offset + deep.length, deep.level));
    return noTree();
  }
  const parser = new Parser();
  const tokens: CST.Token[] = [];
  for (const lexeme of lexemes) for (const t of parser.next(lexeme)) tokens.push(t);
  for (const t of parser.end()) tokens.push(t);
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
