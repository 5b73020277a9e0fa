// The lockfile: the pins of a definition's moving references, written by
// `caisson lock` beside the definition (images/redis/image.yaml →
// images/redis/image.lock.json). Keys are what the definition writes (a git
// URL and ref, a URL, an image reference), not source names, so renaming a
// source keeps its pin and changing a ref or URL drops it. Serialised with
// sorted keys, two-space indentation and a final newline: the same pins give
// the same bytes, and a change reads well in a diff.
import { ARCHIVE_NAME, type DebPin } from "../debian/types.js";

/** Pins by what they pin. */
export interface Lockfile {
  /** `<git url>#<ref>` → the commit the ref pointed to (an annotated tag peeled to its commit). */
  readonly git: Readonly<Record<string, { readonly commit: string }>>;
  /** URL → sha256 (and size) of the file downloaded from it. */
  readonly http: Readonly<Record<string, { readonly sha256: string; readonly size?: number }>>;
  /** Normalised image reference without digest → the digest it had (an index digest covers every platform). */
  readonly images: Readonly<Record<string, { readonly digest: string }>>;
  /**
   * `<stage>/<build arch>` → the Debian packages that stage asks for on that
   * build architecture (as written) and the whole closure apt resolved them
   * to, each .deb pinned by sha256. Optional: lockfiles without Debian
   * packages keep the bytes they had.
   */
  readonly debian?: Readonly<Record<string, DebianClosure>>;
}

/** A stage's Debian packages on one build architecture, pinned by content. */
export interface DebianClosure {
  readonly request: readonly string[];
  /** The stage's `from` when it was resolved (see MovingRef); a closure resolved on another base is stale. */
  readonly from?: string;
  readonly packages: readonly DebPin[];
}

export const LOCKFILE_VERSION = 2;
const HEADER = "caisson lockfile: pins for the moving references of the definition beside it. Written by `caisson lock`; review changes, do not edit.";

export function emptyLockfile(): Lockfile {
  return { git: {}, http: {}, images: {} };
}

/** The lockfile beside a definition: `<dir>/<name>.lock.json` for `<dir>/<name>.yaml|.yml|.json`. */
export function lockPathFor(definitionPath: string): string {
  return definitionPath.replace(/\.(ya?ml|json|cue)$/i, "") + ".lock.json";
}

/** The lockfile key of a stage's Debian closure on a build architecture: `toolchain/amd64`. */
export function debianKey(stage: string, buildArch: string): string {
  return `${stage}/${buildArch}`;
}

export function gitKey(url: string, ref: string): string {
  return `${url}#${ref}`;
}

function sortedObject<T>(o: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k] as T;
  return out;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

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
    ...(lock.debian && Object.keys(lock.debian).length > 0
      ? {
          debian: sortedObject(
            Object.fromEntries(
              Object.entries(lock.debian).map(([k, c]) => [
                k,
                {
                  request: [...c.request],
                  ...(c.from !== undefined ? { from: c.from } : {}),
                  packages: [...c.packages]
                    .sort((a, b) => cmp(a.name, b.name) || cmp(a.arch, b.arch))
                    .map((p) => ({ name: p.name, version: p.version, arch: p.arch, sha256: p.sha256, size: p.size, archive: p.archive, path: p.path })),
                },
              ]),
            ),
          ),
        }
      : {}),
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
const DEBIAN_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
/** dpkg architectures caisson knows (src/platform), and `all`. */
const DEBIAN_ARCH = /^(?:all|amd64|arm64|armhf|armel|i386|ppc64el|s390x|riscv64)$/;

const DEBIAN_REQUEST = /^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?(?:=(?:[0-9]+:)?[0-9][A-Za-z0-9.+~:-]*)?$/;
/** A pool path: relative, no `..`, no oddities (it is joined to an archive URI). */
const POOL_PATH = /^(?!.*\.\.)(?!\/)[A-Za-z0-9._+~%/-]+\.deb$/;

function debPin(v: unknown): DebPin | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const { name, version, arch, sha256, size, archive, path } = o;
  if (typeof name !== "string" || !DEBIAN_NAME.test(name)) return undefined;
  if (typeof version !== "string" || !DEBIAN_VERSION.test(version)) return undefined;
  if (typeof arch !== "string" || !DEBIAN_ARCH.test(arch)) return undefined;
  if (typeof sha256 !== "string" || !HEX64.test(sha256)) return undefined;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) return undefined;
  if (typeof archive !== "string" || !ARCHIVE_NAME.test(archive)) return undefined;
  if (typeof path !== "string" || !POOL_PATH.test(path)) return undefined;
  return { name, version, arch, sha256, size, archive, path };
}

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
  if (o["lockfileVersion"] !== LOCKFILE_VERSION && !(o["lockfileVersion"] === 1 && o["debian"] === undefined)) {
    throw new LockfileError(
      `${file}: lockfileVersion ${JSON.stringify(o["lockfileVersion"])} is not supported (this caisson writes ${LOCKFILE_VERSION}); run \`caisson lock --refresh\` to rewrite it`,
    );
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
  const debian = section("debian", (v): DebianClosure | undefined => {
    const request = v["request"];
    const packages = v["packages"];
    if (!Array.isArray(request) || !request.every((r) => typeof r === "string" && DEBIAN_REQUEST.test(r))) return undefined;
    if (!Array.isArray(packages)) return undefined;
    const pins: DebPin[] = [];
    const seen = new Set<string>();
    for (const p of packages as unknown[]) {
      const pin = debPin(p);
      if (!pin) return undefined;
      // One .deb per package and architecture, and one per file name (they share a directory when installed).
      const file = pin.path.slice(pin.path.lastIndexOf("/") + 1);
      if (seen.has(`${pin.name}:${pin.arch}`) || seen.has(file)) return undefined;
      seen.add(`${pin.name}:${pin.arch}`).add(file);
      pins.push(pin);
    }
    const from = v["from"];
    if (from !== undefined && (typeof from !== "string" || from.length > 512)) return undefined;
    return { request: request as string[], ...(from !== undefined ? { from } : {}), packages: pins };
  });
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
