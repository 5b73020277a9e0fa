// The definition format's JSON Schema (2020-12), the one source of truth for
// its shape. schema/image.schema.json is this object written out for editors
// and other tools; test/validate/schema.test.ts fails when the two differ and
// rewrites the file with UPDATE=1. Semantic rules (references, cycles,
// platforms, paths) live in semantic.ts; they need more than a schema can say.

import { DPKG_ARCHITECTURES, SUPPORTED_PLATFORMS } from "../platform/index.js";
import { DURATION } from "./refs.js";

const NAME = "^[a-z0-9][a-z0-9._-]*$";
/** `<source package>=<Debian version>`; refs.ts parses it again to say what is wrong. */
const DEBIAN_SOURCE = "^[a-z0-9][a-z0-9+.-]+=(?:[0-9]+:)?[0-9](?:[A-Za-z0-9.+~]*|[A-Za-z0-9.+~-]*-[A-Za-z0-9.+~]+)$";

/** dpkg architectures of the supported platforms (src/platform). */
const DPKG_ARCHES = [...DPKG_ARCHITECTURES];
/** `<package>[:<arch>][=<version>]`; refs.ts parses it again to say what is wrong. */
const DEBIAN_PACKAGE = `^[a-z0-9][a-z0-9+.-]+(?::(?:${DPKG_ARCHES.join("|")}))?(?:=(?:[0-9]+:)?[0-9](?:[A-Za-z0-9.+~]*|[A-Za-z0-9.+~-]*-[A-Za-z0-9.+~]+))?$`;

const str = (description: string, extra: Record<string, unknown> = {}) => ({ type: "string", description, ...extra });
const bool = (description: string, dflt: boolean) => ({ type: "boolean", description, default: dflt });
const ref = (name: string, description: string) => ({ $ref: `#/$defs/${name}`, description });

/** The JSON Schema of an image definition. */
export const imageSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://caisson.dev/schema/image.schema.json",
  title: "caisson image definition",
  description:
    "A declarative container image: pinned sources, build stages that run on the build platform and cross-compile, and a runtime image assembled from their outputs. See docs/format.md.",
  type: "object",
  additionalProperties: false,
  required: ["name", "platforms", "image"],
  properties: {
    $schema: str("URI of this schema, for editors; ignored by caisson."),
    name: ref("name", "Image name: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit."),
    version: {
      type: ["string", "number"],
      description: "Version of the packaged software (free text, e.g. 7.0.15); used in labels and tags.",
    },
    platforms: {
      type: "array",
      description:
        `Target platforms as os/arch[/variant], at least one. Supported: ${SUPPORTED_PLATFORMS.join(", ")} (x86_64, aarch64, arm are accepted and normalised).`,
      minItems: 1,
      items: str("A target platform, e.g. linux/amd64.", { minLength: 1 }),
    },
    imports: {
      type: "object",
      description:
        "Other definitions whose runtime images stages (and the image) can start from with `from: <import name>`. Import names share one namespace with sources and stages.",
      propertyNames: ref("name", "Import name, referred to by `from`."),
      additionalProperties: str(
        "Path of the imported definition relative to the build context root (not to this file), normalised, without `..`, ending in .yaml, .yml or .json.",
        { minLength: 1 },
      ),
      default: {},
    },
    sources: {
      type: "object",
      description:
        "Named inputs, each pinned by content: a file by sha256 (from a URL or a Debian source package), a git repository by commit, or a folder of the build context.",
      propertyNames: ref("name", "Source name, referred to by mounts and copies."),
      additionalProperties: ref("source", "A named source."),
      default: {},
    },
    stages: {
      type: "object",
      description: "Named build stages, each running shell commands in a container. Stages run on the build platform and cross-compile for each target unless `on: target`.",
      propertyNames: ref("name", "Stage name, referred to by `from`, mounts and copies."),
      additionalProperties: ref("stage", "A build stage."),
      default: {},
    },
    image: ref("image", "The runtime image, assembled per target platform by copying files; nothing runs in it during the build."),
    release: {
      type: "object",
      description: "How `caisson release` publishes the image.",
      additionalProperties: false,
      properties: {
        tags: {
          type: "array",
          description:
            "Tags to push, as templates: {version}, and {major}, {minor}, {patch} of a MAJOR.MINOR.PATCH version (default: {version}, {major}.{minor}, {major}, latest). A tag naming {version} or {patch} names one release and is never moved to another digest without --force.",
          minItems: 1,
          uniqueItems: true,
          items: str("A tag template, e.g. {major}.{minor} or latest.", { pattern: "^(?:[A-Za-z0-9_.-]|\\{(?:version|major|minor|patch)\\})+$", maxLength: 128 }),
        },
      },
    },
  },
  $defs: {
    name: str("A name: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit.", {
      pattern: NAME,
      maxLength: 128,
      patternErrorMessage: "use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit",
    }),
    sha256: str("Lower-case hex SHA-256 of the downloaded file (64 characters).", {
      pattern: "^[0-9a-f]{64}$",
      patternErrorMessage: "must be 64 lower-case hex digits",
    }),
    commit: str("Full 40-hex git commit id (not a branch, tag or abbreviated id).", {
      pattern: "^[0-9a-f]{40}$",
      patternErrorMessage: "must be a full 40-hex commit id",
    }),
    duration: str("A duration such as 30s, 1m30s, 500ms or .5s (Go's syntax; units ns, us, ms, s, m, h).", {
      pattern: DURATION.source,
      patternErrorMessage: "write a duration such as 30s, 1m30s or 500ms",
    }),
    envMap: {
      type: "object",
      description: "Environment variables, NAME: value.",
      propertyNames: str("A variable name: letters, digits and '_', not starting with a digit.", {
        pattern: "^[A-Za-z_][A-Za-z0-9_]*$",
        patternErrorMessage: "use letters, digits and '_', not starting with a digit",
      }),
      additionalProperties: { type: ["string", "number", "boolean"], description: "The variable's value (numbers and booleans are kept as written)." },
    },
    args: {
      type: "array",
      description: "An exec-form argument list (no shell is involved).",
      items: { type: ["string", "number"], description: "One argument (numbers are kept as written)." },
    },
    fromRef: str(
      "What to start from: `scratch` (empty), the name of a stage or of an import, or an image reference with a tag and/or digest, e.g. caisson/debian:bookworm or docker.io/library/debian:bookworm@sha256:….",
      { minLength: 1 },
    ),
    source: {
      description:
        "A source: {url, sha256} for a file, {debian, file, sha256} for a file of a Debian source package, {git, commit} or {git, ref} for a repository, or {path} for a folder of the build context. A url without sha256 and a git ref are pinned by the lockfile (caisson lock).",
      oneOf: [{ $ref: "#/$defs/httpSource" }, { $ref: "#/$defs/debianSource" }, { $ref: "#/$defs/gitSource" }, { $ref: "#/$defs/localSource" }],
      defaultSnippets: [
        { label: "tarball", body: { url: "https://$1", sha256: "$2", extract: true } },
        { label: "debian source file", body: { debian: "${1:package}=${2:version}", file: "$3", sha256: "$4", extract: true } },
        { label: "git", body: { git: "https://$1", commit: "$2" } },
        { label: "git (locked)", body: { git: "https://$1", ref: "$2" } },
        { label: "local", body: { path: "$1" } },
      ],
    },
    httpSource: {
      type: "object",
      description:
        "A file downloaded over HTTP(S), verified by its sha256. Without sha256 the URL is a moving reference: `caisson lock` downloads and hashes it into the lockfile.",
      additionalProperties: false,
      required: ["url"],
      properties: {
        url: str("http:// or https:// URL of the file.", { pattern: "^https?://[^\\s]+$", patternErrorMessage: "must be an http:// or https:// URL" }),
        sha256: ref("sha256", "Lower-case hex SHA-256 of the file; the download fails if it differs. Left out, the lockfile pins it (caisson lock)."),
        release: ref("listingRelease", "Where `caisson outdated` looks for newer releases of this file."),
        filename: str("File name in the source's root; defaults to the URL's last path segment.", { minLength: 1 }),
        extract: bool("Unpack the tar archive (gzip/xz/zstd/bzip2) into the source's root instead of keeping the file.", false),
      },
    },
    debianSource: {
      type: "object",
      description:
        "A file of a Debian source package (.orig.tar.*, .debian.tar.*, .dsc), served by a sha256-keyed source store or mirror: it has no upstream URL.",
      additionalProperties: false,
      required: ["debian", "file", "sha256"],
      properties: {
        debian: str("The source package and its Debian version as <package>=<version>, e.g. redis=5:7.0.15-1~deb12u10 (as apt-cache showsrc prints them).", {
          pattern: DEBIAN_SOURCE,
          patternErrorMessage: "write <source package>=<Debian version>, e.g. redis=5:7.0.15-1~deb12u10",
        }),
        file: str("The file's name in the source package, e.g. redis_7.0.15.orig.tar.gz (a plain file name); also its name in the source's root.", { minLength: 1 }),
        sha256: ref("sha256", "Lower-case hex SHA-256 of the file (as in the .dsc's Checksums-Sha256); the fetch fails if it differs."),
        extract: bool("Unpack the tar archive (gzip/xz/zstd/bzip2) into the source's root instead of keeping the file.", false),
      },
    },
    gitSource: {
      type: "object",
      description: "A git repository checked out at a full commit id.",
      additionalProperties: false,
      required: ["git"],
      properties: {
        git: str("URL of the repository (https://, ssh:// or git@host:path).", { minLength: 1 }),
        commit: ref("commit", "Full 40-hex commit id to check out."),
        ref: str("A branch or tag (a moving reference): `caisson lock` pins the commit it points to in the lockfile; with `commit`, only a note of what the commit is.", {
          minLength: 1,
        }),
        keepGitDir: bool("Keep the .git directory in the checkout.", false),
        release: ref("tagsRelease", "How `caisson outdated` finds newer releases among the repository's tags."),
      },
    },
    tagsRelease: {
      type: "object",
      description: "Newer releases are the repository's tags matching `tags`, ordered as semantic versions.",
      additionalProperties: false,
      required: ["tags"],
      properties: {
        tags: str("Regular expression a release tag matches in full; its first group is the version, e.g. v?(\\d+\\.\\d+\\.\\d+).", { minLength: 1 }),
      },
    },
    listingRelease: {
      type: "object",
      description: "Newer releases are found on a listing page (an HTML index or any text) by a pattern.",
      additionalProperties: false,
      required: ["listing", "pattern"],
      properties: {
        listing: str("http:// or https:// URL of the page listing the releases.", { pattern: "^https?://[^\\s]+$", patternErrorMessage: "must be an http:// or https:// URL" }),
        pattern: str("Regular expression matching a release's file name on the page; its first group is the version, e.g. app-(\\d+\\.\\d+\\.\\d+)\\.tar\\.gz.", {
          minLength: 1,
        }),
      },
    },
    localSource: {
      type: "object",
      description: "A folder of the build context (the directory given to `caisson build` or to BuildKit as the context).",
      additionalProperties: false,
      required: ["path"],
      properties: {
        path: str("Path relative to the build context root (not to the definition file), without `..`; `.` is the whole context.", { minLength: 1 }),
        exclude: {
          type: "array",
          description: "Glob patterns (.dockerignore syntax) of files to leave out.",
          items: str("A glob pattern, e.g. *.o.", { minLength: 1 }),
          default: [],
        },
      },
    },
    toolchain: {
      type: "object",
      description: "The cross toolchain for the target: sets CC, CXX, AR, STRIP, the host triple and hardening flags.",
      additionalProperties: false,
      properties: {
        cc: { type: "string", enum: ["gcc"], description: "Compiler family.", default: "gcc" },
        hardening: {
          type: "string",
          enum: ["strict", "none"],
          description: "strict: PIE, full RELRO, stack protector, FORTIFY_SOURCE=3, NX. none: no extra flags.",
          default: "strict",
        },
      },
    },
    bindMount: {
      type: "object",
      description: "Bind a source or a stage's output into the stage.",
      additionalProperties: false,
      required: ["from"],
      properties: {
        from: ref("name", "Name of a source or a stage."),
        path: str("Absolute path inside `from` to mount.", { minLength: 1, default: "/" }),
        readonly: bool("Mount read-only.", true),
      },
    },
    cacheMount: {
      type: "object",
      description: "A persistent cache directory (e.g. ccache), shared between builds.",
      additionalProperties: false,
      required: ["cache"],
      properties: {
        cache: ref("name", "Cache id; mounts with the same id share contents."),
        sharing: {
          type: "string",
          enum: ["shared", "private", "locked"],
          description: "How concurrent builds share the cache.",
          default: "locked",
        },
      },
    },
    tmpfsMount: {
      type: "object",
      description: "An empty in-memory file system.",
      additionalProperties: false,
      required: ["tmpfs"],
      properties: { tmpfs: { const: true, description: "Must be true." } },
    },
    mount: {
      description: "A mount: a source or stage name (read-only bind), or {from, path, readonly}, {cache, sharing} or {tmpfs: true}.",
      oneOf: [
        ref("name", "Name of a source or stage to bind read-only."),
        { $ref: "#/$defs/bindMount" },
        { $ref: "#/$defs/cacheMount" },
        { $ref: "#/$defs/tmpfsMount" },
      ],
    },
    stageCopy: {
      type: "object",
      description: "Copy a file or directory from a source or another stage into the stage's file system before its patches and commands.",
      additionalProperties: false,
      required: ["from", "src", "dest"],
      properties: {
        from: ref("name", "Name of a source or a stage."),
        src: str("Absolute, normalised path inside `from`.", { minLength: 1 }),
        dest: str("Absolute, normalised destination path in the stage.", { minLength: 1 }),
      },
    },
    patch: {
      type: "object",
      description: "A patch file from a source, checked against its sha256 and applied with patch -p<strip> in the stage's workdir.",
      additionalProperties: false,
      required: ["from", "path", "sha256"],
      properties: {
        from: ref("name", "Name of the source holding the patch file (not a stage)."),
        path: str("Absolute, normalised path of the patch file inside the source, e.g. /debian/patches/0001-fix.patch.", { minLength: 1 }),
        sha256: ref("sha256", "Lower-case hex SHA-256 of the patch file (sha256sum <file>); the build fails if it differs."),
        strip: { type: "integer", minimum: 0, maximum: 9, default: 1, description: "Leading path components to strip from file names in the patch (patch -p<strip>)." },
      },
    },
    debianPackage: str(
      "A Debian binary package: name=version (pinned here), or name alone (pinned by the lockfile: caisson lock). name:arch installs it for another dpkg architecture (multiarch), e.g. libc6:arm64=2.36-9+deb12u14.",
      { pattern: DEBIAN_PACKAGE, patternErrorMessage: "write <package>[:<arch>][=<Debian version>], e.g. make=4.3-4.1 or libc6:arm64" },
    ),
    debianPackages: {
      type: "array",
      description: "Debian packages, each name=version or name (pinned by the lockfile).",
      items: ref("debianPackage", "One package."),
    },
    stage: {
      type: "object",
      description: "A build stage: starts from `from`, installs its Debian packages, gets its copies, then its patches, then runs shell commands with its mounts.",
      additionalProperties: false,
      required: ["from", "run"],
      properties: {
        from: ref("fromRef", "What the stage starts from: scratch, another stage, an import, or an image reference."),
        on: {
          type: "string",
          enum: ["build", "target"],
          description: "build: run on the build platform and cross-compile (no emulation). target: run emulated on each target platform (reported).",
          default: "build",
        },
        toolchain: ref("toolchain", "Cross toolchain and hardening flags for the target platform."),
        env: ref("envMap", "Environment variables for the commands."),
        workdir: str("Absolute working directory for the commands.", { minLength: 1, default: "/" }),
        user: {
          type: ["string", "integer"],
          description:
            "User to run the commands as: a name or uid, optionally :group or :gid (names [a-z_][a-z0-9_-]*, ids 0–4294967294); defaults to the base image's user.",
        },
        network: {
          type: "string",
          enum: ["sandbox", "none"],
          description: "sandbox: network access (to fetch packages). none: no network.",
          default: "sandbox",
        },
        mounts: {
          type: "object",
          description: "Mounts by absolute destination path.",
          additionalProperties: ref("mount", "What to mount at this path."),
        },
        packages: {
          type: ["array", "object"],
          description:
            "Debian packages installed with apt (from the base image's sources) before the copies, patches and commands: a list, or a map from build architecture (amd64, arm64, …) to the list for builds there. Foreign architectures named as name:arch are added with dpkg --add-architecture.",
          items: ref("debianPackage", "One package."),
          propertyNames: { type: "string", enum: DPKG_ARCHES, description: "A build architecture (dpkg name)." },
          additionalProperties: ref("debianPackages", "The packages for builds on this architecture."),
          default: [],
        },
        copy: {
          type: "array",
          description: "Files copied into the stage's file system, in order, before patches and commands.",
          items: ref("stageCopy", "One copy."),
          default: [],
        },
        patches: {
          type: "array",
          description: "Patches applied in order in the workdir after the copies and before the commands; each pinned by sha256.",
          items: ref("patch", "One patch."),
          default: [],
        },
        run: {
          type: "array",
          description: "Shell commands, each run by /bin/sh -c as its own step.",
          minItems: 1,
          items: str("A shell command.", { minLength: 1 }),
        },
      },
    },
    copy: {
      type: "object",
      description: "Copy a file or directory from a stage or source into the image.",
      additionalProperties: false,
      required: ["from", "src", "dest"],
      properties: {
        from: ref("name", "Name of a stage or source."),
        src: str("Absolute path inside `from`.", { minLength: 1 }),
        dest: str("Absolute destination path in the image.", { minLength: 1 }),
        mode: {
          type: ["string", "integer"],
          description: "Octal permission bits to set, e.g. \"0755\" (digits are always read as octal).",
          pattern: "^0?[0-7]{3}$",
          patternErrorMessage: "write octal permission bits such as \"0755\"",
        },
        libraries: bool("Also copy the shared libraries and dynamic loader the ELF file at `src` needs.", false),
      },
    },
    user: {
      description: "The user the image runs as: \"uid:gid\", a uid, or {uid, gid, name, rootReason}. Defaults to 65532:65532 (caisson).",
      oneOf: [
        str("uid:gid (numeric, 0–4294967294), e.g. 65532:65532; a uid alone means the same gid."),
        { type: "integer", description: "A uid (0–4294967294); the gid is the same." },
        {
          type: "object",
          description: "The user, written out.",
          additionalProperties: false,
          required: ["uid", "gid"],
          properties: {
            uid: { type: "integer", minimum: 0, maximum: 4294967294, description: "Numeric user id; 0 needs rootReason." },
            gid: { type: "integer", minimum: 0, maximum: 4294967294, description: "Numeric group id." },
            name: str("User name written to /etc/passwd.", { pattern: "^[a-z_][a-z0-9_-]*$", default: "caisson", patternErrorMessage: "use lower-case letters, digits, '_' and '-'" }),
            rootReason: str("Why the image must run as root (required when uid is 0).", { minLength: 1 }),
          },
        },
      ],
    },
    healthcheck: {
      type: "object",
      description: "How the runtime checks the container is healthy.",
      additionalProperties: false,
      required: ["test"],
      properties: {
        test: { ...ref("args", "Command to run, exec form (images FROM scratch have no shell)."), type: "array", minItems: 1 },
        interval: ref("duration", "Time between checks, e.g. 30s."),
        timeout: ref("duration", "Time a check may take, e.g. 5s."),
        startPeriod: ref("duration", "Grace period after start, e.g. 5s."),
        retries: { type: "integer", minimum: 0, maximum: 2147483647, description: "Consecutive failures before the container is unhealthy." },
      },
    },
    runtime: {
      type: "object",
      description: "The runtime contract the image is built for and tested with.",
      additionalProperties: false,
      properties: {
        readOnly: bool("The container runs with a read-only root file system (only volumes are writable).", true),
        capabilities: {
          type: "array",
          description: "Linux capabilities the container needs (e.g. NET_BIND_SERVICE); none by default.",
          items: str("A capability name, with or without CAP_.", { pattern: "^[A-Za-z_]+$" }),
          default: [],
        },
        noNewPrivileges: bool("The container runs with no-new-privileges.", true),
      },
    },
    image: {
      type: "object",
      description: "The runtime image.",
      additionalProperties: false,
      properties: {
        from: { ...ref("fromRef", "What the image starts from; usually scratch."), default: "scratch" },
        copy: { type: "array", description: "Files copied into the image, in order.", items: ref("copy", "One copy."), default: [] },
        user: ref("user", "The user the image runs as."),
        workdir: str("Absolute working directory.", { minLength: 1 }),
        volumes: { type: "array", description: "Absolute paths of writable volumes (owned by the user).", items: str("An absolute path.", { minLength: 1 }), default: [] },
        expose: {
          type: "array",
          description: "Ports the image listens on: 6379, \"6379/tcp\" or \"53/udp\".",
          items: { type: ["string", "integer"], description: "port[/tcp|udp|sctp]; tcp when omitted.", pattern: "^[0-9]+(/(tcp|udp|sctp))?$", patternErrorMessage: "write port[/tcp|udp|sctp], e.g. 6379/tcp" },
          default: [],
        },
        env: ref("envMap", "Environment variables of the image."),
        entrypoint: ref("args", "Entrypoint, exec form."),
        cmd: ref("args", "Default arguments, exec form."),
        labels: {
          type: "object",
          description: "Image labels (e.g. org.opencontainers.image.source).",
          propertyNames: { minLength: 1 },
          additionalProperties: { type: ["string", "number", "boolean"], description: "The label's value." },
        },
        healthcheck: ref("healthcheck", "Health check."),
        stopSignal: {
          type: ["string", "integer"],
          description: "Signal that stops the container: a name such as SIGTERM, SIGQUIT or SIGRTMIN+3, or a number 1–64.",
        },
        runtime: ref("runtime", "Runtime hardening: defaults are readOnly true, capabilities [], noNewPrivileges true."),
        check: {
          type: "object",
          description: "How `caisson check` (run by every `caisson build`) verifies the built image.",
          additionalProperties: false,
          properties: {
            hardening: {
              enum: ["strict", "none"],
              description: "What every executable ELF file must have: strict (PIE, full RELRO, canary, NX, FORTIFY, no RPATH) or none.",
              default: "strict",
            },
            waivers: {
              type: "array",
              description: "Findings accepted on purpose, one per rule (and path), each with the reason; printed with every report.",
              default: [],
              items: {
                type: "object",
                description: "One accepted finding.",
                additionalProperties: false,
                required: ["rule", "reason"],
                properties: {
                  rule: str("The rule id, e.g. elf.canary (docs/check.md lists them); a prefix glob such as elf.* is allowed.", { minLength: 1 }),
                  path: str("Only for this absolute path in the image (* within a segment, ** across).", { minLength: 1 }),
                  reason: str("Why the finding is acceptable.", { minLength: 1 }),
                },
              },
            },
          },
        },
      },
    },
  },
} as const;
