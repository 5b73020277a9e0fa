// compile: the whole pipeline, as the CLI and the BuildKit frontend use it:
//   load (text → nodes with spans) → validate (schema + semantics → model)
//   → resolve (imported definitions, the only I/O) → lower (model → LLB
//   State per target) → llb.marshal (pb.Definition)
import { error, hasErrors, sortDiagnostics, type Diagnostic } from "../diag/index.js";
import type { Definition } from "../gen/buildkit/pb/ops_pb.js";
import { formatPlatform, marshal } from "../llb/index.js";
import { applyMirrors, applyPins, LockfileError, lockPathFor, parseLockfile, type Lockfile, type Mirror } from "../lock/index.js";
import { LowerError, lowerImage, type ImageConfig } from "../lower/index.js";
import { dpkgArch, type DebPin, type ImageDefinition, type Platform } from "../model/index.js";
import { resolveImports, type ContextReader } from "../resolve/index.js";
import { checkDefinition } from "../validate/index.js";

export interface CompileOptions {
  /** The engine's platform: where stages that run commands run. */
  readonly buildPlatform: Platform;
  /** Target platforms; the definition's own list when left out. */
  readonly platforms?: readonly Platform[];
  /** Content-addressed mirror for http sources (`<mirror>/sha256/<hex>`). */
  readonly sourceMirror?: string;
  /** Debian archive name → URI for pinned .deb files when there is no `sourceMirror` (see LowerOptions). */
  readonly debianArchives?: Readonly<Record<string, string>>;
  /** The BuildKit session local sources read from (the frontend's own); left out for raw LLB. */
  readonly localSession?: string;
  /** Reads imported definitions from the build context; without it, imports are errors. */
  readonly readContext?: ContextReader;
  /**
   * The pins of the definition's lockfile (src/lock), for its moving
   * references; imported definitions' lockfiles are read through
   * `readContext`, beside each of them.
   */
  readonly lock?: Lockfile;
  /** Reads the definition's lockfile when `lock` is not given, only if the definition has moving references (the frontend's way). */
  readonly loadLock?: () => Promise<Lockfile | undefined>;
  /** The lockfile's path as the user knows it, for messages (default: beside `file`). */
  readonly lockPath?: string;
  /** Every moving reference must be pinned: an image tag without a pin is an error, not a warning. */
  readonly frozen?: boolean;
  /** URL prefix rewrites for http sources (the checksum is unchanged). */
  readonly mirrors?: readonly Mirror[];
}

export interface CompiledPlatform {
  readonly platform: Platform;
  readonly definition: Definition;
  readonly config: ImageConfig;
  /** Stages that run under emulation for this platform. */
  readonly emulated: readonly string[];
}

export interface CompileResult {
  readonly results?: readonly CompiledPlatform[];
  readonly definition?: ImageDefinition;
  readonly diagnostics: readonly Diagnostic[];
  /** Every file read (the definition and its imports), for printing diagnostics. */
  readonly texts: ReadonlyMap<string, string>;
  /** The pinned .deb files the build installs on the build platform (every stage, imports included), each once. */
  readonly debPins?: readonly DebPin[];
  /** The definitions whose lockfiles those pins come from, for the command that refreshes them. */
  readonly pinnedBy?: readonly string[];
}

const noReader: ContextReader = () => Promise.reject(new Error("no build context to read imports from"));

/** Compiles a definition's text for each target platform; never throws for bad input. */
export async function compileDefinition(file: string, text: string, opts: CompileOptions): Promise<CompileResult> {
  const texts = new Map([[file, text]]);
  const checked = checkDefinition(file, text);
  if (!checked.definition || hasErrors(checked.diagnostics)) return { diagnostics: checked.diagnostics, texts };
  // Moving references get their pins from the lockfile (validate's unpinned_image warnings are re-judged there).
  let rootLock = opts.lock;
  if (!rootLock && opts.loadLock && (checked.definition.moving ?? []).length > 0) {
    try {
      rootLock = await opts.loadLock();
    } catch (e) {
      if (!(e instanceof LockfileError)) throw e;
      return { diagnostics: [error("invalid_lockfile", e.message, { file, start: 0, end: 0 }, { hint: `run \`caisson lock ${file}\`` })], texts };
    }
  }
  const pinned = applyPins(checked.definition, rootLock, { ...(opts.frozen ? { frozen: true } : {}), ...(opts.lockPath ? { lockPath: opts.lockPath } : {}) });
  const definition = applyMirrors(pinned.definition, opts.mirrors ?? []);
  const read = opts.readContext ?? noReader;
  const resolved = await resolveImports(checked.definition, read);
  for (const [f, t] of resolved.texts) texts.set(f, t);
  const diagnostics = [...checked.diagnostics.filter((d) => d.code !== "unpinned_image"), ...pinned.diagnostics];
  const definitions = new Map<string, ImageDefinition>();
  for (const [path, def] of resolved.definitions) {
    // An imported definition's pins come from the lockfile beside it in the build context.
    let lock: Lockfile | undefined;
    if ((def.moving ?? []).length > 0) {
      const lockPath = lockPathFor(path);
      const lockText = await read(lockPath).catch(() => undefined);
      try {
        lock = lockText === undefined ? undefined : parseLockfile(lockText, lockPath);
      } catch (e) {
        if (!(e instanceof LockfileError)) throw e;
        diagnostics.push(error("invalid_lockfile", e.message, { file: path, start: 0, end: 0 }, { hint: `run \`caisson lock ${path}\`` }));
      }
    }
    const p = applyPins(def, lock, { ...(opts.frozen ? { frozen: true } : {}), lockCommand: `caisson lock ${path}` });
    diagnostics.push(...p.diagnostics);
    definitions.set(path, applyMirrors(p.definition, opts.mirrors ?? []));
  }
  const importDiagnostics = resolved.diagnostics.filter((d) => d.code !== "unpinned_image" || !definitions.has(d.span.file));
  diagnostics.push(...importDiagnostics);
  diagnostics.splice(0, diagnostics.length, ...sortDiagnostics(diagnostics));
  if (hasErrors(diagnostics)) return { definition, diagnostics, texts };
  try {
    const results = compileModel(definition, { ...opts, definitions });
    // The .debs the build installs: a stage's closure for the architecture it runs on, the build
    // platform's, or each target's for a stage `on: target`.
    const buildArch = [dpkgArch(opts.buildPlatform)];
    const targetArchs = [...new Set((opts.platforms ?? definition.platforms).map(dpkgArch))];
    const debPins = new Map<string, DebPin>();
    const pinnedBy: string[] = [];
    for (const [d, path] of [[definition, file] as const, ...[...definitions].map(([p, d]) => [d, p] as const)]) {
      const pins = d.stages.flatMap((s) => (s.on === "target" ? targetArchs : buildArch).flatMap((arch) => s.packages?.closure?.[arch] ?? []));
      for (const pin of pins) debPins.set(pin.sha256, pin);
      if (pins.length > 0) pinnedBy.push(path);
    }
    return { definition, diagnostics, texts, results, ...(debPins.size > 0 ? { debPins: [...debPins.values()], pinnedBy } : {}) };
  } catch (e) {
    if (e instanceof LowerError) return { definition, diagnostics: [...diagnostics, e.diagnostic], texts };
    throw e;
  }
}

/** Lowers and marshals a validated definition whose imports are resolved. Throws LowerError. */
export function compileModel(
  definition: ImageDefinition,
  opts: CompileOptions & { readonly definitions?: ReadonlyMap<string, ImageDefinition> },
): CompiledPlatform[] {
  const targets = opts.platforms ?? definition.platforms;
  const seen = new Set<string>();
  const out: CompiledPlatform[] = [];
  for (const target of targets) {
    const id = formatPlatform(target);
    if (seen.has(id)) continue;
    seen.add(id);
    const lowered = lowerImage(definition, {
      buildPlatform: opts.buildPlatform,
      target,
      ...(opts.sourceMirror ? { sourceMirror: opts.sourceMirror } : {}),
      ...(opts.debianArchives ? { debianArchives: opts.debianArchives } : {}),
      ...(opts.localSession ? { localSession: opts.localSession } : {}),
      ...(opts.definitions ? { definitions: opts.definitions } : {}),
    });
    out.push({ platform: target, definition: marshal(lowered.state), config: lowered.config, emulated: lowered.emulated });
  }
  return out;
}

/** The platform this process runs on, the containerd way (x64 → amd64). */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };
  return { os: "linux", architecture: arch[process.arch] ?? process.arch, ...(process.arch === "arm" ? { variant: "v7" } : {}) };
}
