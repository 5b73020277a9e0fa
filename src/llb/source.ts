import { create } from "@bufbuild/protobuf";
import { OpSchema, SourceOpSchema, WorkerConstraintsSchema, type Op } from "../gen/buildkit/pb/ops_pb.js";
import { toPbPlatform, type Platform } from "./platform.js";
import type { Constraints, MarshaledVertex, Output, Vertex } from "./vertex.js";

/** A leaf of the graph: identifier plus attributes, as BuildKit's SourceOp. */
export class SourceVertex implements Vertex {
  constructor(
    readonly identifier: string,
    readonly attrs: Readonly<Record<string, string>>,
    readonly constraints: Constraints,
    readonly platform?: Platform,
  ) {}

  inputs(): readonly Output[] {
    return [];
  }

  marshal(): MarshaledVertex {
    const attrs: Record<string, string> = {};
    for (const k of Object.keys(this.attrs).sort()) attrs[k] = this.attrs[k] as string;
    const op: Op = create(OpSchema, {
      op: { case: "source", value: create(SourceOpSchema, { identifier: this.identifier, attrs }) },
      constraints: create(WorkerConstraintsSchema),
      ...(this.platform ? { platform: toPbPlatform(this.platform) } : {}),
    });
    return { op };
  }
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const COMMIT = /^[0-9a-f]{40}$/;

/** Thrown when a caller hands the LLB library a value BuildKit would reject. */
export class LlbError extends Error {
  override readonly name = "LlbError";
}

export interface ImageOptions extends Constraints {
  readonly platform?: Platform;
  /** default | pull | local */
  readonly resolveMode?: "default" | "pull" | "local";
}

/**
 * `docker-image://<ref>`. The reference must be fully normalised
 * (registry/repository with a tag and/or digest), as BuildKit requires.
 */
export function imageSource(ref: string, opts: ImageOptions = {}): SourceVertex {
  const at = ref.indexOf("@");
  if (at >= 0 && !DIGEST.test(ref.slice(at + 1))) throw new LlbError(`image reference ${ref}: malformed digest`);
  const name = at >= 0 ? ref.slice(0, at) : ref;
  const lastSlash = name.lastIndexOf("/");
  if (lastSlash < 0 || (at < 0 && !name.slice(lastSlash).includes(":"))) {
    throw new LlbError(`image reference ${ref} is not normalised (want host/path:tag or host/path@sha256:…)`);
  }
  const attrs: Record<string, string> = {};
  if (opts.resolveMode && opts.resolveMode !== "default") attrs["image.resolvemode"] = opts.resolveMode;
  return new SourceVertex(`docker-image://${ref}`, attrs, opts, opts.platform);
}

export interface GitOptions extends Constraints {
  readonly keepGitDir?: boolean;
}

/** Host and path of a git remote: a URL (any scheme) or scp-like `[user@]host:path`. */
function gitRemote(url: string): { host: string; path: string } {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)) {
    try {
      const u = new URL(url);
      return { host: u.host, path: u.pathname };
    } catch {
      throw new LlbError(`git URL ${url} is not a valid URL`);
    }
  }
  const scp = /^(?:[^@/]+@)?([^/:[\]]+|\[[0-9A-Fa-f:]+\]):(.+)$/.exec(url);
  if (!scp) throw new LlbError(`git URL ${url} is neither a URL nor [user@]host:path`);
  return { host: scp[1] ?? "", path: `/${(scp[2] ?? "").replace(/^\/+/, "")}` };
}

/**
 * `git://host/path#<commit>`, pinned to a full commit id so BuildKit needs no
 * ls-remote; `git.fullurl` carries the real remote (any scheme, or scp-like
 * `git@host:path`).
 */
export function gitSource(url: string, commit: string, opts: GitOptions = {}): SourceVertex {
  if (!COMMIT.test(commit)) throw new LlbError(`git commit ${commit} is not a full 40-hex commit id`);
  const remote = gitRemote(url);
  const path = remote.path.replace(/\/+$/, "");
  const attrs: Record<string, string> = { "git.fullurl": url };
  if (opts.keepGitDir) attrs["git.keepgitdir"] = "true";
  return new SourceVertex(`git://${remote.host}${path}#${commit}`, attrs, opts);
}

export interface HttpOptions extends Constraints {
  /** File name inside the source's root; BuildKit defaults to the URL's last segment. */
  readonly filename?: string;
  /** Octal permission bits of the file. */
  readonly perm?: number;
}

/** An HTTP(S) download pinned by sha256: cache key from the checksum, verified on download. */
export function httpSource(url: string, sha256: string, opts: HttpOptions = {}): SourceVertex {
  if (!HEX64.test(sha256)) throw new LlbError(`sha256 ${sha256} is not 64 lower-case hex digits`);
  const attrs: Record<string, string> = { "http.checksum": `sha256:${sha256}` };
  if (opts.filename) attrs["http.filename"] = opts.filename;
  if (opts.perm !== undefined) attrs["http.perm"] = "0" + opts.perm.toString(8);
  return new SourceVertex(url, attrs, opts);
}

export interface LocalOptions extends Constraints {
  readonly includePatterns?: readonly string[];
  readonly excludePatterns?: readonly string[];
  readonly followPaths?: readonly string[];
  readonly sharedKeyHint?: string;
  /** Session to read from; left out, BuildKit uses the build's own session. */
  readonly sessionId?: string;
  readonly differ?: "none" | "metadata";
}

/** `local://<name>`: a directory the client sends over its session. */
export function localSource(name: string, opts: LocalOptions = {}): SourceVertex {
  const attrs: Record<string, string> = {};
  if (opts.sessionId) attrs["local.session"] = opts.sessionId;
  if (opts.sharedKeyHint) attrs["local.sharedkeyhint"] = opts.sharedKeyHint;
  if (opts.differ) attrs["local.differ"] = opts.differ;
  // BuildKit's attribute names: the include key is singular, the others plural.
  if (opts.includePatterns?.length) attrs["local.includepattern"] = JSON.stringify(opts.includePatterns);
  if (opts.excludePatterns?.length) attrs["local.excludepatterns"] = JSON.stringify(opts.excludePatterns);
  if (opts.followPaths?.length) attrs["local.followpaths"] = JSON.stringify(opts.followPaths);
  return new SourceVertex(`local://${name}`, attrs, opts);
}
