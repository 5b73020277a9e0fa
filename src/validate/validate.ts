import { error, hasErrors, sortDiagnostics } from "../diag/index.js";
import type { Diagnostic } from "../diag/index.js";
import { loadDefinition, toPlain } from "../load/index.js";
import type { LoadedDocument } from "../load/index.js";
import type { ImageDefinition } from "../model/index.js";
import { schemaErrors } from "./ajv.js";
import { schemaDiagnostics } from "./schema-errors.js";
import { buildDefinition } from "./semantic.js";

/** The outcome of validation: the model when there is no error, and every diagnostic (sorted by position). */
export interface ValidateResult {
  readonly definition?: ImageDefinition;
  readonly diagnostics: Diagnostic[];
}

/**
 * Checks a loaded document against the schema, then semantically, reporting
 * everything at once; returns the normalised model only if nothing is an
 * error. Pure: no I/O, never throws for bad input.
 */
export function validateDefinition(doc: LoadedDocument): ValidateResult {
  const root = doc.root;
  if (!root) return { diagnostics: [] };
  const data = toPlain(root);
  const diagnostics = schemaDiagnostics(root, data, schemaErrors(data));
  const built = buildDefinition(doc);
  // A value the schema already refused (a name with an escape in it) is not reported twice.
  const refused = new Set(diagnostics.filter((d) => d.severity === "error").map((d) => `${d.span.start}:${d.span.end}`));
  diagnostics.push(...built.diagnostics.filter((d) => d.code !== "control_character" || !refused.has(`${d.span.start}:${d.span.end}`)));
  // Unused-name warnings are guesses when references failed to resolve: only give them on an otherwise clean file.
  const sorted = sortDiagnostics(hasErrors(diagnostics) ? diagnostics.filter((d) => !d.code.startsWith("unused_")) : diagnostics);
  if (built.definition && !hasErrors(sorted)) return { definition: built.definition, diagnostics: sorted };
  if (!hasErrors(sorted)) {
    // Never "valid" without a model: a value some rule forgot to report is still an error, not silence.
    sorted.push(
      error("invalid_value", "the definition cannot be read into a model, but no rule says why", root.span, {
        hint: "this is a bug in caisson: please report it with the definition",
      }),
    );
  }
  return { diagnostics: sorted };
}

/** Load + validate in one call, as the CLI and the BuildKit frontend use it. */
export function checkDefinition(file: string, text: string): ValidateResult {
  const loaded = loadDefinition(file, text);
  if (hasErrors(loaded.diagnostics)) return { diagnostics: sortDiagnostics(loaded.diagnostics) };
  const v = validateDefinition(loaded.doc);
  const diagnostics = sortDiagnostics([...loaded.diagnostics, ...v.diagnostics]);
  return v.definition ? { definition: v.definition, diagnostics } : { diagnostics };
}
