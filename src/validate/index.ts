// validate: a loaded document → the ImageDefinition model, or diagnostics.
// Passes, all reported at once:
//  1. JSON Schema (schema.ts, written out as schema/image.schema.json) via ajv,
//     each error mapped back to its node's span with a readable message;
//  2. semantics (semantic.ts): references and did-you-mean, source/stage name
//     clashes, stage cycles, platforms, image refs and digests, paths, ports,
//     durations, root without a reason, weakened runtime settings, unused names.
// Pure: no I/O. `checkDefinition` is load + validate in one call.
export type { ValidateResult } from "./validate.js";
export { checkDefinition, validateDefinition } from "./validate.js";
export { imageSchema } from "./schema.js";
export type { ImageRef, ParseResult } from "./refs.js";
export {
  CAPABILITIES,
  SUPPORTED_PLATFORMS,
  parseDuration,
  parseImageRef,
  parsePlatform,
  parsePort,
  platformString,
} from "./refs.js";
export { DEFAULT_RELEASE_TAGS, expandReleaseTag } from "./release.js";
