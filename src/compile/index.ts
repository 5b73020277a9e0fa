// compile: the whole pipeline, as the CLI and the BuildKit frontend use it:
//   load (text → nodes with spans) → validate (schema + semantics → model)
//   → resolve (imported definitions, the only I/O) → lower (model → LLB
//   State per target) → llb.marshal (pb.Definition)
import { hasErrors, type Diagnostic } from "../diag/index.js";
import type { Definition } from "../gen/buildkit/pb/ops_pb.js";
import { formatPlatform, marshal } from "../llb/index.js";
import { LowerError, lowerImage, type ImageConfig } from "../lower/index.js";
import type { ImageDefinition, Platform } from "../model/index.js";
import { resolveImports, type ContextReader } from "../resolve/index.js";
import { checkDefinition } from "../validate/index.js";

export interface CompileOptions {
  /** The engine's platform: where stages that run commands run. */
  readonly buildPlatform: Platform;
  /** Target platforms; the definition's own list when left out. */
  readonly platforms?: readonly Platform[];
  /** Content-addressed mirror for http sources (`<mirror>/sha256/<hex>`). */
  readonly sourceMirror?: string;
  /** Reads imported definitions from the build context; without it, imports are errors. */
  readonly readContext?: ContextReader;
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
}

const noReader: ContextReader = () => Promise.reject(new Error("no build context to read imports from"));

/** Compiles a definition's text for each target platform; never throws for bad input. */
export async function compileDefinition(file: string, text: string, opts: CompileOptions): Promise<CompileResult> {
  const texts = new Map([[file, text]]);
  const checked = checkDefinition(file, text);
  const definition = checked.definition;
  if (!definition || hasErrors(checked.diagnostics)) return { diagnostics: checked.diagnostics, texts };
  const resolved = await resolveImports(definition, opts.readContext ?? noReader);
  for (const [f, t] of resolved.texts) texts.set(f, t);
  const diagnostics = [...checked.diagnostics, ...resolved.diagnostics];
  if (hasErrors(diagnostics)) return { definition, diagnostics, texts };
  try {
    const results = compileModel(definition, { ...opts, definitions: resolved.definitions });
    return { definition, diagnostics, texts, results };
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
