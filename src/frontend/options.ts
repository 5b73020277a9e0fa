// What BuildKit tells a gateway frontend through its environment, parsed.
// Pure: takes an env record, returns data or throws FrontendOptionError.
import { parsePlatform as parsePlatformText, type Platform } from "../platform/index.js";

/** One environment variable per option: BUILDKIT_FRONTEND_OPT_<i>=<key>=<value>. */
export const OPT_PREFIX = "BUILDKIT_FRONTEND_OPT_";

/** A frontend option BuildKit handed over that caisson cannot use. */
export class FrontendOptionError extends Error {
  override readonly name = "FrontendOptionError";
}

export interface FrontendOptions {
  /** Every option as key → value (later duplicates win). */
  readonly raw: ReadonlyMap<string, string>;
  /** The build's session: where local://dockerfile and local://context come from. */
  readonly sessionId: string;
  /** Path of the definition inside the `dockerfile` local (opt `filename`). */
  readonly filename: string;
  /** Name of the local that holds the definition (opt `dockerfilekey`, default `dockerfile`). */
  readonly definitionLocal: string;
  /** Requested target platforms (opt `platform`); undefined → the definition's own list. */
  readonly platforms?: readonly Platform[];
  /** The engine's platform (first platform of the first worker). */
  readonly buildPlatform: Platform;
  /** `build-arg:K=V` options. */
  readonly buildArgs: ReadonlyMap<string, string>;
  /**
   * The definition's name in diagnostics and in the LLB source map: build arg
   * CAISSON_DEFINITION (its path relative to the build context, as `caisson
   * build` passes it), else `filename`.
   */
  readonly definitionName: string;
  /** Content-addressed mirror for http sources (build arg CAISSON_SOURCE_MIRROR). */
  readonly sourceMirror?: string;
  /** Debian archive name → URI for pinned .debs without a source mirror (build arg CAISSON_DEBIAN_ARCHIVES). */
  readonly debianArchives?: Readonly<Record<string, string>>;
}

/** Build arguments the frontend reads (all others are ignored). */
export const BUILD_ARG_DEFINITION = "CAISSON_DEFINITION";
export const BUILD_ARG_SOURCE_MIRROR = "CAISSON_SOURCE_MIRROR";
/** `debian=http://<mirror>/debian,debian-security=http://<mirror>/debian-security`: where the engine fetches pinned .debs. */
export const BUILD_ARG_DEBIAN_ARCHIVES = "CAISSON_DEBIAN_ARCHIVES";

/** Parses CAISSON_DEBIAN_ARCHIVES (`name=URI` pairs, comma-separated). */
export function parseDebianArchives(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    const name = eq < 0 ? "" : part.slice(0, eq);
    const uri = part.slice(eq + 1);
    if (!/^[A-Za-z0-9._-]+$/.test(name) || !/^https?:\/\/[^\s,]+$/.test(uri)) {
      throw new FrontendOptionError(`${BUILD_ARG_DEBIAN_ARCHIVES}: "${part}" is not name=http(s)-URI (e.g. debian=http://<mirror>/debian)`);
    }
    out[name] = uri.replace(/\/+$/, "");
  }
  return out;
}

/** Collects the BUILDKIT_FRONTEND_OPT_<i> variables, ordered by <i>. */
export function frontendOpts(env: Readonly<Record<string, string | undefined>>): Map<string, string> {
  const entries: [number, string, string][] = [];
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith(OPT_PREFIX) || v === undefined) continue;
    const i = Number(k.slice(OPT_PREFIX.length));
    const eq = v.indexOf("=");
    // BuildKit's own client treats "key" without '=' as key with an empty value.
    entries.push([Number.isFinite(i) ? i : Infinity, eq < 0 ? v : v.slice(0, eq), eq < 0 ? "" : v.slice(eq + 1)]);
  }
  entries.sort((a, b) => a[0] - b[0]);
  return new Map(entries.map(([, k, v]) => [k, v]));
}

/**
 * Parses `os/arch[/variant]` and normalises it (src/platform): x86_64 →
 * amd64, aarch64 → arm64 (arm64/v8 → arm64), arm → arm/v7. A platform caisson
 * does not build for is refused, with the supported list.
 */
export function parsePlatform(spec: string): Platform {
  const r = parsePlatformText(spec);
  if (!r.ok) throw new FrontendOptionError(`${r.message} (${r.hint})`);
  return r.value;
}

/** A comma-separated platform list; empty entries are ignored. */
export function parsePlatformList(list: string): Platform[] {
  return list
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(parsePlatform);
}

/** The platform of BUILDKIT_WORKERS' first worker (Go's JSON of []WorkerInfo). */
export function workersBuildPlatform(json: string | undefined): Platform | undefined {
  if (!json) return undefined;
  let workers: unknown;
  try {
    workers = JSON.parse(json);
  } catch {
    throw new FrontendOptionError("BUILDKIT_WORKERS is not valid JSON");
  }
  if (!Array.isArray(workers)) return undefined;
  const first = workers[0] as Record<string, unknown> | undefined;
  const platforms = (first?.["Platforms"] ?? first?.["platforms"]) as unknown;
  if (!Array.isArray(platforms) || platforms.length === 0) return undefined;
  const p = platforms[0] as Record<string, unknown>;
  const os = p["os"] ?? p["OS"];
  const arch = p["architecture"] ?? p["Architecture"];
  const variant = p["variant"] ?? p["Variant"];
  if (typeof os !== "string" || typeof arch !== "string") return undefined;
  return parsePlatform(typeof variant === "string" && variant !== "" ? `${os}/${arch}/${variant}` : `${os}/${arch}`);
}

/**
 * Reads everything the frontend needs from its environment. `fallbackPlatform`
 * is used when BUILDKIT_WORKERS says nothing (the process's own platform).
 */
export function parseFrontendEnv(
  env: Readonly<Record<string, string | undefined>>,
  fallbackPlatform: Platform,
): FrontendOptions {
  const raw = frontendOpts(env);
  const sessionId = env["BUILDKIT_SESSION_ID"] ?? "";
  if (sessionId === "") throw new FrontendOptionError("BUILDKIT_SESSION_ID is not set: not started by BuildKit?");
  const filename = raw.get("filename") || "image.yaml";
  if (filename.split("/").includes("..")) throw new FrontendOptionError(`filename "${filename}" leaves the definition's directory`);
  const buildArgs = new Map<string, string>();
  for (const [k, v] of raw) if (k.startsWith("build-arg:")) buildArgs.set(k.slice("build-arg:".length), v);
  const platformOpt = raw.get("platform");
  const platforms = platformOpt ? parsePlatformList(platformOpt) : [];
  const definitionName = (buildArgs.get(BUILD_ARG_DEFINITION) ?? "").replace(/^(\.\/)+/, "") || filename;
  if (definitionName.startsWith("/") || definitionName.split("/").includes("..")) {
    throw new FrontendOptionError(`${BUILD_ARG_DEFINITION}="${definitionName}" must be a path inside the build context`);
  }
  const sourceMirror = buildArgs.get(BUILD_ARG_SOURCE_MIRROR);
  if (sourceMirror !== undefined && sourceMirror !== "" && !/^https?:\/\/[^\s]+$/.test(sourceMirror)) {
    throw new FrontendOptionError(`${BUILD_ARG_SOURCE_MIRROR}="${sourceMirror}" is not an http(s) URL`);
  }
  const archives = buildArgs.get(BUILD_ARG_DEBIAN_ARCHIVES);
  const debianArchives = archives ? parseDebianArchives(archives) : undefined;
  return {
    raw,
    definitionName,
    ...(sourceMirror ? { sourceMirror } : {}),
    ...(debianArchives ? { debianArchives } : {}),
    sessionId,
    filename,
    definitionLocal: raw.get("dockerfilekey") || "dockerfile",
    ...(platforms.length > 0 ? { platforms } : {}),
    buildPlatform: workersBuildPlatform(env["BUILDKIT_WORKERS"]) ?? fallbackPlatform,
    buildArgs,
  };
}
