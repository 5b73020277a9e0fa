import { error } from "../diag/index.js";
import type { Diagnostic } from "../diag/index.js";
import { LIMITS } from "./limits.js";
import { createNode } from "./node.js";
import type { MapEntry, YamlNode } from "./node.js";
import type { Spanner } from "./text.js";
import { describeChar, tooDeep, tooManyNodes } from "./text.js";

/**
 * A JSON parser that builds the same node tree as the YAML loader, with
 * spans, without recursion (an explicit stack, bounded by LIMITS.depth). Its
 * errors are JSON's own (`json_syntax`), placed at the offending token.
 */

interface MapFrame {
  readonly kind: "map";
  readonly start: number;
  readonly entries: MapEntry[];
  readonly seen: Map<string, MapEntry>;
  key?: { text: string; start: number; end: number };
}
interface SeqFrame {
  readonly kind: "seq";
  readonly start: number;
  readonly items: YamlNode[];
}
type Frame = MapFrame | SeqFrame;

class JsonSyntax extends Error {
  constructor(readonly diagnostic: Diagnostic) {
    super(diagnostic.message);
  }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const PLAIN_RUN = /[^"\\\u0000-\u001f]*/y;
const WORD = /[A-Za-z_$][A-Za-z0-9_$]*/y;
const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

export interface JsonResult {
  readonly root?: YamlNode;
  readonly diagnostics: Diagnostic[];
}

/** Parses JSON text into nodes; the first syntax error ends parsing (JSON has no recovery). */
export function parseJson(text: string, sp: Spanner): JsonResult {
  const diagnostics: Diagnostic[] = [];
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let nodes = 0;
  const stack: Frame[] = [];

  const fail = (start: number, end: number, message: string, hint: string, code = "json_syntax"): never => {
    throw new JsonSyntax(error(code, message, sp.span(start, Math.max(end, start + 1)), { hint }));
  };
  const found = (at: number): string => (at >= text.length ? "the end of the file" : describeChar(text, at));
  const ws = (): void => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };
  const count = (at: number): void => {
    if (++nodes > LIMITS.nodes) throw new JsonSyntax(tooManyNodes(sp, at));
  };

  const readString = (): { value: string; start: number; end: number } => {
    const start = pos;
    pos++;
    let out = "";
    for (;;) {
      PLAIN_RUN.lastIndex = pos;
      PLAIN_RUN.exec(text);
      if (PLAIN_RUN.lastIndex > pos) {
        out += text.slice(pos, PLAIN_RUN.lastIndex);
        pos = PLAIN_RUN.lastIndex;
      }
      if (pos >= text.length) fail(start, start + 1, "invalid JSON: a string that never ends", 'close the string with a double quote (")');
      const c = text[pos] as string;
      if (c === '"') {
        pos++;
        return { value: out, start, end: pos };
      }
      if (c === "\\") {
        const e = text[pos + 1] ?? "";
        const simple = ESCAPES[e];
        if (simple !== undefined) {
          out += simple;
          pos += 2;
          continue;
        }
        if (e === "u") {
          const hex = text.slice(pos + 2, pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail(pos, pos + 2, "invalid JSON: \\u must be followed by four hex digits", "write the character as \\u followed by exactly four hex digits, e.g. \\u00e9");
          const cu = parseInt(hex, 16);
          if (cu >= 0xd800 && cu <= 0xdbff) {
            const lo = /^\\u(d[c-f][0-9a-f]{2})/i.exec(text.slice(pos + 6, pos + 12));
            if (!lo?.[1]) fail(pos, pos + 6, `\\u${hex} is half of a surrogate pair: the text cannot be written as UTF-8`, "write the character itself, or both halves of the pair (\\ud83d\\ude00)", "invalid_encoding");
            out += String.fromCharCode(cu, parseInt((lo as RegExpExecArray)[1] as string, 16));
            pos += 12;
            continue;
          }
          if (cu >= 0xdc00 && cu <= 0xdfff) fail(pos, pos + 6, `\\u${hex} is half of a surrogate pair: the text cannot be written as UTF-8`, "write the character itself, or both halves of the pair (\\ud83d\\ude00)", "invalid_encoding");
          out += String.fromCharCode(cu);
          pos += 6;
          continue;
        }
        fail(pos, pos + 2, `invalid JSON: unknown escape \\${e === "" ? "" : describeChar(text, pos + 1)}`, 'JSON escapes are \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX');
      }
      // A raw control character (a line break, a tab) inside the string.
      fail(pos, pos + 1, `invalid JSON: ${describeChar(text, pos)} inside a string`, c === "\n" || c === "\r" ? "a JSON string is one line: write a line break as \\n" : "write it as an escape (\\t, \\n or \\uXXXX)");
    }
  };

  /** Parses a scalar or opens a collection at `pos`; returns the scalar, or undefined when a frame was pushed. */
  const valueStart = (): YamlNode | undefined => {
    const at = pos;
    const c = text[pos];
    if (c === "{" || c === "[") {
      if (stack.length + 1 > LIMITS.depth) throw new JsonSyntax(tooDeep(sp, at, at + 1, stack.length + 1));
      count(at);
      pos++;
      stack.push(c === "{" ? { kind: "map", start: at, entries: [], seen: new Map() } : { kind: "seq", start: at, items: [] });
      return undefined;
    }
    count(at);
    if (c === '"') {
      const s = readString();
      return createNode({ kind: "scalar", value: s.value, text: s.value, plain: false }, sp.span(s.start, s.end));
    }
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      NUMBER.lastIndex = pos;
      const m = NUMBER.exec(text);
      const next = text[NUMBER.lastIndex];
      if (!m || (next !== undefined && /[0-9.eE]/.test(next)) || /^-?0[0-9]/.test(text.slice(pos, pos + 3))) {
        const end = pos + Math.max(1, /^[^\s,\]}:]*/.exec(text.slice(pos, pos + 100))?.[0]?.length ?? 1);
        fail(pos, end, `invalid JSON: malformed number ${describeChar(text, pos, end)}`, "JSON numbers have no leading zeros, no leading +, and digits on both sides of the decimal point; quote the value if it is text");
      }
      const raw = (m as RegExpExecArray)[0];
      pos = NUMBER.lastIndex;
      return createNode({ kind: "scalar", value: Number(raw), text: raw, plain: true }, sp.span(at, pos));
    }
    WORD.lastIndex = pos;
    const w = WORD.exec(text)?.[0];
    if (w === "true" || w === "false" || w === "null") {
      pos += w.length;
      return createNode({ kind: "scalar", value: w === "null" ? null : w === "true", text: w, plain: true }, sp.span(at, pos));
    }
    if (w !== undefined) {
      fail(at, at + w.length, `invalid JSON: unexpected word "${w.slice(0, 40)}"`, w === "NaN" || w === "Infinity" ? "JSON has no NaN or Infinity" : 'strings are written in double quotes in JSON: "…"');
    }
    if (c === "'") fail(at, at + 1, "invalid JSON: single-quoted string", 'JSON strings are written in double quotes: "…"');
    if (c === "/") fail(at, at + 1, "invalid JSON: a comment", "JSON has no comments: remove it, or write the definition in YAML (.yaml)");
    if (c === "}" || c === "]") fail(at, at + 1, `invalid JSON: expected a value, found "${c}"`, "remove the comma before it: JSON does not allow trailing commas");
    if (c === ",") fail(at, at + 1, 'invalid JSON: expected a value, found ","', "remove the extra comma");
    return fail(at, at + 1, `invalid JSON: expected a value, found ${found(at)}`, 'a value is an object {…}, a list […], a "string", a number, true, false or null');
  };

  const keyStart = (frame: MapFrame): void => {
    ws();
    if (text[pos] !== '"') {
      fail(pos, pos + 1, `invalid JSON: expected a key in double quotes, found ${found(pos)}`, text[pos] === "}" ? "remove the comma before it: JSON does not allow trailing commas" : 'object keys are strings in double quotes: "key": value');
    }
    const k = readString();
    count(k.start);
    frame.key = { text: k.value, start: k.start, end: k.end };
    ws();
    if (text[pos] !== ":") fail(pos, pos + 1, `invalid JSON: expected ":" after the key, found ${found(pos)}`, 'write "key": value');
    pos++;
    ws();
  };

  try {
    ws();
    if (pos >= text.length) return { diagnostics };
    let pending: YamlNode | undefined = valueStart();
    for (;;) {
      const top = stack[stack.length - 1];
      if (pending !== undefined) {
        // A value is complete: attach it to its parent.
        if (!top) {
          ws();
          if (pos < text.length) fail(pos, pos + 1, `invalid JSON: ${found(pos)} after the end of the value`, "a JSON file holds one value: remove what follows it");
          return { root: pending, diagnostics };
        }
        if (top.kind === "seq") top.items.push(pending);
        else {
          const k = top.key as { text: string; start: number; end: number };
          const keySpan = sp.span(k.start, k.end);
          const e: MapEntry = { key: k.text, keySpan, value: pending, span: sp.span(k.start, pos) };
          const first = top.seen.get(e.key);
          if (first) {
            diagnostics.push(
              error("duplicate_key", `duplicate key "${e.key}"`, keySpan, { hint: "remove one of the two entries", related: [{ span: first.keySpan, message: "first defined here" }] }),
            );
          } else {
            top.seen.set(e.key, e);
            top.entries.push(e);
          }
          delete top.key;
        }
        pending = undefined;
        ws();
        const c = text[pos];
        const close = top.kind === "map" ? "}" : "]";
        if (c === ",") {
          pos++;
          if (top.kind === "map") keyStart(top);
          else ws();
          pending = valueStart();
          continue;
        }
        if (c === close) {
          pos++;
          stack.pop();
          pending = createNode(top.kind === "map" ? { kind: "map", entries: top.entries } : { kind: "seq", items: top.items }, sp.span(top.start, pos)) as YamlNode;
          continue;
        }
        fail(pos, pos + 1, `invalid JSON: expected "," or "${close}" after ${top.kind === "map" ? "a value in an object" : "an item in a list"}, found ${found(pos)}`, `separate ${top.kind === "map" ? "entries" : "items"} with commas, and close the ${top.kind === "map" ? "object with }" : "list with ]"}`);
      }
      // A collection was just opened.
      if (!top) return { diagnostics };
      ws();
      if (top.kind === "map") {
        if (text[pos] === "}") {
          pos++;
          stack.pop();
          pending = createNode({ kind: "map", entries: [] }, sp.span(top.start, pos));
          continue;
        }
        keyStart(top);
      } else if (text[pos] === "]") {
        pos++;
        stack.pop();
        pending = createNode({ kind: "seq", items: [] }, sp.span(top.start, pos));
        continue;
      }
      if (pos >= text.length) fail(pos, pos + 1, `invalid JSON: the file ends inside ${top.kind === "map" ? "an object" : "a list"}`, `close the ${top.kind === "map" ? "object with }" : "list with ]"}`);
      pending = valueStart();
    }
  } catch (e) {
    if (e instanceof JsonSyntax) {
      diagnostics.push(e.diagnostic);
      return { diagnostics };
    }
    throw e;
  }
}
