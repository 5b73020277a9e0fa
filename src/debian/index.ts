// Debian packages pinned by content: apt sources, a private apt state that
// resolves closures to .deb hashes, the fetcher, and helpers for `outdated`.
export type { DebianArchive, DebPin } from "./types.js";
export { DebianError, DebianSignatureError } from "./errors.js";
export { archiveName, parseDeb822Sources, parseLegacySources, readArchives, SOURCES_ENV } from "./sources.js";
export { debStatus, nativeArch, openApt, parseRequest, pkgKey, type Apt, type AptOptions, type Candidate } from "./apt.js";
export { DebianFetchError, DebianStoreError, fetchDebs, poolUrl, storeFile, verifyStore, type FetchAttempt, type FetchedDeb, type FetchOptions } from "./fetch.js";
export { changelogCves, compareVersions, cvesSince, debChangelog, parseChangelog, parseVersion, type ChangelogEntry } from "./changelog.js";
