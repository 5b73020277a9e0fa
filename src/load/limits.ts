/**
 * The limits caisson holds a definition, and what it prints about one, to.
 * Stated here once; docs/format.md ("Limits") repeats them. Every limit hit
 * is a diagnostic that names it and the place it was hit, never a crash.
 */
export const LIMITS = {
  /** Largest definition file read, in bytes (`too_large`). */
  fileBytes: 8 * 1024 * 1024,
  /** Deepest nesting of maps and lists; the top-level map is level 1 (`too_deep`). */
  depth: 64,
  /** Most maps, lists and scalars in one file, keys included (`too_large`). */
  nodes: 250_000,
  /** Columns of a source line shown in a code frame; longer lines are clipped around the error. */
  frameColumns: 160,
  /** Characters of a message, hint or note printed; longer ones end in `…`. */
  messageChars: 400,
  /** Diagnostics printed by one command; the rest are counted in one line. */
  printedDiagnostics: 50,
  /** Bytes of diagnostics printed by one command (the rest are counted in one line). */
  printedBytes: 48 * 1024,
  /** Control characters reported per file (`control_character`); the last one says how many more there are. */
  controlCharacters: 10,
} as const;
