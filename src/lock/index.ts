// lock: pins for moving references (git branches and tags, URLs without a
// sha256, image tags). lockfile.ts and pins.ts are pure and used by
// compilation; lock.ts and resolve.ts do the I/O of `caisson lock`.
export { emptyLockfile, gitKey, lockPathFor, LockfileError, LOCKFILE_VERSION, parseLockfile, serializeLockfile } from "./lockfile.js";
export type { Lockfile } from "./lockfile.js";
export { applyPins, describeMoving, pinFor } from "./pins.js";
export type { PinOptions, PinResult } from "./pins.js";
export { applyMirrors, mirrorUrls, parseMirror } from "./mirrors.js";
export type { Mirror } from "./mirrors.js";
