// Pure parsers for the small languages inside string values: image
// references, paths, ports, durations, capabilities (platforms are
// src/platform's).
import { posix } from "node:path";
import { DPKG_ARCHITECTURES } from "../platform/index.js";

export { DPKG_ARCHITECTURES };
export { formatPlatform as platformString, parsePlatform, SUPPORTED_PLATFORMS } from "../platform/index.js";

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string; hint?: string };

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
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
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const m = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):(.*)$/i.exec(digest);
    if (!m) return { ok: false, code: "malformed_digest", message: `digest "${digest}" in "${text}" must be sha256:<64 hex digits>` };
    const [, algo = "", hex = ""] = m;
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

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go-style duration ("1m30s", "500ms", "1.5s") → nanoseconds. */
export function parseDuration(text: string): ParseResult<number> {
  if (!/^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) {
    return { ok: false, message: `invalid duration "${text}"`, hint: "write a duration such as 30s, 1m30s or 500ms" };
  }
  let ns = 0;
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g)) {
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
