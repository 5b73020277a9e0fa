import { describe, expect, it } from "vitest";
import { error, formatDiagnostics, LineIndex, visible } from "../../src/diag/index.js";
import { decodeUtf8, loadDefinition, resolvePointer } from "../../src/load/index.js";
import type { YamlNode } from "../../src/load/index.js";

const codes = (file: string, text: string): string[] => loadDefinition(file, text).diagnostics.map((d) => d.code);
const slice = (text: string, span: { start: number; end: number }): string => new LineIndex(text).slice(span.start, span.end);

describe("loadDefinition", () => {
  it("keeps spans on keys and values", () => {
    const text = "name: redis\nimage:\n  entrypoint: [/redis-server]\n";
    const { doc, diagnostics } = loadDefinition("a.yaml", text);
    expect(diagnostics).toEqual([]);
    const root = doc.root as YamlNode;
    const name = resolvePointer(root, "/name");
    expect(slice(text, name.node.span)).toBe("redis");
    expect(slice(text, name.entry?.keySpan ?? { start: 0, end: 0 })).toBe("name");
    expect(slice(text, resolvePointer(root, "/image/entrypoint/0").node.span)).toBe("/redis-server");
    expect(slice(text, resolvePointer(root, "/image").entry?.span ?? { start: 0, end: 0 })).toBe("image:\n  entrypoint: [/redis-server]");
  });

  it("keeps plain scalars' source text (7.0 stays 7.0, 0755 stays 0755)", () => {
    const { doc } = loadDefinition("a.yaml", "version: 7.0\nmode: 0755\n");
    const root = doc.root as YamlNode;
    expect(resolvePointer(root, "/version").node).toMatchObject({ value: 7, text: "7.0", plain: true });
    expect(resolvePointer(root, "/mode").node).toMatchObject({ value: 755, text: "0755" });
  });

  it("reports duplicate keys with both places", () => {
    const text = "a: 1\nb: 2\na: 3\n";
    const { diagnostics } = loadDefinition("a.yaml", text);
    expect(diagnostics).toHaveLength(1);
    const d = diagnostics[0];
    expect(d?.code).toBe("duplicate_key");
    expect(d?.span.start).toBe(10);
    expect(d?.related?.[0]?.span.start).toBe(0);
  });

  it("reports tabs, aliases, anchors, custom tags, several documents, empty files", () => {
    expect(codes("a.yaml", "a:\n\tb: 1\n")).toContain("yaml_tab");
    expect(codes("a.yaml", "a: &x 1\nb: *x\n")).toEqual(["yaml_anchor", "yaml_alias"]);
    expect(codes("a.yaml", "a: !include x.yaml\n")).toEqual(["yaml_tag"]);
    expect(codes("a.yaml", "a: !!str 7\n")).toEqual(["yaml_tag"]);
    expect(codes("a.yaml", "a: 1\n---\nb: 2\n")).toEqual(["multiple_documents"]);
    expect(codes("a.yaml", "")).toEqual(["empty_definition"]);
    expect(codes("a.yaml", "# only a comment\n")).toEqual(["empty_definition"]);
    expect(codes("a.yaml", "a: [1, 2\n")).toContain("yaml_syntax");
    expect(codes("a.yaml", "[a]: 1\n")).toEqual(["yaml_key"]);
  });

  it("reports JSON syntax errors the JSON way, with a position", () => {
    const text = '{\n  "a": 1,\n}\n';
    const { diagnostics, doc } = loadDefinition("x.json", text);
    expect(doc.root).toBeUndefined();
    expect(diagnostics.map((d) => d.code)).toEqual(["json_syntax"]);
    expect(diagnostics[0]?.message).toMatch(/^invalid JSON: /);
    expect(new LineIndex(text).position(diagnostics[0]?.span.start ?? 0).line).toBe(3);
  });

  it("reads JSON with duplicate keys as an error", () => {
    expect(codes("x.json", '{"a": 1, "a": 2}')).toEqual(["duplicate_key"]);
  });

  it("never lets __proto__ change a prototype", () => {
    const { doc, diagnostics } = loadDefinition("a.yaml", "__proto__: { polluted: true }\n");
    expect(diagnostics).toEqual([]);
    expect(resolvePointer(doc.root as YamlNode, "/__proto__").node.kind).toBe("map");
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });

  it("measures spans in UTF-8 bytes", () => {
    const text = "a: ä\nb: x\n";
    const { doc } = loadDefinition("a.yaml", text);
    const b = resolvePointer(doc.root as YamlNode, "/b").node.span;
    expect(b.start).toBe(Buffer.byteLength("a: ä\nb: "));
    expect(slice(text, b)).toBe("x");
  });
});

describe("LineIndex", () => {
  it("derives 1-based lines and columns and 0-based characters", () => {
    const idx = new LineIndex("ab\ncd\n");
    expect(idx.position(0)).toEqual({ line: 1, column: 1, character: 0 });
    expect(idx.position(4)).toEqual({ line: 2, column: 2, character: 1 });
    expect(idx.position(6)).toEqual({ line: 3, column: 1, character: 0 });
    expect(idx.position(99)).toEqual({ line: 3, column: 1, character: 0 });
    expect(idx.lineText(2)).toBe("cd");
  });

  it("counts columns in code points and offsets in bytes", () => {
    const text = "é😀x\n";
    const idx = new LineIndex(text);
    expect(idx.byteLength).toBe(Buffer.byteLength(text));
    const xByte = Buffer.byteLength("é😀");
    expect(idx.position(xByte)).toEqual({ line: 1, column: 3, character: 2 });
    expect(idx.toByte(text.indexOf("x"))).toBe(xByte);
    expect(idx.toIndex(xByte)).toBe(text.indexOf("x"));
    expect(idx.slice(0, xByte)).toBe("é😀");
  });
});

describe("decodeUtf8", () => {
  it("decodes UTF-8 exactly, keeping a BOM", () => {
    expect(decodeUtf8(Buffer.from("\ufeffa: é😀\n"))).toBe("\ufeffa: é😀\n");
  });
  it("keeps each byte that is not UTF-8 as U+DC80–U+DCFF, never U+FFFD", () => {
    const t = decodeUtf8(Buffer.from([0x61, 0xe9, 0x62, 0xed, 0xa0, 0x80, 0xc3]));
    expect([...t].map((c) => c.charCodeAt(0).toString(16))).toEqual(["61", "dce9", "62", "dced", "dca0", "dc80", "dcc3"]);
    expect(loadDefinition("a.yaml", t).diagnostics.map((d) => [d.code, d.span.start])).toEqual([["invalid_encoding", 1]]);
  });
});

describe("printing hostile text", () => {
  it("shows invisible characters as escapes", () => {
    expect(visible("a\u001b[2J\u0000\u202e\u200b\u0085\udcff")).toBe("a\\x1b[2J\\x00\\u202e\\u200b\\x85\\xff");
  });
  it("clips long lines around the error and caps the number of diagnostics", () => {
    const line = `a: ${"x".repeat(100_000)} y\n`;
    const at = line.indexOf(" y") + 1;
    const d = error("x", "m", { file: "a.yaml", start: at, end: at + 1 }, { hint: "h" });
    const out = formatDiagnostics(Array.from({ length: 500 }, () => d), new Map([["a.yaml", line]]));
    expect(out.length).toBeLessThan(64 * 1024);
    expect(out).toContain("… and 450 more errors not shown");
    expect(out.split("\n")[2]).toMatch(/^ 1 \| …x+ y$/);
  });
});
