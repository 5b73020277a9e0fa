// load: definition text (YAML, or JSON for .json files) → a tree of maps,
// sequences and scalars, each node stamped with its span. Reports the file's
// encoding and line-ending problems, control characters, syntax errors, tabs,
// duplicate keys (both places), tags/anchors/aliases, multiple documents and
// the limits of limits.ts as diagnostics; never throws for bad input, never
// recurses deeper than LIMITS.depth.
export type { LoadedDocument, LoadResult } from "./load.js";
export { loadDefinition, syntaxOf } from "./load.js";
export { LIMITS } from "./limits.js";
export { checkText, decodeUtf8, Spanner } from "./text.js";
export type { MapEntry, MapNode, Resolved, ScalarNode, SeqNode, YamlNode } from "./node.js";
export { child, createNode, entry, resolvePointer, toPlain } from "./node.js";
