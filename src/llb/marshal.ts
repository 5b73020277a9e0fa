import { createHash } from "node:crypto";
import { clone, create, toBinary } from "@bufbuild/protobuf";
import {
  DefinitionSchema,
  InputSchema,
  LocationSchema,
  LocationsSchema,
  OpMetadataSchema,
  OpSchema,
  PositionSchema,
  ProgressGroupSchema,
  RangeSchema,
  SourceInfoSchema,
  SourceSchema,
  type Definition,
  type Location,
  type OpMetadata,
} from "../gen/buildkit/pb/ops_pb.js";
import { LlbError } from "./source.js";
import type { State } from "./state.js";
import type { Output, SourceFile, Vertex } from "./vertex.js";

/** `sha256:<hex>` of bytes: the digest of a marshaled op. */
export function digestOf(bytes: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

/**
 * Serialises the graph that ends at `result` into a pb.Definition: ops in
 * dependency order (inputs first, each once, deduplicated by digest), then the
 * terminal op, whose only input is the result. Same graph, same bytes.
 */
export function marshal(result: State | Output | undefined): Definition {
  const output = result && "vertex" in result ? result : result?.output;
  if (!output) throw new LlbError("cannot marshal scratch: BuildKit needs at least one op");

  const defs: Uint8Array[] = [];
  const seen = new Set<string>();
  const digests = new Map<Vertex, string>();
  const metadata = new Map<string, OpMetadata>();
  const locations = new Map<string, Location[]>();
  const files: SourceFile[] = [];
  const visiting = new Set<Vertex>();

  // Depth-first, inputs in order, each vertex after its inputs; an explicit
  // stack, so a chain of thousands of ops cannot overflow the call stack.
  const visit = (root: Vertex): string => {
    const stack: { v: Vertex; inputs: readonly Output[]; next: number }[] = [];
    const enter = (v: Vertex): void => {
      if (visiting.has(v)) throw new LlbError("the graph has a cycle");
      visiting.add(v);
      stack.push({ v, inputs: v.inputs(), next: 0 });
    };
    if (!digests.has(root)) enter(root);
    while (stack.length > 0) {
      const f = stack[stack.length - 1] as { v: Vertex; inputs: readonly Output[]; next: number };
      if (f.next < f.inputs.length) {
        const u = (f.inputs[f.next++] as Output).vertex;
        if (!digests.has(u)) enter(u);
        continue;
      }
      stack.pop();
      visiting.delete(f.v);
      emit(f.v, f.inputs.map((o) => digests.get(o.vertex) as string));
    }
    return digests.get(root) as string;
  };

  function emit(v: Vertex, inputDigests: string[]): string {
    const { op, description } = v.marshal(inputDigests);
    const bytes = toBinary(OpSchema, op);
    const dgst = digestOf(bytes);
    digests.set(v, dgst);
    if (!seen.has(dgst)) {
      seen.add(dgst);
      defs.push(bytes);
    }
    const c = v.constraints;
    const desc: Record<string, string> = { ...description };
    if (c.customName) desc["llb.customname"] = c.customName;
    if (Object.keys(desc).length > 0 || c.ignoreCache || c.progressGroup) {
      const prev = metadata.get(dgst);
      metadata.set(
        dgst,
        create(OpMetadataSchema, {
          ignoreCache: (c.ignoreCache ?? false) || (prev?.ignoreCache ?? false),
          description: sortedRecord({ ...prev?.description, ...desc }),
          ...(c.progressGroup ? { progressGroup: create(ProgressGroupSchema, c.progressGroup) } : {}),
        }),
      );
    }
    for (const loc of c.locations ?? []) {
      let index = files.indexOf(loc.file);
      if (index < 0) index = files.push(loc.file) - 1;
      const list = locations.get(dgst) ?? [];
      list.push(
        create(LocationSchema, {
          sourceIndex: index,
          ranges: [
            create(RangeSchema, {
              start: create(PositionSchema, loc.start),
              end: create(PositionSchema, loc.end),
            }),
          ],
        }),
      );
      locations.set(dgst, list);
    }
    return dgst;
  }

  const last = visit(output.vertex);
  // The terminal op: no oneof, one input pointing at the result.
  defs.push(
    toBinary(
      OpSchema,
      create(OpSchema, { inputs: [create(InputSchema, { digest: last, index: BigInt(output.index) })] }),
    ),
  );

  const def = create(DefinitionSchema, {
    def: defs,
    metadata: sortedRecord(Object.fromEntries(metadata)),
  });
  if (files.length > 0) {
    def.Source = create(SourceSchema, {
      infos: files.map((f) =>
        create(SourceInfoSchema, { filename: f.filename, data: f.data, language: f.language ?? "" }),
      ),
      locations: sortedRecord(
        Object.fromEntries([...locations].map(([k, v]) => [k, create(LocationsSchema, { locations: v })])),
      ),
    });
  }
  return def;
}

/**
 * The same definition with every op marked to ignore BuildKit's cache (what
 * `--no-cache` asks of a frontend). Only metadata changes, not op digests.
 */
export function withIgnoreCache(def: Definition): Definition {
  const metadata: Record<string, OpMetadata> = {};
  const terminal = def.def.length - 1;
  const keys = def.def.filter((_, i) => i !== terminal).map((b) => digestOf(b));
  for (const k of [...new Set([...Object.keys(def.metadata), ...keys])].sort(compareBytes)) {
    const prev = def.metadata[k];
    const md = prev ? clone(OpMetadataSchema, prev) : create(OpMetadataSchema);
    md.ignoreCache = true;
    metadata[k] = md;
  }
  return create(DefinitionSchema, { def: def.def, metadata, ...(def.Source ? { Source: def.Source } : {}) });
}

/** Marshaled `pb.Definition` bytes: exactly what `buildctl build` reads on stdin. */
export function definitionBytes(def: Definition): Uint8Array {
  return toBinary(DefinitionSchema, def);
}

/**
 * A copy of `rec` whose keys are in byte order. protobuf-es writes map
 * entries in insertion order; sorting first makes the bytes independent of
 * how the map was built (and matches Go's deterministic marshaling).
 */
function sortedRecord<T>(rec: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(rec).sort(compareBytes)) out[k] = rec[k] as T;
  return out;
}

function compareBytes(a: string, b: string): number {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return Buffer.compare(x, y);
}
