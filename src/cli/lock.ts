// `caisson lock` and `caisson outdated`, and what the other commands need to
// honour lockfiles: reading the lockfile beside a definition and the
// --frozen default (on under CI=true).
import { Command, Option } from "commander";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { lockPathFor, LockfileError, mirrorUrls, parseLockfile, serializeLockfile, type Lockfile, type Mirror } from "../lock/index.js";
import { lockDefinition } from "../lock/lock.js";
import { hashUrl } from "../lock/resolve.js";
import type { ImageDefinition } from "../model/index.js";
import type { SourceStore } from "../sources/index.js";
import { checkBootstrapOutdated, checkOutdated, writeUpdates, type Check, type Update } from "../outdated/index.js";
import { checkDefinition } from "../validate/index.js";
import { checkBootstrap, isBootstrap } from "../validate/bootstrap.js";
import { lockBootstrap } from "../lock/bootstrap.js";
import { readDefinition, textDefinition, type DefinitionSource } from "./definition.js";
import { readLockText, readText, report, UsageError, writeAtomic, writeStdout, type Format } from "./io.js";
import { debianSourcesOption } from "./options.js";

/** Ends the command with this exit code (after its output); main() returns it. */
export class ExitStatus extends Error {
  override readonly name = "ExitStatus";
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** `caisson outdated` found newer releases (with --write: and applied them). */
export const EXIT_OUTDATED = 10;

/** --frozen unless told otherwise: on when CI=true. */
export function frozenDefault(flag: boolean | undefined): boolean {
  return flag ?? process.env["CI"] === "true";
}

/**
 * The lockfile beside `file`, if there is one, with its text. Throws UsageError
 * when it is not a regular file, unreadable or malformed.
 */
export async function readLockBeside(file: string): Promise<{ lock?: Lockfile; lockPath: string; text?: string }> {
  const lockPath = lockPathFor(file);
  const text = await readLockText(lockPath);
  if (text === undefined) return { lockPath };
  try {
    return { lock: parseLockfile(text, lockPath), lockPath, text };
  } catch (e) {
    if (e instanceof LockfileError) throw new UsageError(e.message);
    throw e;
  }
}

/** Definitions named on the command line, or every images/<name>/image.{yaml,yml,json} under the current directory. */
function definitionsOrDefault(files: readonly string[]): string[] {
  if (files.length > 0) return [...files];
  const dir = "images";
  const found: string[] = [];
  if (existsSync(dir)) {
    for (const e of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
      const f = ["image.yaml", "image.yml", "image.json"].map((n) => join(dir, e.name, n)).find((p) => existsSync(p));
      if (f) found.push(f);
    }
  }
  if (found.length === 0) throw new UsageError("no definitions given, and none found in images/*/image.yaml");
  return found;
}

/** Writes `text` to `path` only when it differs; says whether it did. */
async function writeIfChanged(path: string, text: string): Promise<boolean> {
  if ((await readLockText(path)) === text) return false;
  await writeAtomic(path, text);
  return true;
}

/** Locks one definition's text; returns false after reporting errors. */
async function lockOne(
  file: string,
  source: DefinitionSource,
  opts: { refresh?: boolean; refreshDebian?: boolean; debianSources?: string; check?: boolean; format: Format },
): Promise<{ ok: boolean; changed: boolean }> {
  const { text, texts: sources } = source;
  if (text === undefined) return { ok: !report(source.diagnostics, sources, opts.format), changed: false };
  if (isBootstrap(file, text)) return lockBootstrapOne(file, text, opts);
  const checked = checkDefinition(source.file, text);
  const quiet = await source.point(checked.diagnostics.filter((d) => d.code !== "unpinned_image"));
  if (report(quiet, sources, opts.format) || !checked.definition) return { ok: false, changed: false };
  const { lock: existing, lockPath } = await readLockBeside(source.lockBeside);
  const result = await lockDefinition(checked.definition, existing, {
    ...(opts.refresh ? { refresh: true } : {}),
    ...(opts.refreshDebian ? { refreshDebian: true } : {}),
    ...(opts.debianSources ? { debianSources: opts.debianSources } : {}),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  if (report(await source.point(result.diagnostics), sources, opts.format)) return { ok: false, changed: false };
  const moving = checked.definition.moving ?? [];
  if (moving.length === 0 && !existing) {
    process.stderr.write(`${file}: every reference is pinned in the definition; no lockfile needed\n`);
    return { ok: true, changed: false };
  }
  return writeLock(file, lockPath, serializeLockfile(result.lock), result.changes, opts.check);
}

/** Locks a bootstrap definition (its Debian package set per architecture). */
async function lockBootstrapOne(
  file: string,
  text: string,
  opts: { refresh?: boolean; refreshDebian?: boolean; debianSources?: string; check?: boolean; format: Format },
): Promise<{ ok: boolean; changed: boolean }> {
  const checked = checkBootstrap(file, text);
  if (report(checked.diagnostics, new Map([[file, text]]), opts.format) || !checked.definition) return { ok: false, changed: false };
  const { lock: existing, lockPath } = await readLockBeside(file);
  const result = await lockBootstrap(checked.definition, existing, {
    ...(opts.refresh || opts.refreshDebian ? { refresh: true } : {}),
    ...(opts.debianSources ? { debianSources: opts.debianSources } : {}),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  if (result.errors.length > 0) {
    process.stderr.write(`${file}: cannot resolve the Debian package set:\n${result.errors.map((e) => `  ${e}`).join("\n")}\n`);
    return { ok: false, changed: false };
  }
  return writeLock(file, lockPath, serializeLockfile(result.lock), result.changes, opts.check);
}

async function writeLock(file: string, lockPath: string, serialized: string, changes: readonly string[], check: boolean | undefined): Promise<{ ok: boolean; changed: boolean }> {
  const result = { changes };
  const opts = { check };
  if (opts.check) {
    if ((await readLockText(lockPath)) !== serialized) {
      process.stderr.write(`${lockPath}: out of date${result.changes.length ? `:\n  ${result.changes.join("\n  ")}` : ""}\n  run \`caisson lock ${file}\`\n`);
      return { ok: false, changed: true };
    }
    process.stderr.write(`${lockPath}: up to date\n`);
    return { ok: true, changed: false };
  }
  const changed = await writeIfChanged(lockPath, serialized);
  process.stderr.write(changed ? `${lockPath}: written${result.changes.length ? `\n  ${result.changes.join("\n  ")}` : ""}\n` : `${lockPath}: unchanged\n`);
  return { ok: true, changed };
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd()).join("\n") + "\n";
}

function howToUpdate(c: Check): string {
  if (c.status === "error" || c.status === "unknown") return c.message ?? "";
  if (!c.update) return c.message ?? "";
  const u = c.update;
  const what = u.ref !== undefined ? `ref: ${u.ref}` : u.url !== undefined ? `url: ${u.url}` : u.debian !== undefined ? u.debian.text : u.relock ? `${c.message ? `${c.message}; ` : ""}${c.security ? `security update${c.cves?.length ? ` (${c.cves.join(", ")})` : ""}; ` : ""}re-lock` : "";
  return `${what} (caisson outdated --write ${c.file})`;
}

/** Adds `lock` and `outdated` to the CLI. */
export function registerPinningCommands(cli: Command): void {
  cli
    .command("lock")
    .summary("pin every moving reference of definitions in lockfiles beside them")
    .description(
      "Resolve every moving reference — git branches and tags to commits (annotated tags to the commit, not the tag object), " +
        "URLs without sha256 to the sha256 of their bytes, image tags to digests from the local engine, and each stage's Debian " +
        "`packages:` to the whole closure apt installs on top of its base image (name, version, architecture, sha256 and pool path " +
        "of every .deb; a bootstrap definition's package set likewise) — and write them to " +
        "<definition>.lock.json beside each definition (sorted, stable: unchanged pins give the same bytes). Pins already in the " +
        "lockfile are kept unless --refresh. Compilation and builds take pins from there; --frozen refuses anything unpinned.",
    )
    .argument("[files...]", "definition files, YAML, JSON or CUE (default: images/*/image.yaml)")
    .option("--refresh", "re-resolve every reference, moving branches and tags forward")
    .option("--check", "write nothing; fail (exit 1) when a lockfile is missing or would change")
    .addOption(debianSourcesOption())
    .addOption(new Option("--format <format>", "diagnostics as readable text or JSON").choices(["text", "json"]).default("text"))
    .addHelpText("after", "\nExamples:\n  caisson lock images/app/image.yaml\n  caisson lock --refresh\n  caisson lock --check images/*/image.yaml   # in CI\n\nSee docs/pinning.md.")
    .action(async (files: string[], opts: { refresh?: boolean; check?: boolean; debianSources?: string; format: Format }) => {
      let failed = false;
      for (const file of definitionsOrDefault(files)) {
        const r = await lockOne(file, await readDefinition(file), opts);
        if (!r.ok) failed = true;
      }
      if (failed) throw new ExitStatus(1);
    });

  cli
    .command("outdated")
    .summary("check pinned sources for newer upstream releases; --write updates the definitions")
    .description(
      "For each source with a `release:` rule, find the newest release upstream — git tags matching `release.tags` in " +
        "semantic-version order (pre-releases only with --pre), or file names on `release.listing` matching `release.pattern` — " +
        "and print a table; and every pinned .deb of the lockfile's Debian closures against apt's candidate now (security " +
        "updates marked, with the CVE ids of the new changelog entries). --write edits the definition in place (ref and commit, " +
        "or url, sha256 and filename, the top-level version, a name=version package), keeping its comments and layout, and " +
        "re-locks it.",
    )
    .argument("[files...]", "definition files (default: images/*/image.yaml)")
    .option("--write", "update the definitions and their lockfiles to the newest releases")
    .option("--pre", "consider pre-releases (1.3.0-rc.1) too")
    .option("--json", "print the checks as JSON")
    .addOption(debianSourcesOption())
    .addHelpText(
      "after",
      `
Exit codes: 0 everything up to date, ${EXIT_OUTDATED} something is outdated (with --write: and was updated),
1 a check failed or a definition is invalid, 2 bad usage.

Examples:
  caisson outdated
  caisson outdated images/app/image.yaml --write && git diff`,
    )
    .action(async (files: string[], opts: { write?: boolean; pre?: boolean; json?: boolean; debianSources?: string }) => {
      const checks: Check[] = [];
      let failed = false;
      const defs: { file: string; text: string }[] = [];
      for (const file of definitionsOrDefault(files)) {
        const text = await readText(file);
        if (isBootstrap(file, text)) {
          const b = checkBootstrap(file, text);
          if (!b.definition) {
            report(b.diagnostics, new Map([[file, text]]), "text");
            failed = true;
            continue;
          }
          defs.push({ file, text });
          // The lockfile read here, as every command reads it (a regular file only, a malformed one named).
          const { lock } = await readLockBeside(file);
          checks.push(...(await checkBootstrapOutdated(b.definition, { ...(lock ? { lock } : {}), ...(opts.debianSources ? { debianSources: opts.debianSources } : {}) })));
          continue;
        }
        const checked = checkDefinition(file, text);
        if (!checked.definition) {
          report(checked.diagnostics, new Map([[file, text]]), "text");
          failed = true;
          continue;
        }
        defs.push({ file, text });
        const { lock } = await readLockBeside(file);
        checks.push(...(await checkOutdated(checked.definition, { ...(lock ? { lock } : {}), ...(opts.pre ? { pre: true } : {}), ...(opts.debianSources ? { debianSources: opts.debianSources } : {}) })));
      }
      if (opts.json) await writeStdout(JSON.stringify(checks.map(({ span: _span, ...c }) => c), null, 2) + "\n");
      else if (checks.length === 0) process.stderr.write("no source has a release: rule to check\n");
      else {
        const rows = [["FILE", "SOURCE", "CURRENT", "LATEST", "STATUS", "UPDATE"]];
        for (const c of checks) rows.push([c.file, c.source, c.current ?? "?", c.latest ?? "?", c.status, howToUpdate(c)]);
        await writeStdout(table(rows));
      }
      if (checks.some((c) => c.status === "error")) failed = true;
      const outdated = checks.filter((c) => c.status === "outdated" && c.update);
      if (opts.write) {
        for (const { file, text } of defs) {
          const mine = outdated.filter((c) => c.file === file);
          const updates = new Map<string, Update>(mine.filter((c) => !c.update?.relock || c.update.debian).map((c) => [c.source, c.update as Update]));
          const relock = mine.some((c) => c.update?.relock);
          if (updates.size === 0 && !relock) continue;
          let now = text;
          if (updates.size > 0) {
            const written = await writeUpdates(file, text, updates);
            const after = checkDefinition(file, written.text);
            if (!after.definition) {
              report(after.diagnostics, new Map([[file, written.text]]), "text");
              throw new UsageError(`${file}: the updated definition would be invalid; left unchanged`);
            }
            await writeAtomic(file, written.text);
            process.stderr.write(`${file}: updated\n${written.notes.map((n) => `  ${n}`).join("\n")}\n`);
            now = written.text;
          }
          const r = await lockOne(file, textDefinition(file, now), { format: "text", ...(relock ? { refreshDebian: true } : {}), ...(opts.debianSources ? { debianSources: opts.debianSources } : {}) });
          if (!r.ok) failed = true;
        }
      }
      if (failed) throw new ExitStatus(1);
      if (checks.some((c) => c.status === "outdated")) throw new ExitStatus(EXIT_OUTDATED);
    });
}

/**
 * After a failed build: for each http source, the places it was looked for
 * (the source store's file, then the mirror or upstream URL it redirects to)
 * and what is wrong with each — missing, unreachable, or bytes whose sha256
 * differs. Returns one block per source with a problem (empty when none).
 */
export async function explainSources(
  def: ImageDefinition,
  store: SourceStore,
  storeDir: string | undefined,
  mirrors: readonly Mirror[],
): Promise<string[]> {
  const out: string[] = [];
  for (const s of def.sources) {
    if (s.kind !== "http") continue;
    const places: string[] = [];
    let ok = false;
    const file = await store.find(s.sha256);
    if (file) {
      const actual = await hashFile(file);
      if (actual === s.sha256) ok = true;
      places.push(`${file}: ${actual === s.sha256 ? "ok" : `corrupt: its sha256 is ${actual}`}`);
    } else places.push(`${storeDir ? join(storeDir, s.sha256) : "(no source store)"}: missing`);
    if (!file && s.url !== undefined) {
      const url = mirrorUrls(s.url, mirrors)[0] as string;
      try {
        const { sha256 } = await hashUrl(url);
        if (sha256 === s.sha256) ok = true;
        places.push(`${url}: ${sha256 === s.sha256 ? "ok" : `wrong bytes: their sha256 is ${sha256}`}`);
      } catch (e) {
        places.push(`${url}: ${(e as Error).message.replace(/^downloading \S+: /, "")}`);
      }
    }
    if (!ok) {
      out.push(`source "${s.name}" (${s.filename}, sha256 ${s.sha256}) could not be fetched intact; looked in:\n${places.map((p) => `    ${p}`).join("\n")}`);
    }
  }
  return out;
}

async function hashFile(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}
