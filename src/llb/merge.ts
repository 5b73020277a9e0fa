import { create } from "@bufbuild/protobuf";
import {
  DiffOpSchema,
  InputSchema,
  LowerDiffInputSchema,
  MergeInputSchema,
  MergeOpSchema,
  OpSchema,
  UpperDiffInputSchema,
  WorkerConstraintsSchema,
} from "../gen/buildkit/pb/ops_pb.js";
import { LlbError } from "./source.js";
import type { Constraints, MarshaledVertex, Output, Vertex } from "./vertex.js";

/** Layers its inputs, later ones on top, without copying files. */
export class MergeVertex implements Vertex {
  constructor(
    readonly layers: readonly Output[],
    readonly constraints: Constraints = {},
  ) {
    if (layers.length < 2) throw new LlbError("a merge needs at least two inputs");
  }

  inputs(): readonly Output[] {
    return this.layers;
  }

  marshal(inputDigests: readonly string[]): MarshaledVertex {
    return {
      op: create(OpSchema, {
        inputs: this.layers.map((o, i) => create(InputSchema, { digest: inputDigests[i] as string, index: BigInt(o.index) })),
        op: {
          case: "merge",
          value: create(MergeOpSchema, { inputs: this.layers.map((_, i) => create(MergeInputSchema, { input: BigInt(i) })) }),
        },
        constraints: create(WorkerConstraintsSchema),
      }),
    };
  }
}

/** The changes that turn `lower` into `upper`; an undefined side is scratch. */
export class DiffVertex implements Vertex {
  private readonly inputList: Output[];

  constructor(
    readonly lower: Output | undefined,
    readonly upper: Output | undefined,
    readonly constraints: Constraints = {},
  ) {
    this.inputList = [lower, upper].filter((o): o is Output => o !== undefined);
  }

  inputs(): readonly Output[] {
    return this.inputList;
  }

  marshal(inputDigests: readonly string[]): MarshaledVertex {
    const lower = this.lower ? 0n : -1n;
    const upper = this.upper ? (this.lower ? 1n : 0n) : -1n;
    return {
      op: create(OpSchema, {
        inputs: this.inputList.map((o, i) => create(InputSchema, { digest: inputDigests[i] as string, index: BigInt(o.index) })),
        op: {
          case: "diff",
          value: create(DiffOpSchema, {
            lower: create(LowerDiffInputSchema, { input: lower }),
            upper: create(UpperDiffInputSchema, { input: upper }),
          }),
        },
        constraints: create(WorkerConstraintsSchema),
      }),
    };
  }
}
