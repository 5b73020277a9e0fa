// `caisson release` of a CUE definition, in-process (no engine): read and
// checked as `caisson build` reads it (CUE evaluated, diagnostics at the
// CUE, never the .cue parsed as YAML), and refused or let through exactly as
// its YAML twin is.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readDefinition } from "../../src/cli/definition.js";
import { definitionMaterials } from "../../src/cli/release.js";
import { runCli } from "../support/cli.js";

const VALID = 'name: "mini"\nversion: "1.0.0"\nplatforms: ["linux/amd64"]\nimage: {\n\tfrom: "scratch"\n\tcheck: hardening: "none"\n}\n';

describe("caisson release of a CUE definition", () => {
  const dir = mkdtempSync(join(tmpdir(), "caisson-release-cue-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (sub: string, name: string, text: string): string => {
    mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, sub, name), text);
    return join(dir, sub, name);
  };
  const release = (def: string, ...extra: string[]) => runCli("release", def, "--context", dirOf(def), "--verify", "--out", join(dirOf(def), "out"), ...extra);
  const dirOf = (f: string) => resolve(f, "..");

  it("reports a definition error once, at the CUE, not as YAML parse errors", async () => {
    const def = write("semantic", "image.cue", VALID.replace('"mini"', '"Mini"'));
    const r = await release(def);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/image\.cue:1:7: error\[invalid_name\]/);
    expect(r.stderr.match(/error\[/g)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/yaml_|json_syntax|internal error|\n\s+at |building/);
    expect(r.stderr).toContain("is not a valid definition (above); nothing was built");
  });

  it("reports CUE's own error (a conflict) at the CUE", async () => {
    const def = write("conflict", "image.cue", VALID + 'name: "other"\n');
    const r = await release(def);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/image\.cue:\d+:\d+: error\[cue_conflict\]/);
    expect(r.stderr).not.toMatch(/yaml_|internal error|\n\s+at |building/);
  });

  it("under --progress json, reports them as one JSON line of diagnostics", async () => {
    const def = write("json", "image.cue", VALID.replace('"mini"', '"Mini"'));
    const r = await release(def, "--progress", "json");
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n").map((l) => JSON.parse(l) as { type: string; diagnostics?: { file: string; code: string }[] });
    expect(lines[0]).toMatchObject({ type: "diagnostics", diagnostics: [expect.objectContaining({ file: def, code: "invalid_name" })] });
    expect(lines.at(-1)).toMatchObject({ type: "error" });
  });

  it("refuses a version that cannot tag the release at the CUE that set it, as for YAML", async () => {
    const def = write("plus", "image.cue", VALID.replace('"1.0.0"', '"7.0.15+dfsg"'));
    const r = await runCli("release", def, "--context", dirOf(def), "--to", "127.0.0.1:5000/x", "--out", join(dirOf(def), "out"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/image\.cue:2:10: error\[invalid_version\]: version "7\.0\.15\+dfsg" cannot be a tag/);
    expect(r.stderr).not.toMatch(/export\.json|internal error|\n\s+at |building/);
  });

  it("takes a valid one past reading and checking, to the checks just before the build, as its YAML twin", async () => {
    const afile = write("", "afile", "x");
    const cue = await runCli("release", "images/redis/image.cue", "--verify", "--out", afile);
    const yaml = await runCli("release", "images/redis/image.yaml", "--verify", "--out", afile);
    expect(cue.code).toBe(2);
    expect(cue.stderr).toMatch(/--out .*afile: .*afile exists and is not a directory/);
    expect(cue.stderr).not.toMatch(/error\[|yaml_|internal error|\n\s+at |building/);
    expect(cue).toEqual(yaml);
  });

  it("records in the provenance every .cue file the definition was evaluated from, the named one first, by its own sha256", async () => {
    const source = await readDefinition("images/redis/image.cue");
    const materials = definitionMaterials(source, (p) => relative(".", resolve(p)));
    expect(materials.map((m) => m.name)).toEqual(["images/redis/image.cue", "cue.mod/module.cue", "images/hardened/hardened.cue", "schema/image.cue"]);
    expect(materials.every((m) => m.uri === `file:${m.name}` && /^[0-9a-f]{64}$/.test(m.sha256))).toBe(true);
    const yaml = definitionMaterials(await readDefinition("images/redis/image.yaml"), (p) => p);
    expect(yaml.map((m) => m.name)).toEqual(["images/redis/image.yaml"]);
  });
});
