// Building a definition on the real engine: `docker buildx build -f <file>`
// with caisson's frontend image (BUILDKIT_SYNTAX, or the file's own
// `# syntax=` line), BuildKit's progress streamed to stderr, and nothing
// exported unless the build succeeds.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statfsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { dockerBinary, EngineError, checkEngine, engineAnswers, runDocker } from "./docker.js";
import { ensureFrontendImage, FRONTEND_REPO } from "./frontend-image.js";

export type EngineOutput =
  /** Into the engine's image store under `name` (multi-platform needs the containerd store). */
  | { readonly type: "docker"; readonly name: string }
  /** An OCI image layout tarball at `dest`. */
  | { readonly type: "oci"; readonly dest: string }
  /** The image's filesystem in the directory `dest` (one subdirectory per platform when several). */
  | { readonly type: "local"; readonly dest: string }
  /** Pushed to a registry as `name` (the engine's credentials for it, from docker's config.json). */
  | { readonly type: "push"; readonly name: string };

export interface EngineBuildOptions {
  /** The definition file (its directory is sent as BuildKit's `dockerfile` local). */
  readonly file: string;
  /** The build context (`local://context`); default: the definition's directory. */
  readonly contextDir?: string;
  /** Target platforms like `linux/arm64`; default: the definition's own list. */
  readonly platforms?: readonly string[];
  readonly output: EngineOutput;
  /** buildx progress mode; default `auto` (a TTY display on a terminal, plain otherwise). */
  readonly progress?: "auto" | "plain" | "tty" | "quiet" | "rawjson";
  /** Frontend image to use; default: the file's `# syntax=` line, else the image built by ensureFrontendImage. */
  readonly frontend?: string;
  /** Extra build arguments (frontend options build-arg:K). */
  readonly buildArgs?: Readonly<Record<string, string>>;
  readonly noCache?: boolean;
  /** Provenance attestation (buildx default when undefined). */
  readonly provenance?: boolean;
  readonly docker?: string;
  /** Where caisson's own messages go (stderr by default). */
  readonly log?: (line: string) => void;
  /** Where buildx's stderr (the progress) goes; default: this process's stderr. */
  readonly onProgress?: (chunk: Buffer) => void;
  /** Replace a non-empty `local` output directory (removed only once the new one is in place). */
  readonly force?: boolean;
}

/** An output that must not be written where it was asked (it would destroy inputs or another directory). */
export class OutputRefused extends Error {
  override readonly name = "OutputRefused";
}

/** `path` resolved through the symlinks of its existing part (the rest appended as given). */
function realish(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : join(realish(parent), basename(abs));
  }
}

/** True when `inner` is `outer` or lies inside it. */
function within(inner: string, outer: string): boolean {
  const r = relative(outer, inner);
  return r === "" || (!r.startsWith(".." + sep) && r !== ".." && !r.startsWith(sep));
}

/**
 * Refuses an output that would destroy what it should not: a destination that
 * is or contains the build context or the definition (always), an existing
 * directory where a file is asked for, an existing file where a directory is
 * asked for, and a non-empty directory for `local` unless `force`. A file
 * output (oci) replaces an existing file, atomically.
 */
export function checkOutputDest(out: EngineOutput, o: { file: string; contextDir: string; force?: boolean }): void {
  if (out.type === "docker" || out.type === "push") return;
  const dest = realish(out.dest);
  const what = `--output ${out.type}=${out.dest}`;
  for (const [input, name] of [[realish(o.contextDir), "the build context"], [realish(o.file), "the definition"]] as const) {
    if (within(input, dest)) throw new OutputRefused(`${what}: refusing to write over ${name} (${input}); choose another destination`);
  }
  const st = statSync(dest, { throwIfNoEntry: false });
  if (!st) return;
  if (out.type === "oci") {
    if (!st.isFile()) throw new OutputRefused(`${what}: ${out.dest} exists and is not a file; give a file name for the OCI archive`);
    return;
  }
  if (!st.isDirectory()) throw new OutputRefused(`${what}: ${out.dest} exists and is not a directory`);
  if (!o.force && readdirSync(dest).length > 0) {
    throw new OutputRefused(`${what}: ${out.dest} is a non-empty directory; give an empty or new one, or --force to replace it (only once the build has succeeded)`);
  }
}

/** Puts the finished `tmp` at `dest`: a rename, and for a replaced directory its removal only after the new one is in place. */
export function moveIntoPlace(tmp: string, dest: string, type: "oci" | "local"): void {
  const st = statSync(dest, { throwIfNoEntry: false });
  if (type === "oci" || !st || (st.isDirectory() && readdirSync(dest).length === 0)) {
    renameSync(tmp, dest); // over a file or an empty directory: atomic
    return;
  }
  const old = join(dirname(dest), `.${basename(dest)}.caisson-old-${process.pid}-${randomBytes(4).toString("hex")}`);
  renameSync(dest, old);
  try {
    renameSync(tmp, dest);
  } catch (e) {
    renameSync(old, dest);
    throw e;
  }
  rmSync(old, { recursive: true, force: true });
}

/**
 * What an output failure comes down to: buildx's message when it says so, else
 * (its local exporter says only "EOF") the destination's file system, full
 * while the partial output is still there.
 */
function outputFault(stderr: string, out: EngineOutput): string | undefined {
  if (out.type === "docker" || out.type === "push") return undefined;
  if (/no space left on device|ENOSPC/i.test(stderr)) return `cannot write ${out.dest}: no space left on device`;
  if (/read-only file system|EROFS/i.test(stderr)) return `cannot write ${out.dest}: read-only file system`;
  if (/exporting to (client|oci|image)|ERROR: failed to solve: EOF/i.test(stderr)) {
    try {
      const fs = statfsSync(dirname(resolve(out.dest)));
      if (fs.bavail * fs.bsize < 64 * 1024) return `cannot write ${out.dest}: no space left on device`;
    } catch {
      // not knowable: buildx's own message stands
    }
  }
  return undefined;
}

export interface EngineBuildResult {
  /** The frontend image the build ran (`caisson/frontend:<hash>` or the `# syntax=` image). */
  readonly frontend: string;
  /** sha256 of each platform's solved pb.Definition (what `caisson compile` prints for it). */
  readonly definitions: Readonly<Record<string, string>>;
  /** The image (index or manifest) digest, when the exporter reports one. */
  readonly imageDigest?: string;
  /** The frontend's runtime report (uid, Node version). */
  readonly frontendRuntime?: { readonly uid: number; readonly node: string; readonly session?: string };
  /** buildx's whole metadata file. */
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly seconds: number;
}

/** The image a `# syntax=` first line names (BuildKit's rule: first line, `#` comment, `syntax=`). */
export function syntaxDirective(text: string): string | undefined {
  const first = text.replace(/^\uFEFF/, "").split("\n", 1)[0] ?? "";
  const m = /^#\s*syntax\s*=\s*(\S+)/i.exec(first.trim());
  return m?.[1];
}

/** The `--output` value for an output, pointing at `dest` (a temporary path for files). */
export function outputFlag(out: EngineOutput, dest: string): string {
  switch (out.type) {
    case "docker":
      // With the docker driver, type=image is the engine's own exporter: it
      // stores single- and multi-platform images in the image store.
      return `type=image,name=${out.name}`;
    case "oci":
      return `type=oci,dest=${dest}`;
    case "local":
      return `type=local,dest=${dest}`;
    case "push":
      return `type=image,name=${out.name},push=true`;
  }
}

/** The `docker buildx build` arguments (pure; used by buildWithEngine and its tests). */
export function buildxArgs(o: {
  file: string;
  contextDir: string;
  frontend?: string;
  platforms?: readonly string[];
  output: string;
  progress: string;
  metadataFile: string;
  buildArgs?: Readonly<Record<string, string>>;
  noCache?: boolean;
  provenance?: boolean;
}): string[] {
  const args = ["buildx", "build", "--progress", o.progress, "-f", o.file, "--metadata-file", o.metadataFile];
  if (o.frontend) args.push("--build-arg", `BUILDKIT_SYNTAX=${o.frontend}`);
  for (const [k, v] of Object.entries(o.buildArgs ?? {})) args.push("--build-arg", `${k}=${v}`);
  if (o.platforms && o.platforms.length > 0) args.push("--platform", o.platforms.join(","));
  if (o.noCache) args.push("--no-cache");
  if (o.provenance !== undefined) args.push(`--provenance=${o.provenance}`);
  args.push("--output", o.output, o.contextDir);
  return args;
}

/** The last `ERROR:` block of buildx's output (or its last lines), for the thrown error. */
export function failureReason(stderr: string): string {
  const lines = stderr.replace(/\r/g, "").split("\n");
  const i = lines.findLastIndex((l) => /^(ERROR|error):/.test(l));
  const tail = i >= 0 ? lines.slice(i) : lines.slice(-15);
  return tail.join("\n").trim() || "docker buildx build failed";
}

/** Builds `file` on the engine through the caisson frontend; throws EngineError on failure. */
export async function buildWithEngine(opts: EngineBuildOptions): Promise<EngineBuildResult> {
  const t0 = Date.now();
  const docker = opts.docker ?? dockerBinary();
  const log = opts.log ?? ((l: string) => process.stderr.write(l + "\n"));
  const file = resolve(opts.file);
  const contextDir = resolve(opts.contextDir ?? dirname(file));
  if (!existsSync(file)) throw new EngineError(`${opts.file}: no such file`);
  if (!statSync(contextDir, { throwIfNoEntry: false })?.isDirectory()) throw new EngineError(`${contextDir}: not a directory`);
  checkOutputDest(opts.output, { file, contextDir, ...(opts.force ? { force: true } : {}) });
  await checkEngine(docker);

  // Which frontend: an explicit one, the file's own # syntax= line, or ours.
  const declared = syntaxDirective(readFileSync(file, "utf8"));
  let frontend = opts.frontend;
  let passSyntax = frontend !== undefined;
  if (!frontend) {
    const ours = declared === undefined || declared.replace(/^docker\.io\//, "").startsWith(`${FRONTEND_REPO}:`);
    if (ours) {
      const img = await ensureFrontendImage({ docker, log });
      if (img.built) log(`caisson: frontend image ${img.ref} was missing; built and loaded it`);
      frontend = declared ?? img.ref;
      passSyntax = declared === undefined;
    } else {
      frontend = declared as string;
    }
  }

  // Outputs on the file system go to a temporary sibling first (same file system), then get renamed
  // into place: a failed build leaves nothing half-written and the previous output as it was.
  const work = mkdtempSync(join(tmpdir(), "caisson-build-"));
  const metadataFile = join(work, "metadata.json");
  let tmpDest = "";
  if (opts.output.type === "oci" || opts.output.type === "local") {
    const dest = resolve(opts.output.dest);
    mkdirSync(dirname(dest), { recursive: true });
    tmpDest = join(dirname(dest), `.${basename(dest)}.caisson-tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  }
  try {
    const args = buildxArgs({
      file,
      contextDir,
      ...(passSyntax && frontend ? { frontend } : {}),
      ...(opts.platforms ? { platforms: opts.platforms } : {}),
      output: outputFlag(opts.output, tmpDest),
      progress: opts.progress ?? "auto",
      metadataFile,
      ...(opts.buildArgs ? { buildArgs: opts.buildArgs } : {}),
      ...(opts.noCache ? { noCache: true } : {}),
      ...(opts.provenance !== undefined ? { provenance: opts.provenance } : {}),
    });
    const sink = opts.onProgress ?? ((b: Buffer) => process.stderr.write(b));
    const r = await runDocker(args, { docker, stderr: sink });
    if (r.code !== 0) {
      const fault = outputFault(r.stderr, opts.output);
      if (fault) throw new EngineError(`${fault}; nothing was written, the previous output (if any) is as it was`, r.code, "output");
      // A build cut short because the engine went away says so, not just "exit code 1".
      if (!(await engineAnswers(docker))) {
        throw new EngineError(`the Docker engine stopped answering during the build (${failureReason(r.stderr).split("\n")[0]}); nothing was written`, r.code, "engine-stopped");
      }
      throw new EngineError(failureReason(r.stderr), r.code);
    }

    const metadata = existsSync(metadataFile)
      ? (JSON.parse(readFileSync(metadataFile, "utf8")) as Record<string, unknown>)
      : {};
    if (opts.output.type === "oci" || opts.output.type === "local") {
      if (!existsSync(tmpDest)) throw new EngineError(`the build succeeded but buildx wrote nothing to ${tmpDest}`);
      try {
        moveIntoPlace(tmpDest, resolve(opts.output.dest), opts.output.type);
      } catch (e) {
        throw new EngineError(`cannot put the output in place at ${opts.output.dest}: ${(e as Error).message}`, 1, "output");
      }
      tmpDest = "";
    }
    const parse = <T>(v: unknown): T | undefined => {
      if (typeof v !== "string") return v as T | undefined;
      try {
        return JSON.parse(v) as T;
      } catch {
        return undefined;
      }
    };
    const definitions = parse<Record<string, string>>(metadata["frontend.caisson.definitions"]) ?? {};
    const runtime = parse<{ uid: number; node: string; session?: string }>(metadata["frontend.caisson.runtime"]);
    const digest = metadata["containerimage.digest"];
    return {
      frontend: frontend as string,
      definitions,
      ...(typeof digest === "string" ? { imageDigest: digest } : {}),
      ...(runtime ? { frontendRuntime: runtime } : {}),
      metadata,
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    if (tmpDest) rmSync(tmpDest, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
