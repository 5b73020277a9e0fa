// `caisson build`: validate and resolve locally (so mistakes are reported
// before the engine starts), serve the source store on loopback, then build
// on the engine through the caisson frontend.
import { existsSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { hasErrors } from "../diag/index.js";
import { compileDefinition, hostPlatform } from "../compile/index.js";
import { checkOutputDest, EngineError, OutputRefused, type EngineOutput } from "../engine/index.js";
import { buildNative, BuilderError, parseCacheSpec, resolveAddress, type BuilderSpec, type Entry } from "../client/index.js";
import { formatPlatform } from "../llb/index.js";
import { SourceStore, serveStore, type StoreFailure, type StoreServer } from "../sources/index.js";
import { resolveImports } from "../resolve/index.js";
import type { ImageDefinition, Platform } from "../model/index.js";
import { runCheck } from "./check.js";
import { parsePlatform } from "../validate/index.js";
import { parseReference, REFERENCE_FORM, shownReference } from "../reference/index.js";
import { readDefinition } from "./definition.js";
import { defaultImageName, defaultNameProblem, localSourceProblems } from "./preflight.js";
import { readContextFile, UsageError } from "./io.js";
import { parseMirror, mirrorUrls } from "../lock/index.js";
import { DebianError, DebianFetchError, fetchDebs, readArchives } from "../debian/index.js";
import { isBootstrap } from "../validate/bootstrap.js";
import { ExitStatus, explainSources, frozenDefault, readLockBeside } from "./lock.js";

export interface BuildFlags {
  readonly platform?: string;
  readonly output: string[];
  readonly context: string;
  readonly sourceStore?: string;
  readonly progress: "auto" | "plain" | "tty" | "json" | "quiet";
  /** Where BuildKit is: docker (default), unix:///path, tcp://host:port (also CAISSON_BUILDER). */
  readonly builder?: string;
  /** Mutual TLS for a tcp:// builder: the CA that signed its certificate, and this client's certificate and key. */
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** Cache imports and exports, buildx's shape: type=registry,ref=NAME or type=local,src=DIR / dest=DIR. */
  readonly cacheFrom?: string[];
  readonly cacheTo?: string[];
  readonly noCache?: boolean;
  /** Skip `caisson check` on the result. */
  readonly noCheck?: boolean;
  /** Refuse moving references the lockfile does not pin (default under CI=true). */
  readonly frozen?: boolean;
  /** `--mirror from=to` URL prefix rewrites, where the source store lacks a file. */
  readonly mirror?: string[];
  /** apt sources (deb822) to take Debian archives from instead of this machine's (also CAISSON_DEBIAN_SOURCES). */
  readonly debianSources?: string;
  /** Where pinned .debs that neither the store nor the archives have are fetched: a URL, `{archive}` replaced by the archive name. */
  readonly debianSnapshot?: string;
  /** Replace a non-empty local=DIR output (only once the build has succeeded). */
  readonly force?: boolean;
}

/** `--context DIR`, resolved; a usage error when it is missing or not a directory. */
export function contextDir(dir: string): string {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (!st) throw new UsageError(`--context ${dir}: no such directory`);
  if (!st.isDirectory()) throw new UsageError(`--context ${dir}: not a directory (give the build context's root directory)`);
  return resolve(dir);
}

/** Platforms asked for that the definition does not list: a usage error naming the ones it lists. */
export function checkListed(asked: readonly string[], listed: readonly string[], file: string): void {
  const extra = asked.filter((p) => !listed.includes(p));
  if (extra.length > 0) {
    throw new UsageError(`--platform ${extra.join(",")}: ${file} does not list ${extra.length === 1 ? "it" : "them"}; it lists ${listed.join(", ")}`);
  }
}

/** One line per store file the server could not serve, naming the source it holds. */
export function describeStoreFailures(failures: readonly StoreFailure[], defs: readonly ImageDefinition[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of failures) {
    const key = `${f.sha256}\0${f.reason}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const src = defs.flatMap((d) => d.sources).find((s) => s.kind === "http" && s.sha256 === f.sha256);
    const name = src && src.kind === "http" ? `source "${src.name}" (${src.filename}, sha256 ${f.sha256})` : `sha256 ${f.sha256}`;
    out.push(`the source store could not serve ${name}: ${f.file ?? "(no file)"}: ${f.reason}`);
  }
  return out;
}
/** Where `--source-store` points when not given: $CAISSON_SOURCE_STORE, else the folder hack/fetch-sources.sh fills. */
export function defaultSourceStore(): string | undefined {
  const env = process.env["CAISSON_SOURCE_STORE"];
  if (env) return env;
  const cache = join(process.env["CAISSON_CACHE"] ?? "/var/cache/caisson", "sources");
  return existsSync(cache) ? cache : undefined;
}

/** An image name the engine will take (src/reference's grammar); a usage error saying what to fix before any work. */
export function checkReference(name: string, flag: string): void {
  // Credentials in the name (user:password@host/…) are not quoted back, here or in the flag.
  const shown = shownReference(name);
  if (shown !== name) flag = flag.split(name).join(shown);
  if (name.includes(",")) throw new UsageError(`${flag}: "${shown}" names more than one image (a comma); give one name per -o, e.g. -o image=a:1 -o image=b:2`);
  const parsed = parseReference(name);
  if (!parsed.ok) throw new UsageError(`${flag}: "${shown}" is not a valid image reference: ${parsed.reason}; want ${REFERENCE_FORM}`);
}

/** Parses `image=NAME`, `push=NAME`, `oci=FILE`, `local=DIR` (or a bare image name). */
export function parseOutput(spec: string): EngineOutput {
  const eq = spec.indexOf("=");
  const kind = eq < 0 ? "image" : spec.slice(0, eq);
  const value = eq < 0 ? spec : spec.slice(eq + 1);
  if (!value) throw new UsageError(`--output ${spec}: missing value (e.g. image=caisson/redis:7.0.15, oci=out/redis.oci.tar, local=out/)`);
  switch (kind) {
    case "image":
      checkReference(value, `--output ${spec}`);
      return { type: "docker", name: value };
    case "oci":
      return { type: "oci", dest: value };
    case "local":
      return { type: "local", dest: value };
    case "push":
      checkReference(value, `--output ${spec}`);
      return { type: "push", name: value };
    default:
      throw new UsageError(`--output ${spec}: unknown kind "${kind}" (use image=NAME, push=NAME, oci=FILE or local=DIR)`);
  }
}

export type Reporter = (diagnostics: Parameters<typeof hasErrors>[0], texts: Map<string, string>) => boolean;

/** Runs one build; resolves to whether it succeeded. Throws UsageError / EngineError, or returns false after reporting diagnostics. */
export async function buildCommand(file: string, flags: BuildFlags, report: Reporter): Promise<boolean> {
  // Under --progress json every line on stderr is one JSON object: caisson's own messages too.
  const json = flags.progress === "json";
  const say = (message: string) => void process.stderr.write(json ? JSON.stringify({ type: "log", message }) + "\n" : `caisson: ${message}\n`);
  const context = contextDir(flags.context);
  const rel = relative(context, resolve(file));
  if (rel.startsWith("..")) throw new UsageError(`${file} is outside the build context ${flags.context} (give --context)`);
  const source = await readDefinition(file);
  const { text } = source;
  if (text === undefined) return !report(source.diagnostics, source.texts);
  if (isBootstrap(file, text)) throw new UsageError(`${file} is a bootstrap definition: build it with \`caisson bootstrap ${file} -o <file.oci.tar>\``);

  // Compile locally first: every mistake reported with file:line:col before the engine is involved.
  const platforms = flags.platform?.split(",").map((p) => {
    const parsed = parsePlatform(p.trim());
    if (!parsed.ok) throw new UsageError(`--platform: ${parsed.message}${parsed.hint ? ` (${parsed.hint})` : ""}`);
    return formatPlatform(parsed.value);
  });
  const outputs = flags.output.length > 0 ? flags.output.map(parseOutput) : undefined;
  // --cache-from/--cache-to: type=registry and a ref in the grammar -o image= takes.
  let cacheImports: Entry[] | undefined;
  let cacheExports: Entry[] | undefined;
  try {
    cacheImports = flags.cacheFrom?.map((c) => parseCacheSpec(c, "--cache-from"));
    cacheExports = flags.cacheTo?.map((c) => parseCacheSpec(c, "--cache-to"));
  } catch (e: unknown) {
    if (e instanceof BuilderError) throw new UsageError(e.message);
    throw e;
  }
  for (const output of outputs ?? []) {
    try {
      checkOutputDest(output, { file, contextDir: context, ...(flags.force ? { force: true } : {}) });
    } catch (e) {
      if (e instanceof OutputRefused) throw new UsageError(e.message);
      throw e;
    }
  }
  const { lock, lockPath } = await readLockBeside(source.lockBeside);
  const frozen = frozenDefault(flags.frozen);
  const mirrors = (flags.mirror ?? []).map((m) => {
    try {
      return parseMirror(m);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  });
  // Where the builder is, and its TLS files read: a wrong --builder or --tls-* is bad usage, before any work.
  const builderSpec: BuilderSpec = {
    ...(flags.builder ? { builder: flags.builder } : {}),
    tls: { ...(flags.tlsCa ? { ca: flags.tlsCa } : {}), ...(flags.tlsCert ? { cert: flags.tlsCert } : {}), ...(flags.tlsKey ? { key: flags.tlsKey } : {}) },
  };
  try {
    resolveAddress(builderSpec);
  } catch (e: unknown) {
    if (e instanceof BuilderError) throw new UsageError(e.message);
    throw e;
  }
  // Compiled here first (every mistake reported before the engine starts), then again with the store server's address.
  const compileWith = (sourceMirror: string, targets?: readonly Platform[]) =>
    compileDefinition(source.file, text, {
      buildPlatform: hostPlatform(),
      ...(lock ? { lock } : {}),
      lockPath,
      frozen,
      readContext: (path) => readContextFile(context, path),
      sourceMirror,
      ...(targets ? { platforms: targets } : {}),
    });
  const local = await compileWith("http://127.0.0.1");
  const texts = new Map([...source.texts, ...local.texts]);
  if (report(await source.point(local.diagnostics), texts) || !local.definition) return false;
  const def = local.definition;
  if (platforms) checkListed(platforms, def.platforms.map(formatPlatform), file);
  // The definitions it imports: their sources are served (or redirected) by the store server too.
  const imported = [...(await resolveImports(def, (path) => readContextFile(context, path))).definitions.values()];
  const all = [def, ...imported];
  // What the engine would only fail on late and without a place: the default tag, each local source's folder.
  const early = [...(outputs ? [] : [defaultNameProblem(def)].filter((d) => d !== undefined)), ...(await localSourceProblems(all, context))];
  if (early.length > 0 && report(await source.point(early), texts)) return false;

  // Every pinned .deb into the store before the engine starts (store, then the Debian archives, then a
  // snapshot), each verified by sha256: a pin that can no longer be had stops the build here, by name.
  const debs = local.debPins ?? [];
  if (debs.length > 0) {
    const debStore = flags.sourceStore ?? defaultSourceStore() ?? join(process.env["CAISSON_CACHE"] ?? "/var/cache/caisson", "sources");
    try {
      await fetchDebs(debs, {
        store: debStore,
        archives: await readArchives(flags.debianSources),
        ...(flags.debianSnapshot ? { snapshot: flags.debianSnapshot } : {}),
        log: say,
      });
    } catch (e) {
      if (!(e instanceof DebianError)) throw e;
      say(e.message);
      if (e instanceof DebianFetchError) {
        say(
          `to pin what Debian serves now: caisson outdated --write ${local.pinnedBy?.join(" ") || file}; ` +
            "to fetch the old files from an archive of Debian's history: --debian-snapshot URL",
        );
      }
      return false;
    }
    flags = { ...flags, sourceStore: debStore };
  }

  // Sources come from the store when it has them; the server redirects the rest to their URLs.
  const storeDir = flags.sourceStore ?? defaultSourceStore();
  const fallback = new Map<string, string>();
  const collect = (d: typeof def) => {
    // Where the store lacks a file: the first mirror of its URL, else the URL itself.
    for (const s of d.sources) if (s.kind === "http" && s.url) fallback.set(s.sha256, mirrorUrls(s.url, mirrors)[0] as string);
  };
  for (const d of all) collect(d);
  const store = new SourceStore(storeDir ?? "/nonexistent");
  const missing: string[] = [];
  for (const s of all.flatMap((d) => d.sources)) {
    if (s.kind === "http" && !s.url && !(await store.find(s.sha256))) {
      missing.push(`  ${s.name}: ${s.filename} (sha256 ${s.sha256})${s.debian ? `, from Debian's ${s.debian}` : ""}`);
    }
  }
  if (missing.length > 0) {
    say(
      `these sources can only come from the source store, which lacks them (looked in ${storeDir ?? "no store: give --source-store DIR or set CAISSON_SOURCE_STORE"}):\n${missing.join("\n")}\n` +
        "fill it with hack/fetch-sources.sh <debian source package> (it stores files by sha256)",
    );
    return false;
  }
  let server: StoreServer | undefined;
  const targets = outputs ?? [{ type: "docker", name: defaultImageName(def) } as const];
  try {
    server = await serveStore(store, fallback);
    // Every http source is fetched from the store server.
    const compiled = await compileWith(server.url, platforms ? def.platforms.filter((p) => platforms.includes(formatPlatform(p))) : undefined);
    if (!compiled.results) throw new EngineError(`${file} compiled once and not again (${compiled.diagnostics.map((d) => d.message).join("; ")})`, 70);
    const where = targets.map((o) => (o.type === "docker" ? `the image store as ${o.name}` : o.type === "push" ? `the registry as ${o.name}` : `${o.dest} (${o.type})`)).join(", ");
    say(`building ${file} for ${platforms?.join(", ") ?? def.platforms.map(formatPlatform).join(", ")} into ${where}${flags.noCheck ? "" : ", once caisson check has passed"}`);
    const u = def.image.user;
    // The definition's waivers, and its reasoned opt-in to root.
    const waivers = [
      ...def.image.check.waivers.map((w) => ({ rule: w.rule, reason: w.reason, ...(w.path !== undefined ? { path: w.path } : {}) })),
      ...(u.uid === 0 && u.rootReason ? [{ rule: "user.root", reason: u.rootReason }] : []),
    ];
    // Verifies the OCI archive of what was built, before anything is published or put in place.
    const check = async (archive: string) => {
      const result = await runCheck(
        { kind: "oci-archive", ref: archive },
        { ...(platforms ? { platforms } : {}), waivers, hardening: def.image.check.hardening, format: json ? "json" : "text" },
        (t) => void process.stderr.write(json ? JSON.stringify({ type: "check", report: JSON.parse(t) }) + "\n" : t),
      );
      if (!result.ok) say(`${file} was built but breaks the rules above (caisson check): nothing was published or written; fix the definition or waive each finding with a reason`);
      return result.ok;
    };
    const result = await buildNative({
      platforms: compiled.results,
      forceMulti: (platforms?.length ?? 0) > 1,
      contextDir: context,
      outputs: targets,
      ...(flags.noCheck ? {} : { check }),
      builder: builderSpec,
      progress: flags.progress,
      ...(cacheImports ? { cacheImports } : {}),
      ...(cacheExports ? { cacheExports } : {}),
      ...(flags.noCache ? { noCache: true } : {}),
      texts: new Map([...texts, ...compiled.texts]),
    });
    if (result.rejected) return false;
    say(`built in ${result.seconds.toFixed(1)}s on ${result.builder}${result.imageDigest ? ` (${result.imageDigest})` : ""}`);
  } catch (e) {
    if (e instanceof EngineError) {
      // The build's own error is already printed with the definition's lines; name what caisson knows.
      say(`build of ${file} failed (exit ${e.exitCode})${e.fault ? `: ${e.message}` : ""}`);
      // Interrupted (Ctrl-C, SIGTERM): the signal's status, nothing more to explain.
      if (e.exitCode === 130 || e.exitCode === 143) throw new ExitStatus(e.exitCode);
      const failures = server?.failures() ?? [];
      for (const line of describeStoreFailures(failures, all)) say(line);
      // Which sources could not be had is worth checking only when the build itself failed (not the engine, the output or the frontend image).
      if (failures.length === 0 && !e.fault) {
        try {
          for (const d of all) for (const block of await explainSources(d, store, storeDir, mirrors)) say(block);
        } catch (x) {
          say(`(could not check the sources: ${(x as Error).message})`);
        }
      }
      return false;
    }
    throw e;
  } finally {
    await server?.close();
  }
  return true;
}
