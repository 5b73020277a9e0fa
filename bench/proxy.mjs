// The proxy images' benchmark: caisson's HAProxy and nginx images against
// the hand-written "build from source, copy into scratch" recipes they
// replace (bench/haproxy-recipe, bench/nginx-recipe), and a load test
// against Debian's own packages, every figure next to its baseline measured
// in the same run, as ratios:
//   1. image size per platform: files, uncompressed and compressed layers;
//      HAProxy must hold at most 11 MB of files and be smaller than its
//      recipe, nginx smaller than its recipe (a FAIL line and exit 1 if not)
//   2. a bounded load test: wrk through HAProxy to nginx on loopback (two
//      containers on a private network, HAProxy's port published on
//      127.0.0.1), caisson's images against Debian's nginx and haproxy
//      packages (bench/proxy-debian, pinned by its lockfile) running the
//      same configuration files, in alternating rounds; no errors allowed,
//      median requests/s as a ratio
//
// Usage: npm run bench:proxy   (needs the engine from hack/engine.sh, the
// base image, wrk, `npm run build`, and the sources in the store:
// hack/fetch-sources.sh haproxy=… nginx=…, as .ci/run does)
//   ROUNDS=3 DURATION=5 THREADS=2 CONNECTIONS=50  alternating wrk runs of each side (30 s in all)
//   KEEP=1                               keep the images the bench tagged (caisson-bench/*)
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MIN, mb, median, mirrorBuildArgs, ratio, readArchive, run } from "./lib.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
process.chdir(root);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const DURATION = Number(process.env.DURATION ?? 5);
const THREADS = Number(process.env.THREADS ?? 2);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const KEEP = process.env.KEEP === "1";
const DOCKER = process.env.DOCKER ?? "docker";
const STORE = process.env.CAISSON_SOURCE_STORE ?? join(process.env.CAISSON_CACHE ?? "/var/cache/caisson", "sources");
const HAPROXY_LIMIT = 11e6;
const IMAGES = {
  haproxy: {
    version: "2.6.12",
    tarball: join(STORE, "58f9edb26bf3288f4b502658399281cc5d6478468bd178eafe579c8f41895854", "haproxy_2.6.12.orig.tar.gz"),
    context: { "haproxy.cfg": "images/haproxy/conf/haproxy.cfg" },
  },
  nginx: {
    version: "1.22.1",
    tarball: join(STORE, "9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31", "nginx_1.22.1.orig.tar.gz"),
    context: { "nginx.conf": "images/nginx/conf/nginx.conf", "index.html": "images/nginx/html/index.html" },
  },
};
const DEBIAN = "caisson-bench/proxy-debian:bookworm";
const CONTRACT = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--user", "65532:65532"];
const tmpfs = (path) => ["--tmpfs", `${path}:uid=65532,gid=65532,mode=0700,size=64m`];

const tmp = mkdtempSync(join(tmpdir(), "caisson-bench-proxy-"));
const net = `caisson-bench-proxy-${process.pid}`;
const containers = [];
const tags = [];
const docker = (...args) => run(DOCKER, args).stdout.trim();
const log = (s) => process.stderr.write(`bench/proxy: ${s}\n`);
const caisson = (args) => run(process.execPath, [join(root, "bin/caisson.js"), "build", ...args, "--progress", "quiet"], { timeout: 90 * MIN });

function cleanup() {
  for (const id of containers.splice(0)) spawnSync(DOCKER, ["rm", "-f", "-v", id], { timeout: MIN });
  spawnSync(DOCKER, ["network", "rm", net], { timeout: MIN, stdio: "ignore" });
  if (!KEEP) for (const t of tags.splice(0)) spawnSync(DOCKER, ["rmi", t], { timeout: MIN, stdio: "ignore" });
  rmSync(tmp, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => { cleanup(); process.exit(130); });

/** Starts a container on the bench network under the runtime contract; returns its id and the loopback port of its first published port. */
function start(name, args, image, command = [], port = 0) {
  const id = docker("run", "-d", "--name", `${net}-${name}`, "--network", net, "--network-alias", name, ...CONTRACT, ...args,
    ...(port ? ["-p", `127.0.0.1::${port}`] : []), image, ...command);
  containers.push(id);
  return { id, port: port ? Number(docker("port", id, `${port}/tcp`).split("\n")[0].split(":").pop()) : 0 };
}

async function waitFor200(url) {
  for (let i = 0; i < 150; i++) {
    const r = spawnSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", url], { encoding: "utf8", timeout: 10_000 });
    if (r.stdout === "200") return;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`${url} never answered 200`);
}

/** wrk's figures: requests/s, and every kind of error it counts. */
function wrk(url) {
  const out = run("wrk", [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${DURATION}s`, "--timeout", "5s", url], { timeout: (DURATION + 60) * 1000 }).stdout;
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const requests = /(\d+) requests in/.exec(out);
  if (!rps || !requests) throw new Error(`wrk printed no figures:\n${out}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const errors = (socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
  return { rps: Number(rps[1]), requests: Number(requests[1]), errors, detail: `${socket ? socket[0] : "no socket errors"}; ${non2xx ? non2xx[0] : "no non-2xx"}` };
}

try {
  for (const tool of ["wrk", "curl", "tar"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing (hack/engine.sh installs it)`);
  }
  if (!existsSync(join(root, "dist/cli/main.js"))) throw new Error("dist/cli/main.js is missing: npm run build");
  for (const [name, { tarball }] of Object.entries(IMAGES)) {
    if (!existsSync(tarball)) throw new Error(`${tarball} is missing: hack/fetch-sources.sh (the ${name} version images/${name}/image.yaml pins)`);
  }
  const engine = docker("version", "--format", "{{.Server.Version}}");
  const mirrors = mirrorBuildArgs();
  const started = new Date();

  // The images under test (cached if this machine built them already), their recipes, and Debian's packages.
  const sizes = {};
  for (const [name, { version, tarball, context }] of Object.entries(IMAGES)) {
    log(`building caisson's ${name} (both platforms) and bench/${name}-recipe (amd64)`);
    const ours = `caisson-bench/${name}:${version}`, recipe = `caisson-bench/${name}-recipe:${version}`;
    const oci = join(tmp, `${name}.oci.tar`);
    caisson([`images/${name}/image.yaml`, "-o", `image=${ours}`, "-o", `oci=${oci}`]);
    tags.push(ours);
    const ctx = join(tmp, `${name}-recipe`);
    mkdirSync(ctx);
    copyFileSync(`bench/${name}-recipe/Dockerfile`, join(ctx, "Dockerfile"));
    copyFileSync(tarball, join(ctx, `${name}-${version}.tar.gz`));
    for (const [file, from] of Object.entries(context)) copyFileSync(from, join(ctx, file));
    run(DOCKER, ["build", "-q", "--platform", "linux/amd64", ...mirrors, "-t", recipe, ctx], { timeout: 60 * MIN });
    tags.push(recipe);
    const recipeOci = join(tmp, `${name}-recipe.oci.tar`);
    run(DOCKER, ["save", "-o", recipeOci, recipe], { timeout: 10 * MIN });
    sizes[name] = { ours: readArchive(oci, join(tmp, `oci-${name}`)), recipe: readArchive(recipeOci, join(tmp, `oci-${name}-recipe`)).amd64, image: ours };
  }
  log("building bench/proxy-debian (Debian's nginx and haproxy packages, pinned)");
  caisson(["bench/proxy-debian/image.yaml", "-o", `image=${DEBIAN}`]);
  tags.push(DEBIAN);

  // 2. The load test: HAProxy → nginx, caisson's images, then Debian's packages with the same configuration files.
  docker("network", "create", net);
  const cfg = (file) => ["-v", `${join(root, file)}:/etc/${file.includes("haproxy") ? "haproxy/haproxy.cfg" : "nginx/nginx.conf"}:ro`];
  const nginxArgs = [...tmpfs("/var/cache/nginx"), ...tmpfs("/run/nginx")];
  const haproxyArgs = (backend) => [...tmpfs("/run/haproxy"), "-e", `BACKEND=${backend}:8080`];
  const sides = {
    caisson: () => {
      start("web-caisson", nginxArgs, sizes.nginx.image);
      return start("lb-caisson", haproxyArgs("web-caisson"), sizes.haproxy.image, [], 8080);
    },
    debian: () => {
      // Debian's build also has uwsgi and scgi, whose temporary directories it makes in /var/lib/nginx.
      start("web-debian", [...nginxArgs, ...tmpfs("/var/lib/nginx"), ...cfg("images/nginx/conf/nginx.conf"), "-v", `${join(root, "images/nginx/html")}:/usr/share/nginx/html:ro`],
        DEBIAN, ["nginx", "-e", "stderr", "-g", "daemon off;"]);
      return start("lb-debian", [...haproxyArgs("web-debian"), ...cfg("images/haproxy/conf/haproxy.cfg")], DEBIAN, ["haproxy", "-db", "-f", "/etc/haproxy/haproxy.cfg"], 8080);
    },
  };
  const urls = {};
  for (const [side, up] of Object.entries(sides)) {
    urls[side] = `http://127.0.0.1:${up().port}/`;
    await waitFor200(urls[side]);
    const page = run("curl", ["-sS", "--max-time", "5", urls[side]]).stdout;
    if (!page.includes("<h1>caisson/nginx</h1>")) throw new Error(`${side}: HAProxy did not serve nginx's page:\n${page.slice(0, 500)}`);
  }
  // Alternating rounds, the median of each side: the machine's other load hits both alike.
  const rounds = { caisson: [], debian: [] };
  const loadavgs = [loadavg()[0]];
  for (let i = 0; i < ROUNDS; i++) {
    for (const side of i % 2 === 0 ? ["caisson", "debian"] : ["debian", "caisson"]) {
      log(`round ${i + 1}/${ROUNDS}: wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s through ${side}'s HAProxy to its nginx`);
      rounds[side].push(wrk(urls[side]));
    }
  }
  loadavgs.push(loadavg()[0]);
  const load = Object.fromEntries(Object.entries(rounds).map(([side, rs]) => [side, {
    rps: median(rs.map((r) => r.rps)), all: rs.map((r) => r.rps.toFixed(0)).join(" / "),
    requests: rs.reduce((n, r) => n + r.requests, 0), errors: rs.reduce((n, r) => n + r.errors, 0), detail: rs.map((r) => r.detail).join(" | "),
  }]));

  // ---- report ----------------------------------------------------------
  const L = (label, value, rel = "") => console.log(`  ${label.padEnd(54)} ${String(value).padStart(12)}  ${rel}`);
  const cpus = readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm).length;
  console.log(`caisson bench/proxy — ${started.toISOString()}, Docker Engine ${engine}, ${cpus} CPUs`);
  console.log("ours: images/haproxy, images/nginx (caisson build; Debian's security patches, strict hardening, stripped, FROM scratch)");
  console.log("recipes: bench/haproxy-recipe, bench/nginx-recipe (docker build, built-in Dockerfile frontend; unpatched, unstripped, amd64)");
  console.log("MB = 10^6 bytes; ratios are to the recipe's amd64 image\n");

  console.log("1. Image size");
  const files = (p) => p.files.reduce((s, f) => s + f.size, 0);
  const failures = [];
  for (const [name, s] of Object.entries(sizes)) {
    for (const [label, f] of [["files: unpacked filesystem (regular-file bytes)", files], ["uncompressed layers", (p) => p.uncompressed], ["compressed layers (gzip blobs)", (p) => p.compressed]]) {
      console.log(`  ${name}, ${label}`);
      L(`${name} recipe amd64`, mb(f(s.recipe)), "1.00x");
      for (const arch of ["amd64", "arm64"]) L(`caisson ${name} ${arch}`, mb(f(s.ours[arch])), ratio(f(s.ours[arch]), f(s.recipe)));
    }
    for (const arch of ["amd64", "arm64"]) {
      const n = files(s.ours[arch]);
      if (n >= files(s.recipe)) failures.push(`${name} ${arch}: ${mb(n)} of files, not smaller than its recipe's ${mb(files(s.recipe))}`);
      if (name === "haproxy" && n > HAPROXY_LIMIT) failures.push(`haproxy ${arch}: ${mb(n)} of files, over ${mb(HAPROXY_LIMIT)}`);
    }
    console.log(`  caisson ${name} amd64 files: ${s.ours.amd64.files.map((f) => `${f.path} (${f.size})`).join(", ")}`);
  }
  console.log();

  console.log(`2. Load test: ${ROUNDS} alternating rounds of wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s --timeout 5s per side, median requests/s; GET / of nginx's page through HAProxy (loopback, published port, runtime contract, both containers on one network)`);
  console.log(`  (1-minute load average ${loadavgs.map((x) => x.toFixed(1)).join(" before, ")} after, on ${cpus} CPUs: anything else running on the machine shows up here)`);
  L("Debian's nginx + haproxy packages (bench/proxy-debian)", `${load.debian.rps.toFixed(0)} req/s`, `1.00x  [${load.debian.all}] ${load.debian.requests} requests, ${load.debian.errors} errors`);
  L("caisson's images/nginx + images/haproxy", `${load.caisson.rps.toFixed(0)} req/s`, `${ratio(load.caisson.rps, load.debian.rps)}  [${load.caisson.all}] ${load.caisson.requests} requests, ${load.caisson.errors} errors`);
  for (const [side, r] of Object.entries(load)) if (r.errors > 0) failures.push(`${side}: ${r.errors} errors under load (${r.detail})`);
  console.log();
  for (const f of failures) console.log(`FAIL ${f}`);
  if (failures.length) process.exitCode = 1;
  else console.log("PASS haproxy ≤ 11 MB of files and smaller than its recipe; nginx smaller than its recipe; no errors under load");
} catch (e) {
  console.error(`bench/proxy: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
