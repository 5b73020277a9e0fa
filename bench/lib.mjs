// Helpers the image benchmarks share (bench/redis.mjs, bench/proxy.mjs):
// bounded child processes, ratios and medians, and reading an OCI archive
// into per-platform sizes and unpacked filesystems.
import { spawnSync } from "node:child_process";
import { lstatSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { gunzipSync } from "node:zlib";

export const MIN = 60_000;

/** Runs a command, bounded in time; throws on failure unless allowFail. */
export function run(cmd, args, { timeout = 2 * MIN, allowFail = false, input, env } = {}) {
  const r = spawnSync(cmd, args, {
    encoding: "utf8", maxBuffer: 256 << 20, timeout, killSignal: "SIGKILL",
    ...(input !== undefined ? { input } : {}), ...(env ? { env: { ...process.env, ...env } } : {}),
  });
  if (r.error) throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}`);
  // Ctrl-C reaches the child too: stop here (the finally block cleans up) rather than go on to the next step.
  if (r.signal) throw new Error(`${cmd} ${args.join(" ")} was killed by ${r.signal}`);
  if (!allowFail && r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${(r.stderr + r.stdout).slice(-4000)}`);
  return r;
}

/** `docker build` arguments giving a recipe this machine's Debian mirrors (the base image has no apt source), as hack/lib.sh derives them. */
export function mirrorBuildArgs() {
  const [main, security] = ["debian_mirror", "debian_security_mirror"].map((f) => run("bash", ["-c", `source hack/lib.sh && ${f}`]).stdout.trim());
  if (!main || !security) throw new Error("cannot derive this machine's Debian mirrors (hack/lib.sh debian_mirror, debian_security_mirror)");
  return ["--build-arg", `DEBIAN_MIRROR=${main}`, "--build-arg", `DEBIAN_SECURITY_MIRROR=${security}`];
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;
export const ratio = (a, b) => `${(a / b).toFixed(2)}x`;

/** Reads an OCI layout archive (caisson's -o oci=, or `docker save` of the containerd store) into the new directory dir: per platform, its manifest's layers, sizes and unpacked filesystem. */
export function readArchive(archive, dir) {
  mkdirSync(dir);
  run("tar", ["-xf", archive, "-C", dir]);
  const json = (digest) => JSON.parse(readFileSync(join(dir, "blobs", "sha256", digest.slice(7)), "utf8"));
  const manifests = [];
  const walk = (desc) => {
    const m = json(desc.digest);
    if (m.manifests) for (const d of m.manifests) walk(d);
    else if (desc.platform?.architecture !== "unknown") manifests.push({ platform: desc.platform, manifest: m }); // attestations are "unknown/unknown"
  };
  for (const d of JSON.parse(readFileSync(join(dir, "index.json"), "utf8")).manifests) walk(d);
  const platforms = {};
  for (const { platform, manifest } of manifests) {
    const arch = platform?.architecture ?? json(manifest.config.digest).architecture;
    const rootfs = join(dir, `rootfs-${arch}`);
    mkdirSync(rootfs);
    let compressed = 0, uncompressed = 0;
    for (const layer of manifest.layers) {
      const blob = join(dir, "blobs", "sha256", layer.digest.slice(7));
      const bytes = readFileSync(blob);
      compressed += layer.size;
      uncompressed += /gzip/.test(layer.mediaType) ? gunzipSync(bytes).length : bytes.length;
      run("tar", ["-xf", blob, "-C", rootfs, "--numeric-owner"]);
    }
    platforms[arch] = { compressed, uncompressed, rootfs, files: listFiles(rootfs) };
  }
  return platforms;
}

/** Regular files under a directory: path (from its root) and size. */
export function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push({ path: `/${relative(dir, p)}`, size: st.size, elf: readFileSync(p).subarray(0, 4).toString("latin1") === "\x7fELF" });
    }
  };
  walk(dir);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}
