// The gateway Result for compiled platforms: what the image exporters read.
import { create } from "@bufbuild/protobuf";
import { RefMapSchema, RefSchema, ResultSchema, type Ref, type Result } from "../gen/buildkit/gateway/gateway_pb.js";
import { digestOf, formatPlatform, type Platform } from "../llb/index.js";

/** Metadata key of the image config; `/<platform id>` is appended for multi-platform results. */
export const CONFIG_KEY = "containerimage.config";
/** Metadata key listing the platforms of a multi-platform result (required by the exporters). */
export const PLATFORMS_KEY = "refs.platforms";
/**
 * Metadata key (JSON `{platform id: sha256 of the solved pb.Definition bytes}`).
 * BuildKit copies `frontend.*` metadata into the exporter response, so clients
 * see it (`docker buildx build --metadata-file`).
 */
export const DEFINITIONS_KEY = "frontend.caisson.definitions";
/** Metadata key (JSON) describing the frontend process itself: uid, Node version. */
export const RUNTIME_KEY = "frontend.caisson.runtime";

/** One solved platform: the ref BuildKit gave back and the image config to export with it. */
export interface SolvedPlatform {
  readonly platform: Platform;
  readonly ref: Ref;
  /** The OCI image config (any JSON-serialisable object). */
  readonly config: unknown;
  /** The pb.Definition bytes the ref was solved from. */
  readonly definitionBytes: Uint8Array;
}

/** `sha256:<hex>` of a marshaled definition: the same digest the LLB library gives ops. */
export const sha256Hex = digestOf;

function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** The OCI platform object of refs.platforms (Go's ocispec JSON field names). */
function ociPlatform(p: Platform): Record<string, string> {
  return p.variant ? { architecture: p.architecture, os: p.os, variant: p.variant } : { architecture: p.architecture, os: p.os };
}

/**
 * Assembles the Result. One platform → `ref` + `containerimage.config`; more
 * (or `forceMulti`, when the client asked for a platform list) → `refs` keyed
 * by platform id, `containerimage.config/<id>` each, and `refs.platforms`.
 */
export function assembleResult(
  solved: readonly SolvedPlatform[],
  forceMulti = false,
  extra: Readonly<Record<string, unknown>> = {},
): Result {
  if (solved.length === 0) throw new Error("no platform to return");
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(extra)) {
    if (!k.startsWith("frontend.")) throw new Error(`extra metadata key ${k} must start with "frontend."`);
    metadata[k] = json(v);
  }
  const digests: Record<string, string> = {};
  for (const s of solved) digests[formatPlatform(s.platform)] = sha256Hex(s.definitionBytes);
  metadata[DEFINITIONS_KEY] = json(digests);

  if (solved.length === 1 && !forceMulti) {
    const only = solved[0] as SolvedPlatform;
    metadata[CONFIG_KEY] = json(only.config);
    return create(ResultSchema, { result: { case: "ref", value: only.ref }, metadata: sorted(metadata) });
  }
  const refs: Record<string, Ref> = {};
  const platforms: { ID: string; Platform: Record<string, string> }[] = [];
  for (const s of solved) {
    const id = formatPlatform(s.platform);
    if (refs[id]) throw new Error(`platform ${id} given twice`);
    refs[id] = s.ref;
    metadata[`${CONFIG_KEY}/${id}`] = json(s.config);
    platforms.push({ ID: id, Platform: ociPlatform(s.platform) });
  }
  metadata[PLATFORMS_KEY] = json({ Platforms: platforms });
  return create(ResultSchema, {
    result: { case: "refs", value: create(RefMapSchema, { refs: sorted(refs) }) },
    metadata: sorted(metadata),
  });
}

/** A ref for a solve response's id and the definition it came from. */
export function refOf(id: string): Ref {
  return create(RefSchema, { id });
}

function sorted<T>(rec: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(rec).sort()) out[k] = rec[k] as T;
  return out;
}
