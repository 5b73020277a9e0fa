// `caisson lock`: resolves every moving reference of a definition into its
// lockfile. Pins the existing lockfile already has for the same reference
// are kept (a lockfile changes only when asked) unless `refresh` is set.
import { error, type Diagnostic } from "../diag/index.js";
import type { ImageDefinition, MovingRef } from "../model/index.js";
import { debianKey, gitKey, type Lockfile } from "./lockfile.js";
import { pinFor } from "./pins.js";
import { commitForRef, debianCandidates, hashUrl, imageDigest, lsRemote, ResolveError, type DebianQuery, type RemoteRef } from "./resolve.js";

export interface LockOptions {
  /** Re-resolve every reference, even those the existing lockfile pins. */
  readonly refresh?: boolean;
  /** The docker client for image tags. */
  readonly docker?: string;
  /** Progress lines (stderr). */
  readonly log?: (line: string) => void;
  /** Resolves Debian packages to versions (default: this machine's apt, debianCandidates). */
  readonly debian?: (queries: readonly DebianQuery[]) => Promise<Map<DebianQuery, string>>;
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
  const debian: Record<string, string> = {};
  const diagnostics: Diagnostic[] = [];
  const changes: string[] = [];
  const remotes = new Map<string, Promise<RemoteRef[]>>();
  // Debian packages are asked of apt all at once (one apt-get update per build architecture at most).
  const debianWanted = new Map<string, DebianQuery>();
  for (const m of def.moving ?? []) {
    if (m.kind !== "debian") continue;
    const key = debianKey(m.package, m.buildArch);
    if (!opts.refresh && pinFor(existing, m) !== undefined) continue;
    if (!debianWanted.has(key)) debianWanted.set(key, m.buildArch === undefined ? { package: m.package } : { package: m.package, buildArch: m.buildArch });
  }
  let debianFound = new Map<string, string>();
  let debianFailure: string | undefined;
  if (debianWanted.size > 0) {
    opts.log?.(`lock: apt-cache policy ${[...debianWanted.keys()].join(" ")}`);
    try {
      const got = await (opts.debian ?? ((q) => debianCandidates(q, opts.log)))([...debianWanted.values()]);
      debianFound = new Map([...debianWanted].flatMap(([k, q]) => (got.has(q) ? [[k, got.get(q) as string] as const] : [])));
    } catch (e) {
      if (!(e instanceof ResolveError)) throw e;
      debianFailure = e.message;
    }
  }
  for (const m of def.moving ?? []) {
    const old = pinFor(existing, m);
    let pin = opts.refresh ? undefined : old;
    let size: number | undefined = m.kind === "http" && pin !== undefined ? existing?.http[m.url]?.size : undefined;
    if (pin === undefined && m.kind === "debian") {
      pin = debianFound.get(debianKey(m.package, m.buildArch));
      if (pin === undefined) {
        const msg = debianFailure ?? `apt has no candidate for ${m.package}${m.buildArch ? ` on ${m.buildArch}` : ""} (apt-cache policy ${m.package})`;
        if (!diagnostics.some((d) => d.span.start === m.span.start)) diagnostics.push(error("unresolvable_ref", msg, m.span, { hint: hintFor(m) }));
        continue;
      }
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
    else if (m.kind === "debian") debian[debianKey(m.package, m.buildArch)] = pin;
    else images[m.ref] = { digest: pin };
  }
  return { lock: Object.keys(debian).length > 0 ? { git, http, images, debian } : { git, http, images }, diagnostics, changes };
}

function keyOf(m: MovingRef): string {
  return m.kind === "git" ? gitKey(m.url, m.ref) : m.kind === "http" ? m.url : m.kind === "debian" ? debianKey(m.package, m.buildArch) : m.ref;
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
      return "caisson lock asks this machine's apt (its sources must be the base image's Debian release): check the name, run apt-get update, or write name=version";
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
      throw new ResolveError(`Debian package ${m.package} is resolved with apt`);
  }
}
