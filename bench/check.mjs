// caisson check vs checksec, whole process against whole process, on the
// same ELF files:
//   caisson:  node bin/caisson.js check IMAGE.oci.tar --format json
//             (read the archive, decompress, flatten, analyse every ELF file,
//             apply the policy, every platform — what a user runs)
//   checksec: checksec --listfile=LIST --format=json
//             (Debian's checksec over exactly the ELF files caisson checks,
//             extracted from the same archive beforehand; extraction is not timed)
// Each command runs RUNS times (after one warm-up run each), alternating, and
// every time is printed as it comes out; then the medians and their ratio.
// With hyperfine installed (Debian: hyperfine) and HYPERFINE=1, hyperfine
// does the timing instead.
//
// Usage: npm run build && node bench/check.mjs IMAGE.oci.tar
//   RUNS=5   runs per command (median reported)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const archive = process.argv[2];
if (!archive) {
  console.error("usage: node bench/check.mjs IMAGE.oci.tar");
  process.exit(2);
}
const RUNS = Number(process.env.RUNS ?? 5);
const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "bin/caisson.js");
if (!existsSync(join(root, "dist/cli/main.js"))) {
  console.error("dist/cli/main.js is missing: npm run build");
  process.exit(2);
}
const have = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
if (!have("checksec")) {
  console.error("checksec is missing (apt-get install checksec)");
  process.exit(2);
}
const tmp = mkdtempSync(join(tmpdir(), "caisson-bench-check-"));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  // The ELF files caisson checks, written out for checksec (not timed).
  const bundle = join(tmp, "check.mjs");
  await build({ entryPoints: [join(root, "src/check/index.ts")], bundle: true, platform: "node", format: "esm", outfile: bundle, logLevel: "warning" });
  const { readOciArchive, ImageFs, readTar } = await import(bundle);
  const files = [];
  const src = await readOciArchive(archive);
  for (const img of src.images) {
    const fs = new ImageFs();
    for (const l of img.layers) fs.applyLayer(readTar(await l.read()));
    const dir = join(tmp, "root", `${img.platform.os}_${img.platform.architecture}${img.platform.variant ?? ""}`);
    for (const e of fs.entries()) {
      if (e.type !== "file" || !e.elf || !e.data) continue;
      const out = join(dir, e.path);
      mkdirSync(join(out, ".."), { recursive: true });
      writeFileSync(out, e.data);
      files.push(out);
    }
  }
  const list = join(tmp, "elf-files.txt");
  writeFileSync(list, files.join("\n") + "\n");

  const caissonCmd = [process.execPath, cli, "check", archive, "--format", "json"];
  const checksecCmd = ["checksec", `--listfile=${list}`, "--format=json"];

  // Both must do the whole job: caisson reports on the ELF files, checksec on every listed file.
  const c0 = spawnSync(caissonCmd[0], caissonCmd.slice(1), { encoding: "utf8", maxBuffer: 256 << 20 });
  if (c0.status !== 0 && c0.status !== 1) throw new Error(`caisson check failed (exit ${c0.status}): ${c0.stderr}`);
  const report = JSON.parse(c0.stdout);
  const k0 = spawnSync(checksecCmd[0], checksecCmd.slice(1), { encoding: "utf8", maxBuffer: 256 << 20 });
  if (k0.status !== 0) throw new Error(`checksec failed (exit ${k0.status}): ${k0.stderr}`);
  // checksec 2.6.0's --listfile JSON has a trailing comma; count its per-file lines instead of parsing it.
  const seen = k0.stdout.split("\n").filter((l) => /^\s*"\//.test(l)).length;
  if (seen !== files.length) throw new Error(`checksec reported on ${seen} of ${files.length} files`);
  if (report.summary.elfFiles !== files.length) throw new Error(`caisson checked ${report.summary.elfFiles} ELF files, ${files.length} extracted`);

  const s = report.summary;
  console.log(`image:    ${archive}: ${s.platforms} platform(s), ${s.files} files, ${s.elfFiles} ELF files (verdict ${report.ok ? "PASS" : "FAIL"})`);
  console.log(`caisson:  ${caissonCmd.map((a) => a.replace(root, "")).join(" ")}`);
  console.log(`checksec: checksec --listfile=<the same ${files.length} ELF files> --format=json`);

  let caissonMs;
  let checksecMs;
  if (process.env.HYPERFINE === "1" && have("hyperfine")) {
    const json = join(tmp, "hyperfine.json");
    const q = (argv) => argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
    const r = spawnSync("hyperfine", ["--warmup", "1", "--runs", String(RUNS), "-i", "--export-json", json, "-n", "caisson", q(caissonCmd), "-n", "checksec", q(checksecCmd)], { stdio: "inherit" });
    if (r.status !== 0) throw new Error("hyperfine failed");
    const res = JSON.parse(readFileSync(json, "utf8")).results;
    caissonMs = res[0].median * 1000;
    checksecMs = res[1].median * 1000;
  } else {
    const time = (argv) => {
      const t0 = performance.now();
      const r = spawnSync(argv[0], argv.slice(1), { stdio: "ignore" });
      if (r.error) throw r.error;
      return performance.now() - t0;
    };
    time(caissonCmd); // warm-up: page cache, node's compile cache
    time(checksecCmd);
    const a = [];
    const b = [];
    for (let i = 1; i <= RUNS; i++) {
      a.push(time(caissonCmd));
      b.push(time(checksecCmd));
      console.log(`run ${i}/${RUNS}: caisson ${a.at(-1).toFixed(0)} ms, checksec ${b.at(-1).toFixed(0)} ms`);
    }
    caissonMs = median(a);
    checksecMs = median(b);
  }
  console.log(`median:   caisson ${caissonMs.toFixed(0)} ms, checksec ${checksecMs.toFixed(0)} ms (${RUNS} runs each, wall clock, whole processes)`);
  console.log(`ratio:    checksec / caisson = ${(checksecMs / caissonMs).toFixed(2)}x`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
