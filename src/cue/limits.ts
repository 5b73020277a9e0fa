/**
 * The bounds a CUE evaluation is held to, besides the definition limits of
 * src/load/limits.ts (which the exported value then meets like any YAML).
 * docs/format.md ("Limits") repeats them; each one hit is a diagnostic.
 */
export const CUE_LIMITS = {
  /** All the .cue files of one evaluation together, in bytes (`too_large`), checked before CUE starts. */
  inputBytes: 8 * 1024 * 1024,
  /** .cue files read for one evaluation: the package, the module's other packages (`too_large`). */
  files: 2_000,
  /** Deepest nesting of braces, brackets and parentheses in a .cue file (`too_deep`); CUE's evaluator recurses on it. */
  depth: 128,
  /** Wall-clock seconds one evaluation may take (`cue_timeout`). */
  seconds: 20,
  /** Memory the evaluation may add to the process, in bytes (`cue_memory`). */
  memoryBytes: 512 * 1024 * 1024,
  /** Bytes CUE may print (the exported value and its errors) (`too_large`). */
  outputBytes: 16 * 1024 * 1024,
} as const;
