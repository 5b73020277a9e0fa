// The LLB library: build BuildKit graphs in TypeScript, with no knowledge of
// image definitions (usable on its own, like BuildKit's client/llb).
//
//   sources (image, git, http, local) and State.scratch()
//     → State.run (ExecOp) / State.file (FileOp) / merge / diff
//     → marshal (deterministic pb.Definition, digests, source map)
//     → definitionBytes (what `buildctl build` reads) / dumpDefinition (readable)
export { State, ExecState, merge, diff, type RunOptions } from "./state.js";
export { imageSource, gitSource, httpSource, localSource, SourceVertex, LlbError } from "./source.js";
export type { ImageOptions, GitOptions, HttpOptions, LocalOptions } from "./source.js";
export { ExecVertex, type ExecSpec, type MountSpec, type NetworkMode, type CacheSharing } from "./exec.js";
export { FileVertex, type FileAction, type Owner } from "./file.js";
export { MergeVertex, DiffVertex } from "./merge.js";
export { marshal, definitionBytes, digestOf, withIgnoreCache } from "./marshal.js";
export { definitionToDot } from "./dot.js";
export { decodeDefinition, checkStructure, dumpDefinition, type DecodedOp } from "./dump.js";
export { formatPlatform, samePlatform, toPbPlatform, type Platform } from "./platform.js";
export type { Constraints, Output, Vertex, SourceFile, SourceLocation, Position } from "./vertex.js";
