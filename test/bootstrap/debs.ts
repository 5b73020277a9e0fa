// Where the bootstrap integration test gets its packages: exactly the .debs
// images/debian/image.lock.json pins for the architecture, fetched by sha256
// into the source store ($CAISSON_SOURCE_STORE, else $CAISSON_CACHE/sources)
// from this machine's Debian archives, and verified — the same path as
// `caisson bootstrap`.

import { join, resolve } from "node:path";
import { readFileSync } from "node:fs";
import type { DebianArch } from "../../src/bootstrap/index.js";
import { fetchDebs, readArchives } from "../../src/debian/index.js";
import { parseLockfile } from "../../src/lock/index.js";

/** The closure for `arch`, or undefined when this machine has none to offer. */
export type DebSource = (arch: DebianArch) => Promise<readonly string[] | undefined>;

const ROOT = resolve(import.meta.dirname, "..", "..");

export const debsFromLock: DebSource = async (arch) => {
  const lockPath = join(ROOT, "images/debian/image.lock.json");
  const pins = parseLockfile(readFileSync(lockPath, "utf8"), lockPath).debian?.[`rootfs/${arch}`]?.packages;
  if (!pins) throw new Error(`${lockPath} pins no package set for ${arch}: run caisson lock images/debian/image.yaml`);
  const store = process.env["CAISSON_SOURCE_STORE"] ?? join(process.env["CAISSON_CACHE"] ?? "/var/cache/caisson", "sources");
  return (await fetchDebs(pins, { store, archives: await readArchives() })).map((f) => f.file);
};
