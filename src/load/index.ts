// load: definition text (YAML, or JSON for .json files) → a tree of maps,
// sequences and scalars, each node stamped with its span. Reports syntax
// errors, tabs, duplicate keys (both places), aliases/anchors/custom tags and
// multiple documents as diagnostics; never throws for bad input.
export type { LoadedDocument, LoadResult } from "./load.js";
export { loadDefinition, syntaxOf } from "./load.js";
export type { MapEntry, MapNode, Resolved, ScalarNode, SeqNode, YamlNode } from "./node.js";
export { child, createNode, entry, resolvePointer, toPlain } from "./node.js";
