// Fetching pinned .deb files into a content-addressed store:
// <store>/<sha256>/<file name>. A file is taken from the store (after
// checking its hash), else from its archive in the apt sources, else from a
// snapshot mirror; a download is verified before it is renamed into place, so
// the store never holds a half-written or wrong file.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { DebianError, run } from "./errors.js";
import type { DebianArchive, DebPin } from "./types.js";

export interface FetchOptions {
  /** The store directory: files land in <store>/<sha256>/<basename of path>. */
  readonly store: string;
  /** Archives of the apt sources; a pin is fetched from those named pin.archive. */
  readonly archives: readonly DebianArchive[];
  /** Snapshot mirror URL template; `{archive}` is replaced by the archive name, then `/` + path is appended. */
  readonly snapshot?: string;
  readonly log?: (message: string) => void;
  /** Downloads at a time (default 6). */
  readonly parallel?: number;
}

/** One place a .deb was looked for, and what happened there. */
export interface FetchAttempt {
  /** `store <file>`, `archive "debian" <url>`, `snapshot <url>`. */
  readonly place: string;
  /** `missing`, `HTTP 404`, `wrong bytes: sha256 …`, `no archive named "x" in the apt sources`, a network error. */
  readonly result: string;
}

export interface FetchedDeb {
  readonly pin: DebPin;
  /** The store file. */
  readonly file: string;
  readonly from: "store" | "archive" | "snapshot";
}

/** Pins that could not be had anywhere; `missing` lists them, `attempts` says where each was looked for. */
export class DebianFetchError extends DebianError {
  override readonly name: string = "DebianFetchError";
  constructor(
    readonly missing: DebPin[],
    readonly attempts: ReadonlyMap<DebPin, readonly FetchAttempt[]>,
  ) {
    const lines = [`cannot fetch ${missing.length === 1 ? "a Debian package" : `${missing.length} Debian packages`} pinned by sha256:`];
    for (const p of missing) {
      lines.push(`  ${p.name} ${p.version} ${p.arch} sha256 ${p.sha256} (${p.archive}/${p.path})`);
      for (const a of attempts.get(p) ?? []) lines.push(`    ${a.place}: ${a.result}`);
    }
    super(lines.join("\n"));
  }
}

/** A store file whose bytes do not have the sha256 it is stored under; never replaced silently. */
export class DebianStoreError extends DebianError {
  override readonly name: string = "DebianStoreError";
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The store file of a pin: <store>/<sha256>/<basename(path)>. */
export function storeFile(store: string, pin: DebPin): string {
  if (!HEX64.test(pin.sha256)) throw new DebianError(`Debian package ${pin.name} ${pin.version} ${pin.arch}: "${pin.sha256}" is not a sha256`);
  const name = basename(pin.path);
  if (name === "" || name === "." || name === ".." || !name.endsWith(".deb")) throw new DebianError(`Debian package ${pin.name} ${pin.version} ${pin.arch}: pool path "${pin.path}" does not name a .deb file`);
  return join(store, pin.sha256, name);
}

async function hashFile(file: string): Promise<string | undefined> {
  const h = createHash("sha256");
  try {
    await pipeline(createReadStream(file), h);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  return h.digest("hex");
}

/**
 * Checks a pin's store file: true when present and right, false when absent;
 * throws DebianStoreError when wrong. Right means: `<store>/<sha256>` is a
 * real directory holding that one file, a regular file (no symlink, FIFO or
 * device), whose sha256 is the pin's and whose control fields (Package,
 * Version, Architecture) are the pin's name, version and architecture.
 */
async function checkStored(file: string, pin: DebPin): Promise<boolean> {
  const what = `Debian package ${pin.name} ${pin.version} ${pin.arch}`;
  const dir = dirname(file);
  const store = dirname(dir);
  const kind = async (path: string) => lstat(path).then(
    (st) => (st.isSymbolicLink() ? "a symlink" : st.isDirectory() ? "dir" : st.isFile() ? "file" : "not a regular file"),
    (e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? "absent" : e.code === "ENOTDIR" ? "not a directory" : `unreadable (${e.code ?? e.message})`),
  );
  const storeKind = await kind(store);
  if (storeKind !== "dir" && storeKind !== "absent") throw new DebianStoreError(`the source store ${store} is ${storeKind === "file" ? "a file" : storeKind}, not a directory`);
  const dirKind = await kind(dir);
  if (dirKind === "absent") return false;
  if (dirKind !== "dir") throw new DebianStoreError(`the store entry ${dir} of ${what} is ${dirKind === "file" ? "a file" : dirKind}, not a directory holding the .deb: remove it`);
  const fileKind = await kind(file);
  if (fileKind === "absent") return false;
  if (fileKind !== "file") throw new DebianStoreError(`the store file ${file} of ${what} is ${fileKind === "dir" ? "a directory" : fileKind}: remove it`);
  const others = (await readdir(dir)).filter((n) => !n.startsWith(".") && n !== basename(file));
  if (others.length > 0) throw new DebianStoreError(`the store directory ${dir} of ${what} holds other files too (${others.join(", ")}): one file per sha256`);
  // Checked before and unchanged since (same inode, size, mtime and ctime): no hashing, no dpkg-deb.
  const st = await lstat(file);
  const stamp = JSON.stringify([pin.sha256, pin.name, pin.version, pin.arch, st.ino, st.size, st.mtimeMs, st.ctimeMs]);
  const stampFile = join(store, CHECKED, pin.sha256);
  if ((await readFile(stampFile, "utf8").catch(() => "")) === stamp) return true;
  const found = await hashFile(file);
  if (found === undefined) return false;
  if (found !== pin.sha256) {
    throw new DebianStoreError(
      `the store file ${file} of Debian package ${pin.name} ${pin.version} ${pin.arch} has sha256 ${found}, not ${pin.sha256}: remove it (a wrong store file is never replaced silently)`,
    );
  }
  const control = await debControl(file);
  if (control.Package !== pin.name || control.Version !== pin.version || control.Architecture !== pin.arch) {
    throw new DebianStoreError(
      `the store file ${file} (sha256 ${pin.sha256}) is ${control.Package ?? "?"} ${control.Version ?? "?"} ${control.Architecture ?? "?"}, but the lockfile pins it as ${pin.name} ${pin.version} ${pin.arch}: the lockfile is wrong (caisson lock --refresh)`,
    );
  }
  // A store that cannot take the stamp (read-only) is checked in full every time.
  await mkdir(dirname(stampFile), { recursive: true }).then(() => writeFile(stampFile, stamp)).catch(() => undefined);
  return true;
}

/** `<store>/.checked/<sha256>`: what a store file that passed checkStored was checked as, and its inode, size and times then. */
const CHECKED = ".checked";

/** Package, Version and Architecture of a .deb, from its control file (dpkg-deb). */
async function debControl(file: string): Promise<Record<string, string>> {
  const r = await run("dpkg-deb", ["--field", file, "Package", "Version", "Architecture"]);
  if (r.code !== 0) throw new DebianStoreError(`${file} is not a Debian package: dpkg-deb: ${r.stderr.trim() || `exit ${r.code}`}`);
  const out: Record<string, string> = {};
  for (const line of r.stdout.split("\n")) {
    const m = /^(Package|Version|Architecture):\s*(.*)$/.exec(line);
    if (m) out[m[1] as string] = (m[2] as string).trim();
  }
  return out;
}

/** URL of a pool path under a base URI, each segment percent-encoded (`+` → %2B, as apt does). */
export function poolUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}/${path.split("/").map(encodeURIComponent).join("/")}`;
}

/** Places a pin is looked for after the store, in order. */
export function placesOf(pin: DebPin, archives: readonly DebianArchive[], snapshot?: string): ({ kind: "archive" | "snapshot"; place: string; url: string } | { kind: "none"; place: string; result: string })[] {
  const out: ({ kind: "archive" | "snapshot"; place: string; url: string } | { kind: "none"; place: string; result: string })[] = [];
  const named = archives.filter((a) => a.name === pin.archive);
  if (named.length === 0) out.push({ kind: "none", place: `archive "${pin.archive}"`, result: `no archive named "${pin.archive}" in the apt sources` });
  for (const a of named) {
    const url = poolUrl(a.uri, pin.path);
    out.push({ kind: "archive", place: `archive "${a.name}" ${url}`, url });
  }
  if (snapshot !== undefined && snapshot !== "") {
    const url = poolUrl(snapshot.split("{archive}").join(encodeURIComponent(pin.archive)), pin.path);
    out.push({ kind: "snapshot", place: `snapshot ${url}`, url });
  }
  return out;
}

/** Downloads `url` into `file` through a temporary file beside it; returns undefined when the bytes are right, else what went wrong. */
async function download(url: string, file: string, pin: DebPin): Promise<string | undefined> {
  const dir = join(file, "..");
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString("hex")}.part`);
  const hash = createHash("sha256");
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    let body: Readable;
    if (url.startsWith("file:")) {
      const path = fileURLToPath(url);
      try {
        await stat(path);
      } catch {
        return "missing";
      }
      body = createReadStream(path);
    } else if (/^https?:\/\//.test(url)) {
      let res: Response;
      try {
        res = await fetch(url, { redirect: "follow", signal: AbortSignal.timeout(600_000) });
      } catch (e) {
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        return `unreachable: ${cause?.code ?? cause?.message ?? (e as Error).message}`;
      }
      if (!res.ok || res.body === null) {
        await res.body?.cancel();
        return `HTTP ${res.status}`;
      }
      body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
    } else {
      return `unsupported URI scheme (${url.replace(/:.*$/, "")}:)`;
    }
    try {
      await pipeline(body, counter, createWriteStream(tmp, { flags: "wx" }));
    } catch (e) {
      return `download failed: ${(e as Error).message}`;
    }
    const found = hash.digest("hex");
    if (found !== pin.sha256) return `wrong bytes: sha256 ${found} (${size} bytes), expected ${pin.sha256} (${pin.size} bytes)`;
    await rename(tmp, file);
    return undefined;
  } finally {
    await rm(tmp, { force: true });
  }
}

async function pool<T>(items: readonly T[], parallel: number, each: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(parallel, items.length)) }, async () => {
    while (next < items.length) await each(items[next++]!);
  });
  await Promise.all(workers);
}

function humanSize(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(0)} KiB` : `${n} B`;
}

/**
 * Makes sure every pin's .deb is in the store with the right sha256: from
 * the store itself, else its archive (`pin.archive` in `archives`), else the
 * snapshot mirror. Throws DebianStoreError for a wrong store file and
 * DebianFetchError, listing every place looked, for pins found nowhere.
 * Returns the store files in the order of `pins`.
 */
export async function fetchDebs(pins: readonly DebPin[], options: FetchOptions): Promise<FetchedDeb[]> {
  const { store, archives, snapshot, log } = options;
  const unique = [...new Map(pins.map((p) => [`${p.sha256}/${basename(p.path)}`, p])).values()];
  const done = new Map<string, FetchedDeb>();
  const attempts = new Map<DebPin, FetchAttempt[]>();
  const wrong: DebianStoreError[] = [];
  const toFetch: DebPin[] = [];
  for (const p of unique) {
    const file = storeFile(store, p);
    try {
      if (await checkStored(file, p)) done.set(file, { pin: p, file, from: "store" });
      else toFetch.push(p);
    } catch (e) {
      if (e instanceof DebianStoreError) wrong.push(e);
      else throw e;
    }
  }
  if (wrong.length > 0) throw new DebianStoreError(wrong.map((e) => e.message).join("\n"));
  if (toFetch.length > 0) {
    const total = toFetch.reduce((n, p) => n + p.size, 0);
    log?.(`fetching ${toFetch.length} Debian package${toFetch.length === 1 ? "" : "s"} (${humanSize(total)}) into ${store}`);
  }
  let fetched = 0;
  await pool(toFetch, options.parallel ?? 6, async (p) => {
    const file = storeFile(store, p);
    const tried: FetchAttempt[] = [{ place: `store ${file}`, result: "missing" }];
    for (const place of placesOf(p, archives, snapshot)) {
      if (place.kind === "none") {
        tried.push({ place: place.place, result: place.result });
        continue;
      }
      const failure = await download(place.url, file, p);
      if (failure === undefined) {
        // The right bytes; and the package the lockfile says they are (else DebianStoreError).
        await checkStored(file, p);
        done.set(file, { pin: p, file, from: place.kind });
        fetched++;
        log?.(`[${fetched}/${toFetch.length}] ${p.name} ${p.version} ${p.arch} (${humanSize(p.size)}) from ${place.kind === "archive" ? `archive "${p.archive}"` : "the snapshot mirror"}`);
        return;
      }
      tried.push({ place: place.place, result: failure });
      log?.(`${p.name} ${p.version} ${p.arch}: ${place.place}: ${failure}`);
    }
    attempts.set(p, tried);
  });
  if (attempts.size > 0) {
    const missing = unique.filter((p) => attempts.has(p));
    throw new DebianFetchError(missing, attempts);
  }
  return pins.map((p) => done.get(storeFile(store, p))!);
}

/** Checks that every pin's .deb is in the store with the right sha256, downloading nothing (builds that must not reach the network). */
export async function verifyStore(pins: readonly DebPin[], store: string): Promise<FetchedDeb[]> {
  const out: FetchedDeb[] = [];
  const attempts = new Map<DebPin, FetchAttempt[]>();
  const wrong: string[] = [];
  for (const p of pins) {
    const file = storeFile(store, p);
    try {
      if (await checkStored(file, p)) out.push({ pin: p, file, from: "store" });
      else attempts.set(p, [{ place: `store ${file}`, result: "missing" }]);
    } catch (e) {
      if (e instanceof DebianStoreError) wrong.push(e.message);
      else throw e;
    }
  }
  if (wrong.length > 0) throw new DebianStoreError(wrong.join("\n"));
  if (attempts.size > 0) throw new DebianFetchError([...attempts.keys()], attempts);
  return out;
}
