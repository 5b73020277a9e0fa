// Engine benchmark: the e2e hello definition (test/fixtures/e2e/hello: a
// toolchain stage installing pinned .debs, cross-compile for linux/amd64 +
// linux/arm64, runtime FROM scratch with the libraries) built by `caisson
// build` (caisson's own BuildKit client: Control.Solve with the compiled LLB,
// no frontend container, no buildx), against the same small build written as
// a Dockerfile and built by the engine's built-in Dockerfile frontend through
// buildx, cold and warm, measured in the same run and printed as ratios.
//
// "Cold": a fresh nonce is written by a first step under the package install
// of both builds (caisson: a stage the toolchain stage starts from; the
// Dockerfile: a RUN before apt-get), so the install and every exec/file op
// after it miss the cache and really run; the base image comes from the local
// store either way. The shared build cache is NOT pruned (that would wipe
// other users' caches on this engine). "Warm": the same build again, unchanged.
//
// Usage: npm run build && RUNS=3 node bench/engine.mjs   (~1 min per run; needs the engine
// (DOCKER_HOST's; bench/engine-throwaway.sh runs it on a throwaway engine of its own)
// from hack/engine.sh, the base image from hack/base-image.sh, and Debian's mirror for
// `caisson lock` and the Dockerfile's apt-get)
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "bin/caisson.js");
const DOCKER = process.env.CAISSON_DOCKER ?? process.env.DOCKER ?? "/usr/bin/docker";
const BASE = "docker.io/caisson/debian:bookworm@sha256:d757fb0e12b1304ed12095dfc93b37afc7f33623a62f45707945b94262f96032";
const PLATFORMS = "linux/amd64,linux/arm64";
// The base image has no package index: the Dockerfile installs the very .debs caisson's lockfile pins,
// from a named build context holding them (copied from the source store), with no network.
const APT = "--network=none --mount=type=bind,from=debs,target=/debs apt-get install -q -y --no-install-recommends /debs/*.deb";
const STORE = process.env.CAISSON_SOURCE_STORE ?? join(process.env.CAISSON_CACHE ?? "/var/cache/caisson", "sources");

// The Dockerfile twin of test/fixtures/e2e/hello/image.yaml: the same packages,
// the same triple-prefixed compilers and hardening flags, the same runtime files.
// (caisson's lockfile pins the packages; see APT.)
function dockerfile(nonce) {
  return `FROM --platform=$BUILDPLATFORM ${BASE} AS toolchain
ENV DEBIAN_FRONTEND=noninteractive
RUN echo ${nonce} > /etc/bench-nonce
RUN ${APT}

FROM --platform=$BUILDPLATFORM toolchain AS build
ARG TARGETPLATFORM TARGETARCH
WORKDIR /src
RUN echo "compiling on $(uname -m) for $TARGETPLATFORM"
RUN --mount=type=bind,target=/src <<'EOF'
set -eu
case "$TARGETARCH" in
  amd64) t=x86_64-linux-gnu; arch=-fcf-protection=full; libs=/lib/x86_64-linux-gnu
         loader=/lib64/ld-linux-x86-64.so.2; ldsrc=/lib64/ld-linux-x86-64.so.2 ;;
  arm64) t=aarch64-linux-gnu; arch=-mbranch-protection=standard; libs=/usr/aarch64-linux-gnu/lib
         loader=/lib/ld-linux-aarch64.so.1; ldsrc=/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ;;
esac
mkdir -p /out /rootfs/etc /rootfs/lib/$t "/rootfs$(dirname $loader)"
$t-gcc -O2 -fstack-protector-strong -fstack-clash-protection -D_FORTIFY_SOURCE=2 -fPIE -Wformat -Werror=format-security $arch \\
  -pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack -o /rootfs/hello hello.c
cp -L $libs/libc.so.6 /rootfs/lib/$t/
cp -L $ldsrc "/rootfs$loader"
printf 'root:x:0:0:root:/root:/sbin/nologin\\ncaisson:x:65532:65532:caisson:/nonexistent:/sbin/nologin\\n' > /rootfs/etc/passwd
printf 'root:x:0:\\ncaisson:x:65532:\\n' > /rootfs/etc/group
EOF

FROM scratch
COPY --from=build /rootfs/ /
USER 65532:65532
ENTRYPOINT ["/hello"]
`;
}

function timed(cmd, args, opts = {}) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 << 20, ...opts });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${(r.stderr ?? "").slice(-4000)}`);
  return { s, stderr: r.stderr };
}

const RUNS = Number(process.env.RUNS ?? 1);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const work = mkdtempSync(join(tmpdir(), "caisson-bench-engine-"));
try {
  const node = timed(process.execPath, ["-e", "0"]).s;
  const text = readFileSync(join(ROOT, "test/fixtures/e2e/hello/image.yaml"), "utf8");
  const rows = { "caisson cold": [], "caisson warm": [], "Dockerfile cold": [], "Dockerfile warm": [] };
  const engineSeconds = { "caisson cold": [], "caisson warm": [] };
  const ranSteps = (stderr) => (stderr.match(/^#\d+ \d+\.\d+ /gm) ?? []).length;

  for (let i = 0; i < RUNS; i++) {
    const nonce = `bench-${process.pid}-${Date.now()}-${i}`;
    const dir = join(work, String(i));
    // caisson: the fixture in its own context, the toolchain stage started from a stage that writes the nonce.
    const ctx = join(dir, "ctx");
    cpSync(join(ROOT, "test/fixtures/e2e/hello"), ctx, { recursive: true });
    const def = join(ctx, "image.yaml");
    const from = /^  toolchain:\n    from: (\S+)\n/m;
    if (!from.test(text)) throw new Error("could not find the toolchain stage of the fixture");
    const tagged = text.replace(from, (_, base) => `  nonce:\n    from: ${base}\n    run: ['echo ${nonce} > /etc/bench-nonce']\n  toolchain:\n    from: nonce\n`);
    writeFileSync(def, tagged);
    timed(process.execPath, [CLI, "lock", def]);
    // Dockerfile: the same context (hello.c), the Dockerfile outside it.
    mkdirSync(join(dir, "df"));
    const df = join(dir, "df/Dockerfile");
    writeFileSync(df, dockerfile(nonce));

    const caisson = (out) =>
      timed(process.execPath, [CLI, "build", def, "--context", ctx, "--platform", PLATFORMS, "-o", `local=${join(dir, out)}`, "--progress", "plain", "--no-check"]);
    const debs = join(dir, "debs");
    const dockerfileBuild = (out) => {
      if (!existsSync(debs)) {
        // The .debs caisson pinned, out of the source store (the caisson build puts them there; run it first once).
        mkdirSync(debs);
        const lock = JSON.parse(readFileSync(join(ctx, "image.lock.json"), "utf8"));
        for (const pin of lock.debian["toolchain/amd64"].packages) {
          const file = pin.path.slice(pin.path.lastIndexOf("/") + 1);
          copyFileSync(join(STORE, pin.sha256, file), join(debs, file));
        }
      }
      return timed(DOCKER, ["buildx", "build", "--progress", "plain", "--platform", PLATFORMS, "-f", df, "--build-context", `debs=${debs}`, "--provenance=false", "--output", `type=local,dest=${join(dir, out)}`, ctx]);
    };
    const pairs = [
      () => {
        for (const [k, out] of [["caisson cold", "c1"], ["caisson warm", "c2"]]) {
          const r = caisson(out);
          rows[k].push(r.s);
          engineSeconds[k].push(Number(/caisson: built in ([\d.]+)s/.exec(r.stderr)?.[1] ?? NaN));
          if (k.endsWith("warm") && ranSteps(r.stderr) > 0) throw new Error(`the warm caisson build ran steps:\n${r.stderr.slice(-6000)}`);
        }
      },
      () => {
        for (const [k, out] of [["Dockerfile cold", "d1"], ["Dockerfile warm", "d2"]]) {
          const r = dockerfileBuild(out);
          rows[k].push(r.s);
          if (k.endsWith("warm") && ranSteps(r.stderr) > 0) throw new Error("the warm Dockerfile build ran steps");
        }
      },
    ];
    // Alternate which goes first, so neither always meets a colder mirror or a busier engine.
    if (i % 2 === 1) pairs.reverse(); // (run 0 builds caisson first: that fills the store with the pinned .debs)
    for (const p of pairs) p();
    // Both produced the same kind of tree.
    for (const out of ["c2/linux_arm64/hello", "d2/linux_arm64/hello", "c2/linux_amd64/lib/x86_64-linux-gnu/libc.so.6", "d2/linux_amd64/lib/x86_64-linux-gnu/libc.so.6"]) {
      readFileSync(join(dir, out));
    }
    rmSync(dir, { recursive: true, force: true });
  }

  const fmt = (s) => `${s.toFixed(2).padStart(7)} s`;
  const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)]));
  console.log(`engine benchmark: ${PLATFORMS}, ${RUNS === 1 ? "one run" : `median of ${RUNS} runs`}, wall clock`);
  console.log("cold = fresh nonce under the package install (it and every exec/file op after it miss the cache), no prune; warm = the same build again");
  console.log(`caisson: its own BuildKit client (no buildx, no frontend container), --no-check; bare node start-up ${fmt(node)}`);
  for (const [k, v] of Object.entries(m)) {
    const inner = engineSeconds[k] ? `   (the solve ${fmt(median(engineSeconds[k]))} of it)` : "";
    console.log(`${k.padEnd(18)} ${fmt(v)}${inner}${RUNS > 1 ? `   [${rows[k].map((x) => x.toFixed(1)).join(", ")}]` : ""}`);
  }
  console.log("ratios");
  console.log(`  caisson cold / Dockerfile cold  ${(m["caisson cold"] / m["Dockerfile cold"]).toFixed(2)}x`);
  console.log(`  caisson warm / Dockerfile warm  ${(m["caisson warm"] / m["Dockerfile warm"]).toFixed(2)}x`);
  console.log(`  caisson warm / caisson cold     ${(m["caisson warm"] / m["caisson cold"]).toFixed(2)}x`);
  console.log(`  Dockerfile warm / cold          ${(m["Dockerfile warm"] / m["Dockerfile cold"]).toFixed(2)}x`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
