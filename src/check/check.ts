// checkImage: read an image (OCI archive, engine image, directory) per
// platform and check its hardening and runtime contract.

import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { dockerBinary, runDocker } from "../engine/docker.js";
import { parsePlatform as parsePlatformText } from "../platform/index.js";
import { platformDirs, readRootDir } from "./dir.js";
import { ImageFs } from "./fs.js";
import { ImageReadError, platformString, readOciArchive, readOciLayoutDir, type ImageSource, type OciImageConfig, type OciPlatform } from "./oci.js";
import { checkPolicy, PLATFORM_MACHINES, type ElfRow, type Finding, type HardeningLevel, type RuntimeUser } from "./policy.js";
import { RULE_IDS, type RuleId } from "./rules.js";
import { readTar } from "./tar.js";

export interface CheckInput {
  /** `oci-archive`: a tar from `--output type=oci` or `docker save`; `engine`: an image in the Docker engine; `dir`: a root filesystem, a `type=local` multi-platform folder, or an OCI layout directory. */
  readonly kind: "oci-archive" | "engine" | "dir";
  readonly ref: string;
}

export interface Waiver {
  /** A rule id, or a prefix glob such as `elf.*`. */
  readonly rule: string;
  /** An absolute path in the image, `*` (within a segment) and `**` (across) allowed. Without it the waiver covers every finding of the rule. */
  readonly path?: string;
  /** Why; printed with the report. Required. */
  readonly reason: string;
}

export interface CheckOptions {
  /** Platforms to check (`linux/amd64`, `arm64`, …); default: every platform in the image. */
  readonly platforms?: readonly string[];
  readonly waivers?: readonly Waiver[];
  /** Default `strict`. */
  readonly hardening?: HardeningLevel;
  /** The image config to check a `dir` input against (a directory has none). Ignored for other inputs. */
  readonly config?: OciImageConfig;
  /** Docker CLI for `engine` inputs (default: see src/engine dockerBinary). */
  readonly docker?: string;
}

export interface WaiverUse extends Waiver {
  /** Findings it covered, over all platforms. */
  readonly used: number;
}

export interface Counts {
  readonly errors: number;
  readonly warnings: number;
  readonly infos: number;
  readonly waived: number;
}

export interface PlatformReport {
  readonly platform: string;
  readonly manifestDigest?: string;
  readonly user?: RuntimeUser;
  /** The entrypoint's path in the image, when found. */
  readonly entrypoint?: string;
  readonly volumes: readonly string[];
  /** Entries in the flattened filesystem. */
  readonly files: number;
  readonly elves: readonly ElfRow[];
  readonly findings: readonly Finding[];
  readonly counts: Counts;
}

export interface CheckReport {
  readonly input: CheckInput;
  /** No unwaived error in any platform. */
  readonly ok: boolean;
  readonly hardening: HardeningLevel;
  readonly platforms: readonly PlatformReport[];
  readonly waivers: readonly WaiverUse[];
  /** What the reader skipped (attestation manifests, missing blobs). */
  readonly notes: readonly string[];
  /** Findings about the check itself (unused waivers). */
  readonly findings: readonly Finding[];
  readonly summary: Counts & { readonly platforms: number; readonly files: number; readonly elfFiles: number };
  /** Wall time of the whole check, and of the policy part of it (the rest is reading and decompressing). */
  readonly timings: { readonly totalMs: number; readonly checkMs: number };
}

/** Bad input to checkImage: unreadable image, unknown platform string, invalid waiver. */
export class CheckError extends Error {
  override readonly name = "CheckError";
}

/** `linux/amd64`, `amd64`, `x86_64`, `linux/arm64/v8` … → a platform (src/platform; a bare architecture is linux's). */
export function parsePlatform(s: string): OciPlatform {
  const r = parsePlatformText(s.includes("/") ? s : `linux/${s}`);
  if (!r.ok) throw new CheckError(`${r.message} (${r.hint})`);
  return r.value;
}

function platformMatches(want: OciPlatform, have: OciPlatform): boolean {
  if (want.os !== have.os || want.architecture !== have.architecture) return false;
  if (!want.variant) return true;
  return (have.variant ?? (have.architecture === "arm64" ? "v8" : undefined)) === want.variant;
}

function globRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

interface CompiledWaiver {
  readonly waiver: Waiver;
  readonly rule: RegExp;
  readonly path?: RegExp;
  used: number;
}

function compileWaivers(ws: readonly Waiver[]): CompiledWaiver[] {
  return ws.map((w, i) => {
    const where = `waiver ${i + 1} (${JSON.stringify(w.rule)})`;
    if (typeof w.rule !== "string" || w.rule === "") throw new CheckError(`${where}: rule is required`);
    if (typeof w.reason !== "string" || w.reason.trim() === "") throw new CheckError(`${where}: a reason is required`);
    const rule = globRegExp(w.rule);
    if (![...RULE_IDS].some((id) => rule.test(id))) throw new CheckError(`${where}: no rule matches; rules are ${[...RULE_IDS].join(", ")}`);
    if (w.path !== undefined && !w.path.startsWith("/")) throw new CheckError(`${where}: path ${JSON.stringify(w.path)} must be absolute`);
    return { waiver: w, rule, ...(w.path !== undefined ? { path: globRegExp(w.path) } : {}), used: 0 };
  });
}

function applyWaivers(findings: Finding[], ws: CompiledWaiver[]): void {
  for (const f of findings) {
    if (f.severity === "info") continue;
    for (const w of ws) {
      if (!w.rule.test(f.rule)) continue;
      if (w.path && (f.path === undefined || !w.path.test(f.path))) continue;
      f.waived = w.waiver.reason;
      w.used++;
      break;
    }
  }
}

function count(findings: readonly Finding[]): Counts {
  let errors = 0, warnings = 0, infos = 0, waived = 0;
  for (const f of findings) {
    if (f.waived !== undefined) waived++;
    else if (f.severity === "error") errors++;
    else if (f.severity === "warning") warnings++;
    else infos++;
  }
  return { errors, warnings, infos, waived };
}

interface PlatformInput {
  readonly platform: OciPlatform | undefined;
  readonly manifestDigest?: string;
  readonly config: OciImageConfig | undefined;
  load(): Promise<ImageFs>;
}

function fromSource(src: ImageSource): PlatformInput[] {
  return src.images.map((img) => ({
    platform: img.platform,
    ...(img.manifestDigest ? { manifestDigest: img.manifestDigest } : {}),
    config: img.config,
    load: async () => {
      const where = img.platform ? platformString(img.platform) : "the image";
      const tars = await Promise.all(img.layers.map((l) => l.read().catch((e: unknown) => layerError(e, l.digest, where))));
      const fs = new ImageFs();
      for (const [i, t] of tars.entries()) {
        try {
          fs.applyLayer(readTar(t));
        } catch (e) {
          layerError(e, img.layers[i]?.digest ?? `#${i}`, where);
        }
      }
      return fs;
    },
  }));
}

async function saveFromEngine(ref: string, docker: string): Promise<ImageSource> {
  const dir = mkdtempSync(join(tmpdir(), "caisson-check-"));
  try {
    const out = join(dir, "image.tar");
    const r = await runDocker(["save", "-o", out, ref], { docker });
    if (r.code !== 0) throw new CheckError(`docker save ${ref} failed: ${r.stderr.trim() || `exit code ${r.code}`}`);
    return await readOciArchive(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The machine most ELF files in `fs` are built for, as a platform. */
function guessPlatform(fs: ImageFs): OciPlatform | undefined {
  const votes = new Map<string, number>();
  for (const e of fs.entries()) {
    if (!e.elf || !e.data || e.data.length < 20) continue;
    const le = e.data[5] === 1;
    const em = le ? e.data[18]! | (e.data[19]! << 8) : (e.data[18]! << 8) | e.data[19]!;
    const cls = e.data[4] === 2 ? 64 : 32;
    const arch = Object.entries(PLATFORM_MACHINES).find(([, m]) =>
      m.elfClass === cls && m.endianness === (le ? "little" : "big") &&
      ({ x86_64: 62, aarch64: 183, arm: 40, i386: 3, ppc64: 21, s390x: 22, riscv64: 243, mips64: 8, loongarch64: 258 } as Record<string, number>)[m.machine] === em,
    )?.[0];
    if (arch) votes.set(arch, (votes.get(arch) ?? 0) + 1);
  }
  const best = [...votes.entries()].sort((a, b) => b[1] - a[1])[0];
  return best ? { os: "linux", architecture: best[0] } : undefined;
}

function hostPlatform(): OciPlatform {
  const a = process.arch === "x64" ? "amd64" : process.arch === "ia32" ? "386" : process.arch;
  return { os: "linux", architecture: a };
}

async function openInput(input: CheckInput, opts: CheckOptions): Promise<{ inputs: PlatformInput[]; notes: string[] }> {
  switch (input.kind) {
    case "oci-archive": {
      if (!existsSync(input.ref)) throw new CheckError(`${input.ref}: no such file`);
      const src = await readOciArchive(input.ref).catch(wrap);
      return { inputs: fromSource(src), notes: [...src.notes] };
    }
    case "engine": {
      const src = await saveFromEngine(input.ref, opts.docker ?? dockerBinary()).catch(wrap);
      return { inputs: fromSource(src), notes: [...src.notes] };
    }
    case "dir": {
      if (!existsSync(input.ref) || !statSync(input.ref).isDirectory()) throw new CheckError(`${input.ref}: not a directory`);
      if (existsSync(join(input.ref, "oci-layout")) && existsSync(join(input.ref, "index.json"))) {
        const src = await readOciLayoutDir(input.ref).catch(wrap);
        return { inputs: fromSource(src), notes: [...src.notes] };
      }
      const sub = platformDirs(input.ref);
      const readDir = (path: string) => async () => {
        try {
          return await readRootDir(path);
        } catch (e) {
          if (typeof (e as NodeJS.ErrnoException).syscall === "string") throw new CheckError(`${path} cannot be read: ${(e as Error).message}`);
          throw e;
        }
      };
      if (sub) return { inputs: sub.map((s) => ({ platform: s.platform, config: opts.config, load: readDir(s.path) })), notes: [] };
      return { inputs: [{ platform: undefined, config: opts.config, load: readDir(input.ref) }], notes: [] };
    }
    default:
      throw new CheckError(`unknown input kind ${JSON.stringify((input as { kind: unknown }).kind)}`);
  }
}

/**
 * A layer that cannot be read (corrupt gzip, not a tar, truncated, an
 * unsupported compression) is bad input, a CheckError naming the layer; any
 * other exception is a bug and stays one.
 */
function layerError(e: unknown, digest: string, where: string): never {
  const err = e as NodeJS.ErrnoException;
  const zlib = typeof err?.code === "string" && err.code.startsWith("Z_");
  if (e instanceof ImageReadError || (e instanceof Error && e.name === "TarError") || zlib || e instanceof RangeError || typeof err?.syscall === "string") {
    const what = zlib ? `corrupt compressed data (${err.message})` : err.message;
    throw new CheckError(`layer ${digest} of ${where} cannot be read: ${what}`);
  }
  throw e;
}

function wrap(e: unknown): never {
  if (e instanceof ImageReadError) throw new CheckError(e.message);
  if (e instanceof Error && e.name === "TarError") throw new CheckError(e.message);
  throw e;
}

/**
 * Reads every platform of an image and checks hardening and the runtime
 * contract, without running anything from the image. Throws CheckError on
 * unreadable input or invalid options; violations are in the report.
 */
export async function checkImage(input: CheckInput, opts: CheckOptions = {}): Promise<CheckReport> {
  const t0 = performance.now();
  const hardening = opts.hardening ?? "strict";
  const waivers = compileWaivers(opts.waivers ?? []);
  const wanted = opts.platforms?.map(parsePlatform);
  const { inputs, notes } = await openInput(input, opts);

  let checkMs = 0;
  const selected: { input: PlatformInput; platform: OciPlatform | undefined }[] = [];
  const missing: OciPlatform[] = [];
  if (wanted) {
    for (const w of wanted) {
      const hit = inputs.find((i) => i.platform === undefined || platformMatches(w, i.platform));
      if (hit) selected.push({ input: hit, platform: hit.platform ?? w });
      else missing.push(w);
    }
  } else {
    for (const i of inputs) selected.push({ input: i, platform: i.platform });
  }
  if (inputs.length === 0) throw new CheckError(`${input.ref}: no image manifest for any platform${notes.length ? ` (${notes.join("; ")})` : ""}`);

  const platforms: PlatformReport[] = await Promise.all(
    selected.map(async ({ input: pi, platform }) => {
      const fs = await pi.load();
      const r1 = performance.now();
      const plat = platform ?? guessPlatform(fs) ?? hostPlatform();
      const res = checkPolicy({ fs, platform: plat, config: pi.config, hardening });
      applyWaivers(res.findings, waivers);
      checkMs += performance.now() - r1;
      return {
        platform: platformString(plat),
        ...(pi.manifestDigest ? { manifestDigest: pi.manifestDigest } : {}),
        ...(res.user ? { user: res.user } : {}),
        ...(res.entrypoint ? { entrypoint: res.entrypoint } : {}),
        volumes: Object.keys(pi.config?.config?.Volumes ?? {}).sort(),
        files: fs.size,
        elves: res.elves,
        findings: res.findings,
        counts: count(res.findings),
      };
    }),
  );
  for (const m of missing) {
    const findings: Finding[] = [{ rule: "platform.missing", severity: "error", message: `the image has no ${platformString(m)} manifest; it has ${inputs.map((i) => (i.platform ? platformString(i.platform) : "?")).join(", ")}` }];
    applyWaivers(findings, waivers);
    platforms.push({ platform: platformString(m), volumes: [], files: 0, elves: [], findings, counts: count(findings) });
  }
  const global: Finding[] = [];
  for (const w of waivers) {
    if (w.used === 0) global.push({ rule: "waiver.unused" satisfies RuleId, severity: "warning", message: `waiver for ${w.waiver.rule}${w.waiver.path ? ` at ${w.waiver.path}` : ""} matched nothing (reason: ${w.waiver.reason})` });
  }
  const all = [...platforms.flatMap((p) => p.findings), ...global];
  const c = count(all);
  return {
    input,
    ok: c.errors === 0,
    hardening,
    platforms,
    waivers: waivers.map((w) => ({ ...w.waiver, used: w.used })),
    notes,
    findings: global,
    summary: { ...c, platforms: platforms.length, files: platforms.reduce((s, p) => s + p.files, 0), elfFiles: platforms.reduce((s, p) => s + p.elves.length, 0) },
    timings: { totalMs: Math.round(performance.now() - t0), checkMs: Math.round(checkMs) },
  };
}
