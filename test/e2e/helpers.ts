// Shared by the end-to-end tests (test/e2e/*.int.test.ts): the CLI as users
// run it, BuildKit's plain progress parsed into vertices, and loopback
// servers for http and git sources. The engine itself is reached through
// src/engine (checkEngine, dockerBinary), as test/frontend/frontend.int.test.ts does.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { checkEngine, dockerBinary } from "../../src/engine/index.js";

export { IN_CI } from "../support/ci.js";
export const DOCKER = dockerBinary();
export const ROOT = resolve(import.meta.dirname, "..", "..");
export const FIXTURES = join(ROOT, "test/fixtures/e2e");
const CLI = join(ROOT, "bin/caisson.js");

/** Why the engine cannot be used, or undefined when it can (under CI=true the tests fail instead of skipping). */
export const engineError: string | undefined = await checkEngine(DOCKER).then(
  () => undefined,
  (e: unknown) => (e instanceof Error ? e.message : String(e)),
);

export function requireEngine(): void {
  if (engineError) throw new Error(`the Docker engine is required for the e2e tests: ${engineError}`);
}

function newestMtime(dir: string, ext: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (e.name.endsWith(ext)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * `bin/caisson.js` runs dist/: rebuild it (tsc) when any source file is newer.
 * A type error fails the tests: tsc still emits, and an int test must not run
 * output that does not match the sources it claims to test.
 */
export function ensureDist(): void {
  // The stamp is written only after a clean tsc run: output emitted despite type errors never counts as built.
  const stamp = join(ROOT, "dist/.tsc-clean");
  const built = statSync(stamp, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (built >= newestMtime(join(ROOT, "src"), ".ts") && existsSync(join(ROOT, "dist/cli/main.js"))) return;
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (r.status !== 0 || r.error) {
    throw new Error(`npm run build failed (exit ${r.status}); not running a dist/ that does not match src/:\n${r.stdout}${r.stderr}${r.error?.message ?? ""}`);
  }
  if (!existsSync(join(ROOT, "dist/cli/main.js"))) throw new Error("npm run build wrote no dist/cli/main.js");
  writeFileSync(stamp, `${new Date(started).toISOString()}\n`);
  const t = new Date(started);
  utimesSync(stamp, t, t); // sources changed while tsc ran are newer than the stamp

}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/** Runs `node bin/caisson.js <args>` (asynchronously, so loopback servers in this process keep serving). */
export function caisson(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const t0 = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", fail);
    child.on("close", (code, signal) =>
      done({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        seconds: (Date.now() - t0) / 1000,
      }),
    );
  });
}

/** A fresh temporary directory holding a copy of test/fixtures/e2e/<name>. */
export function fixtureCopy(name: string, prefix = `caisson-e2e-${name}-`): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

/**
 * fixtureCopy, then `caisson lock` on each definition in it that installs
 * Debian packages: the test pins them by content against the Debian
 * archives of today, so no version or hash of the mirror is written in the
 * fixtures (only the repo's pinned base image).
 */
export async function lockedFixture(name: string, prefix?: string): Promise<string> {
  const dir = fixtureCopy(name, prefix);
  const defs: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e.name) && /^\s+packages:/m.test(readFileSync(p, "utf8"))) defs.push(p);
    }
  };
  walk(dir);
  for (const def of defs) {
    const r = await caisson(["lock", def]);
    if (r.code !== 0) throw new Error(`caisson lock ${def} failed (exit ${r.code}):\n${r.stderr}`);
  }
  return dir;
}

export const sha256 = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");

/** Replaces every `@KEY@` in a template; fails on a placeholder left over. */
export function fillTemplate(text: string, values: Readonly<Record<string, string>>): string {
  const out = text.replace(/@([A-Z0-9_]+)@/g, (m, k: string) => values[k] ?? m);
  const left = /@[A-Z0-9_]+@/.exec(out);
  if (left) throw new Error(`template placeholder ${left[0]} has no value`);
  return out;
}

// ---------------------------------------------------------------------------
// BuildKit's plain progress (`--progress plain`)

export interface Vertex {
  readonly id: number;
  readonly name: string;
  cached: boolean;
  done: boolean;
  error: string | undefined;
  /** Log lines the step printed, without the `#N 0.123 ` prefix. */
  readonly logs: string[];
}

/**
 * Splits caisson's stderr into one progress log per `docker buildx build` it
 * ran (`caisson build` runs one per output) and parses each into vertices.
 */
export function parseProgress(stderr: string): Vertex[][] {
  const runs: Vertex[][] = [];
  let current: Map<number, Vertex> | undefined;
  const flush = () => {
    if (current) runs.push([...current.values()]);
  };
  for (const raw of stderr.replace(/\r/g, "").split("\n")) {
    if (/^#0 building with /.test(raw)) {
      flush();
      current = new Map();
      continue;
    }
    const m = /^#(\d+) (.*)$/.exec(raw);
    if (!m || !current) continue;
    const id = Number(m[1]);
    const rest = m[2] as string;
    let v = current.get(id);
    if (!v) {
      // The first line of a vertex is its name.
      v = { id, name: rest, cached: false, done: false, error: undefined, logs: [] };
      current.set(id, v);
      continue;
    }
    if (rest === v.name || rest === "...") continue;
    if (rest === "CACHED") v.cached = true;
    else if (/^DONE \d/.test(rest)) v.done = true;
    else if (/^ERROR/.test(rest)) v.error = rest;
    else {
      const log = /^\d+\.\d+ (.*)$/.exec(rest);
      if (log) v.logs.push(log[1] as string);
    }
  }
  flush();
  return runs;
}

// Loopback servers, shared with the pinning tests.
export { freePort, git, serveFiles, serveGit } from "../support/loopback.js";
export type { GitServer as GitFixtureServer, LoopbackServer as HttpFixtureServer } from "../support/loopback.js";

/** Runs a command; throws with its output when it fails. */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

// ---------------------------------------------------------------------------
// OCI image layout tarballs (`-o oci=FILE`)

export interface OciImage {
  readonly platform: string;
  readonly manifestDigest: string;
  readonly config: { architecture: string; os: string; config: Record<string, unknown> };
  /** Paths of the layer blobs (gzip tarballs) inside the unpacked layout, bottom first. */
  readonly layers: readonly string[];
}

interface Descriptor {
  mediaType: string;
  digest: string;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

/**
 * Unpacks an OCI layout tarball into `dir` and walks index.json → (nested
 * indexes) → one manifest per platform → config and layers. Attestation
 * manifests (platform unknown/unknown) are left out.
 */
export function readOciLayout(tarball: string, dir: string): OciImage[] {
  run("tar", ["-xf", tarball, "-C", dir]);
  const blob = (digest: string) => join(dir, "blobs", ...digest.split(":"));
  const json = <T>(path: string) => JSON.parse(readFileSync(path, "utf8")) as T;
  const images: OciImage[] = [];
  const walk = (descriptors: Descriptor[]) => {
    for (const d of descriptors) {
      if (/image\.index|manifest\.list/.test(d.mediaType)) {
        walk(json<{ manifests: Descriptor[] }>(blob(d.digest)).manifests);
        continue;
      }
      if (d.platform?.architecture === "unknown") continue;
      const m = json<{ config: Descriptor; layers: Descriptor[] }>(blob(d.digest));
      const config = json<OciImage["config"]>(blob(m.config.digest));
      images.push({
        platform: `${config.os}/${config.architecture}`,
        manifestDigest: d.digest,
        config,
        layers: m.layers.map((l) => blob(l.digest)),
      });
    }
  };
  walk(json<{ manifests: Descriptor[] }>(join(dir, "index.json")).manifests);
  return images;
}

/** `tar -tvz` of a layer: path → "mode owner/group". */
export function layerEntries(layer: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of run("tar", ["--numeric-owner", "-tvzf", layer]).split("\n")) {
    const m = /^(\S+)\s+(\d+\/\d+)\s+\d+\s+\S+\s+\S+\s+(.+?)(?: -> .*)?$/.exec(line);
    if (m) entries.set((m[3] as string).replace(/\/$/, "").replace(/^\.\//, ""), `${m[1]} ${m[2]}`);
  }
  return entries;
}
