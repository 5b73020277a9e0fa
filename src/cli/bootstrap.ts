// `caisson bootstrap`: a bootstrap definition's base image, from exactly the
// .deb files its lockfile pins: fetched by sha256 (store, Debian archives,
// snapshot), installed by mmdebstrap from a local repository of those files
// only, packed into a deterministic OCI archive. Same lockfile, same digest,
// on any machine and any day.
import { Command, Option } from "commander";
import { mkdtemp, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { bootstrapRootfs, ociArchive, type DebianArch } from "../bootstrap/index.js";
import { DebianError, DebianFetchError, fetchDebs, readArchives } from "../debian/index.js";
import { BOOTSTRAP_STAGE, bootstrapFrom } from "../lock/bootstrap.js";
import { debianKey } from "../lock/lockfile.js";
import { checkBootstrap } from "../validate/bootstrap.js";
import { error, type Diagnostic } from "../diag/index.js";
import { readText, report, UsageError, writeStdout } from "./io.js";
import { readLockBeside } from "./lock.js";
import { debianSnapshotOption, debianSourcesOption } from "./options.js";

/** SOURCE_DATE_EPOCH of every base image: 2025-01-01T00:00:00Z. */
export const BOOTSTRAP_EPOCH = 1735689600;

/** `caisson validate` of a bootstrap definition: its shape, and under --frozen a pinned package set for every architecture. */
export async function checkBootstrapFile(file: string, text: string, frozen: boolean): Promise<Diagnostic[]> {
  const checked = checkBootstrap(file, text);
  if (!checked.definition || !frozen) return checked.diagnostics;
  const { lock, lockPath } = await readLockBeside(file);
  const def = checked.definition;
  const missing = def.arches.filter((a) => lock?.debian?.[debianKey(BOOTSTRAP_STAGE, a)]?.from !== bootstrapFrom(def));
  return [
    ...checked.diagnostics,
    ...(missing.length > 0
      ? [error("unpinned_package", `the Debian package set of ${def.suite} ${def.variant} for ${missing.join(", ")} is not pinned in ${lockPath} (--frozen)`, def.span, { hint: `run \`caisson lock ${file}\`` })]
      : []),
  ];
}

export function registerBootstrapCommand(cli: Command, failed: () => Error): void {
  cli
    .command("bootstrap")
    .summary("assemble a Debian base image from the packages its lockfile pins by sha256")
    .description(
      "Build the base image of a bootstrap definition (`bootstrap: { suite, variant }`) from exactly the .deb files its " +
        "lockfile pins (caisson lock): each fetched by sha256 from the source store, the Debian archives of the apt sources " +
        "(pool path), or --debian-snapshot, and verified; installed with mmdebstrap from a local repository of those files " +
        "only; written as an OCI archive whose digest depends on the pins alone. Prints the image (index) digest.",
    )
    .argument("<file>", "bootstrap definition, e.g. images/debian/image.yaml")
    .requiredOption("-o, --output <file>", "the OCI archive to write (docker load -i <file>)")
    .addOption(new Option("--source-store <dir>", "folder of files named by sha256 (pinned .debs are kept there)").default(
      process.env["CAISSON_SOURCE_STORE"] ?? join(process.env["CAISSON_CACHE"] ?? "/var/cache/caisson", "sources"),
      "$CAISSON_SOURCE_STORE or /var/cache/caisson/sources",
    ))
    .addOption(debianSourcesOption())
    .addOption(debianSnapshotOption())
    .addHelpText("after", "\nExample:\n  caisson bootstrap images/debian/image.yaml -o dist/debian-bookworm.oci.tar && docker load -i dist/debian-bookworm.oci.tar")
    .action(async (file: string, opts: { output: string; sourceStore: string; debianSources?: string; debianSnapshot?: string }) => {
      const text = await readText(file);
      const checked = checkBootstrap(file, text);
      if (report(checked.diagnostics, new Map([[file, text]]), "text") || !checked.definition) throw failed();
      const def = checked.definition;
      const { lock, lockPath } = await readLockBeside(file);
      const log = (line: string) => process.stderr.write(`caisson: ${line}\n`);
      const archives = await readArchives(opts.debianSources).catch((e: unknown) => {
        if (e instanceof DebianError) throw new UsageError(e.message);
        throw e;
      });
      const work = await mkdtemp(join(resolve(dirname(opts.output)), ".caisson-bootstrap-"));
      try {
        const rootfs: { arch: string; tar: string }[] = [];
        for (const arch of def.arches) {
          const closure = lock?.debian?.[debianKey(BOOTSTRAP_STAGE, arch)];
          const pins = closure?.from === bootstrapFrom(def) ? closure.packages : undefined;
          if (!pins) {
            process.stderr.write(`caisson: ${lockPath} pins no package set of ${def.suite} ${def.variant} for ${arch}: run \`caisson lock ${file}\`\n`);
            throw failed();
          }
          let debs: string[];
          try {
            debs = (await fetchDebs(pins, { store: opts.sourceStore, archives, ...(opts.debianSnapshot ? { snapshot: opts.debianSnapshot } : {}), log })).map((f) => f.file);
          } catch (e) {
            if (!(e instanceof DebianError)) throw e;
            process.stderr.write(`caisson: ${e.message}\n`);
            if (e instanceof DebianFetchError) {
              process.stderr.write(`caisson: to pin what Debian serves now: caisson outdated --write ${file}; to fetch the old files from an archive of Debian's history: --debian-snapshot URL\n`);
            }
            throw failed();
          }
          const t0 = Date.now();
          log(`bootstrapping Debian ${def.suite} ${def.variant} for ${arch} from ${debs.length} pinned .deb files`);
          const tar = await bootstrapRootfs({
            debs,
            arch: arch as DebianArch,
            suite: def.suite as "bookworm",
            variant: def.variant,
            sourceDateEpoch: BOOTSTRAP_EPOCH,
            workDir: join(work, arch),
            log: (l) => process.stderr.write(`  ${l}\n`),
          });
          log(`${arch}: root filesystem in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
          rootfs.push({ arch, tar });
        }
        const result = await ociArchive({
          rootfs,
          ref: `docker.io/caisson/${def.name}:${def.version}`,
          sourceDateEpoch: BOOTSTRAP_EPOCH,
          history: `Debian ${def.suite} ${def.variant} from packages pinned by sha256 (caisson bootstrap ${file})`,
          out: opts.output,
        });
        log(`wrote ${opts.output}: caisson/${def.name}:${def.version} = ${result.digest}`);
        await writeStdout(`${result.digest}\n`);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });
}
