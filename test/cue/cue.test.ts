// CUE definitions: evaluated by CUE's WebAssembly build, errors at CUE's own
// positions, caisson's diagnostics on exported values placed at the CUE line
// that set them, package directories and module imports.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readDefinition } from "../../src/cli/definition.js";
import { formatDiagnostics, LineIndex, type Diagnostic } from "../../src/diag/index.js";
import { checkDefinition } from "../../src/validate/index.js";

const work = mkdtempSync(join(tmpdir(), "caisson-cue-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function write(files: Record<string, string>): string {
  const dir = mkdtempSync(join(work, "case-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** Every diagnostic as `file:line:col code`, CUE's and caisson's. */
async function diagnose(path: string): Promise<string[]> {
  const src = await readDefinition(path);
  const all: Diagnostic[] = [...src.diagnostics];
  if (src.text !== undefined) all.push(...(await src.point(checkDefinition(src.file, src.text).diagnostics)));
  return all.map((d) => {
    const text = src.texts.get(d.span.file) ?? "";
    const p = new LineIndex(text).position(d.span.start);
    return `${d.span.file.slice(work.length + 1).replace(/^case-[^/]+\//, "")}:${p.line}:${p.column} ${d.code}`;
  });
}

/** A valid definition (shared with the hostile cases): a comment line, `package h`, a blank line, then `name:`. */
const HELLO = readFileSync(join(import.meta.dirname, "../fixtures/cue/minimal.cue"), "utf8");

describe("CUE definitions", () => {
  it("a valid file exports the model's JSON", async () => {
    const dir = write({ "hello.cue": HELLO });
    const src = await readDefinition(join(dir, "hello.cue"));
    expect(src.diagnostics).toEqual([]);
    expect(src.file).toBe(join(dir, "hello.cue.export.json"));
    const checked = checkDefinition(src.file, src.text ?? "");
    expect(checked.diagnostics).toEqual([]);
    expect(checked.definition?.name).toBe("hostile");
    expect(src.lockBeside).toBe(join(dir, "hello.cue"));
  });

  it("a conflict is reported at CUE's positions, the definition's own value first", async () => {
    const dir = write({ "a.cue": "package x\n\nname: \"a\"\n", "b.cue": 'package x\n\n// a second file\nname: "b"\n' });
    const got = await diagnose(dir);
    expect(got).toEqual(["b.cue:4:7 cue_conflict"]);
    const src = await readDefinition(dir);
    const printed = formatDiagnostics(src.diagnostics, src.texts);
    expect(printed).toContain('name: conflicting values "b" and "a"');
    expect(printed).toMatch(/a\.cue:3:7|3 \| name: "a"/);
  });

  it("syntax errors, incomplete values and cycles carry positions", async () => {
    const syntax = write({ "s.cue": 'package s\nname: "x\n' });
    expect(await diagnose(join(syntax, "s.cue"))).toContain("s.cue:2:7 cue_syntax");
    // CUE prints no position for an incomplete value: caisson asks CUE where the field is.
    const incomplete = write({ "i.cue": `package i\n\nname: string\n${HELLO.split("\n").slice(4).join("\n")}` });
    expect(await diagnose(join(incomplete, "i.cue"))).toEqual(["i.cue:3:7 cue_incomplete"]);
    const cycle = write({ "c.cue": 'package c\nname: "x"\nimage: a: image\n' });
    const c = await diagnose(join(cycle, "c.cue"));
    expect(c.length).toBeGreaterThan(0);
    expect(c.every((l) => l.startsWith("c.cue:"))).toBe(true);
  });

  it("caisson's own diagnostics point at the CUE line that set the value", async () => {
    const text = HELLO.replace('entrypoint: ["/hi"]', 'entrypoint: ["/hi"]\n\tuser: "root"').replace('src: "/out/hi"', 'src: "/out/hi", bogus: 1');
    const dir = write({ "h.cue": text });
    const got = await diagnose(join(dir, "h.cue"));
    const lineOf = (needle: string): number => text.split("\n").findIndex((l) => l.includes(needle)) + 1;
    expect(got).toContain(`h.cue:${lineOf('user: "root"')}:8 invalid_user`);
    expect(got.some((l) => l.startsWith(`h.cue:${lineOf("bogus")}:`) && l.endsWith("unknown_key"))).toBe(true);
  });

  it("a package directory of a module imports the module's other packages", async () => {
    const dir = write({
      "cue.mod/module.cue": 'module: "example.local"\n',
      "tpl/tpl.cue": 'package tpl\n\n#Base: {\n\tplatforms: ["linux/amd64"]\n\timage: user: *"65532:65532" | string\n}\n',
      "app/a.cue": 'package app\n\nimport "example.local/tpl"\n\ntpl.#Base\n',
      "app/b.cue": `package app\n\n${HELLO.split("\n").slice(3).filter((l) => !l.startsWith("platforms")).join("\n")}`,
      "unrelated/huge.cue": "x".repeat(9 * 1024 * 1024),
    });
    const src = await readDefinition(join(dir, "app"));
    expect(src.diagnostics).toEqual([]);
    const checked = checkDefinition(src.file, src.text ?? "");
    expect(checked.diagnostics).toEqual([]);
    expect(checked.definition?.platforms).toEqual([{ os: "linux", architecture: "amd64" }]);
    expect([...src.texts.keys()].some((f) => f.includes("unrelated"))).toBe(false);
  });
});

describe("CUE loads only for .cue inputs", () => {
  it("no module outside src/cue imports it statically (YAML and JSON never start the evaluator)", async () => {
    const { readdirSync, readFileSync } = await import("node:fs");
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) {
          if (p !== join("src", "cue")) walk(p);
        } else if (/\.ts$/.test(e.name) && /^\s*import\s[^;]*from\s+"[./]*\/cue\/|^\s*export\s[^;]*from\s+"[./]*\/cue\//m.test(readFileSync(p, "utf8"))) offenders.push(p);
      }
    };
    walk("src");
    expect(offenders).toEqual([]);
  });
});
