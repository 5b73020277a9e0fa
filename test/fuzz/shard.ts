// One shard of the fuzz run: the CI total is split over the fuzz-*.test.ts
// files so vitest runs them in parallel.
import fc from "fast-check";
import { expect, it } from "vitest";
import { caseArbitrary, mutate, runCase, seeds, totalRuns } from "./harness.js";

export const SHARDS = 2;

export function fuzzShard(index: number): void {
  const all = seeds();
  const runs = Math.ceil(totalRuns() / SHARDS);
  // Smaller seeds more often (a seed of n KiB is drawn about 1/n as often as the smallest), so a CI run of 100,000 stays near a minute.
  const weighted = all.flatMap((s, i) => Array.from({ length: Math.max(1, Math.round(4 / Math.max(1, s.text.length / 1024))) }, () => i));
  it(`load → validate → compile: ${runs} mutated definitions, no exception escapes (shard ${index + 1}/${SHARDS})`, async () => {
    expect(all.length).toBeGreaterThan(3);
    // yaml builds an Error per syntax error; capturing their stack traces is a good part of the cost of broken input, and they say nothing here.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 2;
    const t0 = performance.now();
    let n = 0;
    try {
      await fc.assert(
        fc.asyncProperty(caseArbitrary(weighted.length), async ({ seed, mutations }) => {
          const s = all[weighted[seed] as number] as (typeof all)[number];
          const text = mutations.reduce(mutate, s.text);
          n++;
          await runCase(s.file, text);
        }),
        { numRuns: runs, seed: 0x5eed + index, endOnFailure: true },
      );
    } finally {
      Error.stackTraceLimit = limit;
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(`fuzz shard ${index + 1}/${SHARDS}: ${n} cases in ${secs.toFixed(1)} s`);
  }, 600_000);
}
