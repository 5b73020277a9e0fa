import { Ajv2020 } from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { imageSchema } from "./schema.js";

let compiled: ValidateFunction | undefined;

/** The compiled schema validator (compiled once, on first use). */
function validator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    // Editor-only annotations (VS Code / yaml-language-server): accepted, ignored here.
    ajv.addKeyword({ keyword: "patternErrorMessage", schemaType: "string" });
    ajv.addKeyword({ keyword: "defaultSnippets", schemaType: "array" });
    compiled = ajv.compile(imageSchema);
  }
  return compiled;
}

/** Validates a plain value against the image schema; the errors, or [] when it conforms. */
export function schemaErrors(value: unknown): ErrorObject[] {
  const v = validator();
  return v(value) ? [] : [...(v.errors ?? [])];
}
