// caisson check vs checksec: times checkImage on an OCI archive (read,
// decompress, flatten, analyse every ELF file, apply the policy, every
// platform) against Debian's `checksec --format=json --file=X` run on the
// same ELF files, one after the other, and prints the ratio.
//
// Usage: node bench/check.mjs IMAGE.oci.tar
//   RUNS=5            checkImage repetitions (median reported)
//   CHECKSEC_LIMIT=N  run checksec on the first N ELF files only and
//                     extrapolate linearly (for images with thousands of ELFs)
// Builds src/check with esbuild into a temp dir, so no `npm run build` is needed.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
const LIMIT = process.env.CHECKSEC_LIMIT ? Number(process.env.CHECKSEC_LIMIT) : Infinity;
const root = fileURLToPath(new URL("..", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "caisson-bench-check-"));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

try {
  const bundle = join(tmp, "check.mjs");
  await build({ entryPoints: [join(root, "src/check/index.ts")], bundle: true, platform: "node", format: "esm", outfile: bundle, logLevel: "warning" });
  const { checkImage, readOciArchive, ImageFs, readTar } = await import(bundle);

  // caisson: the whole check, as the CLI runs it.
  const times = [];
  let report;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    report = await checkImage({ kind: "oci-archive", ref: archive });
    times.push(performance.now() - t0);
  }
  const caissonMs = median(times);

  // The same ELF files on disk, for checksec.
  const files = [];
  const src = await readOciArchive(archive);
  for (const img of src.images) {
    const fs = new ImageFs();
    for (const l of img.layers) fs.applyLayer(readTar(await l.read()));
    const dir = join(tmp, `${img.platform.os}_${img.platform.architecture}${img.platform.variant ?? ""}`);
    for (const e of fs.entries()) {
      if (e.type !== "file" || !e.elf || !e.data) continue;
      const out = join(dir, e.path);
      mkdirSync(join(out, ".."), { recursive: true });
      writeFileSync(out, e.data);
      files.push(out);
    }
  }
  const sample = files.slice(0, Math.min(files.length, LIMIT));
  const t0 = performance.now();
  for (const f of sample) {
    const r = spawnSync("checksec", ["--format=json", `--file=${f}`], { encoding: "utf8" });
    if (r.error) throw new Error(`checksec: ${r.error.message} (apt-get install checksec)`);
  }
  const sampleMs = performance.now() - t0;
  const checksecMs = sample.length ? (sampleMs * files.length) / sample.length : 0;

  const s = report.summary;
  console.log(`image:    ${archive}`);
  console.log(`content:  ${s.platforms} platform(s), ${s.files} files, ${s.elfFiles} ELF files`);
  console.log(`caisson:  ${caissonMs.toFixed(0)} ms  (checkImage, median of ${RUNS}; policy part ${report.timings.checkMs} ms; verdict ${report.ok ? "PASS" : "FAIL"}, ${s.errors} error(s))`);
  console.log(
    `checksec: ${checksecMs.toFixed(0)} ms  (checksec --format=json --file per ELF file, sequential${sample.length < files.length ? `; ${sample.length} of ${files.length} files timed, extrapolated` : ""}; ${sample.length ? (sampleMs / sample.length).toFixed(1) : "-"} ms/file)`,
  );
  console.log(`ratio:    checksec / caisson = ${caissonMs > 0 ? (checksecMs / caissonMs).toFixed(1) : "-"}x`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
