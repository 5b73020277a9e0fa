// The flagship's benchmark: caisson's Redis image against the hand-written
// "build from source, copy into scratch" recipe it replaces
// (bench/redis-recipe/Dockerfile), every figure next to its baseline measured
// in the same run, as ratios:
//   1. image size per platform: files, uncompressed layers, compressed layers,
//      and a saved archive through gzip -9
//   2. build time: caisson amd64 vs amd64+arm64 (redis stages cold), and the
//      recipe's (amd64) for reference
//   3. redis-benchmark SET/GET throughput, alternating rounds, median
//   4. Debian's checksec of every ELF file in both images, with symbol counts
//   5. the CVE-2025-67733 probe (CR/LF in an error reply) on both
//
// Usage: npm run bench:redis   (needs the engine from hack/engine.sh, the base
// image, Debian's redis-tools and checksec, `npm run build`, and Redis's
// source in the store: hack/fetch-sources.sh redis)
//   COLD=stages (default)  the timed builds rebuild the Redis stages only: a
//                          fresh nonce in the caisson build stage's env, and
//                          --no-cache-filter build for the recipe; the apt
//                          toolchain stages stay cached, as they would in CI
//   COLD=all               --no-cache for every timed build (also re-runs the
//                          apt steps: network time is then part of the figure)
//   BUILDS=0               skip the timed builds (section 2)
//   ROUNDS=3 N=100000 C=50 redis-benchmark rounds, requests, clients
//   KEEP=1                 keep the images the bench tagged (caisson-bench/*)
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { MIN, mb, median, mirrorBuildArgs, ratio, readArchive, run } from "./lib.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
process.chdir(root);
const COLD = process.env.COLD ?? "stages";
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const N = Number(process.env.N ?? 100000);
const C = Number(process.env.C ?? 50);
const KEEP = process.env.KEEP === "1";
const BUILDS = process.env.BUILDS !== "0";
const DOCKER = process.env.DOCKER ?? "docker";
const SOURCE_STORE = process.env.CAISSON_SOURCE_STORE ?? join(process.env.CAISSON_CACHE ?? "/var/cache/caisson", "sources");
const REDIS_TARBALL = join(SOURCE_STORE, "4b1dc4ee6d622a09fff9c6777191209750fb5e5a725ef78ea012d6eef4c22982", "redis_7.0.15.orig.tar.gz");
const DEF = "images/redis/image.yaml";
const OURS = "caisson-bench/redis:7.0.15";
const RECIPE = "caisson-bench/redis-recipe:7.0.15";
const RECIPE_TIMED = "caisson-bench/redis-recipe:timed";
if (!["stages", "all"].includes(COLD)) throw new Error(`COLD must be stages or all, not ${COLD}`);

const tmp = mkdtempSync(join(tmpdir(), "caisson-bench-redis-"));
const containers = [];
const tags = [];

// ---- helpers -----------------------------------------------------------

const docker = (...args) => run(DOCKER, args).stdout.trim();
function timed(cmd, args, opts) {
  const t0 = performance.now();
  run(cmd, args, opts);
  return (performance.now() - t0) / 1000;
}
const caisson = (args) => [join(root, "bin/caisson.js"), "build", ...args, "--progress", "quiet"];
const log = (s) => process.stderr.write(`bench/redis: ${s}\n`);
const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");

/** A definition identical to images/redis/image.yaml but for a nonce in the build stage's env: its steps miss the cache, the builder's do not. */
function nonceDefinition() {
  const text = readFileSync(DEF, "utf8");
  const anchor = "  build:\n    from: builder\n";
  if (!text.includes(anchor)) throw new Error(`${DEF}: no "build: from: builder" stage to put a cache nonce in (use COLD=all)`);
  // A context of its own (a definition must lie inside its context), holding the imported builder too.
  const ctx = join(tmp, `ctx-${randomBytes(4).toString("hex")}`);
  for (const d of ["images/redis", "images/builder"]) mkdirSync(join(ctx, d), { recursive: true });
  copyFileSync("images/builder/image.yaml", join(ctx, "images/builder/image.yaml"));
  writeFileSync(join(ctx, DEF), text.replace(anchor, `${anchor}    env: { CAISSON_BENCH_NONCE: "${randomBytes(8).toString("hex")}" }\n`));
  return ctx;
}

/** Debian's checksec of one file: its JSON record and the symbol count from its CLI table. */
function checksec(file) {
  const j = JSON.parse(run("checksec", ["--format=json", `--file=${file}`]).stdout)[file];
  const cli = stripAnsi(run("checksec", [`--file=${file}`]).stdout);
  const m = /(\d+) Symbols|No Symbols/.exec(cli);
  return { ...j, symbolCount: m ? Number(m[1] ?? 0) : NaN };
}

function cleanup() {
  for (const id of containers.splice(0)) spawnSync(DOCKER, ["rm", "-f", "-v", id], { timeout: MIN });
  if (!KEEP) for (const t of tags.splice(0)) spawnSync(DOCKER, ["rmi", t], { timeout: MIN, stdio: "ignore" });
  rmSync(tmp, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => { cleanup(); process.exit(130); });

async function waitForPong(port) {
  for (let i = 0; i < 100; i++) {
    const r = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "ping"], { encoding: "utf8", timeout: 5000 });
    if (r.stdout?.trim() === "PONG") return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`redis on port ${port} never answered PONG`);
}

/** Starts an image under the runtime contract; returns its loopback port. */
async function start(image, extra) {
  const id = docker("run", "-d", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", ...extra, "-p", "127.0.0.1::6379", image);
  containers.push(id);
  const port = Number(docker("port", id, "6379/tcp").split("\n")[0].split(":").pop());
  await waitForPong(port);
  return { id, port };
}

// ---- the run -----------------------------------------------------------

try {
  for (const tool of ["redis-benchmark", "redis-cli", "checksec", "gzip", "tar"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing (hack/engine.sh installs redis-tools and checksec)`);
  }
  if (!existsSync(join(root, "dist/cli/main.js"))) throw new Error("dist/cli/main.js is missing: npm run build");
  if (!existsSync(REDIS_TARBALL)) throw new Error(`${REDIS_TARBALL} is missing: hack/fetch-sources.sh redis`);
  const engine = docker("version", "--format", "{{.Server.Version}}");
  const started = new Date();

  // The images under test: the real definition (cached if this machine built it already), and the recipe.
  log("building the images under test (whatever the cache holds)");
  const oursOci = join(tmp, "ours.oci.tar");
  const warmOurs = timed(process.execPath, caisson([DEF, "-o", `image=${OURS}`, "-o", `oci=${oursOci}`]), { timeout: 60 * MIN });
  tags.push(OURS);
  const single = {};
  for (const arch of ["amd64", "arm64"]) {
    single[arch] = join(tmp, `ours-${arch}.oci.tar`);
    run(process.execPath, caisson([DEF, "--platform", `linux/${arch}`, "-o", `oci=${single[arch]}`]), { timeout: 30 * MIN });
  }
  const mirrors = mirrorBuildArgs();
  const ctx = join(tmp, "recipe");
  mkdirSync(ctx);
  copyFileSync("bench/redis-recipe/Dockerfile", join(ctx, "Dockerfile"));
  copyFileSync(REDIS_TARBALL, join(ctx, "redis-7.0.15.tar.gz"));
  const warmRecipe = timed(DOCKER, ["build", "-q", "--platform", "linux/amd64", ...mirrors, "-t", RECIPE, ctx], { timeout: 60 * MIN });
  tags.push(RECIPE);
  const recipeOci = join(tmp, "recipe.oci.tar");
  run(DOCKER, ["save", "-o", recipeOci, RECIPE]);

  // 2. Build times, cold for the Redis stages (or for everything under COLD=all).
  if (BUILDS) log(`timed builds (COLD=${COLD}): caisson amd64, caisson amd64+arm64, recipe amd64`);
  const coldArgs = (platforms) => COLD === "all"
    ? [DEF, "--platform", platforms, "--no-cache", "-o", `oci=${join(tmp, "timed.oci.tar")}`]
    : ((ctx) => [join(ctx, DEF), "--context", ctx])(nonceDefinition()).concat(["--platform", platforms, "-o", `oci=${join(tmp, "timed.oci.tar")}`]);
  let tAmd64 = NaN, tBoth = NaN, tRecipe = NaN;
  const load = [loadavg()[0]];
  if (BUILDS) {
    tAmd64 = timed(process.execPath, caisson(coldArgs("linux/amd64")), { timeout: 60 * MIN });
    tBoth = timed(process.execPath, caisson(coldArgs("linux/amd64,linux/arm64")), { timeout: 90 * MIN });
    tags.push(RECIPE_TIMED);
    tRecipe = timed(DOCKER, ["build", "-q", "--platform", "linux/amd64", ...mirrors, ...(COLD === "all" ? ["--no-cache"] : ["--no-cache-filter", "build"]), "-t", RECIPE_TIMED, ctx], { timeout: 60 * MIN });
  }
  load.push(loadavg()[0]);

  // 1. Sizes.
  log("reading the archives");
  const ours = readArchive(oursOci, join(tmp, "oci-ours"));
  const recipe = readArchive(recipeOci, join(tmp, "oci-recipe")).amd64;
  const gz = (file) => Number(run("sh", ["-c", 'gzip -9c "$0" | wc -c', file], { timeout: 5 * MIN }).stdout.trim());
  const recipeSavedGz = Number(run("sh", ["-c", `${DOCKER} save "$0" | gzip -9 | wc -c`, RECIPE], { timeout: 5 * MIN }).stdout.trim());
  const filesBytes = (p) => p.files.reduce((s, f) => s + f.size, 0);
  const sizeRows = [
    ["files: unpacked filesystem (regular-file bytes)", filesBytes],
    ["uncompressed layers (layer tar streams)", (p) => p.uncompressed],
    ["compressed layers (gzip blobs in the OCI archive)", (p) => p.compressed],
  ];

  // 3. Throughput, then 5. the CVE probe, on the same containers.
  log(`redis-benchmark: ${ROUNDS} alternating rounds of -n ${N} -c ${C} -t set,get`);
  const a = await start(OURS, []);
  // The recipe's /data belongs to root (WORKDIR), its user is 10000: a tmpfs it owns.
  const b = await start(RECIPE, ["--tmpfs", "/data:uid=10000,gid=10000,mode=0700,size=64m"]);
  // No background saves in the middle of a round: the same for both.
  for (const { port } of [a, b]) run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "config", "set", "save", ""]);
  const rps = { ours: { SET: [], GET: [] }, recipe: { SET: [], GET: [] } };
  for (let i = 0; i < ROUNDS; i++) {
    const order = i % 2 === 0 ? [["ours", a], ["recipe", b]] : [["recipe", b], ["ours", a]];
    for (const [who, { port }] of order) {
      const out = run("redis-benchmark", ["-h", "127.0.0.1", "-p", String(port), "-n", String(N), "-c", String(C), "-t", "set,get", "-q"], { timeout: 5 * MIN }).stdout;
      for (const op of ["SET", "GET"]) {
        const m = [...out.matchAll(new RegExp(`${op}: ([\\d.]+) requests per second`, "g"))].pop();
        if (!m) throw new Error(`redis-benchmark printed no ${op} figure:\n${out}`);
        rps[who][op].push(Number(m[1]));
      }
    }
  }
  const probe = (port) => run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "function", "list", "a\r\nb"], { allowFail: true, timeout: 10_000 });
  const cveOurs = probe(a.port), cveRecipe = probe(b.port);

  // ---- report ----------------------------------------------------------
  const L = (label, value, rel = "") => console.log(`  ${label.padEnd(54)} ${String(value).padStart(12)}  ${rel}`);
  console.log(`caisson bench/redis — ${started.toISOString()}, Docker Engine ${engine}, ${readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm).length} CPUs`);
  console.log(`ours: ${DEF} (caisson build; Debian's 18 security patches, strict hardening, stripped, FROM scratch)`);
  console.log(`recipe: bench/redis-recipe/Dockerfile (docker build, built-in Dockerfile frontend; unpatched, unstripped)`);
  console.log("MB = 10^6 bytes; ratios are to the recipe's amd64 image unless said otherwise\n");

  console.log("1. Image size");
  for (const [label, f] of sizeRows) {
    console.log(`  ${label}`);
    L("recipe amd64", mb(f(recipe)), "1.00x");
    for (const arch of ["amd64", "arm64"]) L(`caisson ${arch}`, mb(f(ours[arch])), ratio(f(ours[arch]), f(recipe)));
  }
  console.log("  saved archive through gzip -9 (recipe: docker save IMAGE | gzip -9 | wc -c; caisson: its single-platform OCI archive | gzip -9 | wc -c)");
  L("recipe amd64", mb(recipeSavedGz), "1.00x");
  for (const arch of ["amd64", "arm64"]) { const n = gz(single[arch]); L(`caisson ${arch}`, mb(n), ratio(n, recipeSavedGz)); }
  const both = gz(oursOci);
  L("caisson amd64+arm64 (one multi-platform OCI archive)", mb(both), ratio(both, recipeSavedGz));
  console.log("  (the issue quotes the recipe as 14.9 MB of files / 6.4 MB as a saved archive)\n");

  console.log(`2. Build time (COLD=${COLD}: ${COLD === "all" ? "--no-cache everywhere, apt toolchain steps included" : "the Redis stages miss the cache (a nonce in the build stage's env; the recipe with --no-cache-filter build), the apt toolchain stages hit it"})`);
  console.log(`  (1-minute load average ${load.map((x) => x.toFixed(1)).join(" before, ")} after, on ${readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm).length} CPUs: anything else running on the engine's machine shows up here)`);
  L("caisson amd64", `${tAmd64.toFixed(1)} s`, "1.00x");
  L("caisson amd64+arm64", `${tBoth.toFixed(1)} s`, `${ratio(tBoth, tAmd64)} caisson amd64`);
  L("recipe amd64 (reference)", `${tRecipe.toFixed(1)} s`, `${ratio(tRecipe, tAmd64)} caisson amd64`);
  L("caisson amd64+arm64, cache as found (first step)", `${warmOurs.toFixed(1)} s`, "");
  L("recipe, cache as found (first step)", `${warmRecipe.toFixed(1)} s`, "");
  console.log();

  console.log(`3. redis-benchmark -n ${N} -c ${C} -t set,get -q, ${ROUNDS} alternating rounds, median requests/s (loopback, published port, runtime contract)`);
  for (const op of ["SET", "GET"]) {
    const o = median(rps.ours[op]), r = median(rps.recipe[op]);
    L(`${op} recipe  [${rps.recipe[op].join(", ")}]`, r.toFixed(0), "1.00x");
    L(`${op} caisson [${rps.ours[op].join(", ")}]`, o.toFixed(0), `${ratio(o, r)} (ours/recipe)`);
  }
  console.log();

  console.log("4. Debian checksec of every ELF file (relro canary nx pie rpath runpath fortify fortified/fortifiable, symbols)");
  const images = [["recipe amd64", recipe], ["caisson amd64", ours.amd64], ["caisson arm64", ours.arm64]];
  for (const [name, p] of images) {
    console.log(`  ${name}`);
    for (const f of p.files.filter((x) => x.elf)) {
      const c = checksec(join(p.rootfs, f.path));
      const sym = c.symbolCount ? `${c.symbolCount} symbols` : "no symbols";
      console.log(`    ${f.path.padEnd(42)} ${String(f.size).padStart(9)} B  relro=${c.relro} canary=${c.canary} nx=${c.nx} pie=${c.pie} rpath=${c.rpath} runpath=${c.runpath} fortify=${c.fortify_source} ${c.fortified}/${c["fortify-able"]} ${sym}`);
    }
  }
  console.log("  files:");
  for (const [name, p] of images) console.log(`    ${name}: ${p.files.map((f) => f.path).join(" ")}`);
  console.log();

  console.log("5. CVE-2025-67733: redis-cli function list $'a\\r\\nb' (stdout, JSON-quoted)");
  L("recipe (unpatched 7.0.15)", JSON.stringify(cveRecipe.stdout), `exit ${cveRecipe.status}`);
  L("caisson (Debian's CVE-2025-67733.patch)", JSON.stringify(cveOurs.stdout), `exit ${cveOurs.status}`);
  const fixed = cveOurs.stdout.trim() === "ERR Unknown argument a  b";
  const broken = cveRecipe.stdout.trim() !== "ERR Unknown argument a  b";
  console.log(`  the int test's assertion ("ERR Unknown argument a  b") ${fixed ? "holds for caisson" : "FAILS for caisson"} and ${broken ? "fails for the recipe: it discriminates" : "ALSO holds for the recipe: it does not discriminate"}`);
} catch (e) {
  console.error(`bench/redis: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
