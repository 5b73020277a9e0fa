// Verifying a bootstrapped root file system's dpkg database against the
// package set it was made from.
import { debId } from "./deb.js";
import { parseDeb822, field } from "./deb.js";
import { BootstrapError } from "./exec.js";

export interface PackageId {
  readonly name: string;
  readonly version: string;
  readonly arch: string;
}

/** Packages of a `/var/lib/dpkg/status` file, with their `Status` line. */
export function parseDpkgStatus(text: string): Array<PackageId & { readonly status: string }> {
  return parseDeb822(text).map((p) => {
    const name = field(p, "Package");
    if (!name) throw new BootstrapError("dpkg status: a paragraph without Package");
    return {
      name,
      version: field(p, "Version") ?? "",
      arch: field(p, "Architecture") ?? "",
      status: field(p, "Status") ?? "",
    };
  });
}

/** Thrown when the installed set differs from the input set; lists every difference. */
export class StatusMismatchError extends BootstrapError {
  constructor(
    readonly missing: readonly PackageId[],
    readonly unexpected: readonly PackageId[],
    readonly changed: ReadonlyArray<{ readonly expected: PackageId; readonly installed: PackageId }>,
    readonly notInstalled: ReadonlyArray<PackageId & { readonly status: string }>,
  ) {
    const lines: string[] = [];
    for (const p of missing) lines.push(`  missing:       ${debId(p)}`);
    for (const p of unexpected) lines.push(`  not in input:  ${debId(p)}`);
    for (const c of changed) lines.push(`  differs:       ${debId(c.expected)} in input, ${debId(c.installed)} installed`);
    for (const p of notInstalled) lines.push(`  not installed: ${debId(p)} (Status: ${p.status})`);
    super(`the root file system's dpkg status does not list exactly the input packages:\n${lines.join("\n")}`);
  }
}

/**
 * Checks that `statusText` lists exactly `expected` (name, version,
 * architecture), each "install ok installed". Throws StatusMismatchError
 * naming every difference.
 */
export function verifyDpkgStatus(statusText: string, expected: readonly PackageId[]): void {
  const installed = parseDpkgStatus(statusText);
  expected = expected.map(({ name, version, arch }) => ({ name, version, arch }));
  const want = new Map(expected.map((p) => [p.name, p]));
  const have = new Map(installed.map((p) => [p.name, p]));
  const byName = (a: PackageId, b: PackageId): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const missing = expected.filter((p) => !have.has(p.name)).sort(byName);
  const unexpected = installed.filter((p) => !want.has(p.name)).sort(byName);
  const changed: Array<{ expected: PackageId; installed: PackageId }> = [];
  for (const p of [...expected].sort(byName)) {
    const h = have.get(p.name);
    if (h && (h.version !== p.version || h.arch !== p.arch)) changed.push({ expected: p, installed: h });
  }
  const notInstalled = installed.filter((p) => want.has(p.name) && p.status !== "install ok installed").sort(byName);
  if (missing.length || unexpected.length || changed.length || notInstalled.length) {
    throw new StatusMismatchError(missing, unexpected, changed, notInstalled);
  }
}
