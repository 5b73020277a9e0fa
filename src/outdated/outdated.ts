// `caisson outdated`: for each source with a `release:` rule, finds the
// newest release upstream (git tags, or a listing page matched by a pattern)
// and, with `write`, edits the definition in place — only the values that
// change (ref, commit, url, sha256, filename, version), so comments and
// layout stay as they are.
import { LineIndex } from "../diag/index.js";
import { child, entry, loadDefinition, type ScalarNode, type YamlNode } from "../load/index.js";
import { readFile } from "node:fs/promises";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { changelogCves, compareVersions as compareDebianVersions, DebianError, fetchDebs, openApt, pkgKey, readArchives, type Apt } from "../debian/index.js";
import { debianKey, lockPathFor, parseLockfile, type Lockfile } from "../lock/lockfile.js";
import { hashUrl, lsRemote, fetchText, ResolveError, type RemoteRef } from "../lock/resolve.js";
import type { DebianPackage, DebPin, ImageDefinition, MovingRef, SourceSpec, Span } from "../model/index.js";
import { BOOTSTRAP_STAGE } from "../lock/bootstrap.js";
import { sameRequest } from "../lock/pins.js";
import type { BootstrapDefinition } from "../validate/bootstrap.js";
import { compareVersions, latest, parseVersion, type Version } from "./version.js";

export interface OutdatedOptions {
  /** Consider pre-releases (1.3.0-rc.1) too. */
  readonly pre?: boolean;
  /** apt sources (deb822) instead of this machine's, for Debian packages. */
  readonly debianSources?: string;
  /** Opens apt for a build architecture (tests; default: a private apt state with the Debian sources). */
  readonly debianApt?: (native: string, foreign: readonly string[]) => Promise<Apt>;
  /** The definition's lockfile (default: read from beside it). */
  readonly lock?: Lockfile;
}

/** One source's check. */
export interface Check {
  readonly file: string;
  readonly source: string;
  readonly rule: "git-tags" | "listing" | "debian";
  /** The current version (from the ref, the tag of the commit, or the URL), if it can be told. */
  readonly current?: string;
  /** The newest release upstream. */
  readonly latest?: string;
  readonly status: "outdated" | "up to date" | "unknown" | "error";
  /** A Debian package whose newer version comes from a security suite. */
  readonly security?: boolean;
  /** CVE ids named by the changelog entries between the pinned and the newer version. */
  readonly cves?: readonly string[];
  /** What changes, as the user would write it: `ref: v1.3.0`, `url: …`. */
  readonly update?: Update;
  readonly message?: string;
  readonly span: Span;
}

/** The new values for a source (and what they replace). */
export interface Update {
  readonly oldVersion: string;
  readonly newVersion: string;
  /** git: the new tag and the commit it points to. */
  readonly ref?: string;
  readonly commit?: string;
  /** http: the new URL. */
  readonly url?: string;
  /** A Debian package pinned in the definition: the new entry (`make=4.3-4.2`) and where the old one is written. */
  readonly debian?: { readonly text: string; readonly span: Span };
  /** The lockfile's Debian closures are re-resolved (`caisson lock` with the Debian pins refreshed). */
  readonly relock?: boolean;
}

const full = (pattern: string) => new RegExp(`^(?:${pattern})$`);

/** Checks every source of `def` that has a release rule. */
export async function checkOutdated(def: ImageDefinition, opts: OutdatedOptions = {}): Promise<Check[]> {
  const out: Check[] = [];
  const remotes = new Map<string, Promise<RemoteRef[]>>();
  for (const s of def.sources) {
    if ((s.kind !== "git" && s.kind !== "http") || !s.release) continue;
    const base = { file: def.file, source: s.name, rule: s.release.kind, span: s.release.span } as const;
    try {
      out.push({ ...base, ...(await checkOne(s, remotes, opts)) });
    } catch (e) {
      if (!(e instanceof ResolveError)) throw e;
      out.push({ ...base, status: "error", message: e.message });
    }
  }
  out.push(...(await checkDebian(def, opts)));
  return out;
}

/**
 * The pinned Debian closures of the definition (its lockfile) against apt's
 * candidates now (the machine's Debian sources, or --debian-sources): each
 * .deb with a newer candidate is reported, security updates marked with the
 * CVE ids of the new changelog entries. `--write` re-locks the closures
 * (a version written in the definition as `name=version` is edited in place
 * first).
 */
async function checkDebian(def: ImageDefinition, opts: OutdatedOptions): Promise<Check[]> {
  const closures = (def.moving ?? []).filter((m): m is DebianRef => m.kind === "debian");
  if (closures.length === 0) return [];
  // `<stage>/<build arch> name[:arch]` → the entry written with a version: the map form's lists are per build architecture.
  const written = new Map<string, DebianPackage>();
  for (const m of closures) {
    const st = def.stages.find((s) => s.name === m.stage);
    const list = st?.packages?.byBuildArch ? (st.packages.byBuildArch[m.buildArch] ?? []) : (st?.packages?.all ?? []);
    for (const pkg of list) {
      if (pkg.version !== "") written.set(`${debianKey(m.stage, m.buildArch)} ${pkg.name}${pkg.arch ? `:${pkg.arch}` : ""}`, pkg);
    }
  }
  return checkClosures(def.file, closures, written, opts.lock ?? (await lockBeside(def.file)), opts);
}

type DebianRef = Extract<MovingRef, { kind: "debian" }>;

/** The lockfile beside a definition, if it is there and readable. */
async function lockBeside(file: string): Promise<Lockfile | undefined> {
  const text = await readFile(lockPathFor(file), "utf8").catch(() => undefined);
  try {
    return text === undefined ? undefined : parseLockfile(text, lockPathFor(file));
  } catch {
    return undefined;
  }
}

/** The pinned package set of a bootstrap definition (its lockfile) against apt's candidates now. */
export async function checkBootstrapOutdated(def: BootstrapDefinition, opts: OutdatedOptions = {}): Promise<Check[]> {
  const lock = opts.lock ?? (await lockBeside(def.file));
  const refs = def.arches.map((a): DebianRef => ({ kind: "debian", stage: BOOTSTRAP_STAGE, buildArch: a, request: lock?.debian?.[debianKey(BOOTSTRAP_STAGE, a)]?.request ?? [], from: "scratch", span: def.span }));
  return checkClosures(def.file, refs, new Map(), lock, opts, true);
}

async function checkClosures(
  file: string,
  closures: readonly DebianRef[],
  written: ReadonlyMap<string, DebianPackage>,
  lock: Lockfile | undefined,
  opts: OutdatedOptions,
  anyRequest = false,
): Promise<Check[]> {
  const out: Check[] = [];
  const byArch = new Map<string, { m: (typeof closures)[number]; pins: readonly DebPin[] }[]>();
  for (const m of closures) {
    const key = debianKey(m.stage, m.buildArch);
    const c = lock?.debian?.[key];
    const base = { file, source: anyRequest ? key : `${key} (${m.request.join(" ")})`, rule: "debian", span: m.span } as const;
    const stale = c !== undefined && !anyRequest && (c.from !== m.from || !sameRequest(c.request, m.request));
    if (!c || stale) {
      out.push({ ...base, status: "unknown", message: `${stale ? "the lockfile pins another package list or base" : "not pinned"}: run caisson lock ${file}` });
      continue;
    }
    byArch.set(m.buildArch, [...(byArch.get(m.buildArch) ?? []), { m, pins: c.packages }]);
  }
  const cves = new Map<string, Promise<string[]>>();
  for (const [arch, list] of byArch) {
    let apt: Apt | undefined;
    try {
      const foreign = [...new Set(list.flatMap((l) => l.pins.map((p) => p.arch)).filter((a) => a !== arch && a !== "all"))].sort();
      apt = await (opts.debianApt ?? ((native, f) => readArchives(opts.debianSources).then((archives) => openApt({ archives, native, foreign: f }))))(arch, foreign);
      const found = await apt.candidates(list.flatMap((l) => l.pins.map((p) => ({ name: p.name, arch: p.arch }))));
      for (const { m, pins } of list) {
        const key = debianKey(m.stage, m.buildArch);
        let newer = 0;
        for (const p of pins) {
          const cand = found.get(pkgKey(p.name, p.arch));
          if (!cand) {
            // Gone from the archives (removed or renamed): the pin will not be fetchable for long.
            newer++;
            out.push({ file, source: `${key}: ${p.name}:${p.arch}`, rule: "debian", span: m.span, status: "outdated", current: p.version, message: "no longer in the Debian archives", update: { oldVersion: p.version, newVersion: "(none)", relock: true } });
            continue;
          }
          if (compareDebianVersions(cand.version, p.version) <= 0) continue;
          newer++;
          // As written: `name` for the build architecture's own (or `all`), `name:arch` for any architecture.
          const native = p.arch === m.buildArch || p.arch === "all";
          const mine = (native ? written.get(`${key} ${p.name}`) : undefined) ?? written.get(`${key} ${p.name}:${p.arch}`);
          let ids: string[] = [];
          if (cand.security) {
            const k = `${p.name}:${p.arch}=${cand.version}`;
            if (!cves.has(k)) cves.set(k, securityCves(apt, p, cand.version, opts));
            ids = await (cves.get(k) as Promise<string[]>);
          }
          out.push({
            file,
            source: `${key}: ${p.name}:${p.arch}`,
            rule: "debian",
            span: mine?.span ?? m.span,
            status: "outdated",
            current: p.version,
            latest: cand.version,
            ...(cand.security ? { security: true, cves: ids } : {}),
            update: {
              oldVersion: p.version,
              newVersion: cand.version,
              relock: true,
              ...(mine && mine.version === p.version ? { debian: { text: `${p.name}${mine.arch ? `:${mine.arch}` : ""}=${cand.version}`, span: mine.span } } : {}),
            },
          });
        }
        if (newer === 0) out.push({ file, source: `${key} (${pins.length} .deb)`, rule: "debian", span: m.span, status: "up to date" });
      }
    } catch (e) {
      if (!(e instanceof DebianError || e instanceof ResolveError)) throw e;
      for (const { m } of list) out.push({ file, source: debianKey(m.stage, m.buildArch), rule: "debian", span: m.span, status: "error", message: e.message });
    } finally {
      await apt?.close();
    }
  }
  return out;
}

/** The CVE ids in the changelog entries of `version` newer than the pinned one (the new .deb is downloaded to read it). */
async function securityCves(apt: Apt, pin: DebPin, version: string, opts: OutdatedOptions): Promise<string[]> {
  try {
    const [next] = (await apt.resolve([`${pin.name}:${pin.arch}=${version}`], "")).filter((p) => p.name === pin.name);
    if (!next) return [];
    const dir = await mkdtemp(join(tmpdir(), "caisson-changelog-"));
    try {
      await fetchDebs([next], { store: dir, archives: await readArchives(opts.debianSources) });
      return await changelogCves(join(dir, next.sha256, next.path.slice(next.path.lastIndexOf("/") + 1)), pin.version);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } catch (e) {
    if (e instanceof DebianError) return [];
    throw e;
  }
}


type Result = Omit<Check, "file" | "source" | "rule" | "span">;

async function checkOne(s: SourceSpec, remotes: Map<string, Promise<RemoteRef[]>>, opts: OutdatedOptions): Promise<Result> {
  if (s.kind === "git" && s.release?.kind === "git-tags") {
    const re = full(s.release.pattern);
    let refs = remotes.get(s.url);
    if (!refs) remotes.set(s.url, (refs = lsRemote(s.url)));
    const tags = (await refs)
      .filter((r) => r.name.startsWith("refs/tags/"))
      .map((r) => ({ tag: r.name.slice("refs/tags/".length), commit: r.peeled ?? r.object }))
      .map((t) => ({ ...t, m: re.exec(t.tag) }))
      .filter((t) => t.m?.[1] !== undefined)
      .map((t) => ({ tag: t.tag, commit: t.commit, version: parseVersion(t.m?.[1] as string) }))
      .filter((t): t is { tag: string; commit: string; version: Version } => t.version !== undefined);
    // The current version: the ref as written, else a release tag pointing at the commit.
    const currentTag = s.ref !== undefined ? tags.find((t) => t.tag === s.ref) : tags.find((t) => t.commit === s.commit);
    const currentText = currentTag?.version.text ?? (s.ref !== undefined ? re.exec(s.ref)?.[1] : undefined);
    const newest = latest(tags, opts.pre);
    if (!newest) return { status: "unknown", ...(currentText ? { current: currentText } : {}), message: `no tag of ${s.url} matches ${s.release.pattern}` };
    const cur = currentText !== undefined ? parseVersion(currentText) : undefined;
    if (!cur) return { status: "unknown", latest: newest.version.text, message: `cannot tell the current version: ref ${s.ref ?? "(none)"} does not match ${s.release.pattern}` };
    if (compareVersions(newest.version, cur) <= 0) return { status: "up to date", current: cur.text, latest: newest.version.text };
    return {
      status: "outdated",
      current: cur.text,
      latest: newest.version.text,
      update: { oldVersion: cur.text, newVersion: newest.version.text, ref: newest.tag, commit: newest.commit },
    };
  }
  if (s.kind === "http" && s.release?.kind === "listing" && s.url !== undefined) {
    const page = await fetchText(s.release.url);
    const re = new RegExp(s.release.pattern, "g");
    const found = new Map<string, { version: Version }>();
    for (const m of page.matchAll(re)) {
      const v = m[1] !== undefined ? parseVersion(m[1]) : undefined;
      if (v) found.set(v.text, { version: v });
    }
    const currentText = new RegExp(s.release.pattern).exec(s.url)?.[1];
    const newest = latest([...found.values()], opts.pre);
    if (!newest) return { status: "unknown", ...(currentText ? { current: currentText } : {}), message: `nothing on ${s.release.url} matches ${s.release.pattern}` };
    const cur = currentText !== undefined ? parseVersion(currentText) : undefined;
    if (!cur) return { status: "unknown", latest: newest.version.text, message: `cannot tell the current version: the url does not match ${s.release.pattern}` };
    if (compareVersions(newest.version, cur) <= 0) return { status: "up to date", current: cur.text, latest: newest.version.text };
    return {
      status: "outdated",
      current: cur.text,
      latest: newest.version.text,
      update: { oldVersion: cur.text, newVersion: newest.version.text, url: s.url.split(cur.text).join(newest.version.text) },
    };
  }
  return { status: "unknown", message: "the release rule does not fit this kind of source" };
}

/** A byte-range replacement in the definition's text. */
interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** Renders a new scalar value in the style of the one it replaces (plain, single- or double-quoted). */
function renderLike(node: ScalarNode, original: string, value: string, json: boolean): string {
  if (json || original.startsWith('"')) return JSON.stringify(value);
  if (original.startsWith("'")) return `'${value.replace(/'/g, "''")}'`;
  const safe = /^[A-Za-z0-9_./+~-][A-Za-z0-9_./:@+~=#%?&-]*$/.test(value) && !/^(true|false|null|yes|no|on|off)$/i.test(value);
  // A number-like value stays plain only where the old one was a plain number too (version: 7.0.15 → 7.1).
  const numberLike = /^[-+]?(\d[\d_]*(\.\d*)?([eE][-+]?\d+)?|\.\d+|0x[0-9a-fA-F]+|0o[0-7]+)$/.test(value);
  return safe && (!numberLike || typeof node.value === "number") ? value : JSON.stringify(value);
}

export interface WriteResult {
  /** The new text of the definition. */
  readonly text: string;
  /** Lines for the user: what changed, and places that still mention an old version. */
  readonly notes: string[];
}

/**
 * Applies `updates` (source name → Update) to the definition's text:
 * git `ref` and `commit`; http `url`, `sha256` (downloaded and hashed when
 * the definition has one), and `filename` when it contains the old version;
 * the top-level `version` when it was the old version. Throws ResolveError.
 */
export async function writeUpdates(file: string, text: string, updates: ReadonlyMap<string, Update>): Promise<WriteResult> {
  const loaded = loadDefinition(file, text);
  const root = loaded.doc.root;
  if (!root) throw new ResolveError(`${file}: nothing to update`);
  const json = /\.json$/i.test(file);
  const bytes = Buffer.from(text, "utf8");
  const edits: Edit[] = [];
  const notes: string[] = [];
  const lines = new LineIndex(text);
  const at = (span: Span) => {
    const p = lines.position(span.start);
    return `${file}:${p.line}:${p.column}`;
  };
  const set = (node: YamlNode | undefined, value: string, what: string) => {
    if (node?.kind !== "scalar") return;
    const original = bytes.subarray(node.span.start, node.span.end).toString("utf8");
    edits.push({ start: node.span.start, end: node.span.end, text: renderLike(node, original, value, json) });
    notes.push(`${at(node.span)}: ${what}: ${node.text} → ${value}`);
  };
  const sources = child(root, "sources");
  const versions = new Map<string, string>();
  for (const [name, u] of updates) {
    if (u.debian !== undefined) {
      // A Debian package pinned in the definition: the entry itself, where it is written.
      const node: ScalarNode = { kind: "scalar", value: u.debian.text, text: u.debian.text, plain: true, span: u.debian.span };
      const original = bytes.subarray(u.debian.span.start, u.debian.span.end).toString("utf8");
      const rendered = renderLike(node, original, u.debian.text, json);
      // The list form is checked once per build architecture: the entry is edited once.
      const done = edits.find((e) => e.start === u.debian?.span.start && e.end === u.debian.span.end);
      if (done) {
        if (done.text !== rendered) notes.push(`${at(u.debian.span)}: note: ${name} would be ${u.debian.text}; check which version this entry should have`);
        continue;
      }
      edits.push({ start: u.debian.span.start, end: u.debian.span.end, text: rendered });
      notes.push(`${at(u.debian.span)}: ${name}: ${original} → ${u.debian.text}`);
      continue;
    }
    const src = child(sources, name);
    if (!src) continue;
    versions.set(u.oldVersion, u.newVersion);
    if (u.ref !== undefined) {
      set(child(src, "ref"), u.ref, `sources.${name}.ref`);
      if (entry(src, "commit") && u.commit) set(child(src, "commit"), u.commit, `sources.${name}.commit`);
    }
    if (u.url !== undefined) {
      set(child(src, "url"), u.url, `sources.${name}.url`);
      const fn = child(src, "filename");
      if (fn?.kind === "scalar" && typeof fn.value === "string" && fn.value.includes(u.oldVersion)) {
        set(fn, fn.value.split(u.oldVersion).join(u.newVersion), `sources.${name}.filename`);
      }
      if (entry(src, "sha256")) set(child(src, "sha256"), (await hashUrl(u.url)).sha256, `sources.${name}.sha256`);
    }
  }
  const version = child(root, "version");
  if (version?.kind === "scalar" && versions.has(version.text)) set(version, versions.get(version.text) as string, "version");
  edits.sort((a, b) => b.start - a.start);
  let out = bytes;
  for (const e of edits) out = Buffer.concat([out.subarray(0, e.start), Buffer.from(e.text, "utf8"), out.subarray(e.end)]);
  // Other mentions of an old version (paths inside an archive, labels) are the user's to check.
  for (const old of versions.keys()) {
    let i = bytes.indexOf(old);
    while (i >= 0) {
      const end = i + Buffer.byteLength(old);
      const ch = (k: number) => String.fromCharCode(bytes[k] ?? 32);
      // A whole version: 1.2.0 in app-1.2.0.tar.gz, not in 11.2.0 or 1.2.0.1.
      const whole = !/[0-9.]/.test(ch(i - 1)) && !/[0-9]/.test(ch(end)) && !(ch(end) === "." && /[0-9]/.test(ch(end + 1)));
      if (whole && !edits.some((e) => i >= e.start && i < e.end)) {
        notes.push(`${at({ file, start: i, end })}: note: still mentions ${old}; check whether it should change`);
      }
      i = bytes.indexOf(old, end);
    }
  }
  return { text: out.toString("utf8"), notes };
}
