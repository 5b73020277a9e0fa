import type { Op, OpMetadata } from "../gen/buildkit/pb/ops_pb.js";
import type { Platform } from "./platform.js";

/** A file whose lines vertices point back at (the source map's SourceInfo). */
export interface SourceFile {
  readonly filename: string;
  readonly data: Uint8Array;
  readonly language?: string;
}

/** A 1-based line, 0-based character position, as BuildKit's source map has it. */
export interface Position {
  readonly line: number;
  readonly character: number;
}

export interface SourceLocation {
  readonly file: SourceFile;
  readonly start: Position;
  readonly end: Position;
}

/** Per-vertex settings that are not part of the op itself. */
export interface Constraints {
  /** Name shown in BuildKit's progress (`llb.customname`). */
  readonly customName?: string;
  readonly locations?: readonly SourceLocation[];
  readonly ignoreCache?: boolean;
  readonly progressGroup?: { readonly id: string; readonly name: string };
}

/** One output of a vertex: what an edge of the graph points at. */
export interface Output {
  readonly vertex: Vertex;
  readonly index: number;
}

/**
 * A node of the graph. `marshal` is handed the digests of its inputs, in the
 * order `inputs()` returned them, and builds the op without touching bytes.
 */
export interface Vertex {
  inputs(): readonly Output[];
  marshal(inputDigests: readonly string[]): MarshaledVertex;
  readonly constraints: Constraints;
}

export interface MarshaledVertex {
  readonly op: Op;
  /** Extra metadata (description entries) beyond what the constraints give. */
  readonly description?: Readonly<Record<string, string>>;
}

export type { OpMetadata, Platform };
