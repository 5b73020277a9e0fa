// Applying a lockfile to a validated definition: every moving reference
// (ImageDefinition.moving) gets its pin, or a diagnostic saying it has none
// and how to get one. Pure.
import { error, warning, type Diagnostic } from "../diag/index.js";
import type { DebPin, FromRef, ImageDefinition, MovingRef, SourceSpec, Stage } from "../model/index.js";
import { debianKey, gitKey, lockPathFor, type Lockfile } from "./lockfile.js";

export interface PinOptions {
  /** Refuse every moving reference the lockfile does not pin (images too, which otherwise only warn). */
  readonly frozen?: boolean;
  /** The lockfile's path as the user knows it, for messages (default: beside the definition). */
  readonly lockPath?: string;
  /** The command the hint names (default `caisson lock <definition file>`). */
  readonly lockCommand?: string;
}

export interface PinResult {
  /** The definition with every pin found applied (sources' sha256/commit, images' digests). */
  readonly definition: ImageDefinition;
  /** unpinned_source errors, and unpinned_image errors (frozen) or warnings. */
  readonly diagnostics: Diagnostic[];
  /** The moving references left without a pin. */
  readonly unresolved: readonly MovingRef[];
}

/** The pin the lockfile has for a moving reference, if any. */
export function pinFor(lock: Lockfile | undefined, m: MovingRef): string | undefined {
  if (!lock) return undefined;
  switch (m.kind) {
    case "git":
      return lock.git[gitKey(m.url, m.ref)]?.commit;
    case "http":
      return lock.http[m.url]?.sha256;
    case "image":
      return lock.images[m.ref]?.digest;
    case "debian": {
      const c = lock.debian?.[debianKey(m.stage, m.buildArch)];
      // A closure records what it was resolved on top of: without that, or on another base, it is stale.
      return c && sameRequest(c.request, m.request) && c.from === m.from ? debianKey(m.stage, m.buildArch) : undefined;
    }
  }
}

/** The same packages asked for, in any order (the closure does not depend on it). */
export function sameRequest(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Describes a moving reference for messages: `git ref "main" of source "app"`. */
export function describeMoving(m: MovingRef): string {
  switch (m.kind) {
    case "git":
      return `source "${m.source}": git ref "${m.ref}" of ${m.url}`;
    case "http":
      return `source "${m.source}": ${m.url} (no sha256)`;
    case "image":
      return `image ${m.ref} (no digest)`;
    case "debian":
      return `stage "${m.stage}": Debian packages for builds on ${m.buildArch} (${m.request.join(" ")})`;
  }
}

/**
 * The pins of a closure for builds on `buildArch` that cannot be installed
 * there: a .deb of neither that architecture nor `all`, nor of a foreign
 * architecture the request names (`libc6:arm64`).
 */
export function wrongArchPins(buildArch: string, request: readonly string[], packages: readonly DebPin[]): DebPin[] {
  const allowed = new Set([buildArch, "all", ...request.flatMap((r) => /^[^:=]+:([^:=]+)/.exec(r)?.[1] ?? [])]);
  return packages.filter((p) => !allowed.has(p.arch));
}

/** `, and arm64 (named as libc6:arm64)`: the foreign architectures a request names, for messages. */
function allowedForeign(request: readonly string[]): string {
  const named = request.filter((r) => /^[^:=]+:[^:=]+/.test(r)).map((r) => r.replace(/=.*$/, ""));
  const arches = [...new Set(named.map((r) => r.split(":")[1] as string))];
  return arches.length === 0 ? "" : ` and ${arches.join(", ")} (named as ${named.join(", ")})`;
}

/** Applies `lock` to `def`; see PinResult. */
export function applyPins(def: ImageDefinition, lock: Lockfile | undefined, opts: PinOptions = {}): PinResult {
  const moving = def.moving ?? [];
  const lockPath = opts.lockPath ?? lockPathFor(def.file);
  const command = opts.lockCommand ?? `caisson lock ${def.file}`;
  const diagnostics: Diagnostic[] = [];
  const unresolved: MovingRef[] = [];
  const sourcePins = new Map<string, string>();
  const imagePins = new Map<number, string>();
  /** Debian closures: stage → build arch → pinned .debs. */
  const debianPins = new Map<string, Record<string, readonly DebPin[]>>();
  for (const m of moving) {
    const pin = pinFor(lock, m);
    if (pin !== undefined) {
      if (m.kind === "image") imagePins.set(m.span.start, `${m.ref}@${pin}`);
      else if (m.kind === "debian") {
        const packages = lock?.debian?.[pin]?.packages ?? [];
        const wrong = wrongArchPins(m.buildArch, m.request, packages);
        if (wrong.length > 0) {
          // Installed on the key's architecture, such a .deb fails at apt, or ships another architecture's files.
          unresolved.push(m);
          const named = wrong.map((p) => `${p.name} ${p.version} (${p.arch})`).join(", ");
          diagnostics.push(
            error(
              "wrong_arch_pin",
              `stage "${m.stage}": ${lockPath} pins under "${pin}", for builds on ${m.buildArch}, ${wrong.length === 1 ? "a .deb" : ".debs"} of another architecture: ${named}; ` +
                `only ${m.buildArch}, all${allowedForeign(m.request)} can be installed there`,
              m.span,
              { hint: `run \`${command.replace(/^caisson lock /, "caisson lock --refresh ")}\` to resolve the closure again (the lockfile was edited, or written for another architecture)` },
            ),
          );
          continue;
        }
        const byArch = debianPins.get(m.stage) ?? {};
        byArch[m.buildArch] = packages;
        debianPins.set(m.stage, byArch);
      }
      else sourcePins.set(m.source, pin);
      continue;
    }
    unresolved.push(m);
    const where = lock ? `is pinned neither in the definition nor in ${lockPath}` : `is not pinned in the definition, and there is no lockfile (${lockPath})`;
    const hint = `run \`${command}\` to pin it in the lockfile${m.kind === "image" ? ", or write the digest: …@sha256:<digest>" : ""}`;
    if (m.kind === "image") {
      const msg = `${describeMoving(m)} ${where}`;
      diagnostics.push(opts.frozen ? error("unpinned_image", `${msg} (--frozen)`, m.span, { hint }) : warning("unpinned_image", msg, m.span, { hint }));
    } else if (m.kind === "debian") {
      const stale = lock?.debian?.[debianKey(m.stage, m.buildArch)];
      const msg = stale
        ? stale.from !== m.from
          ? `${describeMoving(m)}: ${lockPath} resolved them on top of ${stale.from ?? "an unrecorded base"}, and the stage now starts from ${m.from}`
          : `${describeMoving(m)}: ${lockPath} pins the closure of ${stale.request.join(" ")} instead (the definition changed since it was locked)`
        : `${describeMoving(m)}: the closure ${where}; Debian packages are pinned by content (every .deb's sha256) in the lockfile`;
      diagnostics.push(error("unpinned_package", msg, m.span, { hint }));
    } else {
      diagnostics.push(error("unpinned_source", `${describeMoving(m)} ${where}`, m.span, { hint }));
    }
  }
  if (sourcePins.size === 0 && imagePins.size === 0 && debianPins.size === 0) return { definition: def, diagnostics, unresolved };
  const from = (f: FromRef): FromRef => {
    if (f.kind !== "image") return f;
    const pinned = imagePins.get(f.span.start);
    return pinned === undefined ? f : { ...f, ref: pinned };
  };
  const sources = def.sources.map((s): SourceSpec => {
    const pin = sourcePins.get(s.name);
    if (pin === undefined) return s;
    if (s.kind === "http") return { ...s, sha256: pin };
    if (s.kind === "git") return { ...s, commit: pin };
    return s;
  });
  const stages = def.stages.map((s): Stage => {
    let out = s.from.kind === "image" ? { ...s, from: from(s.from) } : s;
    const closure = debianPins.get(s.name);
    if (s.packages && closure) out = { ...out, packages: { ...s.packages, closure } };
    return out;
  });
  const definition: ImageDefinition = { ...def, sources, stages, image: { ...def.image, from: from(def.image.from) } };
  return { definition, diagnostics, unresolved };
}
