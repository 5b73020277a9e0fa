// One build on BuildKit: Control.Solve with the session attached and
// Control.Status streamed alongside.
//
// Compiled definitions are solved by a gateway build the client drives
// itself (what `buildctl build` does since v0.11): Control.Solve carries no
// Definition and no Frontend, so the daemon waits for this client's LLBBridge
// calls on the same connection (metadata buildkit-controlapi-buildid). The
// client solves each platform's pb.Definition there and returns one Result:
// a ref per platform with its image config (`containerimage.config/<id>`,
// `refs.platforms`) — exactly what caisson's frontend returns, so the
// exporters write a proper multi-platform image. No frontend container runs.
//
// With `frontend` set instead (e.g. gateway.v0 and source=caisson/frontend:…),
// the daemon runs that frontend and the client only serves the session.
import { randomBytes } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { CompiledPlatform } from "../compile/index.js";
import { Control, type SolveRequestSchema, type StatusResponse } from "../gen/buildkit/control/control_pb.js";
import { LLBBridge, ReturnRequestSchema, type ReturnRequest } from "../gen/buildkit/gateway/gateway_pb.js";
import { definitionBytes, formatPlatform, withIgnoreCache } from "../llb/index.js";
import type { Bridge } from "../frontend/frontend.js";
import { errorStatus } from "../frontend/errors.js";
import { imageUses, resolvePinnedImages } from "../frontend/images.js";
import { assembleResult, type SolvedPlatform } from "../frontend/result.js";
import { GrpcError, type GrpcClient } from "../grpc/index.js";
import type { Attachable, Builder } from "./connect.js";

/** An exporter or a cache import/export: a type and its attributes, as BuildKit takes them. */
export interface Entry {
  readonly type: string;
  readonly attrs: Readonly<Record<string, string>>;
}

export interface SolveOptions {
  readonly builder: Builder;
  /** The session the daemon calls back (locals, export target, auth, secrets). */
  readonly session?: Attachable & { readonly errors?: Promise<never> };
  /** Compiled platforms, solved by the client's own gateway build; leave out when `frontend` is set. */
  readonly platforms?: readonly Pick<CompiledPlatform, "platform" | "definition" | "config">[];
  /** A multi-platform result even for one platform (the client asked for a platform list). */
  readonly forceMulti?: boolean;
  /** A frontend the daemon runs (`gateway.v0`, `dockerfile.v0`). */
  readonly frontend?: string;
  readonly frontendAttrs?: Readonly<Record<string, string>>;
  readonly exporters?: readonly Entry[];
  readonly cacheImports?: readonly Entry[];
  readonly cacheExports?: readonly Entry[];
  /** Every op ignores the cache. */
  readonly noCache?: boolean;
  readonly onStatus?: (s: StatusResponse) => void;
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
  /** The job id (default: a fresh one). */
  readonly ref?: string;
}

export interface SolveResult {
  readonly ref: string;
  readonly exporterResponse: Readonly<Record<string, string>>;
  /** sha256 of each platform's solved pb.Definition bytes (client-driven builds). */
  readonly definitions: Readonly<Record<string, string>>;
}

/** A 25-character base36 id, like BuildKit's identity.NewID. */
export function newId(): string {
  let s = "";
  for (const b of randomBytes(25)) s += "0123456789abcdefghijklmnopqrstuvwxyz"[b % 36];
  return s;
}

/** The LLBBridge of a client-driven build: every call names the build by its job id. */
export function forwardedBridge(control: GrpcClient, ref: string, signal?: AbortSignal): Bridge {
  const opts = { metadata: { "buildkit-controlapi-buildid": ref }, ...(signal ? { signal } : {}) };
  return {
    solve: (req) => control.call(LLBBridge.method.solve, req, opts),
    readFile: (req) => control.call(LLBBridge.method.readFile, req, opts),
    resolveImageConfig: (req) => control.call(LLBBridge.method.resolveImageConfig, req, opts),
    return: (req) => control.call(LLBBridge.method.return, req, opts),
  };
}

/** Solves each platform on the bridge and returns the multi-platform Result (or the error) through Return. */
async function gatewayBuild(bridge: Bridge, o: SolveOptions, log: (l: string) => void): Promise<Record<string, string>> {
  let request: ReturnRequest;
  const definitions: Record<string, string> = {};
  try {
    const platforms = o.platforms ?? [];
    await resolvePinnedImages((req) => bridge.resolveImageConfig(req), imageUses(platforms.map((p) => p.definition)), log);
    // The platforms at once (each solve only loads its graph; the exporter builds what it needs).
    const solved: SolvedPlatform[] = await Promise.all(
      platforms.map(async (p) => {
        const definition = o.noCache ? withIgnoreCache(p.definition) : p.definition;
        // Cache imports apply per solve on this path (as a frontend passes the client's on).
        const CacheImports = (o.cacheImports ?? []).map((e) => ({ Type: e.type, Attrs: { ...e.attrs } }));
        const res = await bridge.solve({ Definition: definition, allowResultReturn: true, allowResultArrayRef: true, CacheImports });
        const ref = res.result?.result.case === "ref" ? res.result.result.value : undefined;
        if (!ref) throw new Error(`solving ${formatPlatform(p.platform)}: the engine returned no reference`);
        return { platform: p.platform, ref, config: p.config, definitionBytes: definitionBytes(definition) };
      }),
    );
    const result = assembleResult(solved, o.forceMulti ?? false);
    const digests = result.metadata["frontend.caisson.definitions"];
    if (digests) Object.assign(definitions, JSON.parse(new TextDecoder().decode(digests)) as Record<string, string>);
    request = create(ReturnRequestSchema, { result });
  } catch (e) {
    request = create(ReturnRequestSchema, { error: errorStatus(e) });
  }
  await bridge.return(request);
  return definitions;
}

/** The Control.SolveRequest of a build (pure; the exporters go both to Exporters and, the first one, to the legacy fields). */
export function solveRequest(o: SolveOptions, ref: string, sessionId: string): MessageInitShape<typeof SolveRequestSchema> {
  const exporters = (o.exporters ?? []).map((e) => ({ Type: e.type, Attrs: { ...e.attrs } }));
  const first = exporters[0];
  const cacheImports = (o.cacheImports ?? []).map((e) => ({ Type: e.type, Attrs: { ...e.attrs } }));
  const frontendAttrs: Record<string, string> = { ...(o.frontendAttrs ?? {}) };
  if (o.frontend && cacheImports.length > 0) frontendAttrs["cache-imports"] = JSON.stringify(cacheImports);
  if (o.frontend && o.noCache) frontendAttrs["no-cache"] = "";
  return {
    Ref: ref,
    Session: sessionId,
    Frontend: o.frontend ?? "",
    FrontendAttrs: frontendAttrs,
    Exporters: exporters,
    ...(first ? { ExporterDeprecated: first.Type, ExporterAttrsDeprecated: first.Attrs } : {}),
    // Not recorded in the engine's build history: recording it takes the daemon ~0.6 s after the
    // export of a build of ~150 steps, most of an unchanged rebuild (docs/engine.md).
    Internal: true,
    Cache: { Imports: cacheImports, Exports: (o.cacheExports ?? []).map((e) => ({ Type: e.type, Attrs: { ...e.attrs } })) },
  };
}

/** Runs one build; throws the daemon's GrpcError (with its details) when it fails. */
export async function solve(o: SolveOptions): Promise<SolveResult> {
  const ref = o.ref ?? newId();
  const control = o.builder.control;
  const log = o.log ?? (() => undefined);
  if (o.session) await o.builder.attach(o.session);

  // Status first (the daemon waits up to 6 s for the job), on its own: it outlives a failed Solve briefly.
  const status = control.serverStream(Control.method.status, { Ref: ref });
  const statusDone = (async () => {
    try {
      for await (const s of status.messages) o.onStatus?.(s);
    } catch {
      // The build's outcome is Solve's; a status stream cut short only loses display.
    }
  })();

  // Cancelled when the caller cancels, and when the session fails on this side (the daemon then aborts the build).
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  if (o.signal?.aborted) abort.abort();
  o.signal?.addEventListener("abort", onAbort);
  const call = control.call(Control.method.solve, solveRequest(o, ref, o.session?.id ?? ""), { signal: abort.signal });
  const gateway = o.frontend ? Promise.resolve({}) : gatewayBuild(forwardedBridge(control, ref, abort.signal), o, log);
  gateway.catch(() => undefined);
  const failures = o.session?.errors ? [o.session.errors] : [];
  try {
    const res = await Promise.race([call, ...failures]);
    const definitions = await gateway.catch(() => ({}));
    return { ref, exporterResponse: { ...res.ExporterResponse }, definitions };
  } catch (e) {
    if (!(e instanceof GrpcError)) {
      abort.abort();
      status.cancel();
    }
    call.catch(() => undefined);
    throw e;
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
    // The daemon ends the status stream when the job's progress closes; give it a moment, as BuildKit's client does.
    const t = setTimeout(() => status.cancel(), 3000);
    await statusDone;
    clearTimeout(t);
  }
}
