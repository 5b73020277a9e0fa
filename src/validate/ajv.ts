import { Ajv2020 } from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { imageSchema } from "./schema.js";

let ajv: Ajv2020 | undefined;
let compiled: ValidateFunction | undefined;
const branches = new Map<string, ValidateFunction | undefined>();

function instance(): { ajv: Ajv2020; validate: ValidateFunction } {
  if (!ajv || !compiled) {
    ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    // Editor-only annotations (VS Code / yaml-language-server): accepted, ignored here.
    ajv.addKeyword({ keyword: "patternErrorMessage", schemaType: "string" });
    ajv.addKeyword({ keyword: "defaultSnippets", schemaType: "array" });
    compiled = ajv.compile(imageSchema);
  }
  return { ajv, validate: compiled };
}

/** Validates a plain value against the image schema; the errors, or [] when it conforms. */
export function schemaErrors(value: unknown): ErrorObject[] {
  const v = instance().validate;
  return v(value) ? [] : [...(v.errors ?? [])];
}

let pointers: Map<object, string> | undefined;

/** JSON Pointer of a sub-schema object inside imageSchema (ajv reports paths relative to $ref targets). */
function pointerOf(schema: object): string | undefined {
  if (!pointers) {
    const map = new Map<object, string>();
    const walk = (node: unknown, ptr: string): void => {
      if (node === null || typeof node !== "object") return;
      if (!map.has(node)) map.set(node, ptr);
      for (const [k, v] of Object.entries(node)) walk(v, `${ptr}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`);
    };
    walk(imageSchema, "");
    pointers = map;
  }
  return pointers.get(schema);
}

/**
 * Validates `value` against branch `index` of the oneOf in `unionSchema` (a
 * sub-schema object of imageSchema, as ajv's verbose errors give it);
 * undefined if that location cannot be compiled.
 */
export function branchErrors(unionSchema: object, index: number, value: unknown): ErrorObject[] | undefined {
  const ptr = pointerOf(unionSchema);
  if (ptr === undefined) return undefined;
  const key = `${imageSchema.$id}#${ptr}/oneOf/${index}`;
  if (!branches.has(key)) {
    let fn: ValidateFunction | undefined;
    try {
      fn = instance().ajv.getSchema(key);
    } catch {
      fn = undefined;
    }
    branches.set(key, fn);
  }
  const fn = branches.get(key);
  if (!fn) return undefined;
  return fn(value) ? [] : [...(fn.errors ?? [])];
}
