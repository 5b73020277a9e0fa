// The lockfile: the pins of a definition's moving references, written by
// `caisson lock` beside the definition (images/redis/image.yaml →
// images/redis/image.lock.json). Keys are what the definition writes (a git
// URL and ref, a URL, an image reference), not source names, so renaming a
// source keeps its pin and changing a ref or URL drops it. Serialised with
// sorted keys, two-space indentation and a final newline: the same pins give
// the same bytes, and a change reads well in a diff.

/** Pins by what they pin. */
export interface Lockfile {
  /** `<git url>#<ref>` → the commit the ref pointed to (an annotated tag peeled to its commit). */
  readonly git: Readonly<Record<string, { readonly commit: string }>>;
  /** URL → sha256 (and size) of the file downloaded from it. */
  readonly http: Readonly<Record<string, { readonly sha256: string; readonly size?: number }>>;
  /** Normalised image reference without digest → the digest it had (an index digest covers every platform). */
  readonly images: Readonly<Record<string, { readonly digest: string }>>;
  /**
   * Debian package as written without a version (`make`, `libc6:arm64`;
   * `<build arch>/<package>` for the map form of `packages:`) → the exact
   * version apt's candidate was. Optional: lockfiles without Debian packages
   * keep the bytes they had.
   */
  readonly debian?: Readonly<Record<string, string>>;
}

export const LOCKFILE_VERSION = 1;
const HEADER = "caisson lockfile: pins for the moving references of the definition beside it. Written by `caisson lock`; review changes, do not edit.";

export function emptyLockfile(): Lockfile {
  return { git: {}, http: {}, images: {} };
}

/** The lockfile beside a definition: `<dir>/<name>.lock.json` for `<dir>/<name>.yaml|.yml|.json`. */
export function lockPathFor(definitionPath: string): string {
  return definitionPath.replace(/\.(ya?ml|json)$/i, "") + ".lock.json";
}

/** The lockfile key of a Debian package: `make`, `libc6:arm64`, or `arm64/gcc-x86-64-linux-gnu` (map form, build architecture arm64). */
export function debianKey(pkg: string, buildArch?: string): string {
  return buildArch === undefined ? pkg : `${buildArch}/${pkg}`;
}

export function gitKey(url: string, ref: string): string {
  return `${url}#${ref}`;
}

function sortedObject<T>(o: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k] as T;
  return out;
}

/** The lockfile's bytes: stable for the same pins. */
export function serializeLockfile(lock: Lockfile): string {
  const doc = {
    "//": HEADER,
    lockfileVersion: LOCKFILE_VERSION,
    git: sortedObject(lock.git),
    http: sortedObject(
      Object.fromEntries(Object.entries(lock.http).map(([k, v]) => [k, v.size === undefined ? { sha256: v.sha256 } : { sha256: v.sha256, size: v.size }])),
    ),
    images: sortedObject(lock.images),
    ...(lock.debian && Object.keys(lock.debian).length > 0 ? { debian: sortedObject(lock.debian) } : {}),
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

export class LockfileError extends Error {
  override readonly name = "LockfileError";
}

const HEX40 = /^[0-9a-f]{40}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const DEBIAN_VERSION = /^(?:[0-9]+:)?[0-9](?:[A-Za-z0-9.+~]*|[A-Za-z0-9.+~-]*-[A-Za-z0-9.+~]+)$/;

/** Parses and checks a lockfile's text; throws LockfileError saying what is wrong. */
export function parseLockfile(text: string, file = "lockfile"): Lockfile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new LockfileError(`${file}: not JSON (${(e as Error).message}); run \`caisson lock\` to rewrite it`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new LockfileError(`${file}: not a lockfile object`);
  const o = raw as Record<string, unknown>;
  if (o["lockfileVersion"] !== LOCKFILE_VERSION) {
    throw new LockfileError(`${file}: lockfileVersion ${JSON.stringify(o["lockfileVersion"])} is not supported (this caisson writes ${LOCKFILE_VERSION})`);
  }
  const section = <T>(name: string, check: (v: Record<string, unknown>) => T | undefined): Record<string, T> => {
    const s = o[name] ?? {};
    if (typeof s !== "object" || s === null || Array.isArray(s)) throw new LockfileError(`${file}: "${name}" must be an object`);
    const out: Record<string, T> = {};
    for (const [k, v] of Object.entries(s as Record<string, unknown>)) {
      const ok = typeof v === "object" && v !== null ? check(v as Record<string, unknown>) : undefined;
      if (ok === undefined) throw new LockfileError(`${file}: malformed entry ${name}[${JSON.stringify(k)}]`);
      out[k] = ok;
    }
    return out;
  };
  const debianRaw = o["debian"] ?? {};
  if (typeof debianRaw !== "object" || debianRaw === null || Array.isArray(debianRaw)) throw new LockfileError(`${file}: "debian" must be an object`);
  const debian: Record<string, string> = {};
  for (const [k, v] of Object.entries(debianRaw as Record<string, unknown>)) {
    if (typeof v !== "string" || !DEBIAN_VERSION.test(v)) throw new LockfileError(`${file}: malformed entry debian[${JSON.stringify(k)}]`);
    debian[k] = v;
  }
  return {
    ...(Object.keys(debian).length > 0 ? { debian } : {}),
    git: section("git", (v) => (typeof v["commit"] === "string" && HEX40.test(v["commit"]) ? { commit: v["commit"] } : undefined)),
    http: section("http", (v) => {
      if (typeof v["sha256"] !== "string" || !HEX64.test(v["sha256"])) return undefined;
      return typeof v["size"] === "number" ? { sha256: v["sha256"], size: v["size"] } : { sha256: v["sha256"] };
    }),
    images: section("images", (v) => (typeof v["digest"] === "string" && DIGEST.test(v["digest"]) ? { digest: v["digest"] } : undefined)),
  };
}
