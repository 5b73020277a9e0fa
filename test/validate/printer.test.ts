import { describe, expect, it } from "vitest";
import { DiagnosticError, didYouMean, error, formatDiagnostics, summary, toJsonDiagnostics, warning } from "../../src/diag/index.js";

const text = "name: x\nstages:\n  build:\n    from: biuld\n";
const span = { file: "i.yaml", start: text.indexOf("biuld"), end: text.indexOf("biuld") + 5 };
const d = error("unknown_stage", 'stage "biuld" not found', span, { hint: 'did you mean "build"?' });

describe("printer", () => {
  it("prints rustc-style with a snippet and a summary", () => {
    expect(formatDiagnostics([d], new Map([["i.yaml", text]]))).toBe(
      [
        'i.yaml:4:11: error[unknown_stage]: stage "biuld" not found',
        "   |",
        " 4 |     from: biuld",
        '   |           ^^^^^ did you mean "build"?',
        "",
        "aborting due to 1 error",
        "",
      ].join("\n"),
    );
  });
  it("prints without a snippet when the text is unknown", () => {
    expect(formatDiagnostics([d])).toContain('i.yaml: error[unknown_stage]: stage "biuld" not found\n   = help: did you mean "build"?');
  });
  it("summarises", () => {
    const w = warning("unpinned_image", "x", span);
    expect(summary([d, d, w])).toBe("aborting due to 2 errors; 1 warning emitted");
    expect(summary([w, w])).toBe("2 warnings emitted");
    expect(formatDiagnostics([])).toBe("");
  });
  it("has a JSON form", () => {
    expect(toJsonDiagnostics([d], (f) => (f === "i.yaml" ? text : undefined))).toEqual([
      { severity: "error", code: "unknown_stage", message: 'stage "biuld" not found', file: "i.yaml", line: 4, column: 11, endLine: 4, endColumn: 16, hint: 'did you mean "build"?' },
    ]);
  });
  it("DiagnosticError carries the list", () => {
    const e = new DiagnosticError([d, d]);
    expect(e.diagnostics).toHaveLength(2);
    expect(e.message).toBe('stage "biuld" not found (and 1 more error)');
  });
  it("suggests close names only", () => {
    expect(didYouMean("biuld", ["build", "test"])).toBe('did you mean "build"?');
    expect(didYouMean("copys", ["copy", "cmd"])).toBe('did you mean "copy"?');
    expect(didYouMean("zzz", ["build"])).toBeUndefined();
  });
});
