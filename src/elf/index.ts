// ELF reader: verifies hardening of binaries without running them.
//
// Passes, each pure (bytes in, values out; no I/O, no clock):
//   parse.ts    bytes → ElfFile (headers, segments, sections, dynamic, symbols, notes),
//               every offset bounds-checked, every loop bounded; errors are ElfError
//   analyze.ts  ElfFile → ElfReport (PIE, RELRO, canary, NX, FORTIFY, paths, CET/BTI)
//   checksec.ts ElfFile → ChecksecReport (what Debian's checksec 2.6.0 would print)
// docs/elf.md explains each decision and where it differs from checksec.

export { ElfError } from "./errors.js";
export type { ElfErrorCode } from "./errors.js";
export { isElf, parseElf, LIMITS } from "./parse.js";
export type { DynamicEntry, ElfFile, ElfHeader, ElfSymbol, GnuProperty, ProgramHeader, SectionHeader } from "./parse.js";
export { analyzeElf, reportOf } from "./analyze.js";
export type { AnalyzeOptions, ElfReport, ElfType, FortifyReport, Linking } from "./analyze.js";
export { checksecReport } from "./checksec.js";
export type { ChecksecOptions, ChecksecReport } from "./checksec.js";
export { FORTIFIABLE } from "./fortify-list.js";
export { machineName } from "./constants.js";
