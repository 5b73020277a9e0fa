// The policy: hardening and the runtime contract, checked over one platform's
// flattened filesystem and image config. Pure: no I/O.

import { posix } from "node:path";
import { analyzeElf, ElfError, type ElfReport } from "../elf/index.js";
import type { FsEntry, ImageFs } from "./fs.js";
import type { OciImageConfig, OciPlatform } from "./oci.js";
import type { RuleId, Severity } from "./rules.js";

export interface Finding {
  readonly rule: RuleId;
  readonly severity: Severity;
  /** The file the finding is about, absolute in the image. */
  readonly path?: string;
  readonly message: string;
  /** The reason of the waiver that covers this finding. */
  waived?: string;
}

/** `strict`: every ELF hardening rule. `none`: no PIE/RELRO/canary/NX/FORTIFY/RPATH rules (machine, dependency and filesystem rules still apply). */
export type HardeningLevel = "strict" | "none";

export type ElfRole = "executable" | "library" | "system-library" | "object";

export interface ElfRow {
  readonly path: string;
  readonly role: ElfRole;
  readonly machine: string;
  readonly type: string;
  readonly linking: string;
  readonly pie: boolean;
  readonly relro: "none" | "partial" | "full";
  readonly canary: boolean;
  readonly nx: boolean;
  /** yes: some __*_chk imported; no: fortifiable functions used, none fortified; n/a: nothing to judge. */
  readonly fortify: "yes" | "no" | "n/a";
  readonly fortified: number;
  readonly fortifiable: number;
  readonly rpath: readonly string[];
  readonly runpath: readonly string[];
  readonly interpreter?: string;
  readonly needed: readonly string[];
}

export interface RuntimeUser {
  /** The User field as written ("" = root). */
  readonly spec: string;
  readonly uid: number;
  readonly gid: number;
  readonly name?: string;
  /** Primary and supplementary gids. */
  readonly groups: readonly number[];
}

export interface PolicyInput {
  readonly fs: ImageFs;
  readonly platform: OciPlatform;
  readonly config: OciImageConfig | undefined;
  readonly hardening: HardeningLevel;
}

export interface PolicyResult {
  readonly findings: Finding[];
  readonly elves: ElfRow[];
  readonly user?: RuntimeUser;
  /** The programs run by the image: entrypoint (resolved) and healthcheck. */
  readonly entrypoint?: string;
}

/** ELF machine and class expected for an OCI architecture. */
export const PLATFORM_MACHINES: Readonly<Record<string, { machine: string; elfClass: 32 | 64; endianness: "little" | "big"; triple: string }>> = {
  amd64: { machine: "x86_64", elfClass: 64, endianness: "little", triple: "x86_64-linux-gnu" },
  arm64: { machine: "aarch64", elfClass: 64, endianness: "little", triple: "aarch64-linux-gnu" },
  arm: { machine: "arm", elfClass: 32, endianness: "little", triple: "arm-linux-gnueabihf" },
  "386": { machine: "i386", elfClass: 32, endianness: "little", triple: "i386-linux-gnu" },
  ppc64le: { machine: "ppc64", elfClass: 64, endianness: "little", triple: "powerpc64le-linux-gnu" },
  ppc64: { machine: "ppc64", elfClass: 64, endianness: "big", triple: "powerpc64-linux-gnu" },
  s390x: { machine: "s390x", elfClass: 64, endianness: "big", triple: "s390x-linux-gnu" },
  riscv64: { machine: "riscv64", elfClass: 64, endianness: "little", triple: "riscv64-linux-gnu" },
  mips64le: { machine: "mips64", elfClass: 64, endianness: "little", triple: "mips64el-linux-gnuabi64" },
  loong64: { machine: "loongarch64", elfClass: 64, endianness: "little", triple: "loongarch64-linux-gnu" },
};

export const SHELLS: ReadonlySet<string> = new Set(["sh", "bash", "rbash", "dash", "ash", "zsh", "ksh", "ksh93", "mksh", "pdksh", "csh", "tcsh", "fish", "yash", "busybox", "toybox"]);
export const PACKAGE_MANAGERS: ReadonlySet<string> = new Set([
  "apt", "apt-get", "apt-cache", "aptitude", "dpkg", "dpkg-deb", "apk", "yum", "dnf", "microdnf", "rpm", "zypper", "pacman", "opkg", "emerge", "xbps-install", "nix-env",
]);

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SYSTEM_LIB_DIRS = ["/lib", "/usr/lib", "/lib64", "/usr/lib64", "/lib32", "/usr/lib32", "/libx32", "/usr/libx32"];
const decoder = new TextDecoder();

/** A file directly in a directory named bin or sbin (/bin, /usr/local/sbin, /opt/x/bin, …). */
function inBinDir(path: string): boolean {
  const dir = path.slice(0, path.lastIndexOf("/"));
  const d = dir.slice(dir.lastIndexOf("/") + 1);
  return d === "bin" || d === "sbin";
}

/** Libraries shipped by a distribution live under these directories (any depth). */
export function isSystemLibraryPath(path: string): boolean {
  return SYSTEM_LIB_DIRS.some((d) => path.startsWith(d + "/"));
}

function text(e: FsEntry | undefined): string | undefined {
  return e?.data ? decoder.decode(e.data) : undefined;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function parsePasswd(t: string | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of (t ?? "").split("\n")) {
    const f = line.split(":");
    if (f.length < 4 || line.startsWith("#")) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (Number.isInteger(uid) && Number.isInteger(gid)) out.push({ name: f[0]!, uid, gid });
  }
  return out;
}

function parseGroup(t: string | undefined): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of (t ?? "").split("\n")) {
    const f = line.split(":");
    if (f.length < 3 || line.startsWith("#")) continue;
    const gid = Number(f[2]);
    if (Number.isInteger(gid)) out.push({ name: f[0]!, gid, members: (f[3] ?? "").split(",").filter(Boolean) });
  }
  return out;
}

const NUMERIC = /^[0-9]+$/;

/** Resolves the config's User the way runc does (numeric ids need no /etc/passwd; a uid alone gets its passwd gid, else 0). */
export function resolveUser(spec: string, fs: ImageFs): { user?: RuntimeUser; error?: string } {
  const passwd = parsePasswd(text(fs.stat("/etc/passwd")));
  const group = parseGroup(text(fs.stat("/etc/group")));
  const colon = spec.indexOf(":");
  const u = colon < 0 ? spec : spec.slice(0, colon);
  const g = colon < 0 ? undefined : spec.slice(colon + 1);
  let uid: number;
  let pw: PasswdEntry | undefined;
  if (u === "") {
    uid = 0;
    pw = passwd.find((p) => p.uid === 0);
  } else if (NUMERIC.test(u)) {
    uid = Number(u);
    pw = passwd.find((p) => p.uid === uid);
  } else {
    pw = passwd.find((p) => p.name === u);
    if (!pw) return { error: `user "${u}" is not in /etc/passwd${fs.stat("/etc/passwd") ? "" : " (the image has no /etc/passwd)"}` };
    uid = pw.uid;
  }
  let gid: number;
  if (g === undefined || g === "") gid = pw?.gid ?? 0;
  else if (NUMERIC.test(g)) gid = Number(g);
  else {
    const gr = group.find((x) => x.name === g);
    if (!gr) return { error: `group "${g}" is not in /etc/group${fs.stat("/etc/group") ? "" : " (the image has no /etc/group)"}` };
    gid = gr.gid;
  }
  const groups = new Set([gid]);
  if (pw && (g === undefined || g === "")) for (const gr of group) if (gr.members.includes(pw.name)) groups.add(gr.gid);
  return { user: { spec, uid, gid, ...(pw ? { name: pw.name } : {}), groups: [...groups] } };
}

function canExecute(e: FsEntry, u: RuntimeUser | undefined): boolean {
  if (!u || u.uid === 0) return (e.mode & 0o111) !== 0;
  if (e.uid === u.uid) return (e.mode & 0o100) !== 0;
  if (u.groups.includes(e.gid)) return (e.mode & 0o010) !== 0;
  return (e.mode & 0o001) !== 0;
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}

function normVolume(v: string): string {
  const n = posix.normalize("/" + v);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

function envMap(cfg: OciImageConfig | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of cfg?.config?.Env ?? []) {
    const i = kv.indexOf("=");
    if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return m;
}

type Analysis = { report: ElfReport } | { error: string };

/** Checks one platform's filesystem and config. */
export function checkPolicy(input: PolicyInput): PolicyResult {
  const { fs, platform, config, hardening } = input;
  const findings: Finding[] = [];
  const add = (rule: RuleId, severity: Severity, path: string | undefined, message: string): void => {
    findings.push({ rule, severity, ...(path !== undefined ? { path } : {}), message });
  };
  const expected = PLATFORM_MACHINES[platform.architecture];
  const env = envMap(config);

  // --- user -----------------------------------------------------------------
  let user: RuntimeUser | undefined;
  if (!config) {
    add("config.missing", "warning", undefined, "no image config: the runtime user, entrypoint and volumes are unknown; their rules were skipped");
  } else {
    const spec = config.config?.User ?? "";
    const r = resolveUser(spec, fs);
    if (r.error) add("user.unknown", "error", undefined, `User ${JSON.stringify(spec)}: ${r.error}; the container would not start`);
    user = r.user;
    if (user && user.uid === 0) add("user.root", "error", undefined, `the image runs as root (User ${JSON.stringify(spec)}${spec === "" ? ", unset" : ""}); set a non-root uid:gid`);
    else if (user && user.gid === 0) add("user.root-group", "warning", undefined, `the runtime user ${user.uid} has primary group 0 (root); give it its own gid (User "${user.uid}:${user.uid}")`);
  }
  const volumes = Object.keys(config?.config?.Volumes ?? {}).map(normVolume);
  const inVolume = (p: string): boolean => volumes.some((v) => v === "/" || p === v || p.startsWith(v + "/"));
  const nonRoot = user !== undefined && user.uid !== 0 ? user : undefined;

  // --- files ----------------------------------------------------------------
  const analyses = new Map<Uint8Array, Analysis>();
  const analysis = (e: FsEntry): Analysis | undefined => {
    if (!e.elf || !e.data) return undefined;
    let a = analyses.get(e.data);
    if (!a) {
      try {
        a = { report: analyzeElf(e.data, e.path) };
      } catch (err) {
        if (!(err instanceof ElfError)) throw err;
        a = { error: `${err.code}: ${err.message}` };
      }
      analyses.set(e.data, a);
    }
    return a;
  };
  const elfFiles: { entry: FsEntry; report: ElfReport }[] = [];

  for (const e of fs.entries()) {
    const p = e.path;
    const base = p.slice(p.lastIndexOf("/") + 1);
    if (e.type === "file") {
      if (e.mode & 0o4000) add("fs.setuid", "error", p, `setuid file (mode ${octal(e.mode)}, owner ${e.uid})`);
      if (e.mode & 0o2000) add("fs.setgid", "error", p, `setgid file (mode ${octal(e.mode)}, group ${e.gid})`);
    }
    if (e.xattrs?.["security.capability"]) add("fs.capability", "error", p, "file capabilities (security.capability xattr)");
    if (e.type === "fifo" || e.type === "char" || e.type === "block") {
      const what = e.type === "fifo" ? "named pipe (FIFO)" : `${e.type === "char" ? "character" : "block"} device`;
      add("fs.special", "error", p, `${what}: a runtime image holds files, directories and symlinks (caisson release refuses it); leave it out of the source that brings it (exclude:) or remove it in the stage that makes it`);
    }
    if (e.type !== "symlink" && e.mode & 0o002) {
      if (e.type === "dir" && e.mode & 0o1000) add("fs.world-writable", "info", p, `world-writable sticky directory (mode ${octal(e.mode)}), allowed`);
      else add("fs.world-writable", "error", p, `world-writable ${e.type === "dir" ? "directory" : "file"} (mode ${octal(e.mode)})`);
    }
    if (nonRoot && e.type !== "symlink" && !inVolume(p)) {
      if (e.uid === nonRoot.uid) add("fs.user-owned", "error", p, `owned by the runtime user ${nonRoot.uid} outside the declared volumes${volumes.length ? ` (${volumes.join(", ")})` : ""}`);
      else if (e.mode & 0o020 && nonRoot.groups.includes(e.gid))
        add("fs.user-writable", "error", p, `group-writable (mode ${octal(e.mode)}) by group ${e.gid} of the runtime user, outside the declared volumes`);
    }
    if ((e.type === "symlink" || (e.type === "file" && e.mode & 0o111)) && (inBinDir(p) || base === "busybox" || base === "toybox")) {
      if (SHELLS.has(base)) add("fs.shell", "error", p, `shell${e.type === "symlink" ? ` (symlink to ${e.linkTarget})` : ""}`);
      else if (PACKAGE_MANAGERS.has(base)) add("fs.package-manager", "error", p, `package manager${e.type === "symlink" ? ` (symlink to ${e.linkTarget})` : ""}`);
    }
    if (e.type === "file" && e.elf) {
      const a = analysis(e);
      if (a && "error" in a) add("elf.malformed", "warning", p, `not a readable ELF file: ${a.error}`);
      else if (a) elfFiles.push({ entry: e, report: a.report });
    }
  }

  // --- ELF: machine and hardening ---------------------------------------------
  const elves: ElfRow[] = [];
  for (const { entry, report: r } of elfFiles) {
    const p = entry.path;
    const role: ElfRole =
      r.type === "REL" || r.type === "CORE" || r.type === "NONE" || r.type.startsWith("unknown")
        ? "object"
        : r.type === "EXEC" || (r.pie && !r.sharedLibrary)
          ? "executable"
          : isSystemLibraryPath(p)
            ? "system-library"
            : "library";
    const fortifiable = r.fortify.fortified.length + r.fortify.unfortified.length;
    const fortify = !r.fortify.assessed || fortifiable === 0 ? "n/a" : r.fortify.fortified.length > 0 ? "yes" : "no";
    elves.push({
      path: p, role, machine: r.machine, type: r.type, linking: r.linking, pie: r.pie, relro: r.relro, canary: r.canary, nx: r.nx,
      fortify, fortified: r.fortify.fortified.length, fortifiable, rpath: r.rpath, runpath: r.runpath,
      ...(r.interpreter !== undefined ? { interpreter: r.interpreter } : {}), needed: r.needed,
    });
    if (expected && (r.machine !== expected.machine || r.elfClass !== expected.elfClass || r.endianness !== expected.endianness)) {
      add("elf.arch", "error", p, `${r.machine} (${r.elfClass}-bit ${r.endianness}-endian) ELF in a ${platform.os}/${platform.architecture} image, which needs ${expected.machine}`);
    }
    if (hardening === "none" || role === "object") continue;
    const sys = role === "system-library";
    const what = role === "executable" ? "executable" : sys ? "system library" : "library";
    if (role === "executable" && !r.pie) add("elf.pie", "error", p, `executable is not PIE (${r.type}${r.linking === "static" ? ", static" : ""})`);
    if (r.relro !== "full") add("elf.relro", sys ? "info" : "error", p, `${what} has ${r.relro} RELRO${r.relro === "partial" ? " (not bind-now)" : ""}`);
    if (!r.canary) add("elf.canary", sys ? "info" : "error", p, `${what} has no stack protector symbol`);
    if (!r.nx) add("elf.nx", "error", p, `${what} has an executable stack (PT_GNU_STACK missing or with PF_X)`);
    if (fortify === "no") add("elf.fortify", sys ? "info" : "error", p, `${what} uses ${fortifiable} fortifiable function(s) (${r.fortify.unfortified.slice(0, 4).join(", ")}${fortifiable > 4 ? ", …" : ""}), none through __*_chk`);
    if (r.rpath.length > 0) add("elf.rpath", "error", p, `${what} has DT_RPATH ${r.rpath.join(":")}`);
    if (r.runpath.length > 0) add("elf.rpath", "error", p, `${what} has DT_RUNPATH ${r.runpath.join(":")}`);
  }

  // --- programs: entrypoint, healthcheck, dependencies -----------------------
  const ldConfDirs = ldSoConfDirs(fs);
  const triple = expected?.triple;
  const defaults = [...(triple ? [`/lib/${triple}`, `/usr/lib/${triple}`] : []), "/lib", "/usr/lib", "/lib64", "/usr/lib64"];
  const ldLibraryPath = (env.get("LD_LIBRARY_PATH") ?? "").split(":").filter(Boolean);
  const byPath = new Map(elfFiles.map((x) => [x.entry.path, x.report]));
  const compatible = (r: ElfReport, with_: ElfReport): boolean => r.machine === with_.machine && r.elfClass === with_.elfClass && r.endianness === with_.endianness;

  interface Dep {
    readonly kind: "interpreter" | "library";
    readonly name: string;
    readonly resolved?: string;
    readonly note?: string;
    readonly searched?: readonly string[];
  }
  const depsMemo = new Map<string, Dep[]>();
  const depsOf = (path: string, r: ElfReport): Dep[] => {
    let deps = depsMemo.get(path);
    if (deps) return deps;
    deps = [];
    if (r.interpreter !== undefined) {
      const e = fs.stat(r.interpreter);
      const ir = e ? byPath.get(e.path) : undefined;
      if (!e || e.type !== "file") deps.push({ kind: "interpreter", name: r.interpreter });
      else if (ir && !compatible(ir, r)) deps.push({ kind: "interpreter", name: r.interpreter, note: `it is ${ir.machine}` });
      else deps.push({ kind: "interpreter", name: r.interpreter, resolved: e.path });
    }
    const origin = posix.dirname(path);
    const expand = (d: string): string =>
      d.replace(/\$\{?ORIGIN\}?/g, origin).replace(/\$\{?LIB\}?/g, triple ? `lib/${triple}` : "lib").replace(/\$\{?PLATFORM\}?/g, r.machine);
    const dirs = [...(r.runpath.length === 0 ? r.rpath : []), ...ldLibraryPath, ...r.runpath, ...ldConfDirs, ...defaults].map(expand);
    for (const name of r.needed) {
      let found: string | undefined;
      let note: string | undefined;
      const candidates = name.includes("/") ? [posix.resolve(origin, name)] : dirs.map((d) => posix.join(d.startsWith("/") ? d : "/" + d, name));
      for (const c of candidates) {
        const e = fs.stat(c);
        if (!e || e.type !== "file") continue;
        const lr = byPath.get(e.path);
        if (!lr) {
          note ??= `${c} is not a readable ELF file`;
          continue;
        }
        if (!compatible(lr, r)) {
          note ??= `${c} is ${lr.machine}, skipped`;
          continue;
        }
        found = e.path;
        break;
      }
      deps.push({ kind: "library", name, ...(found ? { resolved: found } : { searched: [...new Set(dirs)], ...(note ? { note } : {}) }) });
    }
    depsMemo.set(path, deps);
    return deps;
  };
  const reported = new Set<string>();
  const reportMissing = (path: string, deps: Dep[], severity: Severity, why: string): void => {
    for (const d of deps) {
      if (d.resolved) continue;
      const key = `${path}\0${d.kind}\0${d.name}`;
      if (reported.has(key)) continue;
      reported.add(key);
      if (d.kind === "interpreter") add("elf.interpreter-missing", severity, path, `interpreter ${d.name} is not in the image${d.note ? ` (${d.note})` : ""}${why}`);
      else add("elf.library-missing", severity, path, `NEEDED ${d.name} not found${d.note ? ` (${d.note})` : ""}; searched ${(d.searched ?? []).join(", ")}${why}`);
    }
  };
  /** Every object loaded for `path`, breadth first, reporting what is missing. */
  const closure = (path: string, severity: Severity, why: string): void => {
    const queue = [path];
    const seen = new Set(queue);
    while (queue.length > 0) {
      const cur = queue.shift()!;
      const r = byPath.get(cur);
      if (!r) continue;
      const deps = depsOf(cur, r);
      reportMissing(cur, deps, severity, why);
      for (const d of deps) if (d.resolved && d.kind === "library" && !seen.has(d.resolved)) {
        seen.add(d.resolved);
        queue.push(d.resolved);
      }
    }
  };

  const checkProgram = (argv: readonly string[], kind: "entrypoint" | "healthcheck"): string | undefined => {
    const prog = argv[0];
    const rule = kind === "entrypoint" ? ("entrypoint.missing" as const) : ("healthcheck.missing" as const);
    const notExec = kind === "entrypoint" ? ("entrypoint.not-executable" as const) : ("healthcheck.not-executable" as const);
    if (prog === undefined || prog === "") {
      add(rule, "error", undefined, `the image config has no ${kind === "entrypoint" ? "Entrypoint or Cmd" : "healthcheck command"}`);
      return undefined;
    }
    let candidates: string[];
    if (prog.includes("/")) candidates = [posix.resolve(config?.config?.WorkingDir || "/", prog)];
    else candidates = (env.get("PATH") ?? DEFAULT_PATH).split(":").filter(Boolean).map((d) => posix.join(d, prog));
    let path: string | undefined;
    let e: FsEntry | undefined;
    for (const c of candidates) {
      const s = fs.stat(c);
      if (s) {
        path = c;
        e = s;
        if (s.type === "file" && canExecute(s, user)) break;
      }
    }
    if (!e || !path) {
      add(rule, "error", candidates.length === 1 ? candidates[0] : undefined, `${kind} ${JSON.stringify(prog)} is not in the image${candidates.length > 1 ? ` (searched PATH ${candidates.map((c) => posix.dirname(c)).join(":")})` : ""}`);
      return undefined;
    }
    if (e.type !== "file") {
      add(notExec, "error", path, `${kind} is a ${e.type === "dir" ? "directory" : e.type}, not a regular file`);
      return e.path;
    }
    if (!canExecute(e, user)) {
      add(notExec, "error", path, `${kind} (mode ${octal(e.mode)}, owner ${e.uid}:${e.gid}) is not executable by the runtime user${user ? ` ${user.uid}:${user.gid}` : ""}`);
    }
    const why = ` (needed by the ${kind})`;
    if (e.elf) closure(e.path, "error", why);
    else if (e.data && e.data[0] === 0x23 && e.data[1] === 0x21) {
      const nl = e.data.indexOf(0x0a);
      const line = decoder.decode(e.data.subarray(2, nl < 0 ? Math.min(e.data.length, 256) : nl)).trim();
      const interp = line.split(/\s+/)[0] ?? "";
      const ie = interp ? fs.stat(interp) : undefined;
      if (!ie || ie.type !== "file") add("elf.interpreter-missing", "error", e.path, `script interpreter ${JSON.stringify(interp)} (#!) is not in the image${why}`);
      else if (ie.elf) closure(ie.path, "error", ` (interpreter of the ${kind})`);
    }
    return e.path;
  };

  let entrypoint: string | undefined;
  if (config) {
    const ep = config.config?.Entrypoint ?? [];
    const argv = ep.length > 0 ? ep : (config.config?.Cmd ?? []);
    entrypoint = checkProgram(argv, "entrypoint");
    const hc = config.config?.Healthcheck?.Test ?? [];
    if (hc[0] === "CMD") checkProgram(hc.slice(1), "healthcheck");
    else if (hc[0] === "CMD-SHELL") checkProgram(["/bin/sh"], "healthcheck");
  }
  // Every other dynamic ELF: its direct dependencies, as warnings.
  for (const { entry, report } of elfFiles) {
    if (report.type === "REL" || report.type === "CORE") continue;
    if (expected && report.machine !== expected.machine) continue; // already an elf.arch error
    reportMissing(entry.path, depsOf(entry.path, report), "warning", "");
  }

  return { findings, elves, ...(user ? { user } : {}), ...(entrypoint ? { entrypoint } : {}) };
}

/** Directories listed in /etc/ld.so.conf (and its includes), in order. */
function ldSoConfDirs(fs: ImageFs): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const read = (path: string, depth: number): void => {
    if (depth > 4 || seen.has(path)) return;
    seen.add(path);
    const t = text(fs.stat(path));
    if (t === undefined) return;
    for (const raw of t.split("\n")) {
      const line = raw.replace(/#.*/, "").trim();
      if (!line) continue;
      const inc = /^include\s+(.+)$/.exec(line);
      if (inc) {
        for (const pat of inc[1]!.split(/\s+/)) {
          const abs = pat.startsWith("/") ? pat : posix.join(posix.dirname(path), pat);
          const dir = posix.dirname(abs);
          const re = new RegExp("^" + posix.basename(abs).replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
          for (const name of fs.list(dir) ?? []) if (re.test(name)) read(posix.join(dir, name), depth + 1);
        }
      } else if (line.startsWith("/")) out.push(line);
    }
  };
  read("/etc/ld.so.conf", 0);
  return out;
}
