// From exactly a set of .deb files to a root file system tarball, with
// mmdebstrap against a local flat repository made of those files only.
import { chmod, mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { readDeb, type DebFile } from "./deb.js";
import { BootstrapError, run, type Log } from "./exec.js";
import { copyUri, writeFlatRepo } from "./repo.js";
import { verifyDpkgStatus } from "./status.js";
import { fileContains, listTar, readMember, type TarMember } from "./tar.js";

export type DebianArch = "amd64" | "arm64";

export interface BootstrapOptions {
  /** Absolute paths of the .deb files: exactly the closure to install, each already verified by sha256. */
  readonly debs: readonly string[];
  readonly arch: DebianArch;
  readonly suite: "bookworm";
  readonly variant: "minbase";
  /** Unix time every new file's mtime is clamped to (SOURCE_DATE_EPOCH). */
  readonly sourceDateEpoch: number;
  /** Scratch directory (created if absent); the repository and mmdebstrap's temporary chroot live here. */
  readonly workDir: string;
  /** Where to write the rootfs tarball; default `<workDir>/rootfs-<suite>-<arch>.tar`. */
  readonly out?: string;
  /** Receives mmdebstrap's output, one line at a time. */
  readonly log?: Log;
}

/** What /etc/apt/sources.list holds in the image: comments only. */
export const SOURCES_LIST_NOTE = `# This image was assembled from a pinned set of Debian packages (name,
# version, architecture and sha256 of each .deb), not from a package mirror,
# so no apt source is configured. Add one (here or in sources.list.d/) before
# using apt-get update / apt-get install in a derived image.
`;

const MERGED_USR_HOOKS = "/usr/share/mmdebstrap/hooks/merged-usr";

/**
 * Runs inside mmdebstrap's customize phase, outside the chroot, with the
 * chroot directory as $1. Removes what the build machine put there (its
 * hostname and resolv.conf, copied in by mmdebstrap's setup; the apt source
 * naming the temporary repository) and backup copies of the debconf and dpkg
 * databases. apt's partial directories belong to _apt, as apt leaves them
 * when it can drop privileges; when the work directory is not reachable by
 * _apt, mmdebstrap runs apt unsandboxed and they would belong to root.
 * mmdebstrap's own cleanup then removes apt lists and caches, /tmp,
 * /run and the dated logs (SOURCE_DATE_EPOCH is set).
 */
const CUSTOMIZE_HOOK = `set -eu
root=$1
note=$2
rm -f "$root/etc/hostname" "$root/etc/resolv.conf"
rm -f "$root/etc/apt/sources.list"
find "$root/etc/apt/sources.list.d" -mindepth 1 -delete
cp "$note" "$root/etc/apt/sources.list"
chown 0:0 "$root/etc/apt/sources.list"
chmod 0644 "$root/etc/apt/sources.list"
if [ -e "$root/etc/machine-id" ]; then : > "$root/etc/machine-id"; fi
rm -f "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
apt_uid=$(awk -F: '$1 == "_apt" { print $3 }' "$root/etc/passwd")
for d in "$root/var/cache/apt/archives/partial" "$root/var/lib/apt/lists/partial"; do
  if [ -n "$apt_uid" ] && [ -d "$d" ]; then chown "$apt_uid:0" "$d"; fi
done
`;

/** A clean environment: nothing of the caller's (locale, HOME, TMPDIR…) reaches apt, dpkg or maintainer scripts. */
function bootstrapEnv(sourceDateEpoch: number, tmp: string): NodeJS.ProcessEnv {
  return {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    SOURCE_DATE_EPOCH: String(sourceDateEpoch),
    LC_ALL: "C.UTF-8",
    LANG: "C.UTF-8",
    TZ: "UTC",
    HOME: "/root",
    TMPDIR: tmp,
  };
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function readDebs(paths: readonly string[]): Promise<DebFile[]> {
  const out: DebFile[] = new Array(paths.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < paths.length; i = next++) out[i] = await readDeb(paths[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(8, paths.length) }, worker));
  return out;
}

/**
 * Bootstraps a root file system (mmdebstrap, mode root, the given variant,
 * merged /usr) from exactly `debs` and returns the path of its tarball. The
 * tarball is a function of the .deb files, arch, suite, variant and
 * sourceDateEpoch: nothing of the build machine, the work directory or the
 * time of day is in it. Verifies that the rootfs's dpkg status lists exactly
 * the input packages and that no machine-specific file or path made it in.
 */
export async function bootstrapRootfs(opts: BootstrapOptions): Promise<string> {
  if (opts.debs.length === 0) throw new BootstrapError("no .deb files given");
  for (const d of opts.debs) if (!isAbsolute(d)) throw new BootstrapError(`not an absolute path: ${d}`);
  if (!Number.isSafeInteger(opts.sourceDateEpoch) || opts.sourceDateEpoch < 0) {
    throw new BootstrapError(`bad sourceDateEpoch: ${opts.sourceDateEpoch}`);
  }
  const workDir = resolve(opts.workDir);
  const out = resolve(opts.out ?? join(workDir, `rootfs-${opts.suite}-${opts.arch}.tar`));
  const repo = join(workDir, "repo");
  const tmp = join(workDir, "tmp");
  await mkdir(workDir, { recursive: true });
  await rm(repo, { recursive: true, force: true });
  await rm(tmp, { recursive: true, force: true });
  await mkdir(repo, { recursive: true });
  await mkdir(tmp, { recursive: true });

  const debs = await readDebs(opts.debs);
  await writeFlatRepo(repo, debs, { arch: opts.arch, suite: opts.suite, sourceDateEpoch: opts.sourceDateEpoch });
  const hook = join(workDir, "customize.sh");
  const note = join(workDir, "sources.list");
  await writeFile(hook, CUSTOMIZE_HOOK);
  await writeFile(note, SOURCES_LIST_NOTE);
  await chmod(note, 0o644);

  const names = [...new Set(debs.map((d) => d.name))].sort();
  const tmpOut = `${out}.tmp`;
  await rm(tmpOut, { force: true });
  // The repository is unsigned, hence [trusted=yes]: it holds only files the
  // caller verified against their pinned sha256 before calling us, and apt
  // still checks each file against the SHA256 in our Packages index. copy://
  // (not file://) makes apt copy the .debs into the chroot's archive cache,
  // which mmdebstrap empties afterwards; it is the only source: no mirror.
  const source = `deb [trusted=yes] ${copyUri(repo)} ./`;
  const args = [
    "-c",
    'umask 022 && exec mmdebstrap "$@"',
    "mmdebstrap",
    "--mode=root",
    `--variant=${opts.variant}`,
    `--architectures=${opts.arch}`,
    `--hook-dir=${MERGED_USR_HOOKS}`,
    "--aptopt=Acquire::Languages \"none\"",
    // Every input package is requested by name, so the installed set is the
    // input set (or the run fails). mmdebstrap's own minbase selection reads
    // Priority from the Packages index, and a .deb's control file does not
    // carry the archive's priority overrides (adduser and apt say
    // "important" there, "required" in the archive): without this they would
    // be left out. Consequence: apt marks nothing as automatically installed.
    `--include=${names.join(",")}`,
    "--skip=check/signed-by",
    `--customize-hook=sh ${shq(hook)} "$1" ${shq(note)}`,
    "--format=tar",
    opts.suite,
    tmpOut,
    source,
  ];
  try {
    await run("sh", args, { env: bootstrapEnv(opts.sourceDateEpoch, tmp), log: opts.log, cwd: workDir });
    await finishRootfs(tmpOut, debs, workDir, opts.log);
  } catch (e) {
    await rm(tmpOut, { force: true });
    throw e;
  }
  await rename(tmpOut, out);
  await rm(repo, { recursive: true, force: true });
  await rm(tmp, { recursive: true, force: true });
  return out;
}

/** Drops device nodes, then checks the dpkg status and that nothing machine-specific is inside. */
async function finishRootfs(tmpOut: string, debs: readonly DebFile[], workDir: string, log: Log | undefined): Promise<void> {
  // Device nodes: the runtime mounts its own /dev.
  await run("tar", ["--delete", "--wildcards", "-f", tmpOut, "./dev/?*"], { log }).catch(async (e: unknown) => {
    // GNU tar fails when nothing matched; only accept that case.
    const members = await listTar(tmpOut);
    if (members.some((m) => m.path.startsWith("./dev/") && m.path !== "./dev/")) throw e;
  });

  const members = await listTar(tmpOut);
  const status = members.find((m) => m.path === "./var/lib/dpkg/status");
  if (!status) throw new BootstrapError(`${tmpOut}: no ./var/lib/dpkg/status`);
  verifyDpkgStatus((await readMember(tmpOut, status)).toString("utf8"), debs);
  const encoded = copyUri(workDir).slice("copy://".length);
  await checkMachineIndependent(tmpOut, members, encoded === workDir ? [workDir] : [workDir, encoded]);
}

/** Problems that would make a rootfs tarball depend on the machine or the run; empty when none. */
export async function machineSpecificProblems(tarPath: string, members: readonly TarMember[], paths: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  const regular = (m: TarMember): boolean => m.type === "0" || m.type === "\0" || m.type === "7";
  for (const m of members) {
    const p = m.path.replace(/^\.\//, "");
    if (p === "etc/hostname" || p === "etc/resolv.conf" || p === "etc/mailname") problems.push(`${p} (from the build machine)`);
    else if ((p === "etc/machine-id" || p === "var/lib/dbus/machine-id") && m.size > 0) problems.push(`${p} is not empty`);
    else if (p.startsWith("etc/apt/sources.list.d/") && p !== "etc/apt/sources.list.d/") problems.push(`${p}: an apt source`);
    else if (p.startsWith("var/lib/apt/lists/") && regular(m) && m.size > 0) problems.push(`${p}: apt lists`);
    else if (/^var\/cache\/apt\/.*\.(bin|deb)$/.test(p)) problems.push(`${p}: apt cache`);
    else if (p.startsWith("var/log/") && regular(m) && m.size > 0) problems.push(`${p}: a log`);
    else if (/^(tmp|run|var\/tmp)\/./.test(p) && regular(m)) problems.push(`${p}: temporary file`);
    else if (p.startsWith("dev/") && p !== "dev/") problems.push(`${p}: device node`);
  }
  const sources = members.find((m) => m.path === "./etc/apt/sources.list");
  if (sources) {
    const text = (await readMember(tarPath, sources)).toString("utf8");
    if (text.split("\n").some((l) => /^\s*deb(-src)?\s/.test(l))) problems.push("etc/apt/sources.list names an apt source");
  }
  for (const s of paths) {
    if (await fileContains(tarPath, Buffer.from(s))) problems.push(`the work path ${s} occurs in the tarball`);
  }
  return problems;
}

async function checkMachineIndependent(tarPath: string, members: readonly TarMember[], paths: readonly string[]): Promise<void> {
  const problems = await machineSpecificProblems(tarPath, members, paths);
  if (problems.length) throw new BootstrapError(`${tarPath}: machine-specific content:\n  ${problems.join("\n  ")}`);
}

/** The .deb files directly in `dir`, as absolute paths, sorted. */
export async function debsIn(dir: string): Promise<string[]> {
  const abs = resolve(dir);
  return (await readdir(abs)).filter((f) => f.endsWith(".deb")).sort().map((f) => join(abs, f));
}
