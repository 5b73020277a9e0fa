// The gateway frontend's flow, independent of how it reaches BuildKit:
//   read the definition from the client's session (local://dockerfile)
//   → (a .cue file: CUE's evaluation) → compileDefinition → Solve each platform's definition → Return a Result
// Every failure is returned to BuildKit as a google.rpc.Status (never thrown).
import { posix } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { compileDefinition, type CompiledPlatform } from "../compile/index.js";
import { hasErrors } from "../diag/index.js";
import { decodeUtf8 } from "../load/index.js";
import {
  ReturnRequestSchema,
  type ReadFileRequestSchema,
  type ReadFileResponse,
  type ResolveImageConfigRequestSchema,
  type ResolveImageConfigResponse,
  type ReturnRequest,
  type ReturnResponse,
  type SolveRequestSchema,
  type SolveResponse,
} from "../gen/buildkit/gateway/gateway_pb.js";
import { formatPlatform, localSource, marshal, State, definitionBytes, withIgnoreCache } from "../llb/index.js";
import { lockPathFor, parseLockfile } from "../lock/index.js";
import { diagnosticsStatus, errorStatus } from "./errors.js";
import type { FrontendOptions } from "./options.js";
import { imageUses, resolvePinnedImages } from "./images.js";
import { assembleResult, RUNTIME_KEY, sha256Hex, type SolvedPlatform } from "./result.js";

/** The LLBBridge calls the frontend makes (a gRPC client, or a fake in tests). */
export interface Bridge {
  solve(req: MessageInitShape<typeof SolveRequestSchema>): Promise<SolveResponse>;
  readFile(req: MessageInitShape<typeof ReadFileRequestSchema>): Promise<ReadFileResponse>;
  resolveImageConfig(req: MessageInitShape<typeof ResolveImageConfigRequestSchema>): Promise<ResolveImageConfigResponse>;
  return(req: ReturnRequest): Promise<ReturnResponse>;
}

/** Where the frontend's own log lines go (stderr: stdout is the gRPC connection). */
export type Logger = (line: string) => void;

/** What happened, for the entrypoint's exit status and for tests. */
export interface FrontendOutcome {
  readonly ok: boolean;
  readonly request: ReturnRequest;
}

/**
 * The LLB that reads the definition file from the client, as BuildKit's
 * Dockerfile frontend does it: only that path, no content differ, shared
 * cache key "dockerfile", the build's session.
 */
export function definitionSource(opts: Pick<FrontendOptions, "sessionId" | "filename" | "definitionLocal">) {
  const src = localSource(opts.definitionLocal, {
    sessionId: opts.sessionId,
    // The lockfile beside the definition (src/lock) comes along; it is read only when the definition has moving references.
    followPaths: [opts.filename, lockPathFor(opts.filename)],
    sharedKeyHint: opts.definitionLocal,
    differ: "none",
    customName: `[internal] load build definition from ${opts.filename}`,
  });
  return marshal(State.of(src));
}

/**
 * The build context's files, for definitions that import others: each path
 * is fetched on its own (`local://context` of the build's session, only that
 * path, as the Dockerfile frontend fetches a Dockerfile) and read, once.
 */
export function contextReader(bridge: Bridge, opts: Pick<FrontendOptions, "sessionId" | "raw">): (path: string) => Promise<string> {
  const cache = new Map<string, Promise<string>>();
  const name = opts.raw.get("contextkey") || "context";
  return (path) => {
    const clean = path.replace(/^(\.\/)+/, "").replace(/^\/+/, "");
    let p = cache.get(clean);
    if (!p) {
      p = (async () => {
        const def = marshal(
          State.of(
            localSource(name, {
              sessionId: opts.sessionId,
              followPaths: [clean],
              sharedKeyHint: `${name}:${clean}`,
              differ: "none",
              customName: `[internal] load ${clean} from the build context`,
            }),
          ),
        );
        const res = await bridge.solve({ Definition: def, allowResultReturn: true, allowResultArrayRef: true });
        const id = res.result?.result.case === "ref" ? res.result.result.value.id : "";
        if (!id) throw new Error(`reading ${clean}: the engine returned no reference`);
        const file = await bridge.readFile({ Ref: id, FilePath: clean });
        return decodeUtf8(file.Data);
      })();
      cache.set(clean, p);
    }
    return p;
  };
}

/** A CUE definition read alone, evaluated by CUE (its WebAssembly build is loaded only for .cue files). */
async function evaluateCueFile(file: string, text: string) {
  const { evaluateCue } = await import("../cue/index.js");
  const r = await evaluateCue({ files: new Map([[file, text]]), root: posix.dirname(file), entry: file, entryIsDir: false });
  // The frontend is given this one file, not its module: say so where an import is missing.
  const alone = "the frontend reads only this file (BuildKit sends it alone, without cue.mod/ or other packages): make it a file that imports nothing outside CUE's standard library (`cue export` the definition to YAML or JSON), or build it with `caisson build`, which reads the whole module";
  return { ...r, diagnostics: r.diagnostics.map((d) => (d.code === "cue_import" ? { ...d, hint: alone } : d)) };
}

/** Runs the whole frontend once and sends its Return. */
export async function runFrontend(bridge: Bridge, opts: FrontendOptions, log: Logger): Promise<FrontendOutcome> {
  let request: ReturnRequest;
  try {
    request = await build(bridge, opts, log);
  } catch (err) {
    log(`caisson frontend: ${err instanceof Error ? err.message : String(err)}`);
    request = create(ReturnRequestSchema, { error: errorStatus(err) });
  }
  await bridge.return(request);
  return { ok: request.error === undefined, request };
}

async function build(bridge: Bridge, opts: FrontendOptions, log: Logger): Promise<ReturnRequest> {
  log(`caisson frontend: ${opts.filename}, options ${[...opts.raw.keys()].sort().join(" ")}`);
  // 1. The definition's bytes, from the client's session.
  const src = await bridge.solve({ Definition: definitionSource(opts), allowResultReturn: true, allowResultArrayRef: true });
  const srcRef = src.result?.result.case === "ref" ? src.result.result.value.id : "";
  if (!srcRef) throw new Error(`reading ${opts.filename}: the engine returned no reference`);
  const file = await bridge.readFile({ Ref: srcRef, FilePath: opts.filename });
  // Decoded the way the CLI reads files (src/load/text.ts): a BOM kept, bytes that are not UTF-8 reported, never U+FFFD.
  const text = decodeUtf8(file.Data);

  // 2. A CUE definition (`-f image.cue`) is evaluated by CUE first, alone: the
  //    frontend is given one file, so it can import only CUE's standard library.
  const cue = /\.cue$/i.test(opts.filename) ? await evaluateCueFile(opts.definitionName, text) : undefined;
  if (cue && !cue.exported) return create(ReturnRequestSchema, { error: diagnosticsStatus(opts.definitionName, text, cue.diagnostics, cue.texts) });

  // 3. Compile for the requested platforms (or the definition's own);
  //    imported definitions are read from the build context.
  const compiled = await compileDefinition(cue?.exported?.file ?? opts.definitionName, cue?.exported?.text ?? text, {
    buildPlatform: opts.buildPlatform,
    ...(opts.platforms ? { platforms: opts.platforms } : {}),
    ...(opts.sourceMirror ? { sourceMirror: opts.sourceMirror } : {}),
    ...(opts.debianArchives ? { debianArchives: opts.debianArchives } : {}),
    // Local sources name this build's session: two builds solving an identical
    // local source at once must not read each other's context.
    localSession: opts.sessionId,
    readContext: contextReader(bridge, opts),
    // The lockfile beside the definition (src/lock), read from the definition's own directory only when needed.
    loadLock: async () => {
      const lock = await bridge.readFile({ Ref: srcRef, FilePath: lockPathFor(opts.filename) }).catch(() => undefined);
      return lock === undefined ? undefined : parseLockfile(new TextDecoder().decode(lock.Data), lockPathFor(opts.definitionName));
    },
    ...(opts.buildArgs.get("CAISSON_FROZEN") === "true" ? { frozen: true } : {}),
  });
  const diagnostics = cue ? await cue.point(compiled.diagnostics) : compiled.diagnostics;
  if (!compiled.results || hasErrors(diagnostics)) {
    return create(ReturnRequestSchema, { error: diagnosticsStatus(opts.definitionName, text, diagnostics, new Map([...(cue?.texts ?? []), ...compiled.texts])) });
  }
  for (const d of diagnostics) log(`${d.span.file}: warning[${d.code}]: ${d.message}`);

  // 4. Digest-pinned images: resolve each by tag in the engine's image store
  //    (this makes a freshly `docker load`ed image usable by digest) and
  //    check the engine's digest is the pinned one (src/frontend/images.ts).
  const pinned = await resolvePinnedImages((req) => bridge.resolveImageConfig(req), imageUses(compiled.results.map((r) => r.definition)), log);
  if (pinned > 0) log(`caisson frontend: ${pinned} pinned image/platform pair(s) match the engine's image store`);

  // 5. Solve every platform (lazily: BuildKit builds what the exporter needs).
  const solved: SolvedPlatform[] = [];
  // `--no-cache` (buildx sends the option `no-cache`): every op ignores the cache.
  const noCache = opts.raw.has("no-cache");
  for (const r of compiled.results as readonly CompiledPlatform[]) {
    const definition = noCache ? withIgnoreCache(r.definition) : r.definition;
    const bytes = definitionBytes(definition);
    const res = await bridge.solve({ Definition: definition, allowResultReturn: true, allowResultArrayRef: true });
    const ref = res.result?.result.case === "ref" ? res.result.result.value : undefined;
    if (!ref) throw new Error(`solving ${formatPlatform(r.platform)}: the engine returned no reference`);
    log(`caisson frontend: ${formatPlatform(r.platform)} definition ${sha256Hex(bytes)} (${bytes.length} bytes)`);
    solved.push({ platform: r.platform, ref, config: r.config, definitionBytes: bytes });
  }

  // 6. The result the exporter reads.
  const forceMulti = opts.raw.get("multi-platform") === "true" || (opts.platforms?.length ?? 0) > 1;
  const runtime = { uid: typeof process.getuid === "function" ? process.getuid() : -1, node: process.version, session: opts.sessionId };
  return create(ReturnRequestSchema, { result: assembleResult(solved, forceMulti, { [RUNTIME_KEY]: runtime }) });
}
