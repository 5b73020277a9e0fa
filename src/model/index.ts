// The validated image definition: what `validate` produces and `lower`
// consumes. Plain data, no I/O. Every node that a build error may need to
// point back at carries a `span` into the definition file.
import type { DebPin } from "../debian/types.js";

/** A half-open byte range [start, end) in a definition file. */
export interface Span {
  readonly file: string;
  readonly start: number;
  readonly end: number;
}

import type { Platform } from "../platform/index.js";

/** An OCI platform, normalised the containerd way (src/platform). */
export type { Platform };
/** The dpkg architecture of a platform (src/platform). */
export { dpkgArch } from "../platform/index.js";

/** A value together with where it was written. */
export interface Located<T> {
  readonly value: T;
  readonly span: Span;
}

/**
 * How `caisson outdated` finds newer releases of a source: the repository's
 * tags, or the links of a release listing page, matched by `pattern` (a
 * regular expression whose first group is the version).
 */
export type ReleaseRule =
  | { readonly kind: "git-tags"; readonly pattern: string; readonly span: Span }
  | { readonly kind: "listing"; readonly url: string; readonly pattern: string; readonly span: Span };

/**
 * A reference that can move, written in the definition without its pin: a
 * git branch or tag, a URL without a sha256, an image without a digest.
 * `caisson lock` resolves each into the definition's lockfile; compilation
 * takes the pins from there (see src/lock).
 */
export type MovingRef =
  | { readonly kind: "git"; readonly source: string; readonly url: string; readonly ref: string; readonly span: Span }
  | { readonly kind: "http"; readonly source: string; readonly url: string; readonly span: Span }
  | {
      readonly kind: "image";
      /** The normalised reference without a digest, e.g. docker.io/caisson/debian:bookworm. */
      readonly ref: string;
      readonly span: Span;
    }
  | {
      /**
       * The Debian packages a stage installs on one build architecture: the
       * whole dependency closure is pinned by content (each .deb's sha256) in
       * the lockfile, whether the definition writes versions or not.
       */
      readonly kind: "debian";
      readonly stage: string;
      /** dpkg architecture of the build platform the closure is for. */
      readonly buildArch: string;
      /** The packages as written (`make`, `make=4.3-4.1`, `libc6:arm64`), in definition order. */
      readonly request: readonly string[];
      /** What the closure is resolved on top of: the stage's `from` (an image reference as written, `stage:<name>`, `import:<name>`, `scratch`). */
      readonly from: string;
      readonly span: Span;
    };

/**
 * Where a source's bytes come from; every kind is pinned by content. A
 * source written with a moving reference (`ImageDefinition.moving`) has an
 * empty `sha256` / `commit` until its pin is applied (src/lock applyPins);
 * compilation never lowers one that stays empty.
 */
export type SourceSpec =
  | {
      readonly kind: "http";
      readonly name: string;
      /**
       * Where to download from. Undefined for a file that only a source
       * store or mirror can serve (e.g. a file of a Debian source package).
       */
      readonly url?: string;
      /** `package=version` of the Debian source package the file belongs to, if it is one. */
      readonly debian?: string;
      /** lower-case hex sha256 of the downloaded file. */
      readonly sha256: string;
      /** File name in the source's root (defaults to the URL's last path segment). */
      readonly filename: string;
      /** Unpack a tar archive into the source's root instead of keeping the file. */
      readonly extract: boolean;
      /** How `caisson outdated` finds newer releases. */
      readonly release?: ReleaseRule;
      readonly span: Span;
    }
  | {
      readonly kind: "git";
      readonly name: string;
      readonly url: string;
      /** Full 40-hex commit id. */
      readonly commit: string;
      /** The branch or tag as written (`ref:`), when given. */
      readonly ref?: string;
      readonly keepGitDir: boolean;
      /** How `caisson outdated` finds newer releases. */
      readonly release?: ReleaseRule;
      readonly span: Span;
    }
  | {
      readonly kind: "local";
      readonly name: string;
      /** Path relative to the build context, no `..`; "." is the whole context. */
      readonly path: string;
      readonly exclude: readonly string[];
      readonly span: Span;
      /** Where `path:` is written (the build checks the folder there before it starts). */
      readonly pathSpan: Span;
    };

/** What a stage (or the runtime image) starts from. */
export type FromRef =
  | { readonly kind: "scratch"; readonly span: Span }
  | { readonly kind: "stage"; readonly name: string; readonly span: Span }
  | {
      /** The runtime image of an imported definition, built for the platform the stage runs on. */
      readonly kind: "import";
      readonly name: string;
      readonly span: Span;
    }
  | {
      readonly kind: "image";
      /** Fully normalised reference, e.g. docker.io/library/debian:bookworm@sha256:… */
      readonly ref: string;
      readonly span: Span;
    };

/** A filesystem mounted into a stage's commands. */
export type MountSpec =
  | {
      readonly kind: "bind";
      readonly dest: string;
      /** A source name or a stage name. */
      readonly from: string;
      readonly fromKind: "source" | "stage";
      /** Sub-path inside `from` to mount; "/" for all of it. */
      readonly path: string;
      readonly readonly: boolean;
      readonly span: Span;
    }
  | {
      readonly kind: "cache";
      readonly dest: string;
      readonly id: string;
      readonly sharing: "shared" | "private" | "locked";
      readonly span: Span;
    }
  | { readonly kind: "tmpfs"; readonly dest: string; readonly span: Span };

/** A file placed into a stage's root filesystem before its commands run. */
export interface StageCopy {
  /** A source name or a stage name. */
  readonly from: string;
  readonly fromKind: "source" | "stage";
  /** Absolute path inside `from`. */
  readonly src: string;
  /** Absolute path in the stage. */
  readonly dest: string;
  readonly span: Span;
}

/** A patch applied with `patch -p<strip>` in the stage's workdir, after copies, before `run`. */
export interface Patch {
  /** The source holding the patch file. */
  readonly from: string;
  /** Absolute path of the patch file inside that source. */
  readonly path: string;
  /** sha256 of the patch file, checked before it is applied. */
  readonly sha256: string;
  readonly strip: number;
  readonly span: Span;
}

export type { DebPin };

/** A Debian binary package a stage installs with apt before anything else. */
export interface DebianPackage {
  /** The package name, e.g. libc6. */
  readonly name: string;
  /** A multiarch qualifier (`libc6:arm64`): the dpkg architecture to install it for; absent means the build platform's. */
  readonly arch?: string;
  /**
   * The exact version to install. Empty for a package written without one
   * (a moving reference, `ImageDefinition.moving`) until the lockfile's pin
   * is applied (src/lock applyPins); compilation never lowers an empty one.
   */
  readonly version: string;
  readonly span: Span;
}

/** A stage's `packages:`: one list for every build platform, or one per build architecture. */
export interface StagePackages {
  /** The list form: installed whatever the build platform. */
  readonly all: readonly DebianPackage[];
  /**
   * The map form: dpkg build architecture (amd64, arm64, …) → the packages
   * installed when the stage runs there; a build on an architecture not
   * listed fails. Undefined for the list form.
   */
  readonly byBuildArch?: Readonly<Record<string, readonly DebianPackage[]>>;
  /**
   * The pinned closure per build architecture (dpkg name), from the
   * lockfile (src/lock applyPins): exactly the .deb files that get
   * installed. Compilation never lowers packages without one.
   */
  readonly closure?: Readonly<Record<string, readonly DebPin[]>>;
  readonly span: Span;
}

/** Another definition whose runtime image this one can start stages from (`from: <name>`). */
export interface Import {
  readonly name: string;
  /** Path of the imported definition, relative to the build context root. */
  readonly path: string;
  readonly span: Span;
}

export type Hardening = "strict" | "none";

export interface Toolchain {
  readonly cc: "gcc";
  readonly hardening: Hardening;
  readonly span: Span;
}

/** A stage that runs commands. */
export interface Stage {
  readonly name: string;
  readonly from: FromRef;
  /** "build": runs on the build platform, cross-compiling (default). "target": emulated. */
  readonly on: "build" | "target";
  readonly toolchain?: Toolchain;
  readonly env: readonly (readonly [string, string])[];
  readonly workdir: string;
  readonly user?: string;
  readonly network: "sandbox" | "none";
  readonly mounts: readonly MountSpec[];
  /** Debian packages installed with apt first, before copies, patches and commands. */
  readonly packages?: StagePackages;
  /** Files copied into the stage's filesystem before patches and commands. */
  readonly copy: readonly StageCopy[];
  readonly patches: readonly Patch[];
  /** Shell commands, each run by /bin/sh -c as its own step. */
  readonly run: readonly Located<string>[];
  readonly span: Span;
}

export interface CopySpec {
  /** A stage name or a source name. */
  readonly from: string;
  readonly fromKind: "source" | "stage";
  readonly src: string;
  readonly dest: string;
  /** Octal mode to set, or undefined to keep. */
  readonly mode?: number;
  /** Also copy the shared libraries and dynamic loader the ELF at `src` needs. */
  readonly libraries: boolean;
  readonly span: Span;
}

export interface RuntimeUser {
  readonly uid: number;
  readonly gid: number;
  readonly name: string;
  /** Why the image runs as root; required when uid is 0. */
  readonly rootReason?: string;
  readonly span: Span;
}

export interface Healthcheck {
  readonly test: readonly string[];
  /** Durations in nanoseconds, as the OCI config wants them. */
  readonly interval?: number;
  readonly timeout?: number;
  readonly startPeriod?: number;
  readonly retries?: number;
}

/** A `caisson check` finding accepted on purpose. */
export interface Waiver {
  /** A rule id (docs/check.md) or a prefix glob such as `elf.*`. */
  readonly rule: string;
  /** Only this absolute path in the image (globs allowed). */
  readonly path?: string;
  readonly reason: string;
  readonly span: Span;
}

/** The runtime image: assembled per target with file operations only. */
export interface RuntimeImage {
  readonly from: FromRef;
  readonly copy: readonly CopySpec[];
  readonly user: RuntimeUser;
  readonly workdir?: string;
  readonly volumes: readonly string[];
  readonly expose: readonly string[];
  readonly env: readonly (readonly [string, string])[];
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly labels: readonly (readonly [string, string])[];
  readonly healthcheck?: Healthcheck;
  readonly stopSignal?: string;
  readonly runtime: {
    readonly readOnly: boolean;
    readonly capabilities: readonly string[];
    readonly noNewPrivileges: boolean;
  };
  /** How `caisson check` verifies the image. */
  readonly check: { readonly hardening: Hardening; readonly waivers: readonly Waiver[] };
  readonly span: Span;
}

/** A release tag: the template as written, what it expands to, and whether it names one release (never moved without --force). */
export interface ReleaseTag {
  readonly template: string;
  readonly tag: string;
  readonly immutable: boolean;
  readonly span: Span;
}

export interface ImageDefinition {
  /** Path of the definition file as given (used in diagnostics and the source map). */
  readonly file: string;
  /** The file's text, embedded in the LLB source map. */
  readonly text: string;
  readonly name: string;
  /** Where `name:` is written. */
  readonly nameSpan?: Span;
  readonly version?: string;
  /** Where `version:` is written, when it is. */
  readonly versionSpan?: Span;
  readonly platforms: readonly Platform[];
  readonly imports: readonly Import[];
  readonly sources: readonly SourceSpec[];
  /** In the order written; validate guarantees names are unique and acyclic. */
  readonly stages: readonly Stage[];
  readonly image: RuntimeImage;
  /** `release:` — the tags `caisson release` pushes (templates expanded by the version). */
  readonly release?: { readonly tags: readonly ReleaseTag[]; readonly span: Span };
  /**
   * References written without a pin (a git `ref`, a `url` without sha256,
   * an image without a digest, a Debian package without a version), in the order written; absent or empty when
   * everything is pinned in the definition itself.
   */
  readonly moving?: readonly MovingRef[];
}
