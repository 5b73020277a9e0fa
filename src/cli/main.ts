// The `caisson` command: parses arguments, runs the pipeline, prints
// diagnostics, and maps outcomes to exit codes scripts can rely on:
//   0 success · 1 the definition, build or check failed · 2 bad usage or
//   unreadable input · 70 an internal error (a bug: please report it).
import { Command, CommanderError, Option } from "commander";
import { hasErrors, toJsonDiagnostics, visible, type Diagnostic } from "../diag/index.js";
import { compileDefinition, hostPlatform, type CompiledPlatform } from "../compile/index.js";
import { DebianError, readArchives } from "../debian/index.js";
import { debianSnapshotOption, debianSourcesOption } from "./options.js";
import { checkBootstrapFile, registerBootstrapCommand } from "./bootstrap.js";
import { isBootstrap } from "../validate/bootstrap.js";
import { definitionBytes, definitionToDot, dumpDefinition, formatPlatform } from "../llb/index.js";
import type { Platform } from "../model/index.js";
import { checkDefinition, parsePlatform } from "../validate/index.js";
import { realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { registerReleaseCommand } from "./release.js";
import { localSourceProblems } from "./preflight.js";
import { resolveImports } from "../resolve/index.js";
import { buildCommand, checkListed, contextDir, defaultSourceStore, type BuildFlags } from "./build.js";
import { applyPins, parseMirror, type Mirror } from "../lock/index.js";
import { ExitStatus, frozenDefault, readLockBeside, registerPinningCommands } from "./lock.js";
import { registerCheckCommand } from "./check.js";
import { registerInspectCommand } from "./inspect.js";
import { readDefinition, type DefinitionSource } from "./definition.js";
import { checkPathOptions, fsReason, readContextFile, report, UsageError, writeAtomic, writeStdout, type Format } from "./io.js";

const VERSION: string = (createRequire(import.meta.url)("../../package.json") as { version: string }).version;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_INTERNAL = 70;



function platformsOption(value: string): Platform[] {
  return value.split(",").map((p) => {
    const parsed = parsePlatform(p);
    if (!parsed.ok) throw new UsageError(`${parsed.message}${parsed.hint ? ` (${parsed.hint})` : ""}`);
    return parsed.value;
  });
}

class Failed extends Error {}

/** Debian archive name → URI, from the apt sources (`--debian-sources` or this machine's); empty when there are none. */
async function debianArchiveUris(file: string | undefined): Promise<Record<string, string>> {
  try {
    // Only http(s) archives: the engine downloads the .debs itself.
    return Object.fromEntries((await readArchives(file)).filter((a) => /^https?:\/\//i.test(a.uri)).map((a) => [a.name, a.uri]));
  } catch (e) {
    if (e instanceof DebianError && file === undefined) return {};
    if (e instanceof DebianError) throw new UsageError(e.message);
    throw e;
  }
}

/** Compiles one definition for one platform, or fails after printing why. */
interface CompileFlags {
  readonly platform?: string;
  readonly format: Format;
  readonly context: string;
  readonly sourceMirror?: string;
  readonly frozen?: boolean;
  readonly mirror?: string[];
  readonly debianSources?: string;
}

/** `--mirror from=to` values, parsed. */
export function mirrorsOption(values: readonly string[] | undefined): Mirror[] {
  return (values ?? []).map((v) => {
    try {
      return parseMirror(v);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  });
}

async function compileOne(file: string, flags: CompileFlags, checkFolders = false): Promise<CompiledPlatform> {
  const { platform, format, sourceMirror } = flags;
  const context = contextDir(flags.context);
  const source = await readDefinition(file);
  const { text } = source;
  if (text === undefined) {
    report(source.diagnostics, source.texts, format);
    throw new Failed();
  }
  if (isBootstrap(file, text)) throw new UsageError(`${file} is a bootstrap definition: build it with \`caisson bootstrap ${file} -o <file.oci.tar>\``);
  const build = hostPlatform();
  const requested = platform ? platformsOption(platform) : undefined;
  if (requested && requested.length !== 1) {
    throw new UsageError("raw LLB is single-platform: give one --platform (use `caisson build` for several)");
  }
  const { lock, lockPath } = await readLockBeside(source.lockBeside);
  const compiled = await compileDefinition(source.file, text, {
    buildPlatform: build,
    ...(lock ? { lock } : {}),
    lockPath,
    frozen: frozenDefault(flags.frozen),
    mirrors: mirrorsOption(flags.mirror),
    ...(requested ? { platforms: requested } : {}),
    ...(sourceMirror ? { sourceMirror } : { debianArchives: await debianArchiveUris(flags.debianSources) }),
    readContext: (path) => readContextFile(context, path),
  });
  const { definition, results } = compiled;
  // Each local source's folder, as caisson build checks it, when the LLB is for an engine to run.
  const folders: Diagnostic[] = [];
  if (checkFolders && definition && results) {
    const imported = (await resolveImports(definition, (path) => readContextFile(context, path))).definitions.values();
    folders.push(...(await localSourceProblems([definition, ...imported], context)));
  }
  const diagnostics = await source.point([...compiled.diagnostics, ...folders]);
  if (report(diagnostics, new Map([...source.texts, ...compiled.texts]), format) || !definition || !results) throw new Failed();
  if (requested) checkListed(requested.map(formatPlatform), definition.platforms.map(formatPlatform), file);
  let chosen = results[0];
  if (!requested) {
    // Default: the engine's own platform when the definition lists it, else its first platform.
    chosen = results.find((r) => formatPlatform(r.platform) === formatPlatform(build)) ?? chosen;
  }
  if (!chosen) throw new UsageError(`${file} lists no platforms`);
  for (const stage of chosen.emulated) {
    process.stderr.write(`note: stage "${stage}" runs under emulation for ${formatPlatform(chosen.platform)} (on: target)\n`);
  }
  return chosen;
}

const formatOption = () =>
  new Option("--format <format>", "diagnostics as readable text or JSON for tools (on stderr: stdout carries the command's output)").choices(["text", "json"]).default("text");
const validateFormatOption = () =>
  new Option("--format <format>", "diagnostics as readable text (stderr) or one JSON array on stdout ([] when there are none)").choices(["text", "json"]).default("text");
const contextOption = () =>
  new Option("--context <dir>", "build context root: imports and local sources are relative to it").default(".");
const mirrorOption = () =>
  new Option("--source-mirror <url>", "download http sources from a content-addressed mirror (<url>/sha256/<hex>)");
const urlMirrorOption = () =>
  new Option("--mirror <from=to>", "rewrite http source URLs starting with <from> to start with <to> (repeatable; the sha256 is still checked)").argParser(
    (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
  );
const platformOption = () =>
  new Option("--platform <os/arch>", "target platform, e.g. linux/arm64 (default: this machine's, if the definition lists it)");

export function program(): Command {
  const cli = new Command("caisson")
    .description("Build minimal, hardened, multi-arch container images from declarative definitions, compiled straight to BuildKit LLB.")
    .version(VERSION, "--version", "print caisson's version")
    .addHelpText(
      "after",
      `
Examples:
  caisson validate images/*/image.yaml
  caisson build images/redis/image.yaml -o image=caisson/redis:7.0.15 -o oci=out/redis.oci.tar
  caisson compile images/redis/image.yaml --platform linux/arm64 --json | less

Exit codes: 0 success, 1 invalid definition or failed build, 2 bad usage or unreadable file, 10 outdated (caisson outdated), 70 internal error.
Docs: README.md and docs/ (format.md is the definition reference).`,
    )
    .showHelpAfterError("(run `caisson --help` for usage)")
    .exitOverride()
    .hook("preAction", async (_cli, action) => {
      const opts = action.opts();
      try {
        await checkPathOptions(opts);
      } catch (e) {
        if (opts["progress"] !== "json" || !(e instanceof UsageError)) throw e;
        process.stderr.write(JSON.stringify({ type: "error", usage: true, message: e.message }) + "\n");
        throw new ExitStatus(EXIT_USAGE);
      }
    });

  cli
    .command("validate")
    .description("check definitions against the schema and the semantic rules; report every problem at once")
    .argument("<files...>", "definition files (YAML, JSON or CUE; a directory is a CUE package)")
    .addOption(validateFormatOption())
    .addOption(new Option("--frozen", "fail on any moving reference the definition and its lockfile do not pin (default under CI=true)"))
    .addOption(new Option("--no-frozen", "do not require pins for image tags, even under CI=true").hideHelp())
    .addHelpText(
      "after",
      "\nEvery readable file is checked and reported even when another cannot be read. With --format json the diagnostics go to " +
        "stdout as one JSON array ([] when there are none); unreadable files are named on stderr.\n" +
        "Exit codes: 0 all valid, 1 a definition is invalid, 2 a file cannot be read (whatever the others gave).",
    )
    .action(async (files: string[], opts: { format: Format; frozen?: boolean }) => {
      const sources = new Map<string, string>();
      const all: Diagnostic[] = [];
      const unreadable: string[] = [];
      for (const file of files) {
        let source: DefinitionSource;
        try {
          source = await readDefinition(file);
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
          unreadable.push(e.message);
          continue;
        }
        for (const [f, t] of source.texts) sources.set(f, t);
        const { text } = source;
        if (text === undefined) {
          all.push(...source.diagnostics);
          continue;
        }
        if (isBootstrap(file, text)) {
          all.push(...(await checkBootstrapFile(file, text, frozenDefault(opts.frozen))));
          continue;
        }
        const { definition, diagnostics } = checkDefinition(source.file, text);
        if (definition) {
          // The lockfile beside the definition pins its moving references, judged as `build` judges them:
          // an unpinned source or Debian package is an error; an unpinned image tag a warning, an error under --frozen.
          const { lock, lockPath } = await readLockBeside(source.lockBeside);
          const frozen = frozenDefault(opts.frozen);
          const pinned = applyPins(definition, lock, { ...(frozen ? { frozen: true } : {}), lockPath });
          all.push(...(await source.point([...diagnostics.filter((d) => d.code !== "unpinned_image"), ...pinned.diagnostics])));
        } else all.push(...(await source.point(diagnostics)));
      }
      let failed: boolean;
      if (opts.format === "json") {
        await writeStdout(JSON.stringify(toJsonDiagnostics(all, sources), null, 2) + "\n");
        failed = hasErrors(all);
      } else failed = report(all, sources, opts.format);
      for (const message of unreadable) process.stderr.write(`caisson: ${message}\n`);
      if (unreadable.length > 0) throw new ExitStatus(EXIT_USAGE);
      if (failed) throw new Failed();
      if (opts.format === "text") process.stderr.write(`${files.length} definition${files.length === 1 ? "" : "s"} valid\n`);
    });

  cli
    .command("compile")
    .summary("compile a definition to raw BuildKit LLB for one platform")
    .description(
      "Compile a definition to a marshaled BuildKit pb.Definition for one platform: what `buildctl build` reads on stdin " +
        "(local sources need --local context=<dir>). The image config for the exporter comes from `caisson config`.",
    )
    .argument("<file>", "definition file (YAML, JSON or CUE; a directory is a CUE package)")
    .addOption(platformOption())
    .option("-o, --output <path>", "write to a file instead of stdout (written whole or not at all)")
    .addOption(contextOption())
    .addOption(mirrorOption())
    .addOption(urlMirrorOption())
    .addOption(debianSourcesOption())
    .option("--json", "print a readable JSON dump of the ops instead of protobuf bytes")
    .addOption(formatOption())
    .addOption(new Option("--frozen", "fail on any moving reference the definition and its lockfile do not pin (default under CI=true)"))
    .addOption(new Option("--no-frozen", "do not require pins for image tags, even under CI=true").hideHelp())
    .action(async (file: string, opts: CompileFlags & { output?: string; json?: boolean }) => {
      const compiled = await compileOne(file, opts, true);
      const data = opts.json
        ? JSON.stringify(dumpDefinition(compiled.definition), null, 2) + "\n"
        : definitionBytes(compiled.definition);
      if (opts.output) {
        // Written to a temporary sibling and renamed over: never half-written; never over the definition or a directory.
        let st: ReturnType<typeof statSync>;
        try {
          st = statSync(opts.output, { throwIfNoEntry: false });
        } catch (e) {
          throw new UsageError(`-o ${visible(opts.output)}: ${visible(fsReason(e))}`);
        }
        if (st?.isDirectory()) throw new UsageError(`-o ${opts.output}: is a directory; give a file name`);
        if (st && realpathSync(opts.output) === realpathSync(file)) throw new UsageError(`-o ${opts.output}: refusing to write over the definition`);
        return writeAtomic(opts.output, data);
      }
      if (!opts.json && process.stdout.isTTY) {
        throw new UsageError("refusing to write binary LLB to a terminal: pipe it (| buildctl build …), use -o FILE, or --json");
      }
      await writeStdout(data);
    });

  cli
    .command("config")
    .description("print the OCI image config for one platform (buildctl's containerimage.config exporter attribute)")
    .argument("<file>", "definition file (YAML, JSON or CUE; a directory is a CUE package)")
    .addOption(platformOption())
    .addOption(contextOption())
    .addOption(formatOption())
    .action(async (file: string, opts: CompileFlags) => {
      // The config does not depend on where sources and .debs are fetched from: lowering gets a mirror
      // that is never contacted, so no --source-mirror or Debian archive is needed.
      const compiled = await compileOne(file, { ...opts, sourceMirror: "http://config-only.invalid" });
      await writeStdout(JSON.stringify(compiled.config, null, 2) + "\n");
    });

  cli
    .command("graph")
    .description("print the LLB graph for one platform as Graphviz DOT (pipe to `dot -Tsvg`)")
    .argument("<file>", "definition file (YAML, JSON or CUE; a directory is a CUE package)")
    .addOption(platformOption())
    .addOption(contextOption())
    .addOption(mirrorOption())
    .addOption(formatOption())
    .action(async (file: string, opts: CompileFlags) => {
      const compiled = await compileOne(file, opts);
      await writeStdout(definitionToDot(compiled.definition));
    });

  cli
    .command("build")
    .summary("build a definition on BuildKit (the Docker engine by default) for every platform it lists")
    .description(
      "Build a definition on BuildKit (the Docker engine's, or a buildkitd: --builder), speaking its API directly, for every platform it lists: " +
        "commands run on this machine's platform and cross-compile, so nothing is emulated unless a stage says `on: target`. " +
        "The definition and its imports are checked here first, and sources are served from the sha256 source store.",
    )
    .argument("<file>", "definition file (YAML, JSON or CUE; a directory is a CUE package), e.g. images/redis/image.yaml")
    .option("--platform <list>", "comma-separated target platforms (default: the definition's)")
    .option(
      "-o, --output <spec>",
      "image=NAME (the engine's image store), push=NAME (a registry only: not tagged in the engine), oci=FILE (OCI layout tarball) or local=DIR (the filesystem); " +
        "repeatable: one build for all (default: image=caisson/<name>:<version>); nothing is published or written until caisson check passed",
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .addOption(contextOption())
    .addOption(
      new Option("--source-store <dir>", "folder of source files named by sha256, served to the engine first").default(
        defaultSourceStore(),
        "$CAISSON_SOURCE_STORE or /var/cache/caisson/sources",
      ),
    )
    .addOption(new Option("--progress <mode>", "BuildKit progress display (auto: tty on a terminal, else plain)").choices(["auto", "plain", "tty", "json", "quiet"]).default("auto"))
    .addOption(new Option("--builder <address>", "docker (DOCKER_HOST's engine), unix:///path/to/socket or tcp://HOST:PORT (a Docker engine or a buildkitd)").env("CAISSON_BUILDER"))
    .option("--tls-ca <file>", "tcp:// builder: the CA certificate that signed the builder's certificate (the docker builder reads DOCKER_CERT_PATH)")
    .option("--tls-cert <file>", "tcp:// builder: this client's certificate (mutual TLS)")
    .option("--tls-key <file>", "tcp:// builder: the key of --tls-cert")
    .option("--cache-from <spec>", "import build cache from a registry: type=registry,ref=NAME; repeatable", (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option("--cache-to <spec>", "export build cache to a registry: type=registry,ref=NAME[,mode=max]", (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .addOption(urlMirrorOption())
    .addOption(debianSourcesOption())
    .addOption(debianSnapshotOption())
    .addOption(new Option("--frozen", "fail on any moving reference the definition and its lockfile do not pin (default under CI=true)"))
    .addOption(new Option("--no-frozen", "do not require pins for image tags, even under CI=true").hideHelp())
    .option("--force", "replace a non-empty local=DIR output (it is removed only once the new one is in place)")
    .option("--no-cache", "rebuild every step")
    .option("--no-check", "do not verify the result with `caisson check` (hardening and runtime contract)")
    .addOption(formatOption())
    .addHelpText(
      "after",
      `
Examples:
  caisson build images/redis/image.yaml
  caisson build images/redis/image.yaml --platform linux/arm64 -o oci=out/redis-arm64.oci.tar
  caisson build test/fixtures/e2e/hello/image.yaml --context test/fixtures/e2e/hello -o local=out/`,
    )
    .action(async (file: string, opts: Omit<BuildFlags, "output"> & { output?: string[]; format: Format; cache: boolean; check: boolean }) => {
      // --progress json: the definition's diagnostics and a usage error are JSON lines too.
      const json = opts.progress === "json";
      try {
        const ok = await buildCommand(file, { ...opts, output: opts.output ?? [], noCache: !opts.cache, noCheck: !opts.check }, (diagnostics, texts) => {
          if (!json) return report(diagnostics, texts, opts.format);
          if (diagnostics.length > 0) process.stderr.write(JSON.stringify({ type: "diagnostics", diagnostics: toJsonDiagnostics(diagnostics, texts) }) + "\n");
          return hasErrors(diagnostics);
        });
        if (!ok) throw new Failed();
      } catch (e) {
        if (!json || !(e instanceof UsageError)) throw e;
        process.stderr.write(JSON.stringify({ type: "error", usage: true, message: e.message }) + "\n");
        throw new ExitStatus(EXIT_USAGE);
      }
    });

  registerCheckCommand(cli, () => new Failed());
  registerInspectCommand(cli, () => new Failed());

  registerPinningCommands(cli);
  registerBootstrapCommand(cli, () => new Failed());
  registerReleaseCommand(cli, () => new Failed());
  return cli;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await program().parseAsync(argv as string[]);
    return 0;
  } catch (e) {
    if (e instanceof Failed) return EXIT_FAILED;
    if (e instanceof ExitStatus) return e.code;
    if (e instanceof UsageError) {
      process.stderr.write(`caisson: ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof CommanderError) {
      // Help and version print themselves and exit 0; other parse errors are usage errors.
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    process.stderr.write(`caisson: internal error: ${(e as Error).message}\n`);
    if (process.env["CAISSON_DEBUG"]) process.stderr.write(`${(e as Error).stack}\n`);
    else process.stderr.write("(set CAISSON_DEBUG=1 for a stack trace, and please report this)\n");
    return EXIT_INTERNAL;
  }
}
