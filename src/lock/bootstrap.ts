// Locking a bootstrap definition: per architecture, the package set
// mmdebstrap's minbase variant asks for (Essential: yes, Priority: required,
// apt; usr-is-merged for a merged /usr) resolved by apt on an empty system,
// every .deb pinned by sha256.
import { DebianError, openApt, readArchives, type Apt } from "../debian/index.js";
import type { BootstrapDefinition } from "../validate/bootstrap.js";
import { closureChanges } from "./debian.js";
import { debianKey, type DebianClosure, type Lockfile } from "./lockfile.js";

/** The lockfile key's stage part for a bootstrap definition's closures: `rootfs/amd64`. */
export const BOOTSTRAP_STAGE = "rootfs";

/** What a bootstrap closure was resolved for (its `from` in the lockfile): the suite and variant. */
export function bootstrapFrom(def: BootstrapDefinition): string {
  return `bootstrap:${def.suite}/${def.variant}`;
}

export interface BootstrapLockOptions {
  readonly refresh?: boolean;
  readonly debianSources?: string;
  readonly log?: (line: string) => void;
  /** Opens apt for an architecture (tests; default: a private apt state with the Debian sources). */
  readonly apt?: (native: string) => Promise<Apt>;
}

export interface BootstrapLockResult {
  readonly lock: Lockfile;
  readonly changes: string[];
  /** Why an architecture could not be resolved, if one could not. */
  readonly errors: string[];
}

export async function lockBootstrap(def: BootstrapDefinition, existing: Lockfile | undefined, opts: BootstrapLockOptions = {}): Promise<BootstrapLockResult> {
  const debian: Record<string, DebianClosure> = {};
  const changes: string[] = [];
  const errors: string[] = [];
  const open = opts.apt ?? (async (native: string) => openApt({ archives: await readArchives(opts.debianSources), native, ...(opts.log ? { log: opts.log } : {}) }));
  for (const arch of def.arches) {
    const key = debianKey(BOOTSTRAP_STAGE, arch);
    const had = existing?.debian?.[key];
    const kept = opts.refresh || had?.from !== bootstrapFrom(def) ? undefined : had;
    if (kept) {
      debian[key] = kept;
      continue;
    }
    let apt: Apt | undefined;
    try {
      opts.log?.(`lock: resolving Debian ${def.suite} ${def.variant} for ${arch} in a private apt state`);
      apt = await open(arch);
      // Merged /usr as mmdebstrap's merged-usr hook makes it: usr-is-merged, not usrmerge (which pulls perl in).
      const request = [...new Set([...(await apt.minbase()), "usr-is-merged"])].sort();
      const packages = await apt.resolve(request, "");
      debian[key] = { request, from: bootstrapFrom(def), packages };
      changes.push(...closureChanges(key, existing?.debian?.[key]?.packages ?? [], packages));
    } catch (e) {
      if (!(e instanceof DebianError)) throw e;
      errors.push(`${arch}: ${e.message}`);
    } finally {
      await apt?.close();
    }
  }
  return { lock: { git: {}, http: {}, images: {}, debian }, changes, errors };
}
