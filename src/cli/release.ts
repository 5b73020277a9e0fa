// `caisson release`: build every platform into an OCI archive (whichever
// build path `caisson build` uses), make it a release — layers normalised,
// dpkg status.d, an SPDX SBOM and SLSA provenance per platform attached as
// attestation manifests — write the SBOMs (SPDX, and CycloneDX of the same
// model) beside the archive, and push the
// index with its tags. `--verify` builds twice from empty caches and
// compares the index digests.
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { rename, writeFile } from "node:fs/promises";
import { mkdirSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { Option } from "commander";
import { compileDefinition, hostPlatform } from "../compile/index.js";
import { caissonVersion, checkOutputDest, OutputRefused } from "../engine/index.js";
import { DebianError } from "../debian/index.js";
import { readRegularFile } from "../fsread/index.js";
import { checkDefinition, expandReleaseTag } from "../validate/index.js";
import { error, hasErrors, toJsonDiagnostics, type Diagnostic } from "../diag/index.js";
import { child, loadDefinition } from "../load/index.js";
import {
  assembleRelease,
  compareReleases,
  findCredentials,
  layoutArchive,
  parseRepoRef,
  pushRelease,
  readLayout,
  releaseInputs,
  releaseTags,
  Registry,
  RegistryError,
  type Dependency,
  type Release,
  type ReleaseInputs,
} from "../release/index.js";
import { buildCommand, contextDir, defaultSourceStore } from "./build.js";
import { frozenDefault, readLockBeside } from "./lock.js";
import { LockfileError } from "../lock/index.js";
import { readDefinition, type DefinitionSource } from "./definition.js";
import { fsReason, readContextFile, report, UsageError } from "./io.js";
import { ExitStatus } from "./lock.js";

/** Releases are dated at the epoch (SOURCE_DATE_EPOCH), like `caisson build`'s images. */
const SOURCE_DATE_EPOCH = 0;

export interface ReleaseFlags {
  readonly to?: string;
  readonly verify?: boolean;
  readonly force?: boolean;
  readonly caCert?: string;
  readonly out: string;
  readonly context: string;
  readonly sourceStore?: string;
  readonly progress: "auto" | "plain" | "tty" | "json" | "quiet";
  readonly cache: boolean;
}


type Reporter = (diagnostics: readonly Diagnostic[], texts: ReadonlyMap<string, string>) => boolean;

/** Prints diagnostics as text, or under --progress json as one JSON line (as `caisson build` does); true when any is an error. */
function reporter(progress: ReleaseFlags["progress"]): Reporter {
  if (progress !== "json") return (diagnostics, texts) => report(diagnostics, texts, "text");
  return (diagnostics, texts) => {
    if (diagnostics.length > 0) process.stderr.write(JSON.stringify({ type: "diagnostics", diagnostics: toJsonDiagnostics(diagnostics, texts) }) + "\n");
    return hasErrors(diagnostics);
  };
}

/**
 * The definition's files as the provenance's materials: a YAML or JSON
 * definition is its file; a CUE one every .cue file CUE read for it (the
 * named file first, then its package's, the module's and the templates' it
 * imports), each by its own sha256 — not the JSON CUE exported from them.
 */
export function definitionMaterials(source: DefinitionSource, rel: (p: string) => string): Dependency[] {
  const files = [...source.texts].filter(([f]) => f !== source.file && /\.cue$/i.test(f));
  if (files.length === 0) files.push([source.file, source.text ?? ""]);
  files.sort(([a], [b]) => (a === source.lockBeside ? -1 : b === source.lockBeside ? 1 : a < b ? -1 : a > b ? 1 : 0));
  return files.map(([f, t]) => ({ name: rel(f), uri: `file:${rel(f)}`, sha256: createHash("sha256").update(t).digest("hex") }));
}

/** What the release records besides the image, from the definition compiled here (pins applied). */
async function inputsOf(file: string, source: DefinitionSource, context: string, store: string, say: Reporter): Promise<ReleaseInputs & { tags: ReturnType<typeof releaseTags> }> {
  const text = source.text ?? "";
  const { lock, lockPath, text: lockText } = await readLockBeside(source.lockBeside);
  const read = (path: string) => readContextFile(context, path);
  const compiled = await compileDefinition(source.file, text, {
    buildPlatform: hostPlatform(),
    ...(lock ? { lock } : {}),
    lockPath,
    frozen: frozenDefault(undefined),
    readContext: read,
    sourceMirror: "http://127.0.0.1",
  });
  if (say(await source.point(compiled.diagnostics), new Map([...source.texts, ...compiled.texts])) || !compiled.definition) {
    throw new ReleaseFailed(`${file}: the definition has errors (above)`);
  }
  const rel = (p: string) => relative(context, resolve(context, p));
  try {
    const inputs = await releaseInputs({
      file: rel(file),
      text,
      ...(lockText !== undefined ? { lock: { path: rel(lockPath), text: lockText } } : {}),
      definition: compiled.definition,
      debPins: compiled.debPins ?? [],
      read,
      // caisson's own base images' lockfiles (images/<name>/), two folders above this module in src/ and dist/.
      readOwn: async (path) => (await readRegularFile(join(fileURLToPath(new URL("../..", import.meta.url)), path), 64 << 20)).toString("utf8"),
      store,
      buildPlatform: hostPlatform(),
      caissonVersion: caissonVersion(),
      sourceDateEpoch: SOURCE_DATE_EPOCH,
      log: (line) => process.stderr.write(`caisson: ${line}\n`),
    });
    // The definition's own material: its file, or for CUE the .cue files it was evaluated from.
    const own = definitionMaterials(source, rel);
    const materials = [...own, ...inputs.materials.filter((m) => m.uri !== `file:${rel(file)}` && !own.some((o) => o.uri === m.uri))];
    return { ...inputs, materials, tags: releaseTags(compiled.definition) };
  } catch (e) {
    if (e instanceof DebianError) throw new ReleaseFailed(`the pinned Debian packages the SBOM and status.d are made from: ${e.message}`);
    // A base image's lockfile (images/<name>/image.lock.json) the SBOM reads its packages from.
    if (e instanceof LockfileError) throw new ReleaseFailed(`the lockfile of a base image, which the SBOM lists its packages from: ${e.message}`);
    throw e;
  }
}

/**
 * Longest `<name>-<version>` the release's file names hold within 255 bytes:
 * the build writes `.<stem>.verify.oci.tar.caisson-tmp-<pid>-<8 hex>` (the
 * release's staged name) under a temporary name of its own, another
 * `.<…>.caisson-tmp-<pid>-<8 hex>`: the stem plus at most 75 bytes.
 */
const MAX_STEM_BYTES = 180;

/**
 * `<name>-<version>`, the stem of every file written under --out; refused at
 * the definition's `version:` when it would leave --out (a `/`) or make a
 * name longer than a file system holds.
 */
async function releaseFileStem(file: string, source: DefinitionSource, name: string, version: string | undefined, say: Reporter): Promise<string> {
  const stem = `${name}-${version ?? "latest"}`;
  const why = version?.includes("/") || version?.includes("\\")
    ? "has a slash, and it names the release files (out/<name>-<version>.oci.tar …), which would then be written outside --out"
    : Buffer.byteLength(stem) > MAX_STEM_BYTES
      ? `makes the release files' names too long (<name>-<version> is ${Buffer.byteLength(stem)} bytes, at most ${MAX_STEM_BYTES})`
      : undefined;
  if (why === undefined) return stem;
  return refuseVersion(say, file, source, `version ${JSON.stringify(version)} ${why}`, "write the version as its software does, e.g. 7.0.15 (letters, digits, '.', '-', '+', '~')", "its version cannot name the release files");
}

/** Reports `message` at the definition's `version:` (or its top) and fails the release before anything is built. */
async function refuseVersion(say: Reporter, file: string, source: DefinitionSource, message: string, hint: string, failure: string): Promise<never> {
  const root = loadDefinition(source.file, source.text ?? "").doc.root;
  const node = root?.kind === "map" ? child(root, "version") : undefined;
  const span = node?.span ?? root?.span ?? { file: source.file, start: 0, end: 0 };
  // A CUE definition's: at the CUE that set the version.
  say(await source.point([error("invalid_version", message, span, { hint })]), source.texts);
  throw new ReleaseFailed(`${file}: ${failure} (above); nothing was built`);
}

/**
 * Without `release: tags:`, the version is the release's immutable tag: a
 * version no tag can hold (`7.0.15+dfsg`) would leave only `latest`, moved
 * silently by the next release, so it is refused before anything is built.
 */
async function checkVersionTag(file: string, source: DefinitionSource, def: { version?: string; release?: unknown }, say: Reporter): Promise<void> {
  if (def.release !== undefined || def.version === undefined) return;
  const x = expandReleaseTag("{version}", def.version);
  if (x.ok) return;
  await refuseVersion(
    say,
    file,
    source,
    `version ${JSON.stringify(def.version)} cannot be a tag, so the release would be pushed as "latest" only, with no version tag to keep it`,
    "a tag has letters, digits, '_', '.' and '-' (at most 128): write the tags to push under release: tags: (e.g. [7.0.15-dfsg, latest]), or a version a tag can hold",
    "its version cannot tag the release",
  );
}

/** Builds into `archive`. */
async function build(file: string, archive: string, flags: ReleaseFlags, store: string, noCache: boolean): Promise<void> {
  const ok = await buildCommand(
    file,
    { output: [`oci=${archive}`], context: flags.context, progress: flags.progress, sourceStore: store, ...(noCache ? { noCache: true } : {}) },
    reporter(flags.progress),
  );
  if (!ok) throw new ReleaseFailed(`the build of ${file} failed (above); nothing was released`);
}

/** The release of the archive a build wrote (under its temporary name; messages name `shown`, the file it becomes). */
async function assemble(archive: string, inputs: ReleaseInputs, shown: string): Promise<Release> {
  try {
    return await assembleRelease(await readLayout(archive), inputs);
  } catch (e) {
    throw new ReleaseFailed(`cannot make the release of the build of ${shown}: ${(e as Error).message.split(archive).join(shown)}`);
  }
}

export class ReleaseFailed extends Error {
  override readonly name = "ReleaseFailed";
}

/** Makes `--out` (a directory that can be written, not the build context, the definition or above them) before anything is built. */
function prepareOut(out: string, file: string, context: string): void {
  try {
    checkOutputDest({ type: "local", dest: out }, { file, contextDir: context, force: true });
  } catch (e) {
    if (e instanceof OutputRefused) throw new UsageError(e.message.replace(`--output local=${out}`, `--out ${out}`));
    // A path that cannot be looked at (ENOTDIR, EACCES) cannot be made either: said below.
  }
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    throw new UsageError(`--out ${out}: cannot make that directory: ${fsReason(e)}; give a directory`);
  }
  if (!statSync(out).isDirectory()) throw new UsageError(`--out ${out}: not a directory; give a directory`);
  const probe = join(out, `.caisson-probe-${process.pid}`);
  try {
    writeFileSync(probe, "", { flag: "wx" });
    unlinkSync(probe);
  } catch (e) {
    throw new UsageError(`--out ${out}: cannot write files there: ${fsReason(e)}; give a directory you can write`);
  }
}

/** The `--ca-cert` PEM, checked to hold at least one certificate. */
async function readCa(file: string): Promise<string> {
  // A regular file only (a FIFO would block the read); a CA bundle is far below 4 MiB.
  const pem = (await readRegularFile(file, 4 << 20).catch((e: unknown) => {
    throw new UsageError(`--ca-cert ${file}: ${fsReason(e)}; give a PEM file of the registry's CA certificate`);
  })).toString("utf8");
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    if (blocks.length === 0) throw new Error("no BEGIN CERTIFICATE block");
    for (const b of blocks) new X509Certificate(b);
  } catch (e) {
    throw new UsageError(`--ca-cert ${file}: not a PEM certificate (${(e as Error).message}); give the registry's CA certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return pem;
}

/**
 * Files written under temporary names (the build's archive included) and put
 * in place only together, once the release is settled (pushed, or nothing to
 * push); removed otherwise.
 */
export class Staged {
  private readonly files: { tmp: string; dest: string }[] = [];

  /** The temporary name `dest` is written under (by a build, or by `write`), put in place by `commit`. */
  reserve(dest: string): string {
    // Unpredictable, and created only if absent (write: flag wx), so a link planted in a shared --out is never followed.
    const tmp = join(dirname(dest), `.${basename(dest)}.caisson-tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
    this.files.push({ tmp, dest });
    if (statSync(dest, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`cannot write ${dest}: it is a directory; remove it or give another --out`);
    return tmp;
  }

  async write(dest: string, data: Uint8Array | string): Promise<void> {
    await writeFile(this.reserve(dest), data, { flag: "wx" }).catch((e: unknown) => {
      throw new UsageError(`cannot write ${dest}: ${fsReason(e)}`);
    });
  }

  /** Removes `dest`'s temporary file: it is not to be put in place. */
  drop(dest: string): void {
    for (const f of this.files.filter((x) => x.dest === dest)) rmSync(f.tmp, { force: true });
    this.files.splice(0, this.files.length, ...this.files.filter((x) => x.dest !== dest));
  }

  /** Puts every file in place; returns their names. */
  async commit(): Promise<string[]> {
    const done: string[] = [];
    for (const f of this.files.splice(0)) {
      await rename(f.tmp, f.dest);
      done.push(f.dest);
    }
    return done;
  }

  /** Removes what was not committed (synchronously: also from a signal handler). */
  discard(): void {
    for (const f of this.files.splice(0)) rmSync(f.tmp, { force: true });
  }
}

/** The line saying which files were put in place. */
function wroteLine(out: string, files: readonly string[]): string {
  return `wrote in ${out}: ${files.map((f) => basename(f)).join(", ")}`;
}

/** Runs `caisson release`; throws ReleaseFailed / UsageError / RegistryError. */
export async function releaseCommand(file: string, flags: ReleaseFlags, log: (line: string) => void, signal?: AbortSignal, staged = new Staged()): Promise<void> {
  if (!flags.to && !flags.verify) throw new UsageError("give --to REGISTRY/REPO to push, or --verify to check that the release reproduces (or both)");
  // Everything that can be refused is checked before the build.
  let registry: Registry | undefined;
  if (flags.to) {
    try {
      const ref = parseRepoRef(flags.to);
      const credentials = findCredentials(ref.host);
      registry = new Registry(ref, {
        ...(credentials ? { credentials } : {}),
        ...(flags.caCert ? { ca: await readCa(flags.caCert), caFrom: flags.caCert } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      if (e instanceof RegistryError) throw new UsageError(e.message);
      throw e;
    }
  }
  const context = contextDir(flags.context);
  const store = flags.sourceStore ?? defaultSourceStore() ?? join(process.env["CAISSON_CACHE"] ?? "/var/cache/caisson", "sources");
  // YAML, JSON or CUE, read as `caisson build` reads it (a CUE definition evaluated, its diagnostics at the CUE).
  const source = await readDefinition(file);
  const say = reporter(flags.progress);
  const checked = source.text === undefined ? undefined : checkDefinition(source.file, source.text);
  if (!checked?.definition || hasErrors(checked.diagnostics)) {
    say(checked ? await source.point(checked.diagnostics) : source.diagnostics, source.texts);
    throw new ReleaseFailed(`${file} is not a valid definition (above); nothing was built`);
  }
  const base = await releaseFileStem(file, source, checked.definition.name, checked.definition.version, say);
  if (flags.to) await checkVersionTag(file, source, checked.definition, say);
  prepareOut(flags.out, file, context);
  if (registry) {
    // Before a build that may take minutes: the registry answers and takes the credentials for push.
    await registry.preflight();
    log(`${registry.ref.host}/${registry.ref.repo}: the registry answers and allows the push (checked before building)`);
  }
  const archive = join(flags.out, `${base}.oci.tar`);
  const releaseArchive = join(flags.out, `${base}.release.oci.tar`);
  // The build first (it also fetches the pinned .debs); under --verify it starts from an empty cache too.
  // Its archive, like every file of the release, is put in place only once the release is pushed (or there
  // is nothing to push): a refused or failed release leaves the previous release's files as they were.
  const built = staged.reserve(archive);
  await build(file, built, flags, store, !flags.cache || flags.verify === true);
  signal?.throwIfAborted();
  const inputs = await inputsOf(file, source, context, store, say);
  const release = await assemble(built, inputs, archive);
  signal?.throwIfAborted();
  await staged.write(releaseArchive, layoutArchive(release.index, release.blobs));
  for (const p of release.platforms) {
    const stem = join(flags.out, `${base}.${p.platform.replace(/\//g, "-")}`);
    await staged.write(`${stem}.spdx.json`, JSON.stringify(p.sbom, null, 2) + "\n");
    await staged.write(`${stem}.cdx.json`, JSON.stringify(p.cyclonedx, null, 2) + "\n");
    await staged.write(`${stem}.provenance.json`, JSON.stringify(p.provenance, null, 2) + "\n");
    log(`${p.platform}: ${p.manifest.digest}; status.d: ${Object.entries(p.statusd).map(([n, v]) => `${n} ${v}`).join(", ") || "none"}`);
  }
  log(`release index ${release.index.digest}`);

  if (flags.verify) {
    log("verify: building again from an empty cache");
    const rebuilt = join(flags.out, `${base}.verify.oci.tar`);
    const rebuiltTmp = staged.reserve(rebuilt);
    await build(file, rebuiltTmp, flags, store, true);
    signal?.throwIfAborted();
    const again = await assemble(rebuiltTmp, inputs, rebuilt);
    const second = join(flags.out, `${base}.verify.release.oci.tar`);
    await staged.write(second, layoutArchive(again.index, again.blobs));
    const diff = await compareReleases(release, again);
    if (diff) {
      // Nothing is pushed; both releases are kept for diffoscope.
      log(wroteLine(flags.out, await staged.commit()));
      throw new ReleaseFailed(
        `not reproducible: index ${release.index.digest} then ${again.index.digest}; first difference: ${diff}. ` +
          `To see how they differ: diffoscope ${releaseArchive} ${second} (Debian's diffoscope); nothing was pushed`,
      );
    }
    log(`reproducible: two builds from empty caches gave the same index ${release.index.digest}`);
    // The second build's files are kept only when the two differ; those of an earlier such run go too.
    for (const f of [rebuilt, second]) {
      staged.drop(f);
      rmSync(f, { force: true });
    }
  }

  if (registry) await pushRelease(registry, release, { ...inputs.tags, ...(flags.force ? { force: true } : {}), log });
  log(wroteLine(flags.out, await staged.commit()));
}

export function registerReleaseCommand(cli: Command, failed: () => Error): void {
  cli
    .command("release")
    .summary("build every platform, attach SBOM and provenance, and push one index with its tags")
    .description(
      "Build a definition for every platform it lists into an OCI archive, then make the release: layers normalised (every entry dated at " +
        "SOURCE_DATE_EPOCH=0), a dpkg status.d entry for each Debian package whose files ship, and per platform an SPDX 2.3 SBOM and SLSA v1 " +
        "provenance attached as attestation manifests (as BuildKit does). The archive, the release archive, SBOMs (SPDX, and CycloneDX 1.5 of the same facts) and provenance are put in place together only when the release succeeds (pushed, or with --verify alone, reproduced). " +
        "--to pushes the index and tags it with the version, major.minor, major and latest; a version tag is never moved to another digest " +
        "unless --force. Credentials: CAISSON_REGISTRY_USER and CAISSON_REGISTRY_PASSWORD, else docker's config.json ($DOCKER_CONFIG). " +
        "A registry's own CA: /etc/docker/certs.d/<host:port>/*.crt (docker's rule) or --ca-cert.",
    )
    .argument("<file>", "definition file (YAML, JSON or CUE; a directory is a CUE package), e.g. images/redis/image.yaml")
    .option("--to <registry/repo>", "push there, e.g. 127.0.0.1:5000/caisson/redis")
    .option("--verify", "build twice from empty caches and fail unless the index digests are equal (naming the first differing file)")
    .option("--force", "move an existing version tag to this release's digest")
    .option("--ca-cert <file>", "trust this CA (PEM) for the registry, besides the system's and certs.d's")
    .option("--out <dir>", "where the archives, SBOMs and provenance go", "out")
    .option("--context <dir>", "build context root: imports and local sources are relative to it", ".")
    .addOption(new Option("--source-store <dir>", "folder of source files named by sha256").default(defaultSourceStore(), "$CAISSON_SOURCE_STORE or /var/cache/caisson/sources"))
    .addOption(new Option("--progress <mode>", "BuildKit progress display").choices(["auto", "plain", "tty", "json", "quiet"]).default("auto"))
    .option("--no-cache", "build from an empty cache")
    .addHelpText(
      "after",
      `
Examples:
  caisson release images/redis/image.yaml --to 127.0.0.1:5000/caisson/redis
  caisson release images/redis/image.yaml --verify`,
    )
    .action(async (file: string, opts: ReleaseFlags) => {
      // Under --progress json every line on stderr is one JSON object, as for `caisson build`.
      const json = opts.progress === "json";
      const say = (type: string, message: string) => void process.stderr.write(json ? JSON.stringify({ type, message }) + "\n" : `caisson: ${type === "error" ? "release failed: " : ""}${message}\n`);
      // Ctrl-C / SIGTERM: cancel what is in flight, remove what is half-written, exit 130 / 143.
      const interrupt = new AbortController();
      const staged = new Staged();
      let code = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        if (code !== 0) {
          staged.discard();
          process.exit(code); // a second signal: stop now
        }
        code = sig === "SIGINT" ? 130 : 143;
        interrupt.abort(new Error(`interrupted (${sig})`));
        // Whatever does not notice the cancellation is not waited for long.
        setTimeout(() => {
          staged.discard();
          say("error", `interrupted (${sig}); nothing was tagged and nothing half-written is left`);
          process.exit(code);
        }, 5000).unref();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      try {
        await releaseCommand(file, opts, (l) => say("log", l), interrupt.signal, staged);
      } catch (e) {
        if (code !== 0) {
          say("error", `interrupted; nothing was tagged and nothing half-written is left`);
          throw new ExitStatus(code);
        }
        if (e instanceof ReleaseFailed || e instanceof RegistryError) {
          say("error", e.message);
          throw failed();
        }
        if (json && e instanceof UsageError) {
          process.stderr.write(JSON.stringify({ type: "error", usage: true, message: e.message }) + "\n");
          throw new ExitStatus(2);
        }
        throw e;
      } finally {
        staged.discard();
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
