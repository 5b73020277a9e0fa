// `caisson build` on BuildKit directly: the compiled platforms solved by the
// client (src/client/solve.ts), the session serving the build context and
// receiving file outputs, progress displayed from Control.Status, and a
// failure told as the definition's `file:line:col`. All outputs come from one
// build; nothing is published or put in place before the check passed. Outputs
// on the file system go to a temporary sibling, renamed into place only on success.
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import type { CompiledPlatform } from "../compile/index.js";
import { EngineError, moveIntoPlace, type EngineOutput } from "../engine/index.js";
import { GrpcError } from "../grpc/index.js";
import { parseReference, REFERENCE_FORM, shownReference } from "../reference/index.js";
import { connectBuilder, type Builder } from "./connect.js";
import { BuilderError, type BuilderSpec } from "./endpoint.js";
import { formatFailure, shortMessage } from "./errors.js";
import { progressDisplay, type Display, type ProgressMode } from "./progress.js";
import { createSession, type ExportTarget } from "./session/index.js";
import { solve, type Entry } from "./solve.js";

export interface NativeBuildOptions {
  readonly platforms: readonly Pick<CompiledPlatform, "platform" | "definition" | "config">[];
  /** The client asked for a platform list: a multi-platform image even for one. */
  readonly forceMulti?: boolean;
  readonly contextDir: string;
  /** Every output of the one build. */
  readonly outputs: readonly EngineOutput[];
  /**
   * Verifies the OCI archive of what was built before anything is published
   * (image=, push=) or put in place (oci=, local=); false stops there, with
   * nothing written. Without it, one solve goes straight to every output.
   */
  readonly check?: (archive: string) => Promise<boolean>;
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
  /** The check refused what was built: nothing was published or written. */
  readonly rejected?: true;
}

/** Every image exporter writes OCI media types, so an image has the same digests whichever way it leaves. */
const OCI = { "oci-mediatypes": "true" } as const;

/** The exporter an output needs on this builder. */
export function exporterFor(out: EngineOutput, kind: Builder["kind"]): Entry {
  switch (out.type) {
    case "docker":
      // Docker's own exporter stores in its image store (unpacked); a buildkitd keeps images in its own store.
      return kind === "docker" ? { type: "moby", attrs: { name: out.name, ...OCI } } : { type: "image", attrs: { name: out.name, ...OCI } };
    case "push":
      // Pushed only: not named in the builder's own image store.
      return { type: "image", attrs: { name: out.name, push: "true", store: "false", ...OCI } };
    case "oci":
      return { type: "oci", attrs: { ...OCI } };
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
  if (type === "local") {
    // BuildKit reads and writes a local cache through the client's content store, which caisson's session does not serve.
    throw new BuilderError(`${flag} ${spec}: type=local is not supported by caisson build (the session serves no content store); use type=registry,ref=NAME`);
  }
  if (type !== "registry") throw new BuilderError(`${flag} ${spec}: give type=registry,ref=NAME (the only cache caisson build supports)`);
  const ref = attrs["ref"];
  if (!ref) throw new BuilderError(`${flag} ${spec}: type=registry needs ref=NAME, e.g. type=registry,ref=registry.example/app:cache`);
  const parsed = parseReference(ref);
  // Credentials in the ref (user:password@host/…) are not quoted back.
  const shown = shownReference(ref);
  if (!parsed.ok) throw new BuilderError(`${flag} ${spec.split(ref).join(shown)}: ref "${shown}" is not a valid image reference: ${parsed.reason}; want ref=${REFERENCE_FORM}, e.g. ref=registry.example/app:cache`);
  return { type, attrs };
}

/** A file output and the temporary sibling it is written to (renamed into place once everything succeeded). */
interface FileOutput {
  readonly output: Extract<EngineOutput, { type: "oci" | "local" }>;
  readonly tmp: string;
}

/** Where an output is, for messages. */
function outputName(out: EngineOutput): string {
  return out.type === "oci" || out.type === "local" ? out.dest : out.name;
}

/**
 * Builds on BuildKit; throws EngineError (the failure already printed when it is the build's own).
 * With `check`: one solve to an OCI archive (and the file outputs' temporaries), the check on it, then
 * — only when it passed — a second solve of the same, fully cached, to image=/push= (its digest must be
 * the one checked) and the file outputs renamed into place. Without: one solve to every output.
 */
export async function buildNative(o: NativeBuildOptions): Promise<NativeBuildResult> {
  const t0 = Date.now();
  const err = o.stderr ?? process.stderr;
  const json = o.progress === "json";
  const files: FileOutput[] = [];
  const temporaries: string[] = [];
  for (const output of o.outputs) {
    if (output.type !== "oci" && output.type !== "local") continue;
    const dest = resolve(output.dest);
    mkdirSync(dirname(dest), { recursive: true });
    const tmp = join(dirname(dest), `.${basename(dest)}.caisson-tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
    temporaries.push(tmp);
    if (output.type === "local") mkdirSync(tmp, { mode: 0o755 });
    files.push({ output, tmp });
  }
  const published = o.outputs.filter((out) => out.type === "docker" || out.type === "push");
  // The archive the check reads: an oci= output's temporary, else one of its own.
  let archive = files.find((f) => f.output.type === "oci")?.tmp;
  if (o.check && !archive) {
    const dir = mkdtempSync(join(tmpdir(), "caisson-check-"));
    temporaries.push(dir);
    archive = join(dir, "image.oci.tar");
  }

  let builder: Builder | undefined = o.connection;
  let display: Display | undefined;
  // Ctrl-C cancels the build (the daemon stops it) and still leaves nothing half-written.
  const interrupt = new AbortController();
  let interruptedBy = 130;
  const onSignal = (sig: NodeJS.Signals) => {
    interruptedBy = sig === "SIGTERM" ? 143 : 130;
    interrupt.abort();
    // Whatever still holds the process (a builder that does not answer) does not keep it: the
    // temporaries removed, it ends with the signal's status.
    setTimeout(() => {
      for (const t of temporaries) rmSync(t, { recursive: true, force: true });
      process.exit(interruptedBy);
    }, 5000).unref();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let current: EngineOutput[] = [];
  try {
    try {
      builder ??= await connectBuilder(o.builder, interrupt.signal);
    } catch (e) {
      if (interrupt.signal.aborted) throw new EngineError("interrupted: the build was cancelled; nothing was written, the previous output (if any) is as it was", interruptedBy, "output");
      if (e instanceof BuilderError) throw new EngineError(e.message, 1, "engine-unavailable");
      throw e;
    }
    const b = builder;
    /** One solve to these outputs (and, with `checked`, the archive for the check). */
    const solveTo = async (outs: readonly EngineOutput[], checked?: string) => {
      current = [...outs];
      const exporters: Entry[] = [];
      const targets: Record<number, ExportTarget> = {};
      const tar = (path: string): ExportTarget => ({ type: "tar", open: () => createWriteStream(path, { flags: "wx", mode: 0o644 }) });
      if (checked && !files.some((f) => f.tmp === checked)) {
        targets[exporters.length] = tar(checked);
        exporters.push(exporterFor({ type: "oci", dest: checked }, b.kind));
      }
      for (const out of outs) {
        const file = files.find((f) => f.output === out);
        if (file) targets[exporters.length] = file.output.type === "oci" ? tar(file.tmp) : { type: "dir", dir: file.tmp };
        exporters.push(exporterFor(out, b.kind));
      }
      const session = createSession({ locals: { context: { dir: o.contextDir } }, ...(o.secrets ? { secrets: { ...o.secrets } } : {}), export: targets });
      const shown = progressDisplay(o.progress ?? "auto", err, b.display);
      display = shown;
      try {
        return await solve({
          builder: b,
          session,
          platforms: o.platforms,
          ...(o.forceMulti ? { forceMulti: true } : {}),
          exporters,
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
        await session.close().catch(() => undefined);
      }
    };
    const sent = (path: string, what: string) => {
      if (!existsSync(path)) throw new EngineError(`the build succeeded but the engine sent nothing for ${what}`, 1, "output");
    };

    let res;
    if (!o.check) {
      res = await solveTo(o.outputs);
    } else {
      const checked = archive as string;
      res = await solveTo(o.outputs.filter((out) => out.type === "oci" || out.type === "local"), checked);
      sent(checked, "the image to check");
      if (!(await o.check(checked))) {
        return { definitions: res.definitions, exporterResponse: res.exporterResponse, seconds: (Date.now() - t0) / 1000, builder: b.display, rejected: true };
      }
      if (published.length > 0) {
        // The same definition again, fully cached: the image checked is the one published.
        const want = res.exporterResponse["containerimage.digest"];
        const again = await solveTo(published);
        const got = again.exporterResponse["containerimage.digest"];
        if (want && got && want !== got) {
          throw new EngineError(
            `the image published to ${published.map(outputName).join(", ")} (${got}) is not the one checked (${want}): the build is not reproducible; check it with caisson check`,
            1,
            "output",
          );
        }
        res = { ...again, exporterResponse: { ...res.exporterResponse, ...again.exporterResponse } };
      }
    }
    current = [];
    for (const f of files) sent(f.tmp, f.output.dest);
    for (const f of files) {
      try {
        moveIntoPlace(f.tmp, resolve(f.output.dest), f.output.type);
      } catch (e) {
        throw new EngineError(`cannot put the output in place at ${f.output.dest}: ${(e as Error).message}`, 1, "output");
      }
    }
    const digest = res.exporterResponse["containerimage.digest"];
    return {
      ...(digest ? { imageDigest: digest } : {}),
      definitions: res.definitions,
      exporterResponse: res.exporterResponse,
      seconds: (Date.now() - t0) / 1000,
      builder: b.display,
    };
  } catch (e) {
    if (e instanceof EngineError) throw e;
    if (interrupt.signal.aborted) throw new EngineError("interrupted: the build was cancelled; nothing was written, the previous output (if any) is as it was", interruptedBy, "output");
    if (e instanceof GrpcError) {
      const failed = display?.state.failed();
      const text = formatFailure(e.status, { ...(o.texts ? { texts: o.texts } : {}), ...(failed ? { logs: failed.logs } : {}) });
      err.write(json ? JSON.stringify({ type: "error", message: text.trimEnd() }) + "\n" : text);
      const unreachable = e.code === 14 && /connection|closed|GOAWAY/i.test(e.message);
      if (unreachable) throw new EngineError(`${builder?.display ?? "the builder"} stopped answering during the build (${shortMessage(e.message)}); nothing was written`, 1, "engine-stopped");
      throw new EngineError(shortMessage(e.message), 1);
    }
    // The session failed on this side: an output that cannot be written, a context that cannot be read.
    const dest = current.filter((out) => out.type === "oci" || out.type === "local").map(outputName).join(", ") || "the output";
    const message = (e as Error).message;
    const what = /ENOSPC|no space left/i.test(message) ? `cannot write ${dest}: no space left on device` : /EROFS|read-only file system/i.test(message) ? `cannot write ${dest}: read-only file system` : message;
    throw new EngineError(`${what}; nothing was written, the previous output (if any) is as it was`, 1, "output");
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    for (const t of temporaries) if (existsSync(t)) rmSync(t, { recursive: true, force: true });
    if (!o.connection) await builder?.close().catch(() => undefined);
  }
}
