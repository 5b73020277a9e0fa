// One base image digest across the repo: every place that names
// caisson/debian:bookworm by digest (the shipped definitions, the e2e
// fixtures and every other test, the docs, the benchmarks) names the one images/builder pins —
// which hack/base-image.sh checks is what images/debian's lockfile gives.
// Golden unit fixtures (test/fixtures/valid, invalid) and the lockfile unit
// test (test/lock/debian.test.ts, a stand-in base it never pulls) touch no
// engine and keep digests of their own.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..");
const PIN = /caisson\/debian:bookworm@(sha256:[0-9a-f]{64})/g;

function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else if (/\.(ya?ml|ts|mjs|md|json|cue)$/.test(e.name)) out.push(p);
  }
  return out;
}

describe("the base image pin", () => {
  it("is the same everywhere it is written", () => {
    const builder = readFileSync(join(ROOT, "images/builder/image.yaml"), "utf8");
    const pinned = [...builder.matchAll(PIN)].map((m) => m[1]);
    expect(pinned).toHaveLength(1);
    const golden = [join(ROOT, "test/fixtures/valid") + "/", join(ROOT, "test/fixtures/invalid") + "/", join(ROOT, "test/lock/debian.test.ts")];
    const tests = files(join(ROOT, "test")).filter((f) => !golden.some((g) => f.startsWith(g)));
    const where = [...[join(ROOT, "images"), join(ROOT, "docs"), join(ROOT, "bench")].flatMap((d) => files(d)), ...tests];
    const other: string[] = [];
    for (const f of where) {
      for (const m of readFileSync(f, "utf8").matchAll(PIN)) if (m[1] !== pinned[0]) other.push(`${relative(ROOT, f)}: ${m[1]}`);
    }
    expect(other, `pins other than images/builder's ${pinned[0]}`).toEqual([]);
  });
});
