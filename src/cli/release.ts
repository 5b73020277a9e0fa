// `caisson release`: build every platform into an OCI archive (whichever
// build path `caisson build` uses), make it a release — layers normalised,
// dpkg status.d, an SPDX SBOM and SLSA provenance per platform attached as
// attestation manifests — write the SBOMs beside the archive, and push the
// index with its tags. `--verify` builds twice from empty caches and
// compares the index digests.
import { readFile } from "node:fs/promises";
import { existsSync, mkdirSync } from "node:fs";
import { createHash } from "node:crypto";
import { join, relative, resolve } from "node:path";
import type { Command } from "commander";
import { Option } from "commander";
import { compileDefinition, hostPlatform } from "../compile/index.js";
import { caissonVersion } from "../engine/index.js";
import { formatPlatform } from "../llb/index.js";
import { lockPathFor, parseLockfile } from "../lock/index.js";
import { dpkgArch } from "../platform/index.js";
import { DebianError, fetchDebs, readArchives, type DebPin } from "../debian/index.js";
import { checkDefinition } from "../validate/index.js";
import { hasErrors } from "../diag/index.js";
import type { ImageDefinition, Stage } from "../model/index.js";
import { resolveImports } from "../resolve/index.js";
import {
  assembleRelease,
  compareReleases,
  findCredentials,
  layoutArchive,
  parseRepoRef,
  pushRelease,
  readDebContents,
  readLayout,
  readPatches,
  releaseTags,
  Registry,
  RegistryError,
  type Dependency,
  type Release,
  type ReleaseInputs,
} from "../release/index.js";
import { buildCommand, contextDir, defaultSourceStore } from "./build.js";
import { frozenDefault, readLockBeside } from "./lock.js";
import { readContextFile, readText, report, UsageError, writeAtomic } from "./io.js";

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
  readonly progress: "auto" | "plain" | "tty" | "quiet";
  readonly cache: boolean;
}

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

/** The sources a stage builds from: what it copies, mounts and patches from, and its `from` stage's, transitively. */
function stageSources(def: ImageDefinition, stage: Stage, seen = new Set<string>()): string[] {
  if (seen.has(stage.name)) return [];
  seen.add(stage.name);
  const names = new Set(def.sources.map((s) => s.name));
  const out = new Set<string>();
  for (const c of stage.copy) if (c.fromKind === "source") out.add(c.from);
  for (const p of stage.patches) out.add(p.from);
  for (const m of stage.mounts) if (m.kind === "bind" && m.fromKind === "source" && names.has(m.from)) out.add(m.from);
  const parents = [
    stage.from.kind === "stage" ? stage.from.name : undefined,
    ...stage.copy.filter((c) => c.fromKind === "stage").map((c) => c.from),
    ...stage.mounts.flatMap((m) => (m.kind === "bind" && m.fromKind === "stage" ? [m.from] : [])),
  ];
  for (const p of parents) {
    const s = def.stages.find((x) => x.name === p);
    if (s) for (const n of stageSources(def, s, seen)) out.add(n);
  }
  return [...out];
}

/** What the release records besides the image: sources, patches, pinned .debs, materials. */
export async function releaseInputs(file: string, context: string, store: string): Promise<ReleaseInputs & { tags: ReturnType<typeof releaseTags> }> {
  const text = await readText(file);
  const { lock, lockPath } = await readLockBeside(file);
  const compiled = await compileDefinition(file, text, {
    buildPlatform: hostPlatform(),
    ...(lock ? { lock } : {}),
    lockPath,
    frozen: frozenDefault(undefined),
    readContext: (path) => readContextFile(context, path),
    sourceMirror: "http://127.0.0.1",
  });
  if (report(compiled.diagnostics, new Map(compiled.texts), "text") || !compiled.definition) throw new UsageError(`${file}: the definition has errors (above)`);
  const def = compiled.definition;
  const imported = [...(await resolveImports(def, (path) => readContextFile(context, path))).definitions];
  const defs = [def, ...imported.map(([, d]) => d)];
  // The packages of the base images the stages start from: a base bootstrapped here
  // (images/<name>/, a bootstrap lockfile) is a function of its pins, so they are what it holds.
  const buildArch = dpkgArch(hostPlatform());
  const basePins: DebPin[] = [];
  for (const ref of new Set(defs.flatMap((d) => d.stages.flatMap((s) => (s.from.kind === "image" ? [s.from.ref] : []))))) {
    const name = /\/([a-z0-9._-]+)(?::[^/@]+)?@sha256:/.exec(ref)?.[1];
    const lt = name ? await readContextFile(context, `images/${name}/image.lock.json`).catch(() => undefined) : undefined;
    if (lt === undefined) continue;
    basePins.push(...(parseLockfile(lt, `images/${name}/image.lock.json`).debian?.[`rootfs/${buildArch}`]?.packages ?? []));
  }
  const debPins = [...new Map([...basePins, ...(compiled.debPins ?? [])].map((p) => [p.sha256, p])).values()];
  // Only libraries can ship from a package (copied with `libraries: true`): open those .debs.
  const candidates = debPins.filter((p) => p.name.startsWith("lib") && p.arch !== "all");
  const sources = new Map<string, ReleaseInputs["sources"][number]>();
  for (const d of defs) {
    for (const s of d.sources) {
      if (sources.has(s.name)) continue;
      if (s.kind === "http") sources.set(s.name, { name: s.name, sha256: s.sha256, filename: s.filename, ...(s.url ? { url: s.url } : {}), ...(s.debian ? { debian: s.debian } : {}) });
      else if (s.kind === "git") sources.set(s.name, { name: s.name, git: { url: s.url, commit: s.commit } });
      else sources.set(s.name, { name: s.name });
    }
  }
  const rel = (p: string) => relative(context, resolve(context, p));
  const materials: Dependency[] = [{ name: rel(file), uri: `file:${rel(file)}`, sha256: sha256(text) }];
  if (existsSync(lockPath)) materials.push({ name: rel(lockPath), uri: `file:${rel(lockPath)}`, sha256: sha256(await readFile(lockPath)) });
  const builder: Dependency[] = [];
  // An imported definition that stages start from is the builder image: its definition and lockfile.
  const builderImports = new Set(def.stages.flatMap((s) => (s.from.kind === "import" ? [def.imports.find((i) => i.name === (s.from as { name: string }).name)?.path] : [])));
  for (const [path] of imported) {
    const into = builderImports.has(path) ? builder : materials;
    into.push({ name: path, uri: `file:${path}`, sha256: sha256(await readContextFile(context, path)) });
    const lp = lockPathFor(path);
    const lt = await readContextFile(context, lp).catch(() => undefined);
    if (lt !== undefined) into.push({ name: lp, uri: `file:${lp}`, sha256: sha256(lt) });
  }
  for (const d of defs) {
    for (const s of d.stages) {
      if (s.from.kind !== "image") continue;
      const m = /@sha256:([0-9a-f]{64})$/.exec(s.from.ref);
      if (m) builder.push({ name: s.from.ref, uri: `docker://${s.from.ref}`, sha256: m[1] as string });
    }
    for (const s of d.sources) {
      if (s.kind === "http") materials.push({ name: `source ${s.name}`, ...(s.url ? { uri: s.url } : {}), sha256: s.sha256 });
    }
  }
  return {
    tags: releaseTags(def),
    name: def.name,
    version: def.version ?? "latest",
    definition: rel(file),
    sourceDateEpoch: SOURCE_DATE_EPOCH,
    caissonVersion: caissonVersion(),
    buildPlatform: formatPlatform(hostPlatform()),
    sources: [...sources.values()],
    patches: await readPatches(defs, store),
    debPins,
    debs: await readDebContents(store, await fetchCandidates(candidates, store)),
    copies: def.image.copy.filter((c) => c.fromKind === "stage").map((c) => {
      const stage = def.stages.find((s) => s.name === c.from);
      return { dest: c.dest, stage: c.from, sources: stage ? stageSources(def, stage) : [], libraries: c.libraries };
    }),
    materials,
    builder,
  };
}

/** The .debs whose files may ship, into the store (a no-op for those it has, each checked by sha256). */
async function fetchCandidates(pins: readonly DebPin[], store: string): Promise<DebPin[]> {
  try {
    await fetchDebs(pins, { store, archives: await readArchives(), log: (line) => process.stderr.write(`caisson: ${line}\n`) });
  } catch (e) {
    if (e instanceof DebianError) throw new ReleaseFailed(`the pinned Debian packages the SBOM and status.d are made from: ${e.message}`);
    throw e;
  }
  return [...pins];
}

/** Builds into `archive` and makes the release of it. */
async function build(file: string, archive: string, flags: ReleaseFlags, store: string, noCache: boolean): Promise<void> {
  const ok = await buildCommand(
    file,
    { output: [`oci=${archive}`], context: flags.context, progress: flags.progress, sourceStore: store, ...(noCache ? { noCache: true } : {}) },
    (diagnostics, texts) => report(diagnostics, texts, "text"),
  );
  if (!ok) throw new ReleaseFailed(`the build of ${file} failed (above); nothing was released`);
}

/** The release of the archive a build wrote. */
async function assemble(archive: string, inputs: ReleaseInputs): Promise<Release> {
  try {
    return await assembleRelease(await readLayout(archive), inputs);
  } catch (e) {
    throw new ReleaseFailed(`cannot make the release of ${archive}: ${(e as Error).message}`);
  }
}

export class ReleaseFailed extends Error {
  override readonly name = "ReleaseFailed";
}

/** Runs `caisson release`; throws ReleaseFailed / UsageError. */
export async function releaseCommand(file: string, flags: ReleaseFlags, log: (line: string) => void): Promise<void> {
  if (!flags.to && !flags.verify) throw new UsageError("give --to REGISTRY/REPO to push, or --verify to check that the release reproduces (or both)");
  let ref;
  try {
    ref = flags.to ? parseRepoRef(flags.to) : undefined;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const context = contextDir(flags.context);
  const store = flags.sourceStore ?? defaultSourceStore() ?? join(process.env["CAISSON_CACHE"] ?? "/var/cache/caisson", "sources");
  const text = await readText(file);
  const checked = checkDefinition(file, text);
  if (!checked.definition || hasErrors(checked.diagnostics)) {
    report(checked.diagnostics, new Map([[file, text]]), "text");
    throw new ReleaseFailed(`${file} is not a valid definition (above); nothing was built`);
  }
  const base = `${checked.definition.name}-${checked.definition.version ?? "latest"}`;
  mkdirSync(flags.out, { recursive: true });
  const archive = join(flags.out, `${base}.oci.tar`);
  // The build first (it also fetches the pinned .debs); under --verify it starts from an empty cache too.
  await build(file, archive, flags, store, !flags.cache || flags.verify === true);
  const inputs = await releaseInputs(file, context, store);
  const release = await assemble(archive, inputs);
  await writeAtomic(join(flags.out, `${base}.release.oci.tar`), layoutArchive(release.index, release.blobs));
  for (const p of release.platforms) {
    const stem = join(flags.out, `${base}.${p.platform.replace(/\//g, "-")}`);
    await writeAtomic(`${stem}.spdx.json`, JSON.stringify(p.sbom, null, 2) + "\n");
    await writeAtomic(`${stem}.provenance.json`, JSON.stringify(p.provenance, null, 2) + "\n");
    log(`${p.platform}: ${p.manifest.digest}; SBOM ${stem}.spdx.json; status.d: ${Object.entries(p.statusd).map(([n, v]) => `${n} ${v}`).join(", ") || "none"}`);
  }
  log(`release index ${release.index.digest} (${join(flags.out, `${base}.release.oci.tar`)})`);

  if (flags.verify) {
    log("verify: building again from an empty cache");
    const rebuilt = join(flags.out, `${base}.verify.oci.tar`);
    await build(file, rebuilt, flags, store, true);
    const again = await assemble(rebuilt, inputs);
    const second = join(flags.out, `${base}.verify.release.oci.tar`);
    await writeAtomic(second, layoutArchive(again.index, again.blobs));
    const diff = await compareReleases(release, again);
    if (diff) {
      throw new ReleaseFailed(
        `not reproducible: index ${release.index.digest} then ${again.index.digest}; first difference: ${diff}. ` +
          `To see how they differ: diffoscope ${join(flags.out, `${base}.release.oci.tar`)} ${second} (Debian's diffoscope)`,
      );
    }
    log(`reproducible: two builds from empty caches gave the same index ${release.index.digest}`);
  }

  if (ref) {
    const registry = new Registry(ref, {
      ...(() => {
        const c = findCredentials(ref.host);
        return c ? { credentials: c } : {};
      })(),
      ...(flags.caCert ? { ca: await readFile(flags.caCert, "utf8").catch((e: Error) => { throw new UsageError(`--ca-cert ${flags.caCert}: ${e.message}`); }) } : {}),
    });
    await pushRelease(registry, release, { ...inputs.tags, ...(flags.force ? { force: true } : {}), log });
  }
}

export function registerReleaseCommand(cli: Command, failed: () => Error): void {
  cli
    .command("release")
    .summary("build every platform, attach SBOM and provenance, and push one index with its tags")
    .description(
      "Build a definition for every platform it lists into an OCI archive, then make the release: layers normalised (every entry dated at " +
        "SOURCE_DATE_EPOCH=0), a dpkg status.d entry for each Debian package whose files ship, and per platform an SPDX 2.3 SBOM and SLSA v1 " +
        "provenance attached as attestation manifests (as BuildKit does). The SBOMs and provenance are also written beside the archive. " +
        "--to pushes the index and tags it with the version, major.minor, major and latest; a version tag is never moved to another digest " +
        "unless --force. Credentials: CAISSON_REGISTRY_USER and CAISSON_REGISTRY_PASSWORD, else docker's config.json ($DOCKER_CONFIG). " +
        "A registry's own CA: /etc/docker/certs.d/<host:port>/*.crt (docker's rule) or --ca-cert.",
    )
    .argument("<file>", "definition file, e.g. images/redis/image.yaml")
    .option("--to <registry/repo>", "push there, e.g. 127.0.0.1:5000/caisson/redis")
    .option("--verify", "build twice from empty caches and fail unless the index digests are equal (naming the first differing file)")
    .option("--force", "move an existing version tag to this release's digest")
    .option("--ca-cert <file>", "trust this CA (PEM) for the registry, besides the system's and certs.d's")
    .option("--out <dir>", "where the archives, SBOMs and provenance go", "out")
    .option("--context <dir>", "build context root: imports and local sources are relative to it", ".")
    .addOption(new Option("--source-store <dir>", "folder of source files named by sha256").default(defaultSourceStore(), "$CAISSON_SOURCE_STORE or /var/cache/caisson/sources"))
    .addOption(new Option("--progress <mode>", "BuildKit progress display").choices(["auto", "plain", "tty", "quiet"]).default("auto"))
    .option("--no-cache", "build from an empty cache")
    .addHelpText(
      "after",
      `
Examples:
  caisson release images/redis/image.yaml --to 127.0.0.1:5000/caisson/redis
  caisson release images/redis/image.yaml --verify`,
    )
    .action(async (file: string, opts: ReleaseFlags) => {
      try {
        await releaseCommand(file, opts, (l) => process.stderr.write(`caisson: ${l}\n`));
      } catch (e) {
        if (e instanceof ReleaseFailed || e instanceof RegistryError) {
          process.stderr.write(`caisson: release failed: ${e.message}\n`);
          throw failed();
        }
        throw e;
      }
    });
}
