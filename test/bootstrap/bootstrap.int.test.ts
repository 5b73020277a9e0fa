// The base image bootstrapped from pinned .debs with the real mmdebstrap:
// determinism across work directories, no machine-specific content, loadable
// by the engine. Packages are the ones images/debian pins (debs.ts); amd64 by
// default, CAISSON_BOOTSTRAP_ARCHES="amd64 arm64" for both (arm64 runs its
// maintainer scripts under qemu: about three times slower).

import { debsFromLock } from "./debs.js";
import { bootstrapSuite } from "./suite.js";

const arches = (process.env["CAISSON_BOOTSTRAP_ARCHES"] ?? "amd64").split(/\s+/).filter(Boolean);
for (const arch of arches) {
  if (arch !== "amd64" && arch !== "arm64") throw new Error(`CAISSON_BOOTSTRAP_ARCHES: unknown architecture ${arch}`);
  bootstrapSuite(debsFromLock, arch);
}
