// `caisson lock`: resolves every moving reference of a definition into its
// lockfile. Pins the existing lockfile already has for the same reference
// are kept (a lockfile changes only when asked) unless `refresh` is set.
import { error, type Diagnostic } from "../diag/index.js";
import type { ImageDefinition, MovingRef } from "../model/index.js";
import { DebianError } from "../debian/index.js";
import { closureChanges, machineResolver, type DebianResolver } from "./debian.js";
import { debianKey, gitKey, type DebianClosure, type Lockfile } from "./lockfile.js";
import { pinFor } from "./pins.js";
import { commitForRef, hashUrl, imageDigest, lsRemote, ResolveError, type RemoteRef } from "./resolve.js";

export interface LockOptions {
  /** Re-resolve every reference, even those the existing lockfile pins. */
  readonly refresh?: boolean;
  /** Re-resolve the Debian closures only (what `caisson outdated --write` does for newer packages). */
  readonly refreshDebian?: boolean;
  /** The docker client for image tags. */
  readonly docker?: string;
  /** Progress lines (stderr). */
  readonly log?: (line: string) => void;
  /** Resolves Debian closures (default: apt with the machine's sources, against the stage's base image in the engine). */
  readonly debian?: DebianResolver;
  /** apt sources (deb822) instead of this machine's, for Debian packages. */
  readonly debianSources?: string;
}

export interface LockResult {
  /** Exactly the pins the definition's moving references need. */
  readonly lock: Lockfile;
  /** References that could not be resolved (error diagnostics at their place). */
  readonly diagnostics: Diagnostic[];
  /** What changed against the existing lockfile, one line each. */
  readonly changes: string[];
}

/** Resolves `def.moving` into a lockfile, starting from `existing`. */
export async function lockDefinition(def: ImageDefinition, existing: Lockfile | undefined, opts: LockOptions = {}): Promise<LockResult> {
  const git: Record<string, { commit: string }> = {};
  const http: Record<string, { sha256: string; size?: number }> = {};
  const images: Record<string, { digest: string }> = {};
  const debian: Record<string, DebianClosure> = {};
  const diagnostics: Diagnostic[] = [];
  const changes: string[] = [];
  const remotes = new Map<string, Promise<RemoteRef[]>>();
  // Debian closures: resolved by apt against the stage's starting filesystem, in stage order.
  const debianRefs = (def.moving ?? []).filter((m): m is Extract<MovingRef, { kind: "debian" }> => m.kind === "debian");
  const debianDone = new Map<string, DebianClosure>();
  const debianFailed = new Map<string, string>();
  if (debianRefs.length > 0) {
    const resolver = opts.debian ?? machineResolver(def, opts);
    try {
      for (const m of debianRefs) {
        const key = debianKey(m.stage, m.buildArch);
        const kept = !opts.refresh && !opts.refreshDebian && pinFor(existing, m) !== undefined ? existing?.debian?.[key] : undefined;
        if (kept) {
          debianDone.set(key, kept);
          continue;
        }
        try {
          debianDone.set(key, { request: m.request, from: m.from, packages: await resolver.resolve(m, debianDone) });
        } catch (e) {
          if (!(e instanceof ResolveError || e instanceof DebianError)) throw e;
          debianFailed.set(key, e.message);
        }
      }
    } finally {
      await resolver.close();
    }
  }
  for (const m of def.moving ?? []) {
    const old = pinFor(existing, m);
    let pin = opts.refresh ? undefined : old;
    let size: number | undefined = m.kind === "http" && pin !== undefined ? existing?.http[m.url]?.size : undefined;
    if (m.kind === "debian") {
      const key = debianKey(m.stage, m.buildArch);
      const closure = debianDone.get(key);
      if (!closure) {
        diagnostics.push(error("unresolvable_ref", `stage "${m.stage}" on ${m.buildArch}: ${debianFailed.get(key) ?? "not resolved"}`, m.span, { hint: hintFor(m) }));
        continue;
      }
      const before = existing?.debian?.[key];
      changes.push(...closureChanges(key, before?.packages ?? [], closure.packages));
      debian[key] = closure;
      continue;
    }
    if (pin === undefined) {
      try {
        ({ pin, size } = await resolveOne(m, remotes, opts));
      } catch (e) {
        if (!(e instanceof ResolveError)) throw e;
        diagnostics.push(error("unresolvable_ref", e.message, m.span, { hint: hintFor(m) }));
        continue;
      }
    }
    if (old !== pin) changes.push(old === undefined ? `+ ${keyOf(m)} → ${pin}` : `~ ${keyOf(m)}: ${old} → ${pin}`);
    if (m.kind === "git") git[gitKey(m.url, m.ref)] = { commit: pin };
    else if (m.kind === "http") http[m.url] = size === undefined ? { sha256: pin } : { sha256: pin, size };
    else images[m.ref] = { digest: pin };
  }
  return { lock: Object.keys(debian).length > 0 ? { git, http, images, debian } : { git, http, images }, diagnostics, changes };
}

function keyOf(m: MovingRef): string {
  return m.kind === "git" ? gitKey(m.url, m.ref) : m.kind === "http" ? m.url : m.kind === "debian" ? debianKey(m.stage, m.buildArch) : m.ref;
}

function hintFor(m: MovingRef): string {
  switch (m.kind) {
    case "git":
      return "check the URL and that the branch or tag exists (git ls-remote <url>)";
    case "http":
      return "check the URL, or give its sha256 in the definition";
    case "image":
      return "caisson resolves image tags from the local engine: load or pull the image, or write its digest";
    case "debian":
      return "caisson lock asks apt, with this machine's Debian sources (or --debian-sources FILE), which .debs these packages need on top of the stage's base image (which must be in the engine): check the names and versions";
  }
}

async function resolveOne(m: MovingRef, remotes: Map<string, Promise<RemoteRef[]>>, opts: LockOptions): Promise<{ pin: string; size?: number }> {
  switch (m.kind) {
    case "git": {
      let refs = remotes.get(m.url);
      if (!refs) {
        opts.log?.(`lock: git ls-remote ${m.url}`);
        refs = lsRemote(m.url);
        remotes.set(m.url, refs);
      }
      return { pin: commitForRef(await refs, m.ref, m.url) };
    }
    case "http": {
      opts.log?.(`lock: downloading ${m.url}`);
      const { sha256, size } = await hashUrl(m.url);
      return { pin: sha256, size };
    }
    case "image":
      return { pin: await imageDigest(m.ref, opts.docker) };
    case "debian":
      throw new ResolveError(`Debian packages of stage ${m.stage} are resolved with apt`);
  }
}
