// `caisson build` on BuildKit directly: the compiled platforms solved by the
// client (src/client/solve.ts), the session serving the build context and
// receiving file outputs, progress displayed from Control.Status, and a
// failure told as the definition's `file:line:col`. Outputs on the file
// system go to a temporary sibling, renamed into place only on success.
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { CompiledPlatform } from "../compile/index.js";
import { EngineError, moveIntoPlace, type EngineOutput } from "../engine/index.js";
import { GrpcError } from "../grpc/index.js";
import { connectBuilder, type Builder } from "./connect.js";
import { BuilderError, type BuilderSpec } from "./endpoint.js";
import { formatFailure, shortMessage } from "./errors.js";
import { progressDisplay, type Display, type ProgressMode } from "./progress.js";
import { createSession, type SessionOptions } from "./session/index.js";
import { solve, type Entry } from "./solve.js";

export interface NativeBuildOptions {
  readonly platforms: readonly Pick<CompiledPlatform, "platform" | "definition" | "config">[];
  /** The client asked for a platform list: a multi-platform image even for one. */
  readonly forceMulti?: boolean;
  readonly contextDir: string;
  readonly output: EngineOutput;
  readonly builder?: BuilderSpec;
  /** An open builder to use (then not closed here). */
  readonly connection?: Builder;
  readonly progress?: ProgressMode;
  readonly cacheImports?: readonly Entry[];
  readonly cacheExports?: readonly Entry[];
  readonly noCache?: boolean;
  readonly secrets?: Readonly<Record<string, Uint8Array>>;
  /** The definition and its imports, for failure locations (BuildKit sends them back too). */
  readonly texts?: ReadonlyMap<string, string>;
  readonly log?: (line: string) => void;
  /** Where the progress display and the failure report go (stderr by default). */
  readonly stderr?: NodeJS.WriteStream;
}

export interface NativeBuildResult {
  readonly imageDigest?: string;
  readonly definitions: Readonly<Record<string, string>>;
  readonly exporterResponse: Readonly<Record<string, string>>;
  readonly seconds: number;
  readonly builder: string;
}

/** The exporter an output needs on this builder. */
export function exporterFor(out: EngineOutput, kind: Builder["kind"]): Entry {
  switch (out.type) {
    case "docker":
      // Docker's own exporter stores in its image store (unpacked); a buildkitd keeps images in its own store.
      return kind === "docker" ? { type: "moby", attrs: { name: out.name } } : { type: "image", attrs: { name: out.name } };
    case "push":
      return { type: "image", attrs: { name: out.name, push: "true" } };
    case "oci":
      return { type: "oci", attrs: {} };
    case "local":
      return { type: "local", attrs: {} };
  }
}

/** Parses `type=registry,ref=…` (cache import/export specs, buildx's shape). */
export function parseCacheSpec(spec: string, flag: string): Entry {
  const attrs: Record<string, string> = {};
  let type = "";
  for (const part of spec.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new BuilderError(`${flag} ${spec}: want key=value pairs, e.g. type=registry,ref=registry.example/app:cache`);
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === "type") type = v;
    else attrs[k] = v;
  }
  if (!["registry", "local", "inline", "gha", "s3", "azblob"].includes(type)) {
    throw new BuilderError(`${flag} ${spec}: give type=registry (ref=NAME) or type=local (src=DIR / dest=DIR)`);
  }
  return { type, attrs };
}

/** Builds on BuildKit; throws EngineError (the failure already printed when it is the build's own). */
export async function buildNative(o: NativeBuildOptions): Promise<NativeBuildResult> {
  const t0 = Date.now();
  const err = o.stderr ?? process.stderr;
  let tmpDest = "";
  if (o.output.type === "oci" || o.output.type === "local") {
    const dest = resolve(o.output.dest);
    mkdirSync(dirname(dest), { recursive: true });
    tmpDest = join(dirname(dest), `.${basename(dest)}.caisson-tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
    if (o.output.type === "local") mkdirSync(tmpDest, { mode: 0o755 });
  }
  const sessionOpts: SessionOptions = {
    locals: { context: { dir: o.contextDir } },
    ...(o.secrets ? { secrets: { ...o.secrets } } : {}),
    ...(o.output.type === "oci" ? { export: { type: "tar", open: () => createWriteStream(tmpDest, { flags: "wx", mode: 0o644 }) } } : {}),
    ...(o.output.type === "local" ? { export: { type: "dir", dir: tmpDest } } : {}),
  };
  let builder: Builder | undefined = o.connection;
  const session = createSession(sessionOpts);
  let display: Display | undefined;
  // Ctrl-C cancels the build (the daemon stops it) and still leaves nothing half-written.
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    try {
      builder ??= await connectBuilder(o.builder);
    } catch (e) {
      if (e instanceof BuilderError) throw new EngineError(e.message, 1, "engine-unavailable");
      throw e;
    }
    const shown = progressDisplay(o.progress ?? "auto", err, builder.display);
    display = shown;
    let res;
    try {
      res = await solve({
        builder,
        session,
        platforms: o.platforms,
        ...(o.forceMulti ? { forceMulti: true } : {}),
        exporters: [exporterFor(o.output, builder.kind)],
        // Dates the image config and index at the epoch, so rebuilds give the same digests.
        frontendAttrs: { "build-arg:SOURCE_DATE_EPOCH": "0" },
        ...(o.cacheImports ? { cacheImports: o.cacheImports } : {}),
        ...(o.cacheExports ? { cacheExports: o.cacheExports } : {}),
        ...(o.noCache ? { noCache: true } : {}),
        onStatus: (s) => shown.update(s),
        signal: interrupt.signal,
        ...(o.log ? { log: o.log } : {}),
      });
    } finally {
      shown.done();
    }
    if (tmpDest) {
      if (!existsSync(tmpDest)) throw new EngineError(`the build succeeded but the engine sent nothing for ${o.output.type === "oci" || o.output.type === "local" ? o.output.dest : ""}`, 1, "output");
      try {
        moveIntoPlace(tmpDest, resolve((o.output as { dest: string }).dest), o.output.type as "oci" | "local");
      } catch (e) {
        throw new EngineError(`cannot put the output in place at ${(o.output as { dest: string }).dest}: ${(e as Error).message}`, 1, "output");
      }
      tmpDest = "";
    }
    const digest = res.exporterResponse["containerimage.digest"];
    return {
      ...(digest ? { imageDigest: digest } : {}),
      definitions: res.definitions,
      exporterResponse: res.exporterResponse,
      seconds: (Date.now() - t0) / 1000,
      builder: builder.display,
    };
  } catch (e) {
    if (e instanceof EngineError) throw e;
    if (interrupt.signal.aborted) throw new EngineError("interrupted: the build was cancelled; nothing was written, the previous output (if any) is as it was", 130, "output");
    if (e instanceof GrpcError) {
      const failed = display?.state.failed();
      err.write(formatFailure(e.status, { ...(o.texts ? { texts: o.texts } : {}), ...(failed ? { logs: failed.logs } : {}) }));
      const unreachable = e.code === 14 && /connection|closed|GOAWAY/i.test(e.message);
      if (unreachable) throw new EngineError(`${builder?.display ?? "the builder"} stopped answering during the build (${shortMessage(e.message)}); nothing was written`, 1, "engine-stopped");
      throw new EngineError(shortMessage(e.message), 1);
    }
    // The session failed on this side: an output that cannot be written, a context that cannot be read.
    const dest = o.output.type === "oci" || o.output.type === "local" ? o.output.dest : "";
    const message = (e as Error).message;
    const what = /ENOSPC|no space left/i.test(message) ? `cannot write ${dest}: no space left on device` : /EROFS|read-only file system/i.test(message) ? `cannot write ${dest}: read-only file system` : message;
    throw new EngineError(`${what}; nothing was written, the previous output (if any) is as it was`, 1, "output");
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (tmpDest) rmSync(tmpDest, { recursive: true, force: true });
    await session.close().catch(() => undefined);
    if (!o.connection) await builder?.close().catch(() => undefined);
  }
}
