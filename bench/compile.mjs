// Compile-time benchmark: `caisson compile` on the example definitions and on
// generated ones (a chain of 1,000 and of 10,000 stages, one stage with
// 10,000 run commands), and each image written both in YAML and in CUE side
// by side (images/<name>/image.{yaml,cue}), as ratios to bare `node -e 0` start-up measured in the
// same run (so the figures survive a slow or busy machine). Whole processes
// against a whole process: start-up, reading, validating, lowering, writing.
// Usage: npm run bench:compile   (needs `npm run build` first; npm ci does it)
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";

const RUNS = Number(process.env.RUNS ?? 7);
const cli = join(process.cwd(), "bin/caisson.js");

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(args) {
  const xs = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    xs.push(performance.now() - t0);
    // A failure is reported in the table, with its exit code, not hidden.
    if (r.status !== 0) return { failed: `exit ${r.status}: ${String(r.stderr).split("\n")[0]}` };
  }
  return median(xs);
}

/** One stage with `n` run commands. */
function manyRuns(n) {
  const lines = ["name: runs", "platforms: [linux/amd64, linux/arm64]", "stages:", "  build:", "    from: scratch", "    run:"];
  for (let i = 0; i < n; i++) lines.push(`      - "echo ${i} >> /out"`);
  lines.push("image:", "  from: scratch", "  copy:", "    - { from: build, src: /out, dest: /out }", "  entrypoint: [/out]");
  return lines.join("\n") + "\n";
}

function generated(n) {
  const lines = ["name: generated", "platforms: [linux/amd64, linux/arm64]", "stages:"];
  for (let i = 0; i < n; i++) {
    lines.push(`  s${i}:`);
    lines.push(`    from: ${i === 0 ? "scratch" : `s${i - 1}`}`);
    lines.push(`    run: ["echo ${i} > /f${i}"]`);
  }
  lines.push("image:", "  from: scratch", "  copy:", `    - { from: s${n - 1}, src: /f0, dest: /f0 }`, "  entrypoint: [/f0]");
  return lines.join("\n") + "\n";
}

const dir = mkdtempSync(join(tmpdir(), "caisson-bench-"));
try {
  const big = join(dir, "image.yaml");
  writeFileSync(big, generated(1000));
  const chain = join(dir, "chain.yaml");
  writeFileSync(chain, generated(10_000));
  const runs = join(dir, "runs.yaml");
  writeFileSync(runs, manyRuns(10_000));
  const node = time(["-e", "0"]);
  const rows = [["bare node start-up", node]];
  const examples = [];
  for (const root of ["images", "test/fixtures/valid"]) {
    if (!existsSync(root)) continue;
    for (const d of readdirSync(root)) {
      const f = ["image.yaml", "image.json"].map((n) => join(root, d, n)).find(existsSync);
      // A bootstrap definition (a top-level `bootstrap:`) is built by `caisson bootstrap`, not compiled.
      if (f && !/^bootstrap:/m.test(readFileSync(f, "utf8"))) examples.push(f);
    }
  }
  for (const f of examples) rows.push([`compile ${f}`, time([cli, "compile", f, "--platform", "linux/arm64", "--source-mirror", "http://127.0.0.1:1", "--context", f.startsWith("images/") ? "." : dirname(f), "-o", join(dir, "out.pb")])]);
  rows.push(["compile generated 1,000 stages", time([cli, "compile", big, "--platform", "linux/arm64", "-o", join(dir, "out.pb")])]);
  rows.push(["compile generated chain of 10,000 stages", time([cli, "compile", chain, "--platform", "linux/arm64", "-o", join(dir, "out.pb")])]);
  rows.push(["compile generated stage with 10,000 run commands", time([cli, "compile", runs, "--platform", "linux/arm64", "-o", join(dir, "out.pb")])]);
  console.log(`median of ${RUNS} runs each, wall clock`);
  const cell = (ms) => (typeof ms === "number" ? `${ms.toFixed(1).padStart(8)} ms  ${(ms / node).toFixed(2).padStart(6)}x node` : `FAILED (${ms.failed})`);
  for (const [name, ms] of rows) console.log(`${name.padEnd(58)} ${cell(ms)}`);
  // The same image written in YAML and in CUE (CUE's WebAssembly evaluator starts only for the .cue file).
  const pairs = readdirSync("images").filter((d) => existsSync(join("images", d, "image.yaml")) && existsSync(join("images", d, "image.cue")));
  if (pairs.length > 0) console.log(`\n${"the same image, YAML and CUE".padEnd(58)} ${"YAML".padStart(21)}   ${"CUE".padStart(21)}   CUE/YAML`);
  for (const d of pairs) {
    const [yaml, cue] = ["image.yaml", "image.cue"].map((n) => time([cli, "compile", join("images", d, n), "--platform", "linux/arm64", "--source-mirror", "http://127.0.0.1:1", "-o", join(dir, "out.pb")]));
    const ratio = typeof yaml === "number" && typeof cue === "number" ? `${(cue / yaml).toFixed(2)}x` : "";
    console.log(`${`compile images/${d}`.padEnd(58)} ${cell(yaml)}   ${cell(cue)}   ${ratio}`);
  }
  const size = execFileSync(process.execPath, [cli, "compile", big, "--platform", "linux/arm64"]).length;
  console.log(`generated definition: ${size} bytes of LLB`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
