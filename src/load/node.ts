import type { Span } from "../model/index.js";

/**
 * The definition's syntax tree: YAML and JSON both become maps, sequences
 * and scalars, each stamped with its span when created (see `createNode`),
 * so every later diagnostic can point back into the file.
 */
export type YamlNode = MapNode | SeqNode | ScalarNode;

/** A scalar. `text` is its source before type resolution (`7.0` stays "7.0", `0755` stays "0755"). */
export interface ScalarNode {
  readonly kind: "scalar";
  readonly value: string | number | boolean | null;
  readonly text: string;
  /** True for an unquoted YAML scalar or a JSON number/true/false/null. */
  readonly plain: boolean;
  readonly span: Span;
}

/** One `key: value` entry; `span` runs from the key's start to the value's end. */
export interface MapEntry {
  readonly key: string;
  readonly keySpan: Span;
  readonly value: YamlNode;
  readonly span: Span;
}

/** A mapping with unique string keys, in the order written. */
export interface MapNode {
  readonly kind: "map";
  readonly entries: readonly MapEntry[];
  readonly span: Span;
}

export interface SeqNode {
  readonly kind: "seq";
  readonly items: readonly YamlNode[];
  readonly span: Span;
}

type NodeInit =
  | Omit<ScalarNode, "span">
  | Omit<MapNode, "span">
  | Omit<SeqNode, "span">;

/** The one way to make a node: the span is stamped at creation. */
export function createNode<T extends NodeInit>(init: T, span: Span): T & { readonly span: Span } {
  return { ...init, span };
}

/** The entry for `key` in a map node, if any. */
export function entry(node: YamlNode | undefined, key: string): MapEntry | undefined {
  return node?.kind === "map" ? node.entries.find((e) => e.key === key) : undefined;
}

/** The value node for `key` in a map node, if any. */
export function child(node: YamlNode | undefined, key: string): YamlNode | undefined {
  return entry(node, key)?.value;
}

/** Plain JavaScript value of a node (for JSON Schema validation); safe for keys like `__proto__`. */
export function toPlain(node: YamlNode): unknown {
  switch (node.kind) {
    case "scalar":
      return node.value;
    case "seq":
      return node.items.map(toPlain);
    case "map": {
      const o: Record<string, unknown> = {};
      for (const e of node.entries) {
        Object.defineProperty(o, e.key, { value: toPlain(e.value), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
  }
}

/** A JSON Pointer segment list resolved in the tree: the node and, when reached through a map, its entry. */
export interface Resolved {
  readonly node: YamlNode;
  readonly entry?: MapEntry;
}

/** Follows a JSON Pointer ("/stages/build/from") through the tree; stops at the deepest node found. */
export function resolvePointer(root: YamlNode, pointer: string): Resolved {
  const segs = pointer === "" ? [] : pointer.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  let cur: Resolved = { node: root };
  for (const seg of segs) {
    const n = cur.node;
    if (n.kind === "map") {
      const e = n.entries.find((x) => x.key === seg);
      if (!e) return cur;
      cur = { node: e.value, entry: e };
    } else if (n.kind === "seq") {
      const item = n.items[Number(seg)];
      if (!item || !/^\d+$/.test(seg)) return cur;
      cur = { node: item };
    } else return cur;
  }
  return cur;
}
