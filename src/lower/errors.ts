import type { Diagnostic } from "../diag/index.js";

/** A definition that validates but cannot be lowered as asked (e.g. a source nothing can serve). */
export class LowerError extends Error {
  override readonly name = "LowerError";
  constructor(readonly diagnostic: Diagnostic) {
    super(diagnostic.message);
  }
}
