// Pure parsers for the small languages inside string values: image
// references, paths, ports, durations, capabilities (platforms are
// src/platform's).
import { posix } from "node:path";
import { DPKG_ARCHITECTURES } from "../platform/index.js";
import { COMPONENT, splitDigest, TAG } from "../reference/index.js";

export { DPKG_ARCHITECTURES };
export { formatPlatform as platformString, parsePlatform, SUPPORTED_PLATFORMS } from "../platform/index.js";

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string; hint?: string };

// The path and tag grammar is src/reference's (the command line's image names); the messages here are the definition's.
const PATH_COMPONENT = COMPONENT;
const DOMAIN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?))*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;

/** A parsed image reference. */
export interface ImageRef {
  /** Fully normalised: docker.io/library/debian:bookworm@sha256:…; ":latest" only when neither tag nor digest. */
  readonly ref: string;
  readonly digest?: string;
}

export type RefError = { ok: false; code: "invalid_image_ref" | "malformed_digest"; message: string; hint?: string };

/** Parses and normalises an image reference the way docker does (docker.io/library/ for one-component names). */
export function parseImageRef(text: string): { ok: true; value: ImageRef } | RefError {
  const split = splitDigest(text);
  let rest = split.name;
  const digest = split.digest;
  if (digest !== undefined) {
    if (!split.parts) return { ok: false, code: "malformed_digest", message: `digest "${digest}" in "${text}" must be sha256:<64 hex digits>` };
    const { algorithm: algo, hex } = split.parts;
    if (algo !== "sha256") return { ok: false, code: "malformed_digest", message: `digest algorithm "${algo}" in "${text}" is not supported`, hint: "use a sha256 digest" };
    if (/^[0-9a-fA-F]{64}$/.test(hex) && /[A-F]/.test(hex)) {
      return { ok: false, code: "malformed_digest", message: `digest in "${text}" must be lower-case hex`, hint: `write sha256:${hex.toLowerCase()}` };
    }
    if (!/^[0-9a-f]{64}$/.test(hex)) {
      return { ok: false, code: "malformed_digest", message: `digest in "${text}" must be sha256: followed by 64 hex digits, found ${hex.length} characters` };
    }
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return { ok: false, code: "invalid_image_ref", message: `invalid tag "${tag}" in image reference "${text}"` };
  }
  if (rest === "") return { ok: false, code: "invalid_image_ref", message: `image reference "${text}" has no repository name` };
  const comps = rest.split("/");
  let domain = "docker.io";
  const first = comps[0] ?? "";
  if (comps.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase())) {
    domain = first;
    comps.shift();
    if (!DOMAIN.test(domain)) return { ok: false, code: "invalid_image_ref", message: `invalid registry host "${domain}" in image reference "${text}"` };
  }
  for (const c of comps) {
    if (!PATH_COMPONENT.test(c)) {
      const lower = c.toLowerCase();
      return {
        ok: false,
        code: "invalid_image_ref",
        message: `invalid repository name component "${c}" in image reference "${text}"`,
        hint: lower !== c && PATH_COMPONENT.test(lower) ? `repository names are lower-case: write "${lower}"` : "use lower-case letters, digits and separators . _ -",
      };
    }
  }
  if (domain === "index.docker.io") domain = "docker.io";
  if (domain === "docker.io" && comps.length === 1) comps.unshift("library");
  const name = `${domain}/${comps.join("/")}`;
  const ref = `${name}${tag !== undefined ? `:${tag}` : digest === undefined ? ":latest" : ""}${digest !== undefined ? `@${digest}` : ""}`;
  return { ok: true, value: digest === undefined ? { ref } : { ref, digest } };
}

/** Checks an absolute, normalised path; returns the normalised form as a hint when it is not. */
export function checkAbsolutePath(p: string): ParseResult<string> {
  if (!p.startsWith("/")) {
    return { ok: false, message: `path "${p}" must be absolute`, hint: `write "${posix.normalize(`/${p}`).replace(/(.)\/$/, "$1")}"` };
  }
  const norm = posix.normalize(p).replace(/(.)\/$/, "$1");
  if (norm !== p) return { ok: false, message: `path "${p}" is not normalised`, hint: `write "${norm}"` };
  return { ok: true, value: p };
}

/** Normalises a path relative to the build context; refuses absolute paths and paths escaping it. */
export function checkContextPath(p: string): ParseResult<string> {
  if (p.startsWith("/")) {
    return { ok: false, message: `local source path "${p}" must be relative to the build context root`, hint: `write "${posix.normalize(`.${p}`).replace(/(.)\/$/, "$1")}"` };
  }
  const norm = posix.normalize(p).replace(/(.)\/$/, "$1");
  if (norm === ".." || norm.startsWith("../")) {
    return { ok: false, message: `local source path "${p}" escapes the build context`, hint: "give a path inside the build context (run the build from a parent directory to reach it)" };
  }
  return { ok: true, value: norm };
}

/** Checks the path of an imported definition: relative to the build context root, normalised, no `..`, a .yaml/.yml/.json file. */
export function checkImportPath(p: string): ParseResult<string> {
  if (p.startsWith("/")) {
    return { ok: false, message: `path "${p}" must be relative to the build context root`, hint: `write "${posix.normalize(`.${p}`).replace(/(.)\/$/, "$1")}"` };
  }
  if (p.split("/").includes("..")) {
    return { ok: false, message: `path "${p}" must not contain ".."`, hint: "imports are paths inside the build context, from its root (not from this file's folder)" };
  }
  const norm = posix.normalize(p).replace(/(.)\/$/, "$1");
  if (!/\.(ya?ml|json)$/.test(p) || /(^|\/)\.(ya?ml|json)$/.test(p)) {
    const message = `path "${p}" must name a definition file (.yaml, .yml or .json)`;
    return /\.[^/]*$/.test(p) ? { ok: false, message } : { ok: false, message, hint: `if it is a folder, write "${norm === "." ? "" : `${norm}/`}image.yaml"` };
  }
  if (norm !== p) return { ok: false, message: `path "${p}" is not normalised`, hint: `write "${norm}"` };
  return { ok: true, value: p };
}

/** The package name of a Debian source package (Debian policy 5.6.1). */
export const DEBIAN_PACKAGE = /^[a-z0-9][a-z0-9+.-]+$/;
/** [epoch:]upstream_version[-debian_revision] (Debian policy 5.6.12); a hyphen in the upstream part needs a revision. */
export const DEBIAN_VERSION = /^(?:[0-9]+:)?[0-9](?:[A-Za-z0-9.+~]*|[A-Za-z0-9.+~-]*-[A-Za-z0-9.+~]+)$/;

/** Parses `package=version` naming a Debian source package, e.g. redis=5:7.0.15-1~deb12u10. */
export function parseDebianSource(text: string): ParseResult<{ package: string; version: string }> {
  const eq = text.indexOf("=");
  if (eq < 0) {
    return { ok: false, message: `"${text}" must be <source package>=<version>`, hint: `e.g. redis=5:7.0.15-1~deb12u10 (apt-cache showsrc ${DEBIAN_PACKAGE.test(text) ? text : "<package>"})` };
  }
  const pkg = text.slice(0, eq);
  const version = text.slice(eq + 1);
  if (!DEBIAN_PACKAGE.test(pkg)) {
    const lower = pkg.toLowerCase();
    return {
      ok: false,
      message: `"${pkg}" is not a Debian source package name`,
      hint: lower !== pkg && DEBIAN_PACKAGE.test(lower) ? `package names are lower-case: write "${lower}=${version}"` : "names are at least 2 of a-z, 0-9, '+', '-', '.', starting with a letter or digit",
    };
  }
  if (DEBIAN_VERSION.test(version)) return { ok: true, value: { package: pkg, version } };
  let why = "write [epoch:]upstream_version[-debian_revision], e.g. 5:7.0.15-1~deb12u10";
  const colon = version.indexOf(":");
  const epoch = colon >= 0 ? version.slice(0, colon) : undefined;
  const rest = colon >= 0 ? version.slice(colon + 1) : version;
  if (version === "") why = "the version is missing: write it as apt-cache showsrc prints it, e.g. 5:7.0.15-1~deb12u10";
  else if (epoch !== undefined && !/^[0-9]+$/.test(epoch)) why = `the epoch "${epoch}" must be a number`;
  else if (rest.includes(":")) why = "only the epoch is followed by a colon";
  else if (!/^[0-9]/.test(rest)) why = `the upstream version must start with a digit, found "${rest}"`;
  else if (rest.endsWith("-")) why = "the Debian revision after the last '-' is empty";
  else if (/[^A-Za-z0-9.+~-]/.test(rest)) {
    const bad = /[^A-Za-z0-9.+~-]/.exec(rest)?.[0] ?? "";
    why = `'${bad}' cannot appear in a version (allowed: letters, digits, '.', '+', '~', and '-' before the revision)`;
  }
  return { ok: false, message: `"${version}" is not a Debian version`, hint: why };
}

/** A Debian binary package to install: `name`, `name=version`, `name:arch`, `name:arch=version`. */
export interface DebianPackageSpec {
  readonly name: string;
  readonly arch?: string;
  readonly version?: string;
}

/** Parses a `packages:` entry, e.g. make, make=4.3-4.1, libc6:arm64=2.36-9+deb12u14. */
export function parseDebianPackage(text: string): ParseResult<DebianPackageSpec> {
  const eq = text.indexOf("=");
  const head = eq < 0 ? text : text.slice(0, eq);
  const version = eq < 0 ? undefined : text.slice(eq + 1);
  const colon = head.indexOf(":");
  const name = colon < 0 ? head : head.slice(0, colon);
  const arch = colon < 0 ? undefined : head.slice(colon + 1);
  if (!DEBIAN_PACKAGE.test(name)) {
    const lower = name.toLowerCase();
    return {
      ok: false,
      message: `"${name}" is not a Debian package name`,
      hint: lower !== name && DEBIAN_PACKAGE.test(lower) ? `package names are lower-case: write "${lower}"` : "names are at least 2 of a-z, 0-9, '+', '-', '.', starting with a letter or digit",
    };
  }
  if (arch !== undefined && !DPKG_ARCHITECTURES.includes(arch)) {
    return { ok: false, message: `"${arch}" is not a dpkg architecture caisson knows`, hint: `write ${name}:<arch> with one of ${DPKG_ARCHITECTURES.join(", ")}` };
  }
  if (version === undefined) return { ok: true, value: arch === undefined ? { name } : { name, arch } };
  if (!DEBIAN_VERSION.test(version)) {
    const r = parseDebianSource(`${name}=${version}`);
    const hint = version === "" ? `write ${head}=<version> as apt-cache policy ${head} prints it, or just ${head} to pin it with caisson lock` : r.ok ? undefined : r.hint;
    return hint === undefined ? { ok: false, message: `"${version}" is not a Debian version` } : { ok: false, message: `"${version}" is not a Debian version`, hint };
  }
  return { ok: true, value: arch === undefined ? { name, version } : { name, arch, version } };
}

/** "6379", "6379/tcp", "53/udp" → "6379/tcp" etc., port within 1–65535. */
export function parsePort(text: string): ParseResult<string> {
  const m = /^([0-9]+)(?:\/(tcp|udp|sctp))?$/.exec(text);
  if (!m) return { ok: false, message: `invalid port "${text}"`, hint: "write port[/tcp|udp|sctp], e.g. 6379/tcp" };
  const port = Number(m[1]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { ok: false, message: `port ${m[1] ?? text} is out of range`, hint: "ports are 1–65535" };
  return { ok: true, value: `${port}/${m[2] ?? "tcp"}` };
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, "μs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A Go duration (time.ParseDuration, unsigned): numbers with units, e.g. 1m30s, 1.5s, .5s, 5.s. */
export const DURATION = /^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$/;

/** Go-style duration ("1m30s", "500ms", "1.5s", ".5s") → nanoseconds. */
export function parseDuration(text: string): ParseResult<number> {
  if (!DURATION.test(text)) {
    return { ok: false, message: `invalid duration "${text}"`, hint: "write a duration such as 30s, 1m30s or 500ms" };
  }
  let ns = 0;
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    ns += Number(m[1]) * (UNIT_NS[m[2] ?? "ns"] ?? 1);
  }
  ns = Math.round(ns);
  if (!Number.isSafeInteger(ns)) return { ok: false, message: `duration "${text}" is too long` };
  return { ok: true, value: ns };
}

/** Linux capabilities (without the CAP_ prefix). */
export const CAPABILITIES = [
  "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE", "CHOWN", "DAC_OVERRIDE",
  "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE", "LINUX_IMMUTABLE", "MAC_ADMIN",
  "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_RAW", "PERFMON", "SETFCAP",
  "SETGID", "SETPCAP", "SETUID", "SYSLOG", "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE", "SYS_NICE",
  "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "WAKE_ALARM",
] as const;

/** The largest uid or gid (2^32 − 2: 2^32 − 1 is the kernel's "no id"). */
export const MAX_ID = 4294967294;
/** A user or group name, as useradd accepts it by default (at most 32 characters). */
export const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** A user written `user[:group]`, each a name or a numeric id; ids are kept as written. */
export interface UserSpec {
  readonly user: string;
  readonly group?: string;
}

export type UserResult = { ok: true; value: UserSpec } | { ok: false; code: "invalid_user" | "out_of_range"; message: string; hint?: string };

const USER_HINT = "write a name or uid, optionally :group or :gid, e.g. 65532:65532 or app:app";

/**
 * Parses a user as `name|uid[:group|gid]`: names are `[a-z_][a-z0-9_-]*` (at
 * most 32 characters), ids decimal 0–4294967294. Nothing else: no sign, no
 * empty part, no second colon, no spaces or shell syntax.
 */
export function parseUserSpec(text: string): UserResult {
  if (text === "") return { ok: false, code: "invalid_user", message: "the user is empty", hint: USER_HINT };
  const parts = text.split(":");
  if (parts.length > 2) return { ok: false, code: "invalid_user", message: `user "${printable(text)}" has more than one ':'`, hint: USER_HINT };
  const [user = "", group] = parts;
  for (const [part, which] of [[user, "user"], [group, "group"]] as const) {
    if (part === undefined) continue;
    if (part === "") {
      const other = which === "user" ? group : user;
      return {
        ok: false,
        code: "invalid_user",
        message: `the ${which} ${which === "user" ? "before" : "after"} ':' in "${printable(text)}" is empty`,
        hint: other !== undefined && other !== "" ? `write "${printable(other)}" alone (a uid alone means the same gid), or give both: ${which === "user" ? `<uid>:${printable(other)}` : `${printable(other)}:<gid>`}` : USER_HINT,
      };
    }
    if (/^[0-9]+$/.test(part)) {
      if (part.length > 10 || Number(part) > MAX_ID) return { ok: false, code: "out_of_range", message: `${which === "user" ? "uid" : "gid"} ${printable(part)} is out of range`, hint: `ids are 0–${MAX_ID}` };
      continue;
    }
    if (/^[+-][0-9]+$/.test(part)) return { ok: false, code: "invalid_user", message: `${which === "user" ? "uid" : "gid"} "${printable(part)}" has a sign`, hint: `ids are 0–${MAX_ID}, written without a sign` };
    if (!USER_NAME.test(part)) {
      return {
        ok: false,
        code: "invalid_user",
        message: `"${printable(part)}" is not a ${which} name or id`,
        hint: `names are lower-case letters, digits, '_' and '-', starting with a letter or '_', at most 32 characters; ids are 0–${MAX_ID}`,
      };
    }
  }
  return { ok: true, value: group === undefined ? { user } : { user, group } };
}

/** Linux signal numbers by name (without SIG), as the runtime's stop signal may name them. */
export const SIGNALS: Readonly<Record<string, number>> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14,
  TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27,
  WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31, RTMIN: 34, RTMAX: 64,
};
/** The highest signal number on Linux. */
export const MAX_SIGNAL = 64;

/**
 * A stop signal: a name from SIGNALS with its SIG prefix (SIGTERM),
 * SIGRTMIN+n / SIGRTMAX-n within 34–64, or a number 1–64. Returns it as the
 * image config carries it (the name, or the number as text).
 */
export function parseSignal(text: string): ParseResult<string> {
  const hint = "write a signal name such as SIGTERM or SIGQUIT, SIGRTMIN+3, or a number 1–64";
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    if (n < 1 || n > MAX_SIGNAL || text.length > 2) return { ok: false, message: `signal ${printable(text)} is out of range`, hint: "signals are numbered 1–64 on Linux" };
    return { ok: true, value: String(n) };
  }
  const upper = text.toUpperCase();
  const bare = upper.startsWith("SIG") ? upper.slice(3) : upper;
  const rt = /^RT(MIN|MAX)([+-])([0-9]{1,2})$/.exec(bare);
  let known = SIGNALS[bare] !== undefined && Object.prototype.hasOwnProperty.call(SIGNALS, bare);
  if (rt) {
    const base = rt[1] === "MIN" ? 34 : 64;
    const n = base + (rt[2] === "+" ? 1 : -1) * Number(rt[3]);
    if ((rt[1] === "MIN") !== (rt[2] === "+") || n < 34 || n > 64) {
      return { ok: false, message: `signal "${printable(text)}" is out of range`, hint: "real-time signals are SIGRTMIN+0–30 and SIGRTMAX-0–30 (34–64)" };
    }
    known = true;
  }
  if (!known) return { ok: false, message: `"${printable(text)}" is not a Linux signal`, hint };
  if (text !== `SIG${bare}`) return { ok: false, message: `signal "${printable(text)}" must be written SIG${bare}`, hint: `write SIG${bare}` };
  return { ok: true, value: text };
}

/** The longest healthcheck duration: 100 days, in nanoseconds (OCI configs carry int64 nanoseconds). */
export const MAX_DURATION_NS = 100 * 24 * 3600e9;

/** Text for a message: control characters and invisible ones escaped, long text cut. */
export function printable(text: string, max = 80): string {
  const cut = text.length > max ? `${text.slice(0, max - 3)}...` : text;
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const HTTP_CREDENTIALS_HINT =
  "remove them: fetch the file from a mirror that needs none (caisson build --mirror from=to), or put it in the source store, where it is served by its sha256";
const GIT_CREDENTIALS_HINT = "remove them: use ssh://git@host/path or git@host:path with an ssh key, or a mirror of the repository that needs none";

/** Why a URL's authority is unacceptable in a definition: none, or credentials in it; undefined when fine. */
function authorityProblem(url: string, scheme: string, allowUser: boolean, credentialsHint = HTTP_CREDENTIALS_HINT): { code: string; message: string; hint: string } | undefined {
  const rest = url.slice(scheme.length + 3);
  const authority = rest.split(/[/?#]/, 1)[0] ?? "";
  const at = authority.lastIndexOf("@");
  const userinfo = at < 0 ? undefined : authority.slice(0, at);
  const host = (at < 0 ? authority : authority.slice(at + 1)).replace(/:[0-9]*$/, "");
  if (host === "" || host === "[]") return { code: "invalid_url", message: `URL "${printable(url)}" has no host`, hint: `write ${scheme}://<host>/<path>` };
  if (userinfo !== undefined && (!allowUser || userinfo.includes(":"))) {
    return {
      code: "url_credentials",
      message: `URL "${printable(url.replace(/\/\/[^/?#]*@/, "//<credentials>@"))}" has credentials in it; they would be copied into the build graph and its logs`,
      hint: credentialsHint,
    };
  }
  return undefined;
}

/** An http(s) URL with a host and no credentials (the scheme is the schema's). */
export function checkHttpUrl(url: string): { ok: true } | { ok: false; code: string; message: string; hint: string } {
  const scheme = /^(https?):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return { ok: false, code: "invalid_url", message: `"${printable(url)}" is not an http:// or https:// URL`, hint: "write https://host/path" };
  const p = authorityProblem(url, scheme, false);
  if (p) return { ok: false, ...p };
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || parsed.hostname === "") return { ok: false, code: "invalid_url", message: `"${printable(url)}" is not a valid http:// or https:// URL`, hint: "write https://host/path" };
  return { ok: true };
}

const GIT_FORMS = "https://host/path, http://host/path, git://host/path, ssh://[user@]host/path or user@host:path";

/**
 * A git repository URL BuildKit may fetch: https, http, git, ssh://[user@]host
 * and scp-like user@host:path. Refused: remote helpers (`ext::…`,
 * `<transport>::…`), file:// and local paths, anything starting with '-'
 * (it would be read as an option), other schemes, no host, and credentials.
 */
export function checkGitUrl(url: string): { ok: true } | { ok: false; code: string; message: string; hint: string } {
  const bad = (message: string, hint = `write ${GIT_FORMS}`) => ({ ok: false as const, code: "invalid_url", message, hint });
  const u = printable(url);
  if (url.startsWith("-")) return bad(`git URL "${u}" starts with '-', which git would read as an option`);
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(url)) return bad(`git URL "${u}" uses a remote helper ("${printable(url.slice(0, url.indexOf("::")))}::"), which runs a program`);
  if (/\s/.test(url)) return bad(`git URL "${u}" contains white space`);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    if (scheme === "file") return bad(`git URL "${u}" is a local repository`, `a local repository is not pinned input: serve it over https or ssh, or use a path: source of the build context; forms: ${GIT_FORMS}`);
    if (!["https", "http", "git", "ssh"].includes(scheme)) return bad(`git URL "${u}" uses the unsupported scheme "${printable(scheme)}"`);
    const p = authorityProblem(url, scheme, scheme === "ssh", GIT_CREDENTIALS_HINT);
    if (p) return { ok: false, ...p };
    const path = url.slice(scheme.length + 3).replace(/^[^/?#]*/, "");
    if (path === "" || path === "/") return bad(`git URL "${u}" names no repository`);
    try {
      if (new URL(url).hostname === "") return bad(`git URL "${u}" has no host`);
    } catch {
      return bad(`git URL "${u}" is not a valid URL`);
    }
    return { ok: true };
  }
  // scp-like: [user@]host:path, the host before the first ':' and no '/' before it.
  const scp = /^(?:([^@/]+)@)?([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:]+\]):(.*)$/.exec(url);
  if (scp) {
    const [, , , path = ""] = scp;
    if (scp[1]?.includes(":")) return { ok: false, code: "url_credentials", message: `git URL "${printable(url.replace(/^[^@]*@/, "<credentials>@"))}" has a password in it`, hint: GIT_CREDENTIALS_HINT };
    if (path === "" || path.startsWith("-")) return bad(`git URL "${u}" names no repository after ':'`);
    return { ok: true };
  }
  if (/^(\/|\.{1,2}(\/|$)|~)/.test(url) || !url.includes(":")) {
    return bad(`git URL "${u}" is a local path`, `a local repository is not pinned input: serve it over https or ssh, or use a path: source of the build context; forms: ${GIT_FORMS}`);
  }
  return bad(`"${u}" is not a git URL caisson fetches`);
}

/** A branch or tag name as git's check-ref-format allows it, and nothing git would read as an option. */
export function checkGitRef(ref: string): ParseResult<string> {
  const bad = (why: string): ParseResult<string> => ({ ok: false, message: `ref "${printable(ref)}" ${why}`, hint: "write a branch or tag name, e.g. main or v1.2.3" });
  if (ref.startsWith("-")) return bad("starts with '-', which git would read as an option");
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(ref)) return bad("contains a character git does not allow in a ref (space, control, ~ ^ : ? * [ \\)");
  if (ref.includes("..") || ref.includes("@{") || ref.includes("//") || ref.endsWith("/") || ref.endsWith(".") || ref.endsWith(".lock") || ref.startsWith("/") || ref === "@") {
    return bad("is not a valid git ref name");
  }
  return { ok: true, value: ref };
}
