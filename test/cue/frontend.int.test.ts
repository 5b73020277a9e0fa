// A CUE definition through the caisson frontend on the real engine:
// `docker buildx build -f image.cue --build-arg BUILDKIT_SYNTAX=<frontend>`
// (a .cue file cannot start with `# syntax=`: CUE comments are `//`). The
// frontend image carries CUE's WebAssembly build; it solves exactly what
// compileDefinition gives for CUE's export, and reports CUE's errors at the
// .cue file's lines. Under CI=true a missing engine fails, never skips.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileDefinition, hostPlatform } from "../../src/compile/index.js";
import { evaluateCue } from "../../src/cue/index.js";
import { checkEngine, dockerBinary, ensureFrontendImage } from "../../src/engine/index.js";
import { sha256Hex } from "../../src/frontend/result.js";
import { definitionBytes, formatPlatform } from "../../src/llb/index.js";
import { IN_CI } from "../support/ci.js";

const DOCKER = dockerBinary();
const engineError = await checkEngine(DOCKER).then(
  () => undefined,
  (e: unknown) => (e instanceof Error ? e.message : String(e)),
);
const FIXTURE = resolve("test/fixtures/cue/hello");

function buildx(args: string[], cwd: string) {
  const r = spawnSync(DOCKER, ["buildx", "build", ...args], { cwd, encoding: "utf8", maxBuffer: 64 << 20 });
  return { code: r.status ?? 1, stderr: r.stderr };
}

describe.skipIf(engineError !== undefined && !IN_CI)("a CUE definition through the frontend on the real engine", () => {
  let frontend = "";
  const tmp = mkdtempSync(join(tmpdir(), "caisson-cue-int-"));

  beforeAll(async () => {
    if (engineError) throw new Error(`the engine is required under CI: ${engineError}`);
    frontend = (await ensureFrontendImage({ docker: DOCKER })).ref;
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("builds image.cue with BUILDKIT_SYNTAX, solving exactly what compileDefinition gives for CUE's export", async () => {
    const out = join(tmp, "out");
    const meta = join(tmp, "meta.json");
    const r = buildx(
      ["--progress=plain", "-f", "image.cue", "--build-arg", `BUILDKIT_SYNTAX=${frontend}`, "--platform", "linux/amd64", "--metadata-file", meta, "--output", `type=local,dest=${out}`, "."],
      FIXTURE,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(out, "hello.txt"), "utf8")).toBe("hello from caisson, in CUE\n");
    expect(readFileSync(join(out, "platform"), "utf8").trim()).toBe("linux/amd64");
    const m = JSON.parse(readFileSync(meta, "utf8")) as Record<string, string>;
    const session = (JSON.parse(m["frontend.caisson.runtime"] ?? "{}") as { session?: string }).session;
    const cue = await evaluateCue({ files: new Map([["image.cue", readFileSync(join(FIXTURE, "image.cue"), "utf8")]]), root: ".", entry: "image.cue", entryIsDir: false });
    expect(cue.exported?.file).toBe("image.cue.export.json");
    const local = await compileDefinition(cue.exported?.file ?? "", cue.exported?.text ?? "", {
      buildPlatform: hostPlatform(),
      platforms: [{ os: "linux", architecture: "amd64" }],
      ...(session ? { localSession: session } : {}),
    });
    const digests = Object.fromEntries((local.results ?? []).map((p) => [formatPlatform(p.platform), sha256Hex(definitionBytes(p.definition))]));
    expect(JSON.parse(m["frontend.caisson.definitions"] ?? "{}")).toEqual(digests);
  });

  it("reports CUE's conflict at the .cue file's line and column", () => {
    const dir = join(tmp, "conflict");
    cpSync(FIXTURE, dir, { recursive: true });
    const text = readFileSync(join(dir, "image.cue"), "utf8").replace('workdir: "/"\n', 'workdir: "/"\n\tworkdir: "/data"\n');
    writeFileSync(join(dir, "image.cue"), text);
    const line = text.split("\n").findIndex((l) => l.includes('"/data"')) + 1;
    const r = buildx(["--progress=plain", "-f", "image.cue", "--build-arg", `BUILDKIT_SYNTAX=${frontend}`, "--platform", "linux/amd64", "--output", "type=cacheonly", "."], dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`image.cue:${line}:11: error[cue_conflict]: image.workdir: conflicting values`);
  });

  it("says that it reads the file alone when the file imports a package of its module", () => {
    const dir = join(tmp, "imports");
    cpSync(FIXTURE, dir, { recursive: true });
    const text = readFileSync(join(dir, "image.cue"), "utf8");
    writeFileSync(join(dir, "image.cue"), text.replace(/^(package \S+\n)/m, '$1\nimport "caisson.local/schema"\n\n_s: schema.#Image\n'));
    const r = buildx(["--progress=plain", "-f", "image.cue", "--build-arg", `BUILDKIT_SYNTAX=${frontend}`, "--platform", "linux/amd64", "--output", "type=cacheonly", "."], dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("error[cue_import]");
    expect(r.stderr).toContain("the frontend reads only this file");
  });
});
