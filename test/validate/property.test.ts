// Property tests: whatever the input, checkDefinition returns (never throws)
// and every diagnostic's span lies inside the text; printing never throws.
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDiagnostics, LineIndex, toJsonDiagnostics } from "../../src/diag/index.js";
import type { Diagnostic } from "../../src/diag/index.js";
import { checkDefinition } from "../../src/validate/index.js";

const validDir = join(import.meta.dirname, "..", "fixtures", "valid");
const seeds = readdirSync(validDir)
  .flatMap((d) => ["image.yaml", "image.json"].map((f) => join(validDir, d, f)))
  .filter((f) => existsSync(f))
  .map((f) => ({ file: f.endsWith(".json") ? "image.json" : "image.yaml", text: readFileSync(f, "utf8") }));

function assertSane(file: string, text: string): void {
  let result: ReturnType<typeof checkDefinition> | undefined;
  expect(() => {
    result = checkDefinition(file, text);
  }).not.toThrow();
  const bytes = new LineIndex(text).byteLength;
  const inside = (d: Diagnostic["span"]): boolean => d.file === file && d.start >= 0 && d.start <= d.end && d.end <= bytes;
  for (const d of result?.diagnostics ?? []) {
    expect(inside(d.span), `${d.code} ${JSON.stringify(d.span)} outside ${bytes} bytes`).toBe(true);
    for (const r of d.related ?? []) expect(inside(r.span)).toBe(true);
    expect(d.message.length).toBeGreaterThan(0);
    expect(d.code).toMatch(/^[a-z0-9]+(_[a-z0-9]+)*$/);
  }
  const sources = new Map([[file, text]]);
  expect(() => formatDiagnostics(result?.diagnostics ?? [], sources)).not.toThrow();
  expect(() => toJsonDiagnostics(result?.diagnostics ?? [], sources)).not.toThrow();
  if (result?.definition) expect(result.diagnostics.every((d) => d.severity === "warning")).toBe(true);
}

/** A mutation of a text's lines or characters. */
type Mutation =
  | { kind: "delete"; at: number }
  | { kind: "duplicate"; at: number }
  | { kind: "swap"; at: number; with: number }
  | { kind: "insert"; at: number; chars: string }
  | { kind: "replace"; at: number; chars: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("swap" as const), at: fc.nat(), with: fc.nat() }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), chars: fc.string({ maxLength: 4, unit: fc.constantFrom(..."{}[]:,-#&*!|>'\"\t \n0aZé😀/@") }) }),
  fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), chars: fc.string({ maxLength: 3, unit: "grapheme" }) }),
);

function apply(text: string, m: Mutation): string {
  const lines = text.split("\n");
  const n = Math.max(1, lines.length);
  switch (m.kind) {
    case "delete":
      lines.splice(m.at % n, 1);
      return lines.join("\n");
    case "duplicate":
      lines.splice(m.at % n, 0, lines[m.at % n] ?? "");
      return lines.join("\n");
    case "swap": {
      const a = m.at % n;
      const b = m.with % n;
      const t = lines[a] ?? "";
      lines[a] = lines[b] ?? "";
      lines[b] = t;
      return lines.join("\n");
    }
    case "insert": {
      const i = m.at % (text.length + 1);
      return text.slice(0, i) + m.chars + text.slice(i);
    }
    case "replace": {
      const i = m.at % (text.length + 1);
      return text.slice(0, i) + m.chars + text.slice(i + m.chars.length);
    }
  }
}

describe("checkDefinition on arbitrary input", () => {
  it("random strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), fc.constantFrom("a.yaml", "a.json"), (text, file) => assertSane(file, text)),
      { numRuns: 300 },
    );
  }, 30_000);

  it("random YAML-ish token soup", () => {
    const token = fc.constantFrom("name: ", "image:", "\n", "  ", "- ", "from: ", "stages:", "{", "}", "[", "]", ", ", "build", "scratch", ": ", "&a ", "*a", "!!str ", "---\n", '"', "'", "#", "\t", "0755", "uid: 0");
    fc.assert(
      fc.property(fc.array(token, { maxLength: 40 }), (ts) => assertSane("a.yaml", ts.join(""))),
      { numRuns: 300 },
    );
  }, 30_000);

  it("mutated valid fixtures", () => {
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }), (seed, ms) => {
        assertSane(seed.file, ms.reduce(apply, seed.text));
      }),
      { numRuns: 400 },
    );
  }, 60_000);
});
