// compile: the whole pipeline in one call, as the CLI and the BuildKit
// frontend use it:
//   load (text → nodes with spans) → validate (schema + semantics → model)
//   → lower (model → LLB State per target) → llb.marshal (pb.Definition)
import type { Diagnostic } from "../diag/index.js";
import type { Definition } from "../gen/buildkit/pb/ops_pb.js";
import { formatPlatform, marshal } from "../llb/index.js";
import { lowerImage, type ImageConfig } from "../lower/index.js";
import type { ImageDefinition, Platform } from "../model/index.js";
import { checkDefinition } from "../validate/index.js";

export interface CompileOptions {
  /** The engine's platform: where stages that run commands run. */
  readonly buildPlatform: Platform;
  /** Target platforms; the definition's own list when left out. */
  readonly platforms?: readonly Platform[];
  /** Content-addressed mirror for http sources (see LowerOptions). */
  readonly sourceMirror?: string;
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
}

/** Compiles a definition's text for each target platform; never throws for bad input. */
export function compileDefinition(file: string, text: string, opts: CompileOptions): CompileResult {
  const { definition, diagnostics } = checkDefinition(file, text);
  if (!definition) return { diagnostics };
  return { definition, diagnostics, results: compileModel(definition, opts) };
}

/** Lowers and marshals an already validated definition. */
export function compileModel(definition: ImageDefinition, opts: CompileOptions): CompiledPlatform[] {
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
