// Resolving moving references (I/O): git refs with `git ls-remote`, URLs by
// downloading and hashing, image tags from the local engine's image store.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerBinary } from "../engine/docker.js";
import { parseImageRef } from "../validate/index.js";

export class ResolveError extends Error {
  override readonly name = "ResolveError";
}

/** Runs a command, capturing output; never throws for a non-zero exit. */
export function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
  });
}

/** One line of `git ls-remote`: a ref name and the object it names (tags: `peeled` is the commit of an annotated tag). */
export interface RemoteRef {
  readonly name: string;
  readonly object: string;
  readonly peeled?: string;
}

/** Parses `git ls-remote` output, pairing `refs/tags/x^{}` lines with their tags. */
export function parseLsRemote(text: string): RemoteRef[] {
  const byName = new Map<string, { object: string; peeled?: string }>();
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]{40})\t(\S+)$/.exec(line.trim());
    if (!m) continue;
    const [, object = "", name = ""] = m;
    if (name.endsWith("^{}")) {
      const base = name.slice(0, -3);
      const e = byName.get(base) ?? { object: "" };
      e.peeled = object;
      byName.set(base, e);
    } else {
      const e = byName.get(name);
      if (e) e.object = object;
      else byName.set(name, { object });
    }
  }
  return [...byName.entries()].map(([name, v]) => (v.peeled ? { name, object: v.object, peeled: v.peeled } : { name, object: v.object }));
}

/** Lists a repository's refs (`git ls-remote`). */
export async function lsRemote(url: string): Promise<RemoteRef[]> {
  const r = await run("git", ["ls-remote", "--", url], { GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "true" });
  if (r.code !== 0) throw new ResolveError(`git ls-remote ${url} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
  return parseLsRemote(r.stdout);
}

/**
 * The commit `ref` names among `refs`: a branch, a tag (an annotated tag
 * resolved to its commit, not the tag object), a full ref name, or HEAD. A
 * name that is both a branch and a tag is ambiguous.
 */
export function commitForRef(refs: readonly RemoteRef[], ref: string, url = "the repository"): string {
  const find = (name: string) => refs.find((r) => r.name === name);
  if (/^[0-9a-f]{40}$/.test(ref)) return ref;
  const commitOf = (r: RemoteRef) => r.peeled ?? r.object;
  if (ref.startsWith("refs/") || ref === "HEAD") {
    const r = find(ref);
    if (!r) throw new ResolveError(`${url} has no ref ${ref}`);
    return commitOf(r);
  }
  const branch = find(`refs/heads/${ref}`);
  const tag = find(`refs/tags/${ref}`);
  if (branch && tag && commitOf(branch) !== commitOf(tag)) {
    throw new ResolveError(`"${ref}" is both a branch and a tag of ${url}: write ref: refs/heads/${ref} or ref: refs/tags/${ref}`);
  }
  const r = tag ?? branch;
  if (!r) throw new ResolveError(`${url} has no branch or tag "${ref}"`);
  return commitOf(r);
}

/** Downloads `url` and returns its sha256 and size (redirects followed). */
export async function hashUrl(url: string): Promise<{ sha256: string; size: number }> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: "follow" });
  } catch (e) {
    throw new ResolveError(`downloading ${url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
  }
  if (!res.ok || !res.body) throw new ResolveError(`downloading ${url}: HTTP ${res.status} ${res.statusText}`);
  const h = createHash("sha256");
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    h.update(chunk);
    size += chunk.byteLength;
  }
  return { sha256: h.digest("hex"), size };
}

/** Downloads a page as text (for release listings). */
export async function fetchText(url: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: "follow" });
  } catch (e) {
    throw new ResolveError(`fetching ${url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
  }
  if (!res.ok) throw new ResolveError(`fetching ${url}: HTTP ${res.status} ${res.statusText}`);
  return res.text();
}

/**
 * The digest of a tagged image in the local engine's store. With the
 * containerd image store (Docker 24+ with `containerd-snapshotter`, as
 * hack/engine.sh sets up) the image id is the manifest-list/index digest,
 * which BuildKit resolves for every platform; RepoDigests name it too.
 */
export async function imageDigest(ref: string, docker = dockerBinary()): Promise<string> {
  const r = await run(docker, ["image", "inspect", "--format", "{{json .Id}} {{json .RepoDigests}}", "--", ref]);
  if (r.code !== 0) {
    throw new ResolveError(`the engine has no image ${ref}: ${r.stderr.trim() || `exit ${r.code}`} (pull or load it first; caisson resolves tags from the local engine)`);
  }
  const [idJson = "", ...rest] = r.stdout.trim().split(" ");
  const id = JSON.parse(idJson) as string;
  const repoDigests = (JSON.parse(rest.join(" ") || "null") as string[] | null) ?? [];
  const repo = ref.replace(/@.*$/, "").replace(/:[^/:]+$/, "");
  for (const rd of repoDigests) {
    const at = rd.indexOf("@");
    const parsed = parseImageRef(rd.slice(0, at) + ":x");
    if (parsed.ok && parsed.value.ref.replace(/:x$/, "") === repo) return rd.slice(at + 1);
  }
  if (repoDigests.length === 0 && /^sha256:[0-9a-f]{64}$/.test(id)) {
    // Classic image store without a repo digest: the id is the config digest, which BuildKit cannot resolve.
    throw new ResolveError(`image ${ref} has no repository digest in the engine (id ${id}); push it to a registry or use the containerd image store`);
  }
  throw new ResolveError(`image ${ref} has no digest for ${repo} in the engine (RepoDigests: ${repoDigests.join(", ") || "none"})`);
}

/** What `caisson lock` asks apt about: a package as written (`make`, `libc6:arm64`) for builds on `buildArch`. */
export interface DebianQuery {
  readonly package: string;
  /** dpkg architecture of the build platform; undefined: this machine's. */
  readonly buildArch?: string;
}

/** Parses `apt-cache policy` output: package (as apt prints it) → candidate version, "(none)" included. */
export function parseAptPolicy(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split("\n")) {
    const head = /^(\S+):$/.exec(line);
    if (head) {
      current = head[1];
      continue;
    }
    const cand = /^\s+Candidate:\s*(\S+)\s*$/.exec(line);
    if (cand && current !== undefined) out.set(current, cand[1] as string);
  }
  return out;
}

/**
 * The apt candidate version of each query, from this machine's apt
 * configuration (its sources and preferences). Packages of this machine's
 * architectures are looked up in its own apt lists (`apt-cache policy`);
 * anything else (another build architecture, a multiarch `name:arch` of an
 * architecture dpkg here does not have) in a private apt state that
 * `apt-get update` fills for exactly the architectures needed, leaving the
 * machine's own state alone. Queries without a candidate are left out of
 * the result; throws ResolveError when apt itself cannot be asked.
 */
export async function debianCandidates(queries: readonly DebianQuery[], log?: (line: string) => void): Promise<Map<DebianQuery, string>> {
  const host = (await run("dpkg", ["--print-architecture"])).stdout.trim();
  if (host === "") throw new ResolveError("cannot tell this machine's dpkg architecture (dpkg --print-architecture): caisson lock resolves Debian packages with this machine's apt");
  const foreign = (await run("dpkg", ["--print-foreign-architectures"])).stdout.split(/\s+/).filter(Boolean);
  const hostArches = new Set([host, ...foreign]);
  const groups = new Map<string, DebianQuery[]>();
  for (const q of queries) {
    const native = q.buildArch ?? host;
    groups.set(native, [...(groups.get(native) ?? []), q]);
  }
  const out = new Map<DebianQuery, string>();
  for (const [native, qs] of groups) {
    const arches = new Set([native, ...qs.map((q) => /:([a-z0-9]+)$/.exec(q.package)?.[1]).filter((a): a is string => a !== undefined)]);
    const onHost = native === host && [...arches].every((a) => hostArches.has(a));
    let policy: string;
    let tmp: string | undefined;
    try {
      const opts: string[] = [];
      if (!onHost) {
        tmp = await mkdtemp(join(tmpdir(), "caisson-apt-"));
        opts.push(
          "-o", `Dir::State::Lists=${tmp}/lists`,
          "-o", "Dir::State::status=/dev/null",
          "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
          "-o", `Dir::Cache::Archives=${tmp}/archives`,
          "-o", "APT::Sandbox::User=root",
          "-o", "Debug::NoLocking=1",
          "-o", `APT::Architecture=${native}`,
          "-o", `APT::Architectures=${[...arches].join(",")}`,
        );
        await mkdir(`${tmp}/lists/partial`, { recursive: true });
        await mkdir(`${tmp}/archives/partial`, { recursive: true });
        log?.(`lock: apt-get update for ${[...arches].join(", ")} (build architecture ${native}) in a private apt state`);
        const u = await run("apt-get", ["-q", ...opts, "update"]);
        if (u.code !== 0) log?.(`lock: apt-get update: ${u.stderr.trim().split("\n").slice(-3).join(" / ") || `exit ${u.code}`}`);
      }
      const names = qs.map((q) => q.package);
      const r = await run("apt-cache", [...opts, "policy", "--", ...names]);
      if (r.code !== 0) throw new ResolveError(`apt-cache policy failed: ${r.stderr.trim() || `exit ${r.code}`}`);
      policy = r.stdout;
    } finally {
      if (tmp) await rm(tmp, { recursive: true, force: true });
    }
    const found = parseAptPolicy(policy);
    for (const q of qs) {
      // apt names a package of the native architecture without its qualifier.
      const plain = q.package.endsWith(`:${native}`) ? q.package.slice(0, -native.length - 1) : q.package;
      const v = found.get(plain) ?? found.get(q.package);
      if (v !== undefined && v !== "(none)") out.set(q, v);
    }
  }
  return out;
}
