import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDocument, isMap, type YAMLMap } from "yaml";
import { compileDefinition } from "../../src/compile/index.js";
import { decodeDefinition, definitionBytes, digestOf, dumpDefinition, formatPlatform } from "../../src/llb/index.js";
import { lockPathFor, parseLockfile } from "../../src/lock/index.js";

const BUILD = { os: "linux", architecture: "amd64" } as const;
const TARGETS = [BUILD, { os: "linux", architecture: "arm64" }] as const;
const VALID = "test/fixtures/valid";
const update = process.env["UPDATE"] === "1";

function definitionFile(dir: string): string {
  const name = readdirSync(dir).find((f) => /^image\.(ya?ml|json)$/.test(f));
  if (!name) throw new Error(`no image definition in ${dir}`);
  return join(dir, name);
}

async function compile(file: string, text: string) {
  const { results, diagnostics } = await compileDefinition(file, text, {
    buildPlatform: BUILD,
    platforms: TARGETS,
    sourceMirror: "http://127.0.0.1:8080",
    readContext: (path) => readFile(join(dirname(file), path), "utf8"),
    // The lockfile beside the fixture (image.lock.json), as `caisson compile` reads it.
    loadLock: async () => {
      const text = await readFile(lockPathFor(file), "utf8").catch(() => undefined);
      return text === undefined ? undefined : parseLockfile(text, lockPathFor(file));
    },
  });
  if (!results) throw new Error(`does not compile: ${JSON.stringify(diagnostics)}`);
  return results;
}

const cases = readdirSync(VALID).filter((d) => existsSync(join(VALID, d)));

describe.each(cases)("fixture %s", (name) => {
  const file = definitionFile(join(VALID, name));
  const text = readFileSync(file, "utf8");

  it("compiles to the checked-in LLB dump and digests (UPDATE=1 rewrites them)", async () => {
    for (const r of await compile(file, text)) {
      const p = formatPlatform(r.platform).replace(/\//g, "-");
      const dumpPath = join(VALID, name, `llb.${p}.json`);
      const dump = JSON.stringify(dumpDefinition(r.definition), null, 2) + "\n";
      const digest = digestOf(definitionBytes(r.definition)) + "\n";
      const digestPath = join(VALID, name, `llb.${p}.digest`);
      if (update) {
        writeFileSync(dumpPath, dump);
        writeFileSync(digestPath, digest);
      }
      // A golden file never creates itself: a missing one fails (UPDATE=1 writes it, to be reviewed and committed).
      for (const p of [dumpPath, digestPath]) expect(existsSync(p), `${p} is missing: run UPDATE=1 npx vitest run test/lower/golden.test.ts`).toBe(true);
      expect(dump).toBe(readFileSync(dumpPath, "utf8"));
      expect(digest).toBe(readFileSync(digestPath, "utf8"));
    }
  });

  it("is a structurally valid Definition for every platform", async () => {
    for (const r of await compile(file, text)) {
      const { ops } = decodeDefinition(definitionBytes(r.definition));
      expect(ops.at(-1)?.op.op.case).toBeUndefined();
    }
  });

  it("gives identical bytes when compiled twice", async () => {
    const a = (await compile(file, text)).map((r) => definitionBytes(r.definition));
    const b = (await compile(file, text)).map((r) => definitionBytes(r.definition));
    expect(b).toEqual(a);
  });

  it("gives identical ops whatever order map keys are written in", async () => {
    const ops = async (t: string) => (await compile(file, t)).map((r) => r.definition.def.map((d) => Buffer.from(d).toString("hex")));
    const expected = await ops(text);
    await fc.assert(
      fc.asyncProperty(fc.integer(), async (seed) => {
        const doc = parseDocument(text);
        let s = seed;
        const shuffle = (m: unknown) => {
          if (!isMap(m)) return;
          const items = (m as YAMLMap).items;
          for (let i = items.length - 1; i > 0; i--) {
            s = (s * 1103515245 + 12345) & 0x7fffffff;
            const j = s % (i + 1);
            [items[i], items[j]] = [items[j]!, items[i]!];
          }
        };
        shuffle(doc.contents);
        for (const key of ["sources", "stages"]) shuffle(doc.get(key));
        const image = doc.get("image");
        if (isMap(image)) shuffle(image.get("labels"));
        const shuffled = file.endsWith(".json") ? JSON.stringify(doc.toJS(), null, 2) : doc.toString();
        expect(await ops(shuffled)).toEqual(expected);
      }),
      { numRuns: 20 },
    );
  });
});

describe("cross-compilation", () => {
  it("lowers a target-independent stage to the same ops for every target", async () => {
    const file = definitionFile(join(VALID, "redis"));
    const [amd, arm] = await compile(file, readFileSync(file, "utf8"));
    const digests = (r: typeof amd) => new Set(r!.definition.def.map((d) => digestOf(d)));
    const shared = [...digests(amd)].filter((d) => digests(arm).has(d));
    expect(shared.length).toBeGreaterThan(0);
  });

  it("runs every exec of an arm64 image on the build platform unless asked", async () => {
    const file = definitionFile(join(VALID, "redis"));
    const arm = (await compile(file, readFileSync(file, "utf8")))[1]!;
    const { ops } = decodeDefinition(definitionBytes(arm.definition));
    const execs = ops.filter((o) => o.op.op.case === "exec");
    expect(execs.length).toBeGreaterThan(0);
    for (const e of execs) expect(e.op.platform?.Architecture).toBe("amd64");
    expect(arm.emulated).toEqual([]);
    expect(arm.config.architecture).toBe("arm64");
  });
});
