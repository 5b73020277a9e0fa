// The CUE Redis (images/redis/image.cue, over the #Hardened template) and
// images/redis/image.yaml compile to the same LLB for both platforms: the
// same ops and op metadata, byte for byte (so the same digests and the same
// build), with the same lockfile. Only the source map differs: it names the
// file each definition was read from. And schema/image.cue is what CUE's own
// JSON Schema import makes of schema/image.schema.json today.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readDefinition } from "../../src/cli/definition.js";
import { readContextFile } from "../../src/cli/io.js";
import { readLockBeside } from "../../src/cli/lock.js";
import { compileDefinition } from "../../src/compile/index.js";
import { cueSchema } from "../../src/cue/index.js";
import { definitionBytes } from "../../src/llb/index.js";
import type { Definition } from "../../src/gen/buildkit/pb/ops_pb.js";

const PLATFORMS = [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }] as const;

async function compile(path: string) {
  const src = await readDefinition(path);
  expect(src.diagnostics).toEqual([]);
  const { lock, lockPath } = await readLockBeside(src.lockBeside);
  const r = await compileDefinition(src.file, src.text ?? "", {
    buildPlatform: PLATFORMS[0],
    platforms: PLATFORMS,
    ...(lock ? { lock } : {}),
    lockPath,
    frozen: true,
    sourceMirror: "http://127.0.0.1:1",
    readContext: (p) => readContextFile(".", p),
  });
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return { lockPath, results: r.results ?? [], debPins: r.debPins };
}

/** The definition's bytes without its source map (which names the file it was read from). */
const withoutSource = (d: Definition): Uint8Array => definitionBytes({ ...d, Source: undefined });

describe("CUE Redis", () => {
  it("compiles to the same LLB as images/redis/image.yaml for linux/amd64 and linux/arm64, with the same lockfile", async () => {
    const yaml = await compile("images/redis/image.yaml");
    const cue = await compile("images/redis/image.cue");
    expect(cue.lockPath).toBe(yaml.lockPath);
    expect(cue.debPins).toEqual(yaml.debPins);
    expect(cue.results.map((r) => r.platform)).toEqual([...PLATFORMS]);
    for (const [i, y] of yaml.results.entries()) {
      const c = cue.results[i];
      if (!c) throw new Error(`no CUE result for ${y.platform.architecture}`);
      expect(Buffer.from(withoutSource(c.definition)).equals(Buffer.from(withoutSource(y.definition))), y.platform.architecture).toBe(true);
      expect(c.definition.def.map((b) => Buffer.from(b).toString("hex"))).toEqual(y.definition.def.map((b) => Buffer.from(b).toString("hex")));
      expect(c.config).toEqual(y.config);
      const files = c.definition.Source?.infos.map((f) => f.filename) ?? [];
      expect(files).toContain("images/redis/image.cue.export.json");
      expect(files).not.toContain("images/redis/image.yaml");
    }
  }, 60_000);

  it("schema/image.cue is CUE's import of schema/image.schema.json (run hack/cue-schema.sh after changing the JSON Schema)", async () => {
    const generated = await cueSchema(readFileSync("schema/image.schema.json", "utf8"));
    expect(generated === readFileSync("schema/image.cue", "utf8"), "schema/image.cue is stale: run hack/cue-schema.sh").toBe(true);
  }, 60_000);
});
