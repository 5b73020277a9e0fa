// bench/engine.mjs on a throwaway engine (test/support/throwaway-engine.ts):
// its own containerd, dockerd and empty build cache, used by nothing else, so
// other builds' load and the shared engine's cache collection (a cache above
// its limit drops new results at once) do not skew the warm numbers. The base
// image is copied in from the machine's engine. Run by bench/engine-throwaway.sh.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copyImage } from "../test/support/certs.js";
import { startThrowawayEngine } from "../test/support/throwaway-engine.js";

const docker = process.env["CAISSON_DOCKER"] ?? "/usr/bin/docker";
const engine = await startThrowawayEngine(mkdtempSync(join(tmpdir(), "caisson-bench-engine-")));
let status = 1;
try {
  copyImage(docker, "caisson/debian:bookworm", engine.unix);
  status = spawnSync(process.execPath, [join(import.meta.dirname, "../bench/engine.mjs")], { stdio: "inherit", env: { ...process.env, DOCKER_HOST: engine.unix } }).status ?? 1;
} finally {
  engine.stop();
}
process.exit(status);
