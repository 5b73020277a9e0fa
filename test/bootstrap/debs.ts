// Where the bootstrap integration test gets its packages: the closure of
// minbase bookworm for one architecture, as absolute paths of .deb files
// already verified against their pinned sha256. This is the seam for the
// lockfile and the fetcher: a DebSource built on them is
//   (arch) => debPathsFromStore(store, pinsOf(lock, arch))
// with debPathsFromStore from src/bootstrap.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { debsIn, type DebianArch } from "../../src/bootstrap/index.js";

/** The closure for `arch`, or undefined when this machine has none to offer. */
export type DebSource = (arch: DebianArch) => Promise<readonly string[] | undefined>;

/**
 * `$CAISSON_BOOTSTRAP_DEBS/<arch>/*.deb`: a directory prepared by whoever
 * runs the test (the fetcher, or a copy of a previous bootstrap's packages).
 */
export const debsFromEnv: DebSource = async (arch) => {
  const dir = process.env["CAISSON_BOOTSTRAP_DEBS"];
  if (!dir || !existsSync(join(dir, arch))) return undefined;
  const debs = await debsIn(join(dir, arch));
  return debs.length ? debs : undefined;
};
