// The Debian base image from a pinned package set: .deb files → rootfs
// tarball per architecture (mmdebstrap against a local repository of exactly
// those files) → deterministic OCI archive for `docker load`.
import { access, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { DebPin } from "../debian/types.js";
import { sha256File } from "./deb.js";
import { BootstrapError, run, type Log } from "./exec.js";
import { ociArchive, type OciArchiveResult } from "./oci.js";
import { bootstrapRootfs, type DebianArch } from "./rootfs.js";

export { BootstrapError, run, type Log } from "./exec.js";
export { formatParagraph, parseDeb822, readDeb, type DebFile, type Paragraph } from "./deb.js";
export { packagesIndex, writeFlatRepo } from "./repo.js";
export { parseDpkgStatus, verifyDpkgStatus, StatusMismatchError, type PackageId } from "./status.js";
export { listTar, type TarMember } from "./tar.js";
export { bootstrapRootfs, debsIn, machineSpecificProblems, SOURCES_LIST_NOTE, type BootstrapOptions, type DebianArch } from "./rootfs.js";
export { ociArchive, gzipLayer, GZIP_LEVEL, MEDIA_CONFIG, MEDIA_INDEX, MEDIA_LAYER_GZIP, MEDIA_MANIFEST, rfc3339, tagOf, type OciArchiveOptions, type OciArchiveResult, type OciRootfs } from "./oci.js";

/**
 * Where the fetcher keeps a pinned .deb: `<store>/<sha256>/<file name of its
 * archive path>`. Checks each file is there with the pinned size and sha256.
 */
export async function debPathsFromStore(store: string, pins: readonly DebPin[]): Promise<string[]> {
  const root = resolve(store);
  const paths: string[] = [];
  for (const p of pins) {
    const path = join(root, p.sha256, basename(p.path));
    try {
      await access(path);
    } catch {
      throw new BootstrapError(`${p.name} ${p.version} ${p.arch}: not in the store (${path})`);
    }
    const got = await sha256File(path);
    if (got !== p.sha256) throw new BootstrapError(`${path}: sha256 ${got}, pinned ${p.sha256}`);
    paths.push(path);
  }
  return paths;
}

export interface BaseImageOptions {
  readonly arches: readonly DebianArch[];
  /**
   * The closure of one architecture as absolute .deb paths, each verified
   * against its pinned sha256 (e.g. `debPathsFromStore(store, pinsOf(arch))`
   * after the fetcher ran). This is where the lockfile and fetcher plug in.
   */
  readonly debs: (arch: DebianArch) => Promise<readonly string[]>;
  readonly suite: "bookworm";
  readonly variant: "minbase";
  readonly sourceDateEpoch: number;
  /** Scratch space; each architecture gets `<workDir>/<arch>/`. */
  readonly workDir: string;
  /** Fully qualified image reference, e.g. `docker.io/caisson/debian:bookworm`. */
  readonly ref: string;
  /** Path of the OCI archive to write. */
  readonly out: string;
  /** Where the rootfs tarballs go; default `<workDir>/<arch>/rootfs-<suite>-<arch>.tar`. */
  readonly rootfsPath?: (arch: DebianArch) => string;
  /**
   * Keep a rootfs tarball whose recorded inputs (`<tar>.inputs`: the .debs'
   * sha256, arch, suite, variant, epoch, mmdebstrap version) are the current
   * ones instead of bootstrapping again.
   */
  readonly reuse?: boolean;
  readonly log?: Log;
}

export interface BaseImageResult extends OciArchiveResult {
  readonly rootfs: ReadonlyArray<{ readonly arch: DebianArch; readonly tar: string }>;
}

/**
 * The whole base image: one rootfs per architecture (one after the other:
 * arm64 runs under qemu and both are CPU-bound), then the OCI archive. The
 * integrator's entry point.
 */
export async function buildBaseImage(opts: BaseImageOptions): Promise<BaseImageResult> {
  const rootfs: Array<{ arch: DebianArch; tar: string }> = [];
  for (const arch of opts.arches) {
    const workDir = join(resolve(opts.workDir), arch);
    await mkdir(workDir, { recursive: true });
    const debs = [...(await opts.debs(arch))];
    const out = resolve(opts.rootfsPath ? opts.rootfsPath(arch) : join(workDir, `rootfs-${opts.suite}-${arch}.tar`));
    const inputs = opts.reuse ? await rootfsInputs(debs, { arch, suite: opts.suite, variant: opts.variant, sourceDateEpoch: opts.sourceDateEpoch }) : "";
    if (opts.reuse && (await readFile(`${out}.inputs`, "utf8").catch(() => "")) === inputs && (await exists(out))) {
      opts.log?.(`${out}: inputs unchanged, not bootstrapped again`);
      rootfs.push({ arch, tar: out });
      continue;
    }
    await rm(`${out}.inputs`, { force: true });
    const tar = await bootstrapRootfs({
      debs,
      arch,
      suite: opts.suite,
      variant: opts.variant,
      sourceDateEpoch: opts.sourceDateEpoch,
      workDir,
      out,
      ...(opts.log ? { log: opts.log } : {}),
    });
    if (opts.reuse) await writeFile(`${out}.inputs`, inputs);
    rootfs.push({ arch, tar });
  }
  const image = await ociArchive({
    rootfs,
    ref: opts.ref,
    sourceDateEpoch: opts.sourceDateEpoch,
    history: baseImageHistory(opts),
    out: opts.out,
  });
  return { ...image, rootfs };
}

/** The `created_by` of the base image's layers. */
export function baseImageHistory(o: { readonly suite: string; readonly variant: string; readonly sourceDateEpoch: number }): string {
  return `mmdebstrap --variant=${o.variant} ${o.suite} from pinned .debs (SOURCE_DATE_EPOCH=${o.sourceDateEpoch})`;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * What a rootfs tarball is a function of, as text: the .debs' sha256 (sorted),
 * arch, suite, variant, epoch and the mmdebstrap version.
 */
export async function rootfsInputs(
  debs: readonly string[],
  o: { readonly arch: string; readonly suite: string; readonly variant: string; readonly sourceDateEpoch: number },
): Promise<string> {
  const hashes = (await Promise.all(debs.map((d) => sha256File(d)))).sort();
  const mmdebstrap = (await run("mmdebstrap", ["--version"])).toString("utf8").trim();
  return `${JSON.stringify({ ...o, mmdebstrap, debs: hashes }, null, 1)}\n`;
}
