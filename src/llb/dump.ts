import { fromBinary, toJson, type JsonObject } from "@bufbuild/protobuf";
import { DefinitionSchema, OpMetadataSchema, OpSchema, type Definition, type Op } from "../gen/buildkit/pb/ops_pb.js";
import { digestOf } from "./marshal.js";
import { LlbError } from "./source.js";

export interface DecodedOp {
  readonly digest: string;
  readonly op: Op;
}

/** Parses marshaled Definition bytes and checks the structure BuildKit relies on. */
export function decodeDefinition(bytes: Uint8Array): { definition: Definition; ops: DecodedOp[] } {
  const definition = fromBinary(DefinitionSchema, bytes);
  return { definition, ops: checkStructure(definition) };
}

/**
 * Verifies a Definition the way the engine will read it: at least two
 * entries, every input names an earlier entry, the last entry is the terminal
 * op (no operation, one input), and metadata and source-map keys are digests
 * of entries. Returns the decoded ops.
 */
export function checkStructure(def: Definition): DecodedOp[] {
  if (def.def.length < 2) throw new LlbError("a definition needs at least two entries");
  const ops: DecodedOp[] = [];
  const known = new Set<string>();
  def.def.forEach((bytes, i) => {
    const digest = digestOf(bytes);
    const op = fromBinary(OpSchema, bytes);
    const last = i === def.def.length - 1;
    for (const input of op.inputs) {
      if (!known.has(input.digest)) throw new LlbError(`entry ${i} (${digest}) uses ${input.digest}, which no earlier entry has`);
    }
    if (last && (op.op.case !== undefined || op.inputs.length !== 1)) {
      throw new LlbError("the last entry must be the terminal op: no operation, one input");
    }
    if (!last && op.op.case === undefined) throw new LlbError(`entry ${i} has no operation`);
    if (known.has(digest)) throw new LlbError(`entry ${i} repeats ${digest}`);
    known.add(digest);
    ops.push({ digest, op });
  });
  for (const key of Object.keys(def.metadata)) {
    if (!known.has(key)) throw new LlbError(`metadata for ${key}, which is no entry's digest`);
  }
  for (const key of Object.keys(def.Source?.locations ?? {})) {
    if (!known.has(key)) throw new LlbError(`source map entry for ${key}, which is no entry's digest`);
  }
  return ops;
}

/**
 * A readable rendering of a definition, one object per op in order (like
 * `buildctl debug dump-llb`): the op as protobuf JSON, its metadata, and the
 * source lines it came from. mkfile contents are shown as text when they are.
 */
export function dumpDefinition(def: Definition): JsonObject[] {
  const ops = checkStructure(def);
  const infos = def.Source?.infos ?? [];
  return ops.map(({ digest, op }) => {
    const entry: JsonObject = { digest, op: readable(toJson(OpSchema, op) as JsonObject) };
    const md = def.metadata[digest];
    if (md) entry["metadata"] = toJson(OpMetadataSchema, md);
    const locs = def.Source?.locations[digest];
    if (locs) {
      entry["locations"] = locs.locations.map((l) => {
        const r = l.ranges[0];
        const file = infos[l.sourceIndex]?.filename ?? "?";
        return r ? `${file}:${r.start?.line ?? 0}-${r.end?.line ?? 0}` : file;
      });
    }
    return entry;
  });
}

function readable(op: JsonObject): JsonObject {
  const file = op["file"] as { actions?: JsonObject[] } | undefined;
  for (const action of file?.actions ?? []) {
    const mkfile = action["mkfile"] as JsonObject | undefined;
    if (mkfile && typeof mkfile["data"] === "string") {
      const text = Buffer.from(mkfile["data"], "base64").toString("utf8");
      if (!text.includes("\uFFFD")) {
        delete mkfile["data"];
        mkfile["text"] = text;
      }
    }
  }
  return op;
}
