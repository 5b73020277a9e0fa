// A flat apt repository made of exactly the given .deb files: `Packages`
// and an unsigned `Release` written from the files' own control data.
import { createHash } from "node:crypto";
import { chmod, copyFile, mkdir, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { debId, formatParagraph, type DebFile, type Paragraph } from "./deb.js";
import { BootstrapError } from "./exec.js";

/** Fields of a Packages stanza that describe the file in the repository, not the package. */
const FILE_FIELDS = new Set(["filename", "size", "md5sum", "sha1", "sha256", "sha512", "description-md5"]);

/**
 * Checks that `debs` can form one installable set for `arch`: one version per
 * package name, every package of `arch` or `all`. Returns them sorted by name.
 */
export function checkDebSet(debs: readonly DebFile[], arch: string): DebFile[] {
  const byName = new Map<string, DebFile>();
  for (const d of debs) {
    if (d.arch !== arch && d.arch !== "all") {
      throw new BootstrapError(`${d.path}: ${debId(d)} is not for ${arch}`);
    }
    const prev = byName.get(d.name);
    if (prev) throw new BootstrapError(`two files for package ${d.name}: ${debId(prev)} (${prev.path}) and ${debId(d)} (${d.path})`);
    byName.set(d.name, d);
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The Packages index of `debs` (sorted by name), with files at `pool/<sha256>/<basename>`. */
export function packagesIndex(debs: readonly DebFile[]): string {
  return [...debs]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.sha256 < b.sha256 ? -1 : 1))
    .map((d) => {
      const p: Paragraph = [
        ...d.control.filter(([k]) => !FILE_FIELDS.has(k.toLowerCase())),
        ["Filename", poolPath(d)],
        ["Size", String(d.size)],
        ["SHA256", d.sha256],
      ];
      return formatParagraph(p);
    })
    .join("\n");
}

function poolPath(d: DebFile): string {
  return `pool/${d.sha256}/${basename(d.path)}`;
}

/** RFC 2822 date of a Unix time, as apt expects in Release files. */
export function releaseDate(epoch: number): string {
  return new Date(epoch * 1000).toUTCString().replace(/GMT$/, "UTC");
}

/**
 * Writes the flat repository into `dir` (empty or absent): the .debs are
 * copied in, `Packages` and `Release` are written. `suite` becomes the Release Suite and Codename, so that
 * mmdebstrap's selection of Essential packages ("from the archive whose suite
 * or codename is SUITE") sees this repository.
 */
export async function writeFlatRepo(
  dir: string,
  debs: readonly DebFile[],
  opts: { readonly arch: string; readonly suite: string; readonly sourceDateEpoch: number },
): Promise<void> {
  const sorted = checkDebSet(debs, opts.arch);
  // apt reads the repository as its sandbox user (_apt) when that user can
  // reach the work directory: explicit modes, whatever the caller's umask or
  // the store's file modes (hence copies, not hard links).
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  for (const dirName of ["pool", ...new Set(sorted.map((d) => `pool/${d.sha256}`))]) {
    await mkdir(join(dir, dirName), { recursive: true });
    await chmod(join(dir, dirName), 0o755);
  }
  for (const d of sorted) {
    const dest = join(dir, poolPath(d));
    await copyFile(d.path, dest);
    await chmod(dest, 0o644);
  }
  const packages = packagesIndex(sorted);
  await writeFile(join(dir, "Packages"), packages, { mode: 0o644 });
  await chmod(join(dir, "Packages"), 0o644);
  const hash = createHash("sha256").update(packages).digest("hex");
  const release =
    [
      `Suite: ${opts.suite}`,
      `Codename: ${opts.suite}`,
      `Date: ${releaseDate(opts.sourceDateEpoch)}`,
      `Architectures: ${opts.arch} all`,
      `Description: pinned packages, verified by sha256 before this repository was made`,
      `SHA256:`,
      ` ${hash} ${Buffer.byteLength(packages)} Packages`,
    ].join("\n") + "\n";
  await writeFile(join(dir, "Release"), release, { mode: 0o644 });
  await chmod(join(dir, "Release"), 0o644);
}

/** A `copy://` URI for a local directory, percent-encoding anything apt would split on or misread. */
export function copyUri(dir: string): string {
  let out = "";
  for (const byte of Buffer.from(dir, "utf8")) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9/._~-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return `copy://${out}`;
}
