// For `caisson outdated`: Debian version ordering, and the CVE ids a newer
// .deb's changelog mentions since the pinned version.
import { spawn } from "node:child_process";
import { gunzipSync } from "node:zlib";
import { DebianError, run } from "./errors.js";

// ---- Debian version ordering (deb-version(7)) ----

interface Parsed {
  readonly epoch: number;
  readonly upstream: string;
  readonly revision: string;
}

/** Splits `[epoch:]upstream[-revision]`. */
export function parseVersion(version: string): Parsed {
  const v = version.trim();
  const colon = v.indexOf(":");
  let epoch = 0;
  let rest = v;
  if (colon >= 0) {
    const e = v.slice(0, colon);
    if (!/^\d+$/.test(e)) throw new DebianError(`"${version}" is not a Debian version: the epoch must be a number`);
    epoch = Number(e);
    rest = v.slice(colon + 1);
  }
  const dash = rest.lastIndexOf("-");
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : "";
  if (upstream === "" || !/^[0-9]/.test(upstream)) throw new DebianError(`"${version}" is not a Debian version: the upstream version must start with a digit`);
  return { epoch, upstream, revision };
}

const isDigit = (c: string) => c >= "0" && c <= "9";

/** Weight of a character in the non-digit parts: `~` before everything (even the end), letters before other characters. */
function order(c: string): number {
  if (c === "") return 0;
  if (isDigit(c)) return 0;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  if (c === "~") return -1;
  return c.charCodeAt(0) + 256;
}

/** dpkg's comparison of an upstream version or a revision. */
function comparepart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  const at = (s: string, k: number) => (k < s.length ? s[k]! : "");
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i]!)) || (j < b.length && !isDigit(b[j]!))) {
      const ac = order(at(a, i));
      const bc = order(at(b, j));
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (at(a, i) === "0") i++;
    while (at(b, j) === "0") j++;
    let first = 0;
    while (isDigit(at(a, i)) && isDigit(at(b, j))) {
      if (first === 0) first = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(at(a, i))) return 1;
    if (isDigit(at(b, j))) return -1;
    if (first !== 0) return first;
  }
  return 0;
}

/** Orders two Debian versions as `dpkg --compare-versions` does: negative, 0 or positive. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (x.epoch !== y.epoch) return x.epoch < y.epoch ? -1 : 1;
  const u = comparepart(x.upstream, y.upstream);
  if (u !== 0) return Math.sign(u);
  return Math.sign(comparepart(x.revision, y.revision));
}

// ---- changelogs ----

export interface ChangelogEntry {
  readonly source: string;
  readonly version: string;
  readonly distributions: string;
  /** The entry's text, header included. */
  readonly text: string;
}

const HEADER = /^([a-z0-9][a-z0-9+.-]*) \(([^()\s]+)\) ([^;]*);.*\burgency=/i;

/** The entries of a Debian changelog (debian/changelog format), newest first as written. */
export function parseChangelog(text: string): ChangelogEntry[] {
  const out: { source: string; version: string; distributions: string; lines: string[] }[] = [];
  for (const line of text.split("\n")) {
    const m = HEADER.exec(line);
    if (m) {
      out.push({ source: m[1]!, version: m[2]!, distributions: m[3]!.trim(), lines: [line] });
      continue;
    }
    out.at(-1)?.lines.push(line);
  }
  return out.map((e) => ({ source: e.source, version: e.version, distributions: e.distributions, text: e.lines.join("\n").trimEnd() }));
}

const CVE = /CVE-\d{4}-\d{4,}/g;

/** CVE ids mentioned by the entries of `changelog` newer than `current`, unique, in numeric order. */
export function cvesSince(changelog: string, current: string): string[] {
  const ids = new Set<string>();
  for (const e of parseChangelog(changelog)) {
    let newer: boolean;
    try {
      newer = compareVersions(e.version, current) > 0;
    } catch {
      continue; // an entry whose version is not a Debian version says nothing about ours
    }
    if (!newer) continue;
    for (const m of e.text.matchAll(CVE)) ids.add(m[0]);
  }
  return [...ids].sort((a, b) => {
    const [, ya, na] = a.split("-");
    const [, yb, nb] = b.split("-");
    return Number(ya) - Number(yb) || Number(na) - Number(nb);
  });
}

/** One member of a .deb's data archive (`./usr/share/doc/x/changelog.Debian.gz`), or undefined when it is not a regular file there. */
export function extractFromDeb(deb: string, member: string): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const dpkg = spawn("dpkg-deb", ["--fsys-tarfile", deb], { stdio: ["ignore", "pipe", "pipe"] });
    const tar = spawn("tar", ["-xOf", "-", member], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let dpkgErr = "";
    let dpkgCode: number | null = null;
    let dpkgSignal: NodeJS.Signals | null = null;
    dpkg.on("error", (e: NodeJS.ErrnoException) => reject(e.code === "ENOENT" ? new DebianError("dpkg-deb is not installed (needed to read .deb files)") : e));
    tar.on("error", reject);
    dpkg.stderr.on("data", (b: Buffer) => (dpkgErr += b.toString()));
    tar.stderr.on("data", () => undefined);
    dpkg.stdout.pipe(tar.stdin);
    tar.stdin.on("error", () => undefined); // tar may exit before reading everything
    tar.stdout.on("data", (b: Buffer) => out.push(b));
    const dpkgDone = new Promise<void>((ok) =>
      dpkg.on("close", (code, signal) => {
        dpkgCode = code;
        dpkgSignal = signal;
        ok();
      }),
    );
    tar.on("close", async (code) => {
      await dpkgDone;
      if (dpkgCode !== 0 && dpkgSignal !== "SIGPIPE") return reject(new DebianError(`dpkg-deb --fsys-tarfile ${deb}: ${dpkgErr.trim() || `exit ${dpkgCode ?? dpkgSignal}`}`));
      if (code !== 0 || out.length === 0) return resolve(undefined);
      resolve(Buffer.concat(out));
    });
  });
}

/** The Debian changelog a .deb ships (`changelog.Debian.gz`, or `changelog.gz` of a native package), or undefined when it has none of its own (e.g. a symlinked doc directory). */
export async function debChangelog(deb: string, pkg?: string): Promise<string | undefined> {
  let name = pkg;
  if (name === undefined) {
    const r = await run("dpkg-deb", ["-f", deb, "Package"]);
    if (r.code !== 0) throw new DebianError(`dpkg-deb -f ${deb} Package: ${r.stderr.trim() || `exit ${r.code}`}`);
    name = r.stdout.trim();
  }
  for (const file of ["changelog.Debian.gz", "changelog.gz"]) {
    const gz = await extractFromDeb(deb, `./usr/share/doc/${name}/${file}`);
    if (gz === undefined) continue;
    let text: string;
    try {
      text = gunzipSync(gz).toString("utf8");
    } catch (e) {
      throw new DebianError(`${deb}: /usr/share/doc/${name}/${file} is not gzip data (${(e as Error).message})`);
    }
    if (parseChangelog(text).length > 0) return text;
  }
  return undefined;
}

/** CVE ids the changelog of `deb` mentions in entries newer than `current` ([] when the package has no changelog of its own). */
export async function changelogCves(deb: string, current: string, pkg?: string): Promise<string[]> {
  const text = await debChangelog(deb, pkg);
  return text === undefined ? [] : cvesSince(text, current);
}
