// What a release records besides the image, from the compiled definition:
// its sources, patches and their CVE ids, every pinned .deb of the build
// stages (and of a base image bootstrapped here), the .debs libraries may
// have been copied from (opened), what the image copies from which stage,
// and the digests provenance names.
import { createHash } from "node:crypto";
import { fetchDebs, readArchives, type DebPin } from "../debian/index.js";
import { formatPlatform } from "../llb/index.js";
import { lockPathFor, parseLockfile } from "../lock/index.js";
import type { ImageDefinition, Platform, Stage } from "../model/index.js";
import type { Lockfile } from "../lock/index.js";
import { dpkgArch } from "../platform/index.js";
import { resolveImports } from "../resolve/index.js";
import type { ReleaseInputs } from "./assemble.js";
import { readDebContents } from "./debs.js";
import { readPatches } from "./patches.js";
import type { Dependency } from "./provenance.js";

export interface InputsOptions {
  /** The definition file, relative to the build context. */
  readonly file: string;
  readonly text: string;
  /** Its lockfile, when it has one (path relative to the build context). */
  readonly lock?: { readonly path: string; readonly text: string };
  /** The definition with its pins applied (what was compiled). */
  readonly definition: ImageDefinition;
  /** Every .deb the build stages install (the compile result's pins). */
  readonly debPins: readonly DebPin[];
  /** Reads a file of the build context. */
  readonly read: (path: string) => Promise<string>;
  /** Reads a file of caisson's own tree: the lockfiles of its bootstrapped base images (caisson/<name> → images/<name>/image.lock.json), for a context that does not have them. */
  readonly readOwn?: (path: string) => Promise<string>;
  /** The sha256 source store (.debs, Debian source files). */
  readonly store: string;
  readonly buildPlatform: Platform;
  readonly caissonVersion: string;
  readonly sourceDateEpoch: number;
  readonly log?: (line: string) => void;
}

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

/**
 * A fetched source as provenance names it: its URL; a file of a Debian source
 * package (which has no URL of its own) by the package's purl (`arch=source`)
 * and its file name.
 */
export function sourceMaterial(s: Extract<ImageDefinition["sources"][number], { kind: "http" }>): Dependency {
  if (s.url) return { name: `source ${s.name}`, uri: s.url, sha256: s.sha256 };
  const eq = s.debian?.indexOf("=") ?? -1;
  if (s.debian && eq > 0) {
    const [pkg, version] = [s.debian.slice(0, eq), s.debian.slice(eq + 1)];
    const uri = `pkg:deb/debian/${encodeURIComponent(pkg)}@${encodeURIComponent(version)}?arch=source`;
    return { name: `source ${s.name}: ${s.filename} of Debian source package ${s.debian}`, uri, sha256: s.sha256 };
  }
  return { name: `source ${s.name}: ${s.filename}`, sha256: s.sha256 };
}

/** The sources a stage builds from: what it copies, mounts and patches from, and its `from` stage's, transitively. */
export function stageSources(def: ImageDefinition, stage: Stage, seen = new Set<string>()): string[] {
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

/** Reads what the release records; fetches (by sha256) any library .deb the store lacks. Throws DebianError when one cannot be had. */
export async function releaseInputs(o: InputsOptions): Promise<ReleaseInputs> {
  const def = o.definition;
  const imported = [...(await resolveImports(def, o.read)).definitions];
  const defs = [def, ...imported.map(([, d]) => d)];
  // The packages of the base images the stages start from: a base bootstrapped here
  // (images/<name>/, a bootstrap lockfile) is a function of its pins, so they are what it holds.
  // A stage runs on the build platform, or on each target (`on: target`): its packages, and its
  // base's when that is bootstrapped here (images/<name>/, a bootstrap lockfile: a function of its
  // pins), are installed for that architecture. What only the stages on another target install is
  // not part of this target's build (byTarget).
  const buildArch = dpkgArch(o.buildPlatform);
  const targetArchs = [...new Set(def.platforms.map(dpkgArch))];
  const onBuild = new Set<string>();
  const onTarget = new Map<string, Set<string>>();
  const all = new Map<string, DebPin>();
  const add = (pins: readonly DebPin[], arch: string | undefined) => {
    for (const p of pins) {
      all.set(p.sha256, p);
      if (arch === undefined) onBuild.add(p.sha256);
      else onTarget.set(p.sha256, (onTarget.get(p.sha256) ?? new Set()).add(arch));
    }
  };
  // Files ship from a package installed in a stage the image copies from (or a stage it starts
  // from), or from its base; libraries (`libraries: true`) from any package.
  const shippable = new Set<string>();
  const copied = new Set<string>();
  const visit = (name: string) => {
    const st = def.stages.find((x) => x.name === name);
    if (!st || copied.has(name)) return;
    copied.add(name);
    if (st.from.kind === "stage") visit(st.from.name);
  };
  for (const c of def.image.copy) if (c.fromKind === "stage") visit(c.from);
  const locks = new Map<string, Lockfile | undefined>();
  const baseLock = async (ref: string): Promise<Lockfile | undefined> => {
    // A pinned reference (normalised: docker.io/caisson/debian:bookworm@sha256:…): its repository's last part names the folder.
    const at = ref.indexOf("@sha256:");
    if (at < 0) return undefined;
    const repo = ref.slice(0, at).replace(/:[^/]*$/, "").replace(/^docker\.io\//, "").split("/");
    const name = repo[repo.length - 1];
    if (!name) return undefined;
    const own = repo.length === 2 && repo[0] === "caisson";
    const lockPath = `images/${name}/image.lock.json`;
    if (!locks.has(lockPath)) {
      let text = await o.read(lockPath).catch(() => undefined);
      if (text === undefined && own && o.readOwn) text = await o.readOwn(lockPath).catch(() => undefined);
      locks.set(lockPath, text === undefined ? undefined : parseLockfile(text, lockPath));
    }
    return locks.get(lockPath);
  };
  for (const [d, s] of defs.flatMap((d) => d.stages.map((s) => [d, s] as const))) {
    const ships = d === def && copied.has(s.name);
    for (const arch of s.on === "target" ? targetArchs : [undefined]) {
      const own = s.packages?.closure?.[arch ?? buildArch] ?? [];
      if (s.on === "target") add(own, arch);
      if (ships) for (const p of own) shippable.add(p.sha256);
      if (s.from.kind !== "image") continue;
      const base = (await baseLock(s.from.ref))?.debian?.[`rootfs/${arch ?? buildArch}`]?.packages ?? [];
      add(base, arch);
      if (ships) for (const p of base) shippable.add(p.sha256);
    }
  }
  add(o.debPins.filter((p) => !onTarget.has(p.sha256)), undefined);
  const debPins = [...all.values()];
  const byTarget = Object.fromEntries(targetArchs.map((a) => [a, debPins.filter((p) => onBuild.has(p.sha256) || onTarget.get(p.sha256)?.has(a))]));
  // Open the .debs whose files can ship (above) to trace shipped files to them by content.
  const candidates = debPins.filter((p) => (p.name.startsWith("lib") && p.arch !== "all") || shippable.has(p.sha256));
  await fetchDebs(candidates, { store: o.store, archives: await readArchives(), ...(o.log ? { log: o.log } : {}) });

  const sources = new Map<string, ReleaseInputs["sources"][number]>();
  for (const s of defs.flatMap((d) => d.sources)) {
    if (sources.has(s.name)) continue;
    if (s.kind === "http") sources.set(s.name, { name: s.name, sha256: s.sha256, filename: s.filename, ...(s.url ? { url: s.url } : {}), ...(s.debian ? { debian: s.debian } : {}) });
    else if (s.kind === "git") sources.set(s.name, { name: s.name, git: { url: s.url, commit: s.commit } });
    else sources.set(s.name, { name: s.name });
  }

  const materials: Dependency[] = [{ name: o.file, uri: `file:${o.file}`, sha256: sha256(o.text) }];
  if (o.lock) materials.push({ name: o.lock.path, uri: `file:${o.lock.path}`, sha256: sha256(o.lock.text) });
  const builder: Dependency[] = [];
  // An imported definition that stages start from is the builder image: its definition and lockfile.
  const builderImports = new Set(def.stages.flatMap((s) => (s.from.kind === "import" ? [def.imports.find((i) => i.name === (s.from as { name: string }).name)?.path] : [])));
  for (const [path] of imported) {
    const into = builderImports.has(path) ? builder : materials;
    into.push({ name: path, uri: `file:${path}`, sha256: sha256(await o.read(path)) });
    const lp = lockPathFor(path);
    const lt = await o.read(lp).catch(() => undefined);
    if (lt !== undefined) into.push({ name: lp, uri: `file:${lp}`, sha256: sha256(lt) });
  }
  for (const d of defs) {
    for (const s of d.stages) {
      const m = s.from.kind === "image" ? /@sha256:([0-9a-f]{64})$/.exec(s.from.ref) : null;
      if (m && s.from.kind === "image") builder.push({ name: s.from.ref, uri: `docker://${s.from.ref}`, sha256: m[1] as string });
    }
    for (const s of d.sources) if (s.kind === "http") materials.push(sourceMaterial(s));
  }

  return {
    name: def.name,
    version: def.version ?? "latest",
    definition: o.file,
    sourceDateEpoch: o.sourceDateEpoch,
    caissonVersion: o.caissonVersion,
    buildPlatform: formatPlatform(o.buildPlatform),
    sources: [...sources.values()],
    patches: await readPatches(defs, o.store),
    debPins,
    byTarget,
    debs: await readDebContents(o.store, candidates),
    sourceCopies: def.image.copy.filter((c) => c.fromKind === "source").map((c) => ({ dest: c.dest, source: c.from })),
    copies: def.image.copy
      .filter((c) => c.fromKind === "stage")
      .map((c) => {
        const stage = def.stages.find((s) => s.name === c.from);
        return { dest: c.dest, src: c.src, stage: c.from, sources: stage ? stageSources(def, stage) : [], libraries: c.libraries };
      }),
    materials,
    builder,
  };
}
