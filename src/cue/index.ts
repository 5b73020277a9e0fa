// cue: definitions written in CUE, evaluated by CUE itself (its own
// implementation compiled to WebAssembly, run in a worker thread with a time
// and memory bound). Loaded only for .cue inputs (a dynamic import), so YAML
// and JSON never pay for it.
//  - definition.ts: limits and text checks, `cue export` → JSON for the
//    pipeline, diagnostics re-pointed at the CUE that set each value
//  - errors.ts: CUE's error output → diagnostics at CUE's own positions
//  - run.ts: the `cue` command on in-memory files, in a worker
//  - limits.ts: the bounds of one evaluation
//  - schema.ts: schema/image.cue from the JSON Schema, by CUE's own import
export type { CueInput, CueResult } from "./definition.js";
export { evaluateCue } from "./definition.js";
export { CUE_LIMITS } from "./limits.js";
export { runCue } from "./run.js";
export { cueSchema } from "./schema.js";
