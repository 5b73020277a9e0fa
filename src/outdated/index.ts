// outdated: newer upstream releases of a definition's sources, and editing
// the definition to use them (src/outdated/outdated.ts).
export { checkBootstrapOutdated, checkOutdated, writeUpdates } from "./outdated.js";
export type { Check, OutdatedOptions, Update, WriteResult } from "./outdated.js";
export { compareVersions, isPrerelease, latest, parseVersion } from "./version.js";
export type { Version } from "./version.js";
