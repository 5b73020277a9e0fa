// The shell scripts lowering puts into exec ops, in one place: every one is
// POSIX sh run by /bin/sh -c on the build platform, and every value spliced
// into one is quoted by shq. Changing a byte of a script changes the LLB (and
// the golden dumps in test/fixtures/valid).
import type { Patch } from "../model/index.js";

export { COLLECT_LIBS_SCRIPT } from "./collect-libs.js";

/** Quotes a string for POSIX sh. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Checks each patch file against its sha256, then applies it with
 * `patch -p<strip>` in the working directory, in order. `fileOf` gives the
 * path of a patch file where its source is mounted.
 */
export function applyPatchesScript(patches: readonly Patch[], fileOf: (p: Patch) => string): string {
  const script = ["set -eu"];
  for (const p of patches) {
    const f = fileOf(p);
    script.push(`echo ${shq(`${p.sha256}  ${f}`)} | sha256sum -c --quiet - || { echo ${shq(`caisson: patch ${p.path} does not match its sha256`)} >&2; exit 1; }`);
    script.push(`echo ${shq(`caisson: applying ${p.path}`)} >&2; patch -p${p.strip} --forward --batch --no-backup-if-mismatch < ${shq(f)}`);
  }
  return script.join("\n");
}

/**
 * Installs exactly the given .deb files (paths in the image) with apt, from
 * the files alone: no package index is read. `foreign` are the dpkg
 * architectures to add first (multiarch). The logs and caches that only
 * record when the step ran are removed, so the layer reproduces.
 */
export function installDebsScript(foreign: readonly string[], debs: readonly string[]): string {
  return [
    "set -e",
    ...foreign.map((a) => `dpkg --add-architecture ${a}`),
    `DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= ${debs.map(shq).join(" ")}`,
    // Logs and caches that only record when the step ran.
    "rm -f /var/log/dpkg.log /var/log/alternatives.log /var/log/apt/history.log /var/log/apt/term.log /var/log/apt/eipp.log.xz /var/cache/ldconfig/aux-cache",
  ].join("\n");
}
