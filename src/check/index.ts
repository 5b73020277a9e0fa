// caisson check: hardening and the runtime contract of every platform of an
// image, verified without running anything from it. docs/check.md.
//
//   tar.ts      tar reader (ustar, GNU long names, PAX incl. xattrs)
//   fs.ts       flattened root filesystem: layers, whiteouts, symlinks
//   oci.ts      OCI layout / docker save archives → per-platform config + layers
//   dir.ts      plain root filesystem directories (type=local output)
//   policy.ts   the rules over one platform (pure)
//   check.ts    checkImage: inputs, platforms, waivers, report
//   render.ts   table and JSON
//   contract.ts runtimeContract: docker run / compose / Kubernetes snippets

export { checkImage, CheckError, parsePlatform } from "./check.js";
export type { CheckInput, CheckOptions, CheckReport, Counts, PlatformReport, Waiver, WaiverUse } from "./check.js";
export { renderReport, reportJson } from "./render.js";
export type { RenderOptions } from "./render.js";
export { runtimeContract, contractFromImageConfig } from "./contract.js";
export type { ContractConfig, ContractOptions } from "./contract.js";
export { checkPolicy, isSystemLibraryPath, resolveUser, PLATFORM_MACHINES, SHELLS, PACKAGE_MANAGERS } from "./policy.js";
export type { ElfRole, ElfRow, Finding, HardeningLevel, PolicyInput, PolicyResult, RuntimeUser } from "./policy.js";
export { RULES, RULE_IDS } from "./rules.js";
export type { RuleId, RuleInfo, Severity } from "./rules.js";
export { ImageFs } from "./fs.js";
export type { FileType, FsEntry } from "./fs.js";
export { readTar, normalizeTarPath, TarError } from "./tar.js";
export type { TarRecord, TarType } from "./tar.js";
export { decompressLayer, readOciArchive, readOciLayoutDir, ImageReadError } from "./oci.js";
export type { ImageSource, LayerRef, OciImageConfig, OciPlatform, PlatformImage } from "./oci.js";
export { readRootDir } from "./dir.js";
