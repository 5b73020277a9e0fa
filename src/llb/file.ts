import { create } from "@bufbuild/protobuf";
import {
  ChownOptSchema,
  FileActionCopySchema,
  FileActionMkDirSchema,
  FileActionMkFileSchema,
  FileActionRmSchema,
  FileActionSchema,
  FileOpSchema,
  InputSchema,
  OpSchema,
  UserOptSchema,
  WorkerConstraintsSchema,
  type ChownOpt,
  type FileAction as PbFileAction,
} from "../gen/buildkit/pb/ops_pb.js";
import { LlbError } from "./source.js";
import type { Constraints, MarshaledVertex, Output, Vertex } from "./vertex.js";

/** Numeric owner of created or copied files. */
export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

interface Common {
  readonly owner?: Owner;
  /** Unix nanoseconds; unset leaves BuildKit's default. */
  readonly timestamp?: bigint;
}

export type FileAction =
  | (Common & { readonly kind: "mkdir"; readonly path: string; readonly mode: number; readonly makeParents?: boolean })
  | (Common & { readonly kind: "mkfile"; readonly path: string; readonly mode: number; readonly data: Uint8Array | string })
  | (Common & {
      readonly kind: "copy";
      /** Where to copy from; undefined is an empty filesystem. */
      readonly source: Output | undefined;
      readonly src: string;
      readonly dest: string;
      /** Permission bits to set; undefined keeps the source's. */
      readonly mode?: number;
      readonly followSymlink?: boolean;
      readonly dirCopyContents?: boolean;
      /** Unpack a tar archive at src into dest, as Dockerfile ADD does. */
      readonly unpack?: boolean;
      readonly createDestPath?: boolean;
      readonly allowWildcard?: boolean;
      readonly allowEmptyWildcard?: boolean;
      readonly includePatterns?: readonly string[];
      readonly excludePatterns?: readonly string[];
    })
  | { readonly kind: "rm"; readonly path: string; readonly allowNotFound?: boolean; readonly allowWildcard?: boolean };

function chown(owner: Owner | undefined): ChownOpt | undefined {
  if (!owner) return undefined;
  return create(ChownOptSchema, {
    user: create(UserOptSchema, { user: { case: "byID", value: owner.uid } }),
    group: create(UserOptSchema, { user: { case: "byID", value: owner.gid } }),
  });
}

function absolute(path: string, what: string): string {
  if (!path.startsWith("/")) throw new LlbError(`${what} path ${path} must be absolute`);
  return path;
}

/** A sequence of file actions applied, in order, on top of `base`. */
export class FileVertex implements Vertex {
  private readonly inputList: Output[] = [];

  constructor(
    readonly base: Output | undefined,
    readonly actions: readonly FileAction[],
    readonly constraints: Constraints = {},
  ) {
    if (actions.length === 0) throw new LlbError("a file op needs at least one action");
    if (base) this.inputList.push(base);
    for (const a of actions) {
      if (a.kind === "copy" && a.source && this.indexOf(a.source) < 0) this.inputList.push(a.source);
    }
  }

  private indexOf(o: Output): number {
    return this.inputList.findIndex((x) => x.vertex === o.vertex && x.index === o.index);
  }

  inputs(): readonly Output[] {
    return this.inputList;
  }

  marshal(inputDigests: readonly string[]): MarshaledVertex {
    const n = this.inputList.length;
    const actions: PbFileAction[] = this.actions.map((a, i) => {
      // The first action works on the base; each later one on the previous result.
      const input = BigInt(i === 0 ? (this.base ? 0 : -1) : n + i - 1);
      const output = BigInt(i === this.actions.length - 1 ? 0 : -1);
      const ts = "timestamp" in a && a.timestamp !== undefined ? a.timestamp : -1n;
      switch (a.kind) {
        case "mkdir":
          return create(FileActionSchema, {
            input,
            secondaryInput: -1n,
            output,
            action: {
              case: "mkdir",
              value: create(FileActionMkDirSchema, {
                path: absolute(a.path, "mkdir"),
                mode: a.mode,
                makeParents: a.makeParents ?? false,
                ...(a.owner ? { owner: chown(a.owner) } : {}),
                timestamp: ts,
              }),
            },
          });
        case "mkfile":
          return create(FileActionSchema, {
            input,
            secondaryInput: -1n,
            output,
            action: {
              case: "mkfile",
              value: create(FileActionMkFileSchema, {
                path: absolute(a.path, "mkfile"),
                mode: a.mode,
                data: typeof a.data === "string" ? new TextEncoder().encode(a.data) : a.data,
                ...(a.owner ? { owner: chown(a.owner) } : {}),
                timestamp: ts,
              }),
            },
          });
        case "copy":
          return create(FileActionSchema, {
            input,
            secondaryInput: BigInt(a.source ? this.indexOf(a.source) : -1),
            output,
            action: {
              case: "copy",
              value: create(FileActionCopySchema, {
                src: absolute(a.src, "copy source"),
                dest: absolute(a.dest, "copy destination"),
                ...(a.owner ? { owner: chown(a.owner) } : {}),
                mode: a.mode ?? -1,
                followSymlink: a.followSymlink ?? false,
                dirCopyContents: a.dirCopyContents ?? false,
                attemptUnpackDockerCompatibility: a.unpack ?? false,
                createDestPath: a.createDestPath ?? false,
                allowWildcard: a.allowWildcard ?? false,
                allowEmptyWildcard: a.allowEmptyWildcard ?? false,
                timestamp: ts,
                includePatterns: [...(a.includePatterns ?? [])],
                excludePatterns: [...(a.excludePatterns ?? [])],
              }),
            },
          });
        case "rm":
          return create(FileActionSchema, {
            input,
            secondaryInput: -1n,
            output,
            action: {
              case: "rm",
              value: create(FileActionRmSchema, {
                path: absolute(a.path, "rm"),
                allowNotFound: a.allowNotFound ?? false,
                allowWildcard: a.allowWildcard ?? false,
              }),
            },
          });
      }
    });
    return {
      op: create(OpSchema, {
        inputs: this.inputList.map((o, i) =>
          create(InputSchema, { digest: inputDigests[i] as string, index: BigInt(o.index) }),
        ),
        op: { case: "file", value: create(FileOpSchema, { actions }) },
        constraints: create(WorkerConstraintsSchema),
      }),
    };
  }
}
