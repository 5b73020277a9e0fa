// Golden fixtures: every test/fixtures/valid/<case> yields a model without
// errors; every test/fixtures/invalid/<case> yields errors whose printed form
// is snapshotted in expected.txt next to it (UPDATE=1 rewrites them).
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { formatDiagnostics, hasErrors } from "../../src/diag/index.js";
import { checkDefinition } from "../../src/validate/index.js";

const root = join(import.meta.dirname, "..", "fixtures");
const repo = join(import.meta.dirname, "..", "..");

function cases(kind: "valid" | "invalid"): { name: string; file: string }[] {
  const dir = join(root, kind);
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => {
      const file = ["image.yaml", "image.yml", "image.json"].map((f) => join(dir, d.name, f)).find((f) => existsSync(f));
      return file === undefined ? undefined : { name: d.name, file };
    })
    .filter((c): c is { name: string; file: string } => c !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

function check(file: string): { text: string; rel: string; result: ReturnType<typeof checkDefinition> } {
  const text = readFileSync(file, "utf8");
  const rel = relative(repo, file);
  return { text, rel, result: checkDefinition(rel, text) };
}

describe("valid fixtures", () => {
  for (const c of cases("valid")) {
    it(c.name, () => {
      const { text, rel, result } = check(c.file);
      const printed = formatDiagnostics(result.diagnostics, new Map([[rel, text]]));
      expect(hasErrors(result.diagnostics), printed).toBe(false);
      expect(result.definition).toBeDefined();
      expect(result.definition?.file).toBe(rel);
      expect(result.definition?.text).toBe(text);
    });
  }
});

describe("invalid fixtures", () => {
  for (const c of cases("invalid")) {
    it(c.name, () => {
      const { text, rel, result } = check(c.file);
      expect(result.definition).toBeUndefined();
      expect(hasErrors(result.diagnostics)).toBe(true);
      const printed = formatDiagnostics(result.diagnostics, new Map([[rel, text]]));
      const expectedFile = join(c.file, "..", "expected.txt");
      if (process.env["UPDATE"] === "1") writeFileSync(expectedFile, printed);
      expect(existsSync(expectedFile), `${expectedFile} is missing: UPDATE=1 writes it`).toBe(true);
      expect(printed).toBe(readFileSync(expectedFile, "utf8"));
    });
  }
});

describe("docs/format.md", () => {
  it("lists every diagnostic code the fixtures produce", () => {
    const doc = readFileSync(join(repo, "docs", "format.md"), "utf8");
    const codes = new Set<string>();
    for (const kind of ["valid", "invalid"] as const) {
      for (const c of cases(kind)) for (const d of check(c.file).result.diagnostics) codes.add(d.code);
    }
    expect([...codes].filter((code) => !doc.includes(`\`${code}\``))).toEqual([]);
  });
});
