/**
 * Why an ELF file could not be read. Stable codes; the message names the
 * offending structure and offset.
 */
export type ElfErrorCode =
  | "not_elf" // no \x7fELF magic
  | "bad_ident" // unknown class, data encoding or version in e_ident
  | "truncated" // a structure runs past the end of the file
  | "bad_header" // a header field is inconsistent (entry size, count, index)
  | "too_large"; // a count or size exceeds the reader's safety caps

/** A truncated, corrupted or unsupported ELF file. The only error analyzeElf throws. */
export class ElfError extends Error {
  override readonly name = "ElfError";
  constructor(
    readonly code: ElfErrorCode,
    message: string,
    /** File offset the problem was found at, when there is one. */
    readonly offset?: number,
  ) {
    super(message);
  }
}
