import { LineIndex, error } from "../diag/index.js";
import {
  State,
  formatPlatform,
  imageSource,
  type FileAction,
  type MountSpec as LlbMount,
  type SourceFile,
  type SourceLocation,
} from "../llb/index.js";
import { dpkgArch, type FromRef, type ImageDefinition, type Platform, type SourceSpec, type Span, type Stage } from "../model/index.js";
import { archInfo, SUPPORTED_PLATFORMS } from "../platform/index.js";
import { debUrl, installDebs } from "./debs.js";
import { runtimeImage } from "./runtime.js";
import { joinPath, sourceState, type SourceState } from "./sources.js";
import { LowerError } from "./errors.js";
import { applyPatchesScript } from "./scripts.js";
import { imageConfig, type ImageConfig } from "./image-config.js";
import { platformEnv, toolchainEnv } from "./toolchain.js";

export interface LowerOptions {
  /** Where commands run: the engine's own platform. */
  readonly buildPlatform: Platform;
  /** The platform of the image being assembled. */
  readonly target: Platform;
  /**
   * A content-addressed mirror (`<mirror>/sha256/<hex>` serves the file with
   * that hash) to download http sources from instead of their own URLs.
   */
  readonly sourceMirror?: string;
  /**
   * Debian archive name (`debian`, `debian-security`) → its URI, for the
   * pinned .deb files of `packages:` when there is no `sourceMirror`
   * (derived from the machine's apt sources by the CLI; never written in a
   * definition).
   */
  readonly debianArchives?: Readonly<Record<string, string>>;
  /** The BuildKit session local sources read from (see CompileOptions). */
  readonly localSession?: string;
  /** Imported definitions by their context-relative path (see ImageDefinition.imports). */
  readonly definitions?: ReadonlyMap<string, ImageDefinition>;
}

export { LowerError };

/** One SourceFile per definition text, so a source map lists each file once. */
const sourceFiles = new WeakMap<ImageDefinition, SourceFile>();
function sourceFileOf(def: ImageDefinition): SourceFile {
  let f = sourceFiles.get(def);
  if (!f) {
    f = { filename: def.file, data: new TextEncoder().encode(def.text), language: "yaml" };
    sourceFiles.set(def, f);
  }
  return f;
}

export interface LoweredImage {
  readonly platform: Platform;
  readonly state: State;
  readonly config: ImageConfig;
  /** Stages that run under emulation for this target (`on: target` on a foreign platform). */
  readonly emulated: readonly string[];
}

/** The PATH every stage's commands get (LLB applies no image config). */
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const TARGET_VARS = /\$\{?TARGET(PLATFORM|OS|ARCH|VARIANT)\b/;


/**
 * Lowers a validated definition to the LLB graph of its runtime image for
 * one target platform. Pure: the same definition and options give the same
 * graph. Stages that do not depend on the target lower to the same ops for
 * every target, so BuildKit builds them once.
 */
export function lowerImage(def: ImageDefinition, opts: LowerOptions): LoweredImage {
  const { buildPlatform: build, target } = opts;
  for (const [p, what] of [[build, "build"], [target, "target"]] as const) {
    if (archInfo(p) === undefined) {
      throw new LowerError(
        error("invalid_platform", `cannot build on or for ${formatPlatform(p)} (the ${what} platform): caisson has no toolchain for it`, { file: def.file, start: 0, end: 0 }, {
          hint: `supported: ${SUPPORTED_PLATFORMS.join(", ")}`,
        }),
      );
    }
  }
  const lines = new LineIndex(def.text);
  const file = sourceFileOf(def);
  const at = (span: Span): SourceLocation[] => {
    const s = lines.position(span.start);
    const e = lines.position(span.end);
    return [{ file, start: { line: s.line, character: s.character }, end: { line: e.line, character: e.character } }];
  };

  const stagesByName = new Map(def.stages.map((s) => [s.name, s]));
  const sourcesByName = new Map(def.sources.map((s) => [s.name, s]));
  const emulated: string[] = [];

  // Which stages see the target: a toolchain, emulation, a TARGET* variable, or a dependency that does.
  const dependsOnTarget = new Map<string, boolean>();
  const targetDependent = (stage: Stage): boolean => {
    const known = dependsOnTarget.get(stage.name);
    if (known !== undefined) return known;
    dependsOnTarget.set(stage.name, false);
    const uses =
      stage.toolchain !== undefined ||
      stage.on === "target" ||
      stage.run.some((r) => TARGET_VARS.test(r.value)) ||
      stage.env.some(([, v]) => TARGET_VARS.test(v)) ||
      (stage.from.kind === "stage" && targetDependent(stagesByName.get(stage.from.name) as Stage)) ||
      stage.mounts.some((m) => m.kind === "bind" && m.fromKind === "stage" && targetDependent(stagesByName.get(m.from) as Stage)) ||
      stage.copy.some((c) => c.fromKind === "stage" && targetDependent(stagesByName.get(c.from) as Stage));
    dependsOnTarget.set(stage.name, uses);
    return uses;
  };

  const sourceStates = new Map<string, SourceState>();
  const lowerSource = (src: SourceSpec): SourceState => {
    const done = sourceStates.get(src.name);
    if (done) return done;
    const result = sourceState(src, { sourceMirror: opts.sourceMirror, localSession: opts.localSession, at });
    sourceStates.set(src.name, result);
    return result;
  };

  const fromState = (from: FromRef, platform: Platform): State => {
    switch (from.kind) {
      case "scratch":
        return State.scratch();
      case "image":
        // resolvemode=local: an image loaded into the engine is found by name, and the frontend
        // resolves digest-pinned ones by tag first (docs/engine.md, "Images from `docker load`, pinned by digest").
        return State.of(imageSource(from.ref, { platform, resolveMode: "local", customName: `image ${from.ref}`, locations: at(from.span) }));
      case "stage":
        return lowerStage(stagesByName.get(from.name) as Stage);
      case "import": {
        const imp = def.imports.find((i) => i.name === from.name);
        const imported = imp && opts.definitions?.get(imp.path);
        if (!imp || !imported) {
          throw new LowerError(error("unresolved_import", `import "${from.name}" was not resolved`, from.span, {
            hint: "compile through the CLI or the frontend, which read imported definitions from the build context",
          }));
        }
        // The imported image, built for the platform this stage runs on.
        return lowerImage(imported, { ...opts, target: platform }).state;
      }
    }
  };

  const stageStates = new Map<string, State>();
  const lowerStage = (stage: Stage): State => {
    const done = stageStates.get(stage.name);
    if (done) return done;
    const forTarget = targetDependent(stage);
    const runsOn = stage.on === "target" ? target : build;
    if (stage.on === "target" && formatPlatform(target) !== formatPlatform(build)) emulated.push(stage.name);
    const label = forTarget ? `[${formatPlatform(target)}] ${stage.name}` : stage.name;

    let state = fromState(stage.from, runsOn).withPlatform(runsOn).withDir(stage.workdir);

    if (stage.packages) {
      // Debian packages first, as root and without a network: exactly the pinned .deb files, fetched by sha256.
      const arch = dpkgArch(runsOn);
      const list = stage.packages.byBuildArch ? stage.packages.byBuildArch[arch] : stage.packages.all;
      if (list === undefined) {
        const listed = Object.keys(stage.packages.byBuildArch ?? {});
        throw new LowerError(
          error("no_packages_for_build_arch", `stage "${stage.name}" lists packages for ${listed.join(", ")}, not for ${arch}, where it runs now`, stage.packages.span, {
            hint: `add packages for ${arch}, or build on ${listed.join(" or ")}`,
          }),
        );
      }
      if (list.length > 0) {
        const pins = stage.packages.closure?.[arch];
        if (pins === undefined) {
          const listForm = stage.packages.byBuildArch === undefined;
          const pinnedFor = new Set(def.platforms.map(dpkgArch));
          throw new LowerError(error("unpinned_package", `stage "${stage.name}": the Debian packages for builds on ${arch} are not pinned by content`, stage.packages.span, {
            hint:
              listForm && !pinnedFor.has(arch)
                ? `the list form is pinned for the architectures of the definition's platforms (${[...pinnedFor].join(", ")}): build there, add linux/${arch} to platforms, or use the map form with an ${arch} list; then run \`caisson lock ${def.file}\``
                : `run \`caisson lock ${def.file}\`: it pins every .deb of their closure by sha256 in the lockfile`,
          }));
        }
        const span = stage.packages.span;
        // An empty closure: everything asked for is in the base already.
        if (pins.length > 0) {
          // Before the stage's own environment: maintainer scripts see none of it, and the
          // install step is the same whatever the target or the stage's env.
          const installed = installDebs(state.withEnv("PATH", DEFAULT_PATH), pins, arch, {
            customName: `${label}: install ${list.length} Debian package${list.length === 1 ? "" : "s"} (${pins.length} .deb pinned by sha256)`,
            locations: at(span),
            url: (pin) => debUrl(pin, opts, stage.name, span),
          });
          // Later steps keep the settings the stage had (e.g. a user inherited from its `from` stage).
          state = state.withOutput(installed.output);
        }
      }
    }
    const env: [string, string][] = [["PATH", DEFAULT_PATH], ...platformEnv(build, target, forTarget)];
    if (stage.toolchain) env.push(...toolchainEnv(stage.toolchain.hardening, runsOn, target));
    env.push(...stage.env.map(([k, v]) => [k, v] as [string, string]));
    for (const [k, v] of env) state = state.withEnv(k, v);
    state = state.withNetwork(stage.network);
    if (stage.user !== undefined) state = state.withUser(stage.user);

    const mounts: LlbMount[] = stage.mounts.map((m): LlbMount => {
      switch (m.kind) {
        case "bind": {
          const from =
            m.fromKind === "source"
              ? lowerSource(sourcesByName.get(m.from) as SourceSpec)
              : { state: lowerStage(stagesByName.get(m.from) as Stage), root: "/" };
          const selector = joinPath(from.root, m.path);
          return {
            type: "bind",
            dest: m.dest,
            ...(from.state.output ? { source: from.state.output } : {}),
            ...(selector !== "/" ? { selector } : {}),
            readonly: m.readonly,
          };
        }
        case "cache":
          return { type: "cache", dest: m.dest, id: m.id, sharing: m.sharing };
        case "tmpfs":
          return { type: "tmpfs", dest: m.dest };
      }
    });

    if (stage.copy.length > 0) {
      state = state.file(
        stage.copy.map((c): FileAction => {
          const from =
            c.fromKind === "source"
              ? lowerSource(sourcesByName.get(c.from) as SourceSpec)
              : { state: lowerStage(stagesByName.get(c.from) as Stage), root: "/" };
          return {
            kind: "copy",
            source: from.state.output,
            src: joinPath(from.root, c.src),
            dest: c.dest,
            dirCopyContents: true,
            createDestPath: true,
            followSymlink: true,
          };
        }),
        { customName: `${label}: copy ${stage.copy.map((c) => `${c.from}:${c.src}`).join(", ")}`, locations: at(stage.span) },
      );
    }

    if (stage.patches.length > 0) {
      // Each patch source is mounted read-only; every file is checked against its sha256, then applied in order.
      const patchMounts: LlbMount[] = [];
      const mountOf = new Map<string, string>();
      for (const p of stage.patches) {
        if (mountOf.has(p.from)) continue;
        const src = lowerSource(sourcesByName.get(p.from) as SourceSpec);
        const dest = `/caisson/patches/${p.from}`;
        mountOf.set(p.from, dest);
        patchMounts.push({ type: "bind", dest, ...(src.state.output ? { source: src.state.output } : {}), ...(src.root !== "/" ? { selector: src.root } : {}), readonly: true });
      }
      const script = applyPatchesScript(stage.patches, (p) => `${mountOf.get(p.from)}${p.path}`);
      state = state.run(["/bin/sh", "-c", script], {
        mounts: patchMounts,
        customName: `${label}: apply ${stage.patches.length} patch${stage.patches.length === 1 ? "" : "es"}`,
        locations: at(stage.patches[0]!.span),
      });
    }

    stage.run.forEach((cmd, i) => {
      const summary = cmd.value.length > 60 ? cmd.value.slice(0, 57) + "..." : cmd.value;
      state = state.run(["/bin/sh", "-c", cmd.value], {
        mounts,
        customName: `${label} ${i + 1}/${stage.run.length}: ${summary}`,
        locations: at(cmd.span),
      });
    });
    stageStates.set(stage.name, state);
    return state;
  };

  // Stages are lowered dependencies first, so the recursive helpers above only ever find
  // their dependencies done: a chain of stages as long as the input allows cannot overflow the stack.
  const img = def.image;
  const order = dependencyOrder(def);
  for (const stage of order) targetDependent(stage);
  const needed = new Set<string>([...(img.from.kind === "stage" ? [img.from.name] : []), ...img.copy.filter((c) => c.fromKind === "stage").map((c) => c.from)]);
  for (const stage of [...order].reverse()) if (needed.has(stage.name)) for (const d of stageDeps(stage)) needed.add(d);
  for (const stage of order) if (needed.has(stage.name)) lowerStage(stage);

  // The runtime image: file operations only, so nothing runs for the target.
  const state = runtimeImage(def, target, fromState(img.from, target), {
    at,
    source: (name) => lowerSource(sourcesByName.get(name) as SourceSpec),
    stage: (name) => lowerStage(stagesByName.get(name) as Stage),
    stageSpan: (name) => (stagesByName.get(name) as Stage).span,
  });
  const emulatedInOrder = def.stages.filter((st) => emulated.includes(st.name)).map((st) => st.name);
  return { platform: target, state, config: imageConfig(def, target), emulated: emulatedInOrder };
}

/** The stages a stage depends on: its `from`, its bind mounts and its copies. */
function stageDeps(stage: Stage): string[] {
  return [
    ...(stage.from.kind === "stage" ? [stage.from.name] : []),
    ...stage.mounts.flatMap((m) => (m.kind === "bind" && m.fromKind === "stage" ? [m.from] : [])),
    ...stage.copy.flatMap((c) => (c.fromKind === "stage" ? [c.from] : [])),
  ];
}

/** Every stage after the stages it depends on (validate guarantees there is no cycle); iterative. */
function dependencyOrder(def: ImageDefinition): Stage[] {
  const byName = new Map(def.stages.map((s) => [s.name, s]));
  const done = new Set<string>();
  const out: Stage[] = [];
  for (const root of def.stages) {
    if (done.has(root.name)) continue;
    const frames: { stage: Stage; deps: string[]; next: number }[] = [{ stage: root, deps: stageDeps(root), next: 0 }];
    const open = new Set<string>([root.name]);
    while (frames.length > 0) {
      const f = frames[frames.length - 1]!;
      const dep = f.deps[f.next++];
      if (dep === undefined) {
        frames.pop();
        open.delete(f.stage.name);
        done.add(f.stage.name);
        out.push(f.stage);
        continue;
      }
      const s = byName.get(dep);
      if (!s || done.has(dep) || open.has(dep)) continue;
      open.add(dep);
      frames.push({ stage: s, deps: stageDeps(s), next: 0 });
    }
  }
  return out;
}
