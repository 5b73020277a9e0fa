// Typed access to the loaded YAML nodes for the semantic pass: each accessor
// gives undefined when the node has another type (the schema reported it).
import type { MapNode, ScalarNode, YamlNode } from "../load/index.js";

export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function scalar(n: YamlNode | undefined): ScalarNode | undefined {
  return n?.kind === "scalar" ? n : undefined;
}
export function str(n: YamlNode | undefined): string | undefined {
  const s = scalar(n);
  return typeof s?.value === "string" ? s.value : undefined;
}
/** A string, or a number/boolean kept exactly as written (`7.0` → "7.0"). */
export function text(n: YamlNode | undefined): string | undefined {
  const s = scalar(n);
  if (!s || s.value === null) return undefined;
  return typeof s.value === "string" ? s.value : s.text || String(s.value);
}
export function bool(n: YamlNode | undefined, dflt: boolean): boolean {
  const s = scalar(n);
  return typeof s?.value === "boolean" ? s.value : dflt;
}
export function int(n: YamlNode | undefined): number | undefined {
  const s = scalar(n);
  return typeof s?.value === "number" && Number.isInteger(s.value) ? s.value : undefined;
}
export function map(n: YamlNode | undefined): MapNode | undefined {
  return n?.kind === "map" ? n : undefined;
}
export function items(n: YamlNode | undefined): readonly YamlNode[] {
  return n?.kind === "seq" ? n.items : [];
}
export function oneOfStr<T extends string>(n: YamlNode | undefined, allowed: readonly T[], dflt: T): T {
  const v = str(n);
  return v !== undefined && (allowed as readonly string[]).includes(v) ? (v as T) : dflt;
}
