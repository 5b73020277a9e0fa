// The Debian archives of an apt configuration: deb822 `.sources` files and
// legacy one-line `sources.list` entries. Mirrors are only ever read from
// configuration at run time; nothing here knows a host name.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { ARCHIVE_NAME, type DebianArchive } from "./types.js";
import { DebianError } from "./errors.js";
import { readRegularFile } from "../fsread/index.js";

/** The environment variable naming one deb822 file to read instead of the machine's sources. */
export const SOURCES_ENV = "CAISSON_DEBIAN_SOURCES";

const APT_ETC = "/etc/apt";

interface Mutable {
  name: string;
  uri: string;
  suites: string[];
  components: string[];
  signedBy?: string;
}

/** The archive name of a URI: its last path segment (`…/debian-security` → `debian-security`). */
export function archiveName(uri: string): string {
  const path = uri.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "").replace(/\/+$/, "");
  const last = path.split("/").pop() ?? "";
  if (last === "") throw new DebianError(`apt source ${uri} has no path: its archive cannot be named (expected a URI such as http://<mirror>/debian)`);
  let name: string;
  try {
    name = decodeURIComponent(last);
  } catch {
    throw new DebianError(`apt source ${uri}: "${last}" is not a valid URI path segment`);
  }
  // The name goes into lockfiles and snapshot URLs: the characters a lockfile accepts, never . or ..
  if (!ARCHIVE_NAME.test(name)) {
    throw new DebianError(`apt source ${uri}: its last path segment "${name}" cannot name an archive (letters, digits, . _ - only, not . or ..)`);
  }
  return name;
}

function add(into: Mutable[], uri: string, suites: readonly string[], components: readonly string[], signedBy: string | undefined): void {
  // A URI, and suites and components that are words: nothing that apt would read as an option ([trusted=yes]).
  if (!/^(https?|file|copy|cdrom|mirror\+https?):\/\/\S+$/i.test(uri)) throw new DebianError(`apt source: "${uri}" is not an archive URI (e.g. http://<mirror>/debian)`);
  for (const w of [...suites, ...components]) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(w)) throw new DebianError(`apt source ${uri}: "${w}" is not a suite or component name`);
  }
  const base = uri.replace(/\/+$/, "");
  let a = into.find((x) => x.uri === base);
  if (!a) {
    a = { name: archiveName(base), uri: base, suites: [], components: [] };
    if (signedBy !== undefined) a.signedBy = signedBy;
    into.push(a);
  }
  for (const s of suites) if (!a.suites.includes(s)) a.suites.push(s);
  for (const c of components) if (!a.components.includes(c)) a.components.push(c);
  if (a.signedBy === undefined && signedBy !== undefined) a.signedBy = signedBy;
}

function freeze(list: Mutable[]): DebianArchive[] {
  return list.map((a) => ({ name: a.name, uri: a.uri, suites: [...a.suites], components: [...a.components], ...(a.signedBy !== undefined ? { signedBy: a.signedBy } : {}) }));
}

/** Fields of the stanzas of a deb822 text (continuation lines joined with "\n", comments dropped); field names lower-cased. */
export function parseDeb822(text: string): Map<string, string>[] {
  const stanzas: Map<string, string>[] = [];
  let cur: Map<string, string> | undefined;
  let last: string | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (line.startsWith("#")) continue;
    if (line.trim() === "") {
      cur = undefined;
      last = undefined;
      continue;
    }
    if (/^[ \t]/.test(line)) {
      if (cur && last !== undefined) {
        const v = line.trim();
        cur.set(last, `${cur.get(last) ?? ""}\n${v === "." ? "" : v}`);
      }
      continue;
    }
    const m = /^([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    if (!cur) {
      cur = new Map();
      stanzas.push(cur);
    }
    last = m[1]!.toLowerCase();
    cur.set(last, m[2]!.trim());
  }
  return stanzas;
}

function words(v: string | undefined): string[] {
  return (v ?? "").split(/\s+/).filter((w) => w !== "");
}

/** The `deb` archives of a deb822 `.sources` text (disabled stanzas and `deb-src` skipped); same URI → suites merged. */
export function parseDeb822Sources(text: string): DebianArchive[] {
  const out: Mutable[] = [];
  addDeb822(out, text);
  return freeze(out);
}

function addDeb822(out: Mutable[], text: string): void {
  for (const s of parseDeb822(text)) {
    if (!words(s.get("types")).includes("deb")) continue;
    if (/^(no|false|0)$/i.test(s.get("enabled") ?? "")) continue;
    const signed = s.get("signed-by");
    // Signed-By is a keyring path (or several, or a fingerprint), or an inline armored key.
    const signedBy = signed === undefined || signed === "" ? undefined : signed.includes("BEGIN PGP") ? signed : words(signed)[0];
    for (const uri of words(s.get("uris"))) add(out, uri, words(s.get("suites")), words(s.get("components")), signedBy);
  }
}

/** The `deb` archives of one-line `sources.list` text (`deb [opt=v …] URI suite component…`). */
export function parseLegacySources(text: string): DebianArchive[] {
  const out: Mutable[] = [];
  addLegacy(out, text);
  return freeze(out);
}

function addLegacy(out: Mutable[], text: string): void {
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!/^deb\s/.test(line)) continue;
    let rest = line.slice(3).trim();
    let signedBy: string | undefined;
    if (rest.startsWith("[")) {
      const end = rest.indexOf("]");
      if (end < 0) continue;
      for (const opt of words(rest.slice(1, end))) {
        const m = /^signed-by=(.+)$/i.exec(opt);
        if (m) signedBy = m[1]!.split(",")[0];
      }
      rest = rest.slice(end + 1).trim();
    }
    const [uri, suite, ...components] = words(rest);
    if (uri === undefined || suite === undefined) continue;
    add(out, uri, [suite], components, signedBy);
  }
}

/** The most an apt sources file may hold. */
const SOURCES_MAX = 4 << 20;

/** An apt sources file's text, or undefined when it does not exist; only a regular file is read (a FIFO would block). */
async function readIf(file: string): Promise<string | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(file, SOURCES_MAX + 1);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    const why =
      code === "EISDIR"
        ? "is a directory"
        : code === "ENOTREG"
          ? "is not a regular file (a pipe, socket or device)"
          : code === "EACCES" || code === "EPERM"
            ? "permission denied"
            : (e as Error).message;
    throw new DebianError(`cannot read the apt sources file ${file}: ${why}; give an apt sources file (deb822 .sources or one-line .list)`);
  }
  if (bytes.length > SOURCES_MAX) throw new DebianError(`cannot read the apt sources file ${file}: it is larger than ${SOURCES_MAX >> 20} MiB`);
  return bytes.toString("utf8");
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}

/**
 * The Debian archives apt is configured with. With `file` (or
 * $CAISSON_DEBIAN_SOURCES) only that file is read — deb822, or one-line
 * format when its name ends in `.list`; otherwise the machine's
 * /etc/apt/sources.list.d/*.sources, /etc/apt/sources.list and
 * /etc/apt/sources.list.d/*.list. Archives with the same URI are merged.
 */
export async function readArchives(file?: string): Promise<DebianArchive[]> {
  const only = file ?? (process.env[SOURCES_ENV] || undefined);
  const out: Mutable[] = [];
  if (only !== undefined) {
    const text = await readIf(only);
    if (text === undefined) throw new DebianError(`apt sources file ${only} does not exist`);
    if (only.endsWith(".list")) addLegacy(out, text);
    else addDeb822(out, text);
    if (out.length === 0) throw new DebianError(`apt sources file ${only} has no enabled "deb" archive`);
    return freeze(out);
  }
  const parts = join(APT_ETC, "sources.list.d");
  const names = await listDir(parts);
  for (const n of names.filter((n) => n.endsWith(".sources"))) addDeb822(out, (await readIf(join(parts, n))) ?? "");
  addLegacy(out, (await readIf(join(APT_ETC, "sources.list"))) ?? "");
  for (const n of names.filter((n) => n.endsWith(".list"))) addLegacy(out, (await readIf(join(parts, n))) ?? "");
  if (out.length === 0) throw new DebianError(`no enabled "deb" archive in this machine's apt sources (${APT_ETC}/sources.list, ${parts})`);
  return freeze(out);
}
