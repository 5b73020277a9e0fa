import type { YamlNode } from "../load/index.js";

/** "stages.build.mounts["/src"]" for a JSON Pointer; "the top level" for the root. */
export function describePath(pointer: string): string {
  if (pointer === "") return "the top level";
  const segs = pointer.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  let out = "";
  for (const s of segs) {
    if (/^\d+$/.test(s)) out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out === "" ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** "a mapping", "a list", "the string \"x\"", "the number 3", "an empty value". */
export function describeNode(node: YamlNode): string {
  switch (node.kind) {
    case "map":
      return "a mapping";
    case "seq":
      return "a list";
    case "scalar": {
      const v = node.value;
      if (v === null) return "an empty value";
      if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v)}`;
      if (typeof v === "number") return `the number ${node.text || String(v)}`;
      return `\`${String(v)}\``;
    }
  }
}

const TYPE_NAMES: Record<string, string> = {
  object: "a mapping",
  array: "a list",
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "true or false",
  null: "nothing",
};

/** "a string or a number" for a JSON Schema type or list of types. */
export function describeTypes(types: string | readonly string[]): string {
  const list = (typeof types === "string" ? types.split(",") : [...types]).map((t) => TYPE_NAMES[t] ?? t);
  if (list.includes("a number") && list.includes("an integer")) list.splice(list.indexOf("an integer"), 1);
  return list.length <= 1 ? (list[0] ?? "a value") : `${list.slice(0, -1).join(", ")} or ${list[list.length - 1] ?? ""}`;
}
