// A private apt state: apt-get and apt-cache run against a temporary
// directory of their own (sources, lists, caches, a status file written by
// caisson), never against the machine's apt or dpkg state. `apt-get update`
// verifies every Release file's signature; resolution is apt's own solver
// (`apt-get install -s`) relative to a dpkg status text, and every package of
// the closure is pinned by the SHA256 of its .deb from the Packages index.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { aptReason, DebianError, DebianSignatureError, run, type RunResult } from "./errors.js";
import type { DebianArchive, DebPin } from "./types.js";

export interface AptOptions {
  readonly archives: readonly DebianArchive[];
  /** dpkg architecture apt resolves for (APT::Architecture): amd64, arm64. */
  readonly native: string;
  /** Further architectures whose packages may be requested as `name:arch`. */
  readonly foreign?: readonly string[];
  readonly log?: (message: string) => void;
}

/** apt's candidate of a package, for `caisson outdated`. */
export interface Candidate {
  readonly version: string;
  /** Name of the archive the candidate comes from (see DebianArchive.name). */
  readonly archive: string;
  /** The suite it is in there: bookworm, bookworm-security. */
  readonly suite: string;
  /** True when the candidate comes from a `*-security` suite. */
  readonly security: boolean;
}

export interface Apt {
  /** The private state's directory (removed by close). */
  readonly dir: string;
  readonly native: string;
  /** Every architecture of the state, native first. */
  readonly architectures: readonly string[];
  /**
   * The packages `apt-get install` would install for `request` (`make`,
   * `make=4.3-4.1`, `libc6:arm64`, `libc6:arm64=2.36-9+deb12u14`) on a system
   * whose dpkg status is `status` (empty: nothing installed), pinned by
   * content, sorted by name then architecture. Throws DebianError naming the
   * package and apt's reason when apt cannot satisfy the request.
   */
  resolve(request: readonly string[], status?: string): Promise<DebPin[]>;
  /**
   * Pins of exact packages (`name:arch=version`; without `=version`, the
   * candidate), without their dependencies — e.g. to fetch a newer version's
   * .deb for its changelog. Throws DebianError when apt has no such package.
   */
  pins(items: readonly string[]): Promise<DebPin[]>;
  /** dpkg status text of `pins` as installed: their Packages paragraphs with `Status: install ok installed`, without Filename, Size and hashes. */
  status(pins: readonly DebPin[]): Promise<string>;
  /** apt's candidate of each package (arch `all` too), keyed by `name:arch` as given; packages without a candidate are absent. */
  candidates(names: readonly { readonly name: string; readonly arch: string }[]): Promise<Map<string, Candidate>>;
  /** The packages mmdebstrap's minbase variant requests for the native architecture: Essential: yes, Priority: required, and apt; sorted. */
  minbase(): Promise<string[]>;
  close(): Promise<void>;
}

/** `name:arch`, the key of candidates() and of pins. */
export function pkgKey(name: string, arch: string): string {
  return `${name}:${arch}`;
}

/** This machine's dpkg architecture. */
export async function nativeArch(): Promise<string> {
  const r = await run("dpkg", ["--print-architecture"]);
  const arch = r.stdout.trim();
  if (r.code !== 0 || arch === "") throw new DebianError(`cannot tell this machine's dpkg architecture (dpkg --print-architecture): ${r.stderr.trim() || `exit ${r.code}`}`);
  return arch;
}

// ---- parsers of apt's output (pure; unit-tested) ----

export interface AptAction {
  /** Package name without an architecture qualifier. */
  readonly name: string;
  readonly arch: string;
  readonly version: string;
  /** Installed version an `Inst` upgrades or downgrades. */
  readonly old?: string;
}

/** `Inst` and `Remv` lines of `apt-get install -s`. */
export function parseSimulation(text: string): { install: AptAction[]; remove: string[] } {
  const install: AptAction[] = [];
  const remove: string[] = [];
  for (const line of text.split("\n")) {
    const inst = /^Inst (\S+)(?: \[([^\]]*)\])? \((\S+) .*\[([^\]\s]+)\]\)/.exec(line);
    if (inst) {
      const name = inst[1]!.replace(/:[^:]+$/, "");
      install.push({ name, arch: inst[4]!, version: inst[3]!, ...(inst[2] !== undefined ? { old: inst[2] } : {}) });
      continue;
    }
    const remv = /^Remv (\S+)/.exec(line);
    if (remv) remove.push(remv[1]!);
  }
  return { install, remove };
}

/** `'URI' file size hash` lines of `apt-get --print-uris`: the URIs, decoded. */
export function parsePrintUris(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^'([^']+)' \S+ \d+/.exec(line);
    if (m) out.push(decodeURIComponent(m[1]!));
  }
  return out;
}

/** One paragraph of a Packages index, raw, with its fields. */
export interface Paragraph {
  readonly text: string;
  get(field: string): string | undefined;
}

/** The paragraphs of a Packages (or status) text. */
export function parseParagraphs(text: string): Paragraph[] {
  return text
    .split(/\n[ \t]*\n/)
    .map((t) => t.replace(/^\n+|\n+$/g, ""))
    .filter((t) => t !== "")
    .map((t) => ({
      text: t,
      get(field: string): string | undefined {
        const re = new RegExp(`^${field.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&")}:[ \\t]*(.*)$`, "im");
        return re.exec(t)?.[1]?.trim();
      },
    }));
}

const NOT_IN_STATUS = new Set(["filename", "size", "md5sum", "sha1", "sha256", "sha512", "description-md5", "status"]);

/** A Packages paragraph as a dpkg status paragraph: `Status: install ok installed` after Package, no Filename, Size or hashes. */
export function statusParagraph(paragraph: string): string {
  const out: string[] = [];
  let skipping = false;
  for (const line of paragraph.split("\n")) {
    if (/^[ \t]/.test(line)) {
      if (!skipping) out.push(line);
      continue;
    }
    const field = line.slice(0, line.indexOf(":")).toLowerCase();
    skipping = NOT_IN_STATUS.has(field);
    if (skipping) continue;
    out.push(line);
    if (field === "package") out.push("Status: install ok installed");
  }
  return out.join("\n");
}

/** dpkg status text of .deb files as installed (their control paragraphs with `Status: install ok installed`), for pins apt's lists no longer have. */
export async function debStatus(files: readonly string[]): Promise<string> {
  const out: { name: string; arch: string; text: string }[] = [];
  for (const file of files) {
    const r = await run("dpkg-deb", ["-f", file]);
    if (r.code !== 0) throw new DebianError(`dpkg-deb -f ${file}: ${r.stderr.trim() || `exit ${r.code}`}`);
    const [q] = parseParagraphs(r.stdout);
    if (!q?.get("Package")) throw new DebianError(`${file} has no control paragraph with a Package field`);
    out.push({ name: q.get("Package")!, arch: q.get("Architecture") ?? "", text: statusParagraph(q.text) });
  }
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0));
  return out.length === 0 ? "" : `${out.map((o) => o.text).join("\n\n")}\n`;
}

export interface PolicyEntry {
  readonly candidate?: string;
  /** Version table: each version with the sources (URI, suite) it is in. */
  readonly versions: { version: string; sources: { uri: string; suite: string }[] }[];
}

/** `apt-cache policy` output: package as apt prints it (`make`, `libc6:arm64`) → candidate and version table. */
export function parsePolicy(text: string): Map<string, PolicyEntry> {
  const out = new Map<string, { candidate?: string; versions: { version: string; sources: { uri: string; suite: string }[] }[] }>();
  let cur: { candidate?: string; versions: { version: string; sources: { uri: string; suite: string }[] }[] } | undefined;
  for (const line of text.split("\n")) {
    const head = /^(\S+):$/.exec(line);
    if (head) {
      cur = { versions: [] };
      out.set(head[1]!, cur);
      continue;
    }
    if (!cur) continue;
    const cand = /^ {2}Candidate: (\S+)$/.exec(line);
    if (cand) {
      if (cand[1] !== "(none)") cur.candidate = cand[1]!;
      continue;
    }
    const src = /^ {8}\s*-?\d+ (\S+) (\S+) \S+ Packages$/.exec(line);
    if (src) {
      cur.versions.at(-1)?.sources.push({ uri: src[1]!, suite: src[2]!.replace(/\/.*$/, "") });
      continue;
    }
    const ver = /^ {1,7}(?:\*\*\* )?\s*(\S+) -?\d+$/.exec(line);
    if (ver) cur.versions.push({ version: ver[1]!, sources: [] });
  }
  return out;
}

const REQUEST = /^([a-z0-9][a-z0-9+.-]*)(?::([a-z0-9][a-z0-9-]*))?(?:=([A-Za-z0-9.+~:-]+))?$/;

/** A package request as users write it: name, optional `:arch`, optional `=version`. */
export function parseRequest(item: string): { name: string; arch?: string; version?: string } {
  const m = REQUEST.exec(item);
  if (!m) throw new DebianError(`"${item}" is not a Debian package request (name, name:arch, name=version or name:arch=version)`);
  return { name: m[1]!, ...(m[2] !== undefined ? { arch: m[2] } : {}), ...(m[3] !== undefined ? { version: m[3] } : {}) };
}

function comparePins(a: DebPin, b: DebPin): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0;
}

/** The archive (longest URI prefix) a URI belongs to. */
export function archiveOf(archives: readonly DebianArchive[], uri: string): { archive: DebianArchive; path: string } | undefined {
  let best: DebianArchive | undefined;
  for (const a of archives) {
    if (uri.startsWith(`${a.uri}/`) && (!best || a.uri.length > best.uri.length)) best = a;
  }
  return best ? { archive: best, path: uri.slice(best.uri.length + 1) } : undefined;
}

/** sources.list text for the private state: one line per suite, with signed-by. */
export function sourcesList(archives: readonly DebianArchive[], keyringFile: (a: DebianArchive, i: number) => string | undefined): string {
  const lines: string[] = [];
  archives.forEach((a, i) => {
    const key = keyringFile(a, i);
    const opts = key !== undefined ? `[signed-by=${key}] ` : "";
    for (const suite of a.suites) lines.push(`deb ${opts}${a.uri} ${suite} ${a.components.join(" ")}`.trimEnd());
  });
  return `${lines.join("\n")}\n`;
}

// ---- the private state ----

/** Creates a private apt state for `archives` and runs `apt-get update` in it (signatures verified). */
export async function openApt(options: AptOptions): Promise<Apt> {
  const { archives, native, log } = options;
  if (archives.length === 0) throw new DebianError("no Debian archive to resolve packages from");
  const architectures = [native, ...(options.foreign ?? []).filter((a, i, all) => a !== native && all.indexOf(a) === i)];
  const dir = await mkdtemp(join(tmpdir(), "caisson-apt-"));
  try {
    for (const d of ["lists/partial", "archives/partial", "cache", "state", "log", "sources.list.d", "preferences.d", "keys"]) await mkdir(join(dir, d), { recursive: true });
    const keys: (string | undefined)[] = [];
    for (const [i, a] of archives.entries()) {
      if (a.signedBy?.includes("BEGIN PGP")) {
        const file = join(dir, "keys", `archive-${i}.asc`);
        await writeFile(file, `${a.signedBy.trim()}\n`);
        keys.push(file);
      } else keys.push(a.signedBy);
    }
    await writeFile(join(dir, "sources.list"), sourcesList(archives, (_a, i) => keys[i]));
    await writeFile(join(dir, "preferences"), "");
    // The machine's apt.conf is read (proxies, Check-Valid-Until…), but not its update hooks.
    await writeFile(join(dir, "apt.conf"), ["Pre-Invoke", "Post-Invoke", "Post-Invoke-Success"].map((h) => `#clear APT::Update::${h};\n`).join(""));
    await writeFile(join(dir, "status"), "");
    const apt = new PrivateApt(dir, native, architectures, archives, log);
    await apt.update();
    return apt;
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

class PrivateApt implements Apt {
  private queue: Promise<unknown> = Promise.resolve();
  private statusFiles = 0;

  constructor(
    readonly dir: string,
    readonly native: string,
    readonly architectures: readonly string[],
    private readonly archives: readonly DebianArchive[],
    private readonly log: ((message: string) => void) | undefined,
  ) {}

  private options(status: string): string[] {
    const d = this.dir;
    return [
      "-c", join(d, "apt.conf"),
      "-o", `Dir::Etc::SourceList=${join(d, "sources.list")}`,
      "-o", `Dir::Etc::SourceParts=${join(d, "sources.list.d")}`,
      "-o", `Dir::Etc::Preferences=${join(d, "preferences")}`,
      "-o", `Dir::Etc::PreferencesParts=${join(d, "preferences.d")}`,
      "-o", `Dir::State=${join(d, "state")}`,
      "-o", `Dir::State::Lists=${join(d, "lists")}`,
      "-o", `Dir::State::status=${status}`,
      "-o", `Dir::State::extended_states=${join(d, "state", "extended_states")}`,
      "-o", `Dir::Cache=${join(d, "cache")}`,
      "-o", `Dir::Cache::Archives=${join(d, "archives")}`,
      "-o", "Dir::Cache::pkgcache=",
      "-o", `Dir::Cache::srcpkgcache=${join(d, "cache", "srcpkgcache.bin")}`,
      "-o", `Dir::Log=${join(d, "log")}`,
      "-o", `APT::Architecture=${this.native}`,
      "-o", `APT::Architectures=${this.architectures.join(",")}`,
      "-o", "Debug::NoLocking=1",
      "-o", "APT::Sandbox::User=root",
      "-o", "Acquire::Languages=none",
      "-o", "Acquire::AllowInsecureRepositories=false",
      "-o", "Acquire::AllowDowngradeToInsecureRepositories=false",
      "-o", "APT::Get::AllowUnauthenticated=false",
      "-o", "APT::Install-Recommends=false",
      "-o", "APT::Install-Suggests=false",
      "-o", "Acquire::http::Proxy::127.0.0.1=DIRECT",
    ];
  }

  /** Runs apt tools one at a time (they share the lists and the source cache). */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.queue.then(f, f);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private apt(tool: "apt-get" | "apt-cache", args: readonly string[], status = join(this.dir, "status")): Promise<RunResult> {
    return run(tool, [...this.options(status), ...args], { env: { LC_ALL: "C", LANG: "C", LANGUAGE: "" } });
  }

  private withStatus<T>(status: string, f: (file: string) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      const file = join(this.dir, `status-${++this.statusFiles}`);
      await writeFile(file, status === "" || status.endsWith("\n") ? status : `${status}\n`);
      try {
        return await f(file);
      } finally {
        await rm(file, { force: true });
      }
    });
  }

  update(): Promise<void> {
    return this.serial(async () => {
      const names = this.archives.map((a) => `${a.name} (${a.suites.join(", ")})`).join("; ");
      this.log?.(`apt-get update in a private apt state for ${this.architectures.join(", ")}: ${names}`);
      const r = await this.apt("apt-get", ["-q", "update"]);
      const text = `${r.stdout}\n${r.stderr}`;
      const sig = signatureFailure(text, this.archives);
      if (sig) throw new DebianSignatureError(sig);
      const failed = text.split("\n").filter((l) => /^(E: |W: Failed to fetch|W: Some index files failed)/.test(l.trim()));
      if (r.code !== 0 || failed.length > 0) throw new DebianError(`apt-get update failed: ${failed.map((l) => l.trim().replace(/^[EW]: /, "")).join("; ") || aptReason(r)}`);
      for (const l of text.split("\n")) if (/^W: /.test(l.trim())) this.log?.(`apt-get update: ${l.trim().slice(3)}`);
    });
  }

  private checkRequest(request: readonly string[]): void {
    for (const item of request) {
      const { arch } = parseRequest(item);
      if (arch !== undefined && arch !== "all" && !this.architectures.includes(arch)) {
        throw new DebianError(`cannot resolve Debian package ${item}: architecture ${arch} is not one of this apt state's (${this.architectures.join(", ")})`);
      }
    }
  }

  async resolve(request: readonly string[], status = ""): Promise<DebPin[]> {
    if (request.length === 0) return [];
    this.checkRequest(request);
    const plan = await this.withStatus(status, async (file) => {
      const flags = ["--no-install-recommends", "-y", ...request];
      const sim = await this.apt("apt-get", ["install", "-s", "-q", ...flags], file);
      if (sim.code !== 0) throw new DebianError(`cannot resolve Debian packages ${request.join(" ")}: ${unresolvable(sim)}`);
      const { install, remove } = parseSimulation(sim.stdout);
      if (remove.length > 0) throw new DebianError(`cannot resolve Debian packages ${request.join(" ")}: apt would remove installed packages (${remove.join(", ")})`);
      if (install.length === 0) return { install, uris: [] as string[] };
      const pu = await this.apt("apt-get", ["install", "--print-uris", "-qq", ...flags], file);
      if (pu.code !== 0) throw new DebianError(`cannot resolve Debian packages ${request.join(" ")}: ${unresolvable(pu)}`);
      return { install, uris: parsePrintUris(pu.stdout) };
    });
    if (plan.install.length === 0) return [];
    // Where apt downloads each file from: archive and pool path.
    const where = new Map<string, string>(); // path → archive name
    for (const uri of plan.uris) {
      const hit = archiveOf(this.archives, uri);
      if (hit && !where.has(hit.path)) where.set(hit.path, hit.archive.name);
    }
    const paragraphs = await this.show(plan.install.map((p) => `${p.name}:${p.arch}=${p.version}`));
    const pins: DebPin[] = [];
    for (const p of plan.install) {
      const mine = paragraphs.filter((q) => q.get("Package") === p.name && q.get("Version") === p.version && q.get("Architecture") === p.arch);
      const chosen = mine.find((q) => where.has(q.get("Filename") ?? "")) ?? mine[0];
      const path = chosen?.get("Filename");
      const sha256 = chosen?.get("SHA256");
      const size = Number(chosen?.get("Size"));
      const archive = path !== undefined ? where.get(path) : undefined;
      if (!chosen || path === undefined || sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256) || !Number.isSafeInteger(size)) {
        throw new DebianError(`Debian package ${p.name}:${p.arch}=${p.version} has no Filename, Size and SHA256 in the Packages index`);
      }
      if (archive === undefined) throw new DebianError(`Debian package ${p.name}:${p.arch}=${p.version} (${path}) is not downloaded from any configured archive (${this.archives.map((a) => a.name).join(", ")})`);
      pins.push({ name: p.name, version: p.version, arch: p.arch, sha256, size, archive, path });
    }
    return pins.sort(comparePins);
  }

  async pins(items: readonly string[]): Promise<DebPin[]> {
    if (items.length === 0) return [];
    this.checkRequest(items);
    const r = await this.serial(() => this.apt("apt-get", ["download", "--print-uris", "-qq", ...items]));
    if (r.code !== 0) throw new DebianError(`cannot find Debian packages ${items.join(" ")}: ${aptReason(r)}`);
    const paragraphs = await this.show(items, true);
    const pins: DebPin[] = [];
    for (const uri of parsePrintUris(r.stdout)) {
      const hit = archiveOf(this.archives, uri);
      if (!hit) throw new DebianError(`${uri} is not in any configured archive (${this.archives.map((a) => a.name).join(", ")})`);
      const q = paragraphs.find((x) => x.get("Filename") === hit.path);
      const sha256 = q?.get("SHA256");
      const size = Number(q?.get("Size"));
      if (!q || sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256) || !Number.isSafeInteger(size)) {
        throw new DebianError(`Debian package file ${hit.path} has no Size and SHA256 in the Packages index`);
      }
      pins.push({ name: q.get("Package")!, version: q.get("Version")!, arch: q.get("Architecture")!, sha256, size, archive: hit.archive.name, path: hit.path });
    }
    return pins.sort(comparePins);
  }

  /** Packages paragraphs of `name:arch=version` items; with `partial`, items apt does not know are left out instead of failing. */
  private show(items: readonly string[], partial = false): Promise<Paragraph[]> {
    return this.serial(async () => {
      const r = await this.apt("apt-cache", ["show", ...items]);
      if (r.code !== 0 && !partial) throw new DebianError(`apt-cache show ${items.join(" ")}: ${aptReason(r)}`);
      return parseParagraphs(r.stdout);
    });
  }

  async status(pins: readonly DebPin[]): Promise<string> {
    if (pins.length === 0) return "";
    const sorted = [...pins].sort(comparePins);
    const paragraphs = await this.show(
      sorted.map((p) => `${p.name}:${p.arch}=${p.version}`),
      true,
    );
    const out: string[] = [];
    for (const p of sorted) {
      const q = paragraphs.find((x) => x.get("Package") === p.name && x.get("Version") === p.version && x.get("SHA256") === p.sha256);
      if (!q) throw new DebianError(`Debian package ${p.name}:${p.arch}=${p.version} (sha256 ${p.sha256}) is not in the apt lists any more: fetch it and take its status from the .deb (debStatus)`);
      out.push(statusParagraph(q.text));
    }
    return `${out.join("\n\n")}\n`;
  }

  async candidates(names: readonly { readonly name: string; readonly arch: string }[]): Promise<Map<string, Candidate>> {
    const out = new Map<string, Candidate>();
    if (names.length === 0) return out;
    const query = (n: { name: string; arch: string }) => (n.arch === "all" || n.arch === this.native ? n.name : `${n.name}:${n.arch}`);
    for (const n of names) parseRequest(query(n));
    const r = await this.serial(() => this.apt("apt-cache", ["policy", ...new Set(names.map(query))]));
    if (r.code !== 0) throw new DebianError(`apt-cache policy: ${aptReason(r)}`);
    const policy = parsePolicy(r.stdout);
    for (const n of names) {
      const q = query(n);
      const entry = policy.get(q) ?? policy.get(`${q}:${this.native}`);
      if (!entry?.candidate) continue;
      const sources = entry.versions.find((v) => v.version === entry.candidate)?.sources ?? [];
      const located = sources.map((s) => ({ s, a: archiveOf(this.archives, `${s.uri.replace(/\/+$/, "")}/`) })).filter((x) => x.a !== undefined);
      const first = located.find((x) => x.s.suite.endsWith("-security")) ?? located[0];
      if (!first) continue;
      out.set(pkgKey(n.name, n.arch), {
        version: entry.candidate,
        archive: first.a!.archive.name,
        suite: first.s.suite,
        security: sources.some((s) => s.suite.endsWith("-security")),
      });
    }
    return out;
  }

  minbase(): Promise<string[]> {
    return this.serial(
      () =>
        new Promise<string[]>((resolve, reject) => {
          const child = spawn("apt-cache", [...this.options(join(this.dir, "status")), "dumpavail"], {
            stdio: ["ignore", "pipe", "pipe"],
            env: { ...process.env, LC_ALL: "C", LANG: "C" },
          });
          const names = new Set<string>(["apt"]);
          let pkg = "";
          let arch = "";
          let wanted = false;
          const flush = () => {
            if (pkg !== "" && wanted && (arch === this.native || arch === "all")) names.add(pkg);
            pkg = arch = "";
            wanted = false;
          };
          let stderr = "";
          child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
          child.on("error", reject);
          const lines = createInterface({ input: child.stdout });
          lines.on("line", (line) => {
            if (line === "") return flush();
            if (line.startsWith("Package: ")) pkg = line.slice(9).trim();
            else if (line.startsWith("Architecture: ")) arch = line.slice(14).trim();
            else if (/^Essential: yes\s*$/i.test(line) || /^Priority: required\s*$/i.test(line)) wanted = true;
          });
          child.on("close", (code) => {
            flush();
            if (code !== 0) reject(new DebianError(`apt-cache dumpavail: ${stderr.trim() || `exit ${code}`}`));
            else resolve([...names].sort());
          });
        }),
    );
  }

  async close(): Promise<void> {
    await this.queue;
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Why apt could not satisfy a request: its E: lines and, for unmet dependencies, the packages it names. */
function unresolvable(r: RunResult): string {
  const text = `${r.stdout}\n${r.stderr}`;
  const unmet = text
    .split("\n")
    .filter((l) => /^\s*\S+ : (Pre-)?Depends|^\s*(Depends|PreDepends|Conflicts|Breaks):/.test(l))
    .map((l) => l.trim().replace(/\s+/g, " "));
  const errors = aptReason(r);
  return unmet.length > 0 ? `${errors} (${unmet.slice(0, 6).join("; ")})` : errors;
}

/** The message for an archive whose Release file failed verification, if `apt-get update` says so. */
export function signatureFailure(text: string, archives: readonly DebianArchive[]): string | undefined {
  const lines = text.split("\n").map((l) => l.trim().replace(/^[EWN]: /, ""));
  const failures: string[] = [];
  for (const l of lines) {
    const m = /^GPG error: (\S+) (\S+) (?:InRelease|Release): (.*)$/.exec(l);
    if (!m) continue;
    const hit = archiveOf(archives, `${m[1]!.replace(/\/+$/, "")}/`);
    failures.push(`the Release file of ${hit ? `archive "${hit.archive.name}"` : m[1]} suite ${m[2]} failed signature verification: ${m[3]}`);
  }
  if (failures.length === 0) {
    const unsigned = lines.filter((l) => /^The repository '.*' is not signed\.$/.test(l));
    if (unsigned.length === 0) return undefined;
    failures.push(...unsigned);
  }
  return `apt-get update: ${[...new Set(failures)].join("; ")}`;
}
