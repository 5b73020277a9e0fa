// Debian packages pinned by content: the shapes (and the archive-name rule) shared by the resolver (lock),
// the fetcher (build) and the base-image bootstrap.

/**
 * One .deb of an installed closure, pinned by content. `archive` is the name
 * of the Debian archive it came from — the last path segment of that archive's
 * URI in the apt sources (`debian`, `debian-security`) — never a host name;
 * the URI is derived from the machine's (or --debian-sources) configuration
 * when the file is fetched. `path` is the Packages index `Filename`
 * (`pool/main/m/make-dfsg/make_4.3-4.1_amd64.deb`), relative to that archive.
 */
export interface DebPin {
  readonly name: string;
  readonly version: string;
  /** dpkg architecture of the package: amd64, arm64, all. */
  readonly arch: string;
  readonly sha256: string;
  readonly size: number;
  readonly archive: string;
  readonly path: string;
}

/** One Debian archive of an apt configuration (a deb822 stanza or a `deb` line). */
export interface DebianArchive {
  /** Last path segment of `uri`: `debian`, `debian-security`. */
  readonly name: string;
  /** Base URI without a trailing slash, e.g. `http://<mirror>/debian`. */
  readonly uri: string;
  readonly suites: readonly string[];
  readonly components: readonly string[];
  /** Keyring file apt verifies the Release file with (Signed-By). */
  readonly signedBy?: string;
}

/** An archive name as lockfiles hold it: letters, digits, `.`, `_`, `-`, never `.` or `..` (it goes into snapshot URLs). */
export const ARCHIVE_NAME = /^(?!\.\.?$)[A-Za-z0-9._-]+$/;
