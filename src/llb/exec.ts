import { create } from "@bufbuild/protobuf";
import {
  CacheOptSchema,
  CacheSharingOpt,
  ExecOpSchema,
  InputSchema,
  MetaSchema,
  MountSchema,
  MountType,
  NetMode,
  OpSchema,
  SecretOptSchema,
  SecurityMode,
  TmpfsOptSchema,
  WorkerConstraintsSchema,
  type Input,
  type Mount,
} from "../gen/buildkit/pb/ops_pb.js";
import { toPbPlatform, type Platform } from "./platform.js";
import { LlbError } from "./source.js";
import type { Constraints, MarshaledVertex, Output, Vertex } from "./vertex.js";

export type NetworkMode = "sandbox" | "host" | "none";
export type CacheSharing = "shared" | "private" | "locked";

/** One filesystem mounted into a command. */
export type MountSpec =
  | {
      readonly type: "bind";
      readonly dest: string;
      /** Undefined mounts an empty (scratch) directory. */
      readonly source?: Output;
      readonly selector?: string;
      readonly readonly?: boolean;
    }
  | { readonly type: "cache"; readonly dest: string; readonly id: string; readonly sharing: CacheSharing; readonly source?: Output }
  | { readonly type: "tmpfs"; readonly dest: string; readonly size?: number }
  | {
      readonly type: "secret";
      readonly dest: string;
      readonly id: string;
      readonly uid?: number;
      readonly gid?: number;
      readonly mode?: number;
      readonly optional?: boolean;
    };

export interface ExecSpec extends Constraints {
  readonly args: readonly string[];
  /** "K=V" entries, in order. */
  readonly env: readonly string[];
  readonly cwd: string;
  readonly user?: string;
  readonly hostname?: string;
  readonly network?: NetworkMode;
  readonly insecure?: boolean;
  readonly platform?: Platform;
  /** Must include a mount at "/". */
  readonly mounts: readonly MountSpec[];
}

const SHARING: Record<CacheSharing, CacheSharingOpt> = {
  shared: CacheSharingOpt.SHARED,
  private: CacheSharingOpt.PRIVATE,
  locked: CacheSharingOpt.LOCKED,
};
const NETWORK: Record<NetworkMode, NetMode> = { sandbox: NetMode.UNSET, host: NetMode.HOST, none: NetMode.NONE };

/** Runs a command with mounts; each writable bind mount is an output. */
export class ExecVertex implements Vertex {
  readonly constraints: Constraints;
  private readonly mounts: readonly MountSpec[];
  private readonly outputIndex = new Map<string, number>();
  private readonly inputList: Output[] = [];

  constructor(readonly spec: ExecSpec) {
    if (spec.args.length === 0) throw new LlbError("exec needs at least one argument");
    this.constraints = spec;
    // BuildKit's own client sorts mounts by destination; outputs are numbered in that order.
    this.mounts = [...spec.mounts].sort((a, b) => (a.dest < b.dest ? -1 : a.dest > b.dest ? 1 : 0));
    const dests = new Set<string>();
    let next = 0;
    for (const m of this.mounts) {
      if (dests.has(m.dest)) throw new LlbError(`exec has two mounts at ${m.dest}`);
      dests.add(m.dest);
      if (m.type === "bind" && !m.readonly) this.outputIndex.set(m.dest, next++);
      const src = m.type === "bind" || m.type === "cache" ? m.source : undefined;
      if (src && !this.inputList.some((o) => o.vertex === src.vertex && o.index === src.index)) this.inputList.push(src);
    }
    if (!dests.has("/")) throw new LlbError("exec needs a mount at /");
  }

  inputs(): readonly Output[] {
    return this.inputList;
  }

  /** The output holding what the command left at `dest` (a writable bind mount). */
  output(dest: string): Output {
    const index = this.outputIndex.get(dest);
    if (index === undefined) throw new LlbError(`exec has no writable mount at ${dest}`);
    return { vertex: this, index };
  }

  marshal(inputDigests: readonly string[]): MarshaledVertex {
    const inputs: Input[] = this.inputList.map((o, i) =>
      create(InputSchema, { digest: inputDigests[i] as string, index: BigInt(o.index) }),
    );
    const inputOf = (src: Output | undefined): bigint =>
      src ? BigInt(this.inputList.findIndex((o) => o.vertex === src.vertex && o.index === src.index)) : -1n;
    const mounts: Mount[] = this.mounts.map((m) => {
      const output = BigInt(this.outputIndex.get(m.dest) ?? -1);
      switch (m.type) {
        case "bind":
          return create(MountSchema, {
            input: inputOf(m.source),
            selector: m.selector ?? "",
            dest: m.dest,
            output,
            readonly: m.readonly ?? false,
          });
        case "cache":
          return create(MountSchema, {
            input: inputOf(m.source),
            dest: m.dest,
            output,
            mountType: MountType.CACHE,
            cacheOpt: create(CacheOptSchema, { ID: m.id, sharing: SHARING[m.sharing] }),
          });
        case "tmpfs":
          return create(MountSchema, {
            input: -1n,
            dest: m.dest,
            output,
            mountType: MountType.TMPFS,
            TmpfsOpt: create(TmpfsOptSchema, { size: BigInt(m.size ?? 0) }),
          });
        case "secret":
          return create(MountSchema, {
            input: -1n,
            dest: m.dest,
            output,
            mountType: MountType.SECRET,
            secretOpt: create(SecretOptSchema, {
              ID: m.id,
              uid: m.uid ?? 0,
              gid: m.gid ?? 0,
              mode: m.mode ?? 0o400,
              optional: m.optional ?? false,
            }),
          });
      }
    });
    const s = this.spec;
    const meta = create(MetaSchema, {
      args: [...s.args],
      env: [...s.env],
      cwd: s.cwd,
      user: s.user ?? "",
      hostname: s.hostname ?? "",
      removeMountStubsRecursive: true,
    });
    const exec = create(ExecOpSchema, {
      meta,
      mounts,
      network: NETWORK[s.network ?? "sandbox"],
      security: s.insecure ? SecurityMode.INSECURE : SecurityMode.SANDBOX,
    });
    return {
      op: create(OpSchema, {
        inputs,
        op: { case: "exec", value: exec },
        constraints: create(WorkerConstraintsSchema),
        ...(s.platform ? { platform: toPbPlatform(s.platform) } : {}),
      }),
    };
  }
}
