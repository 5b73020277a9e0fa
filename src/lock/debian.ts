// Locking a stage's Debian packages: apt (with the machine's Debian sources,
// or --debian-sources) resolves what the stage asks for into the closure
// that gets installed on top of the stage's starting filesystem, and every
// .deb of it is pinned by sha256. The starting filesystem's dpkg status
// comes from the base image in the local engine, plus the closures of the
// stages in between.
import { spawn } from "node:child_process";
import { readTar } from "../check/tar.js";
import { openApt, readArchives, type Apt, type DebianArchive } from "../debian/index.js";
import { dockerBinary } from "../engine/docker.js";
import type { DebPin, ImageDefinition, MovingRef } from "../model/index.js";
import { debianKey, type DebianClosure } from "./lockfile.js";
import { ResolveError } from "./resolve.js";

type DebianRef = Extract<MovingRef, { kind: "debian" }>;

/** Resolves one stage's packages on one build architecture; `done` holds the closures resolved so far (earlier stages). */
export interface DebianResolver {
  resolve(m: DebianRef, done: ReadonlyMap<string, DebianClosure>): Promise<DebPin[]>;
  close(): Promise<void>;
}

/** The architecture qualifiers of a request (`libc6:arm64` → arm64) other than `native` and `all`. */
export function foreignArches(request: readonly string[], native: string): string[] {
  const out = new Set<string>();
  for (const r of request) {
    const a = /^[^:=]+:([a-z0-9-]+)/.exec(r)?.[1];
    if (a !== undefined && a !== native && a !== "all") out.add(a);
  }
  return [...out].sort();
}

/** Lines for `caisson lock`'s summary: what a closure gained, lost or moved. */
export function closureChanges(key: string, before: readonly DebPin[], after: readonly DebPin[]): string[] {
  const id = (p: DebPin) => `${p.name}:${p.arch}`;
  const old = new Map(before.map((p) => [id(p), p]));
  const out: string[] = [];
  for (const p of after) {
    const o = old.get(id(p));
    old.delete(id(p));
    if (!o) out.push(`+ ${key}: ${id(p)} ${p.version} (sha256 ${p.sha256.slice(0, 12)}…)`);
    else if (o.sha256 !== p.sha256) out.push(`~ ${key}: ${id(p)} ${o.version} → ${p.version}`);
  }
  for (const o of old.values()) out.push(`- ${key}: ${id(o)} ${o.version}`);
  return out;
}

/** apt with this machine's (or the given) Debian sources; base images' dpkg status from the local engine. */
export function machineResolver(def: ImageDefinition, opts: { readonly debianSources?: string; readonly docker?: string; readonly log?: (line: string) => void }): DebianResolver {
  let archives: Promise<DebianArchive[]> | undefined;
  const apts = new Map<string, Promise<Apt>>();
  const imageStatus = new Map<string, Promise<string>>();
  const stages = new Map(def.stages.map((s) => [s.name, s]));
  const foreignByArch = new Map<string, Set<string>>();
  for (const m of def.moving ?? []) {
    if (m.kind !== "debian") continue;
    const set = foreignByArch.get(m.buildArch) ?? new Set<string>();
    for (const a of foreignArches(m.request, m.buildArch)) set.add(a);
    foreignByArch.set(m.buildArch, set);
  }
  const aptFor = (native: string): Promise<Apt> => {
    let a = apts.get(native);
    if (!a) {
      archives ??= readArchives(opts.debianSources);
      const foreign = [...(foreignByArch.get(native) ?? [])].sort();
      opts.log?.(`lock: apt-get update for ${[native, ...foreign].join(", ")} in a private apt state`);
      a = archives.then((list) => openApt({ archives: list, native, foreign, ...(opts.log ? { log: opts.log } : {}) }));
      apts.set(native, a);
    }
    return a;
  };
  const statusOf = async (stageName: string, arch: string, done: ReadonlyMap<string, DebianClosure>, seen: Set<string>): Promise<string> => {
    const stage = stages.get(stageName);
    if (!stage || seen.has(stageName)) return "";
    seen.add(stageName);
    const from = stage.from;
    switch (from.kind) {
      case "scratch":
        return "";
      case "image": {
        const key = `${from.ref} ${arch}`;
        let s = imageStatus.get(key);
        if (!s) {
          opts.log?.(`lock: reading /var/lib/dpkg/status of ${from.ref} (linux/${arch}) from the engine`);
          s = dpkgStatusOfImage(from.ref, arch, opts.docker ?? dockerBinary());
          imageStatus.set(key, s);
        }
        return s;
      }
      case "stage": {
        const below = await statusOf(from.name, arch, done, seen);
        const parent = done.get(debianKey(from.name, arch));
        if (!parent || parent.packages.length === 0) return below;
        return `${below.trimEnd()}\n\n${await (await aptFor(arch)).status(parent.packages)}`;
      }
      case "import":
        throw new ResolveError(
          `stage "${stageName}" starts from the import "${from.name}": caisson lock resolves Debian packages against a base image or a stage of the same definition; install them in the imported definition instead`,
        );
    }
  };
  return {
    async resolve(m, done) {
      const status = await statusOf(m.stage, m.buildArch, done, new Set());
      opts.log?.(`lock: resolving ${m.request.join(" ")} for stage ${m.stage} on ${m.buildArch}`);
      return (await aptFor(m.buildArch)).resolve([...m.request], status);
    },
    async close() {
      for (const a of apts.values()) await (await a.catch(() => undefined))?.close();
    },
  };
}

/** The dpkg status file of an image in the local engine, for one architecture ("" when the image has none). */
export async function dpkgStatusOfImage(ref: string, arch: string, docker: string): Promise<string> {
  const created = await capture(docker, ["create", "--platform", `linux/${arch}`, "--", ref, "/caisson-lock"]);
  if (created.code !== 0) {
    throw new ResolveError(
      `cannot read the Debian packages of ${ref} (linux/${arch}) from the engine: ${created.stderr.trim() || `exit ${created.code}`} (load the base image first: hack/base-image.sh)`,
    );
  }
  const id = created.stdout.toString("utf8").trim();
  try {
    const cp = await capture(docker, ["cp", `${id}:/var/lib/dpkg/status`, "-"]);
    if (cp.code !== 0) {
      if (/Could not find the file|No such container:path/i.test(cp.stderr)) return "";
      throw new ResolveError(`reading /var/lib/dpkg/status of ${ref} (linux/${arch}): ${cp.stderr.trim() || `exit ${cp.code}`}`);
    }
    const file = readTar(cp.stdout).find((r) => r.type === "file");
    return file ? Buffer.from(file.data).toString("utf8") : "";
  } finally {
    await capture(docker, ["rm", "-f", id]);
  }
}

function capture(cmd: string, args: readonly string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8") }));
  });
}
