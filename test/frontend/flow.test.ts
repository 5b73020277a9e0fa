import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { compileDefinition } from "../../src/compile/index.js";
import { contextReader, runFrontend, type Bridge } from "../../src/frontend/frontend.js";
import { parseFrontendEnv } from "../../src/frontend/options.js";
import { DEFINITIONS_KEY, PLATFORMS_KEY, sha256Hex } from "../../src/frontend/result.js";
import {
  ReadFileResponseSchema,
  RefSchema,
  ResolveImageConfigResponseSchema,
  ResultSchema,
  ReturnResponseSchema,
  SolveResponseSchema,
  type ReturnRequest,
} from "../../src/gen/buildkit/gateway/gateway_pb.js";
import { type Definition } from "../../src/gen/buildkit/pb/ops_pb.js";
import { checkStructure, definitionBytes } from "../../src/llb/index.js";

const HELLO = readFileSync("test/fixtures/engine/hello/image.yaml");
const PIN = `sha256:${"ab".repeat(32)}`;
/** The hello fixture with its base image pinned by digest (tag kept). */
const HELLO_PINNED = Buffer.from(HELLO.toString("utf8").replace("from: caisson/debian:bookworm", `from: caisson/debian:bookworm@${PIN}`));
const BROKEN = readFileSync("test/fixtures/engine/broken/image.yaml");
const AMD64 = { os: "linux", architecture: "amd64" };

/**
 * A fake LLBBridge: ref "src" holds the definition file; every other solve gets ref "ref<n>".
 * ResolveImageConfig answers `imageDigest` for any reference; `calls` records the order of solves and resolves.
 */
function fakeBridge(file: Uint8Array, imageDigest = PIN) {
  const solved: Definition[] = [];
  const returned: ReturnRequest[] = [];
  const reads: string[] = [];
  const calls: string[] = [];
  const resolved: { Ref: string; ResolveMode: string; platform: string }[] = [];
  const bridge: Bridge = {
    resolveImageConfig: async (req) => {
      const platform = `${req.Platform?.OS}/${req.Platform?.Architecture}`;
      calls.push(`resolve ${req.Ref} ${platform}`);
      resolved.push({ Ref: req.Ref ?? "", ResolveMode: req.ResolveMode ?? "", platform });
      return create(ResolveImageConfigResponseSchema, { Digest: imageDigest, Config: new TextEncoder().encode("{}") });
    },
    solve: async (req) => {
      const def = req.Definition as Definition;
      calls.push("solve");
      solved.push(def);
      const id = solved.length === 1 ? "src" : `ref${solved.length - 1}`;
      return create(SolveResponseSchema, { result: create(ResultSchema, { result: { case: "ref", value: create(RefSchema, { id }) } }) });
    },
    readFile: async (req) => {
      reads.push(`${req.Ref}:${req.FilePath}`);
      if (req.FilePath?.endsWith(".lock.json")) throw new Error("no such file"); // no lockfile beside the definition
      return create(ReadFileResponseSchema, { Data: file });
    },
    return: async (req) => {
      returned.push(req);
      return create(ReturnResponseSchema);
    },
  };
  return { bridge, solved, returned, reads, calls, resolved };
}

const env = (extra: Record<string, string> = {}) =>
  parseFrontendEnv({ BUILDKIT_SESSION_ID: "sess-1", BUILDKIT_FRONTEND_OPT_0: "filename=image.yaml", ...extra }, AMD64);

describe("the frontend flow", () => {
  it("reads the definition from local://dockerfile of the build's session, like the Dockerfile frontend", async () => {
    const f = fakeBridge(HELLO);
    await runFrontend(f.bridge, env(), () => undefined);
    const ops = checkStructure(f.solved[0] as Definition);
    const src = ops.find((o) => o.op.op.case === "source");
    expect(src?.op.op.case === "source" && src.op.op.value).toMatchObject({
      identifier: "local://dockerfile",
      attrs: {
        "local.session": "sess-1",
        "local.followpaths": '["image.yaml","image.lock.json"]',
        "local.sharedkeyhint": "dockerfile",
        "local.differ": "none",
      },
    });
    // The lockfile is looked for because the definition names an image by tag (a moving reference).
    expect(f.reads).toEqual(["src:image.yaml", "src:image.lock.json"]);
  });

  it("solves exactly compileDefinition's definitions, and returns refs for every platform", async () => {
    const f = fakeBridge(HELLO);
    const outcome = await runFrontend(f.bridge, env(), () => undefined);
    expect(outcome.ok).toBe(true);
    const want = (await compileDefinition("image.yaml", HELLO.toString("utf8"), { buildPlatform: AMD64, localSession: "sess-1" })).results ?? [];
    expect(want).toHaveLength(2);
    expect(f.solved.slice(1).map((d) => Buffer.from(definitionBytes(d)).toString("hex"))).toEqual(
      want.map((w) => Buffer.from(definitionBytes(w.definition)).toString("hex")),
    );
    // The compiled definition's local sources name this build's session, so a concurrent
    // build solving an identical source cannot hand over its own context.
    for (const d of f.solved.slice(1)) {
      for (const o of checkStructure(d)) {
        if (o.op.op.case === "source" && o.op.op.value.identifier.startsWith("local://")) {
          expect(o.op.op.value.attrs["local.session"]).toBe("sess-1");
        }
      }
    }
    const result = f.returned[0]?.result;
    expect(result?.result.case).toBe("refs");
    if (result?.result.case !== "refs") return;
    expect(Object.keys(result.result.value.refs)).toEqual(["linux/amd64", "linux/arm64"]);
    expect(JSON.parse(new TextDecoder().decode(result.metadata[PLATFORMS_KEY]))).toMatchObject({ Platforms: [{ ID: "linux/amd64" }, { ID: "linux/arm64" }] });
    expect(JSON.parse(new TextDecoder().decode(result.metadata[DEFINITIONS_KEY]))).toEqual(
      Object.fromEntries(want.map((w) => [`${w.platform.os}/${w.platform.architecture}`, sha256Hex(definitionBytes(w.definition))])),
    );
  });

  it("one requested platform gives a single ref with containerimage.config", async () => {
    const f = fakeBridge(HELLO);
    await runFrontend(f.bridge, env({ BUILDKIT_FRONTEND_OPT_1: "platform=linux/arm64" }), () => undefined);
    const result = f.returned[0]?.result;
    expect(result?.result.case).toBe("ref");
    expect(JSON.parse(new TextDecoder().decode(result?.metadata["containerimage.config"]))).toMatchObject({ architecture: "arm64", os: "linux" });
  });

  it("returns diagnostics as an error status instead of solving", async () => {
    const f = fakeBridge(BROKEN);
    const outcome = await runFrontend(f.bridge, env(), () => undefined);
    expect(outcome.ok).toBe(false);
    expect(f.solved).toHaveLength(1); // only the definition's source
    const st = f.returned[0]?.error;
    expect(st?.message).toMatch(/^image\.yaml: 2 errors\nimage\.yaml:6:5: error\[unknown_key\]/);
    expect(st?.details.length).toBe(2);
  });

  it("turns a failing engine call into an error Return (never throws)", async () => {
    const f = fakeBridge(HELLO);
    f.bridge.readFile = async () => {
      throw new Error("no such file");
    };
    const outcome = await runFrontend(f.bridge, env(), () => undefined);
    expect(outcome.ok).toBe(false);
    expect(f.returned[0]?.error?.message).toBe("caisson frontend: no such file");
  });
});

describe("digest-pinned images", () => {
  it("resolves each pinned image by tag in local mode, per platform, before solving anything but the definition", async () => {
    const f = fakeBridge(HELLO_PINNED);
    const outcome = await runFrontend(f.bridge, env(), () => undefined);
    expect(outcome.ok).toBe(true);
    expect(f.resolved.length).toBeGreaterThan(0);
    for (const r of f.resolved) expect(r).toMatchObject({ Ref: "docker.io/caisson/debian:bookworm", ResolveMode: "local" });
    // every resolve happens after the definition's own solve and before the first platform's
    const firstPlatformSolve = f.calls.indexOf("solve", 1);
    expect(f.calls.lastIndexOf(f.calls.filter((c) => c.startsWith("resolve")).at(-1) as string)).toBeLessThan(firstPlatformSolve);
    // the solved bytes are still exactly compileDefinition's, and name the image by digest with resolvemode=local
    const want = (await compileDefinition("image.yaml", HELLO_PINNED.toString("utf8"), { buildPlatform: AMD64, localSession: "sess-1" })).results ?? [];
    expect(f.solved.slice(1).map((d) => Buffer.from(definitionBytes(d)).toString("hex"))).toEqual(
      want.map((w) => Buffer.from(definitionBytes(w.definition)).toString("hex")),
    );
    const images = f.solved
      .slice(1)
      .flatMap((d) => checkStructure(d))
      .flatMap((o) => (o.op.op.case === "source" && o.op.op.value.identifier.startsWith("docker-image://") ? [o.op.op.value] : []));
    expect(images.length).toBeGreaterThan(0);
    for (const i of images) {
      expect(i.identifier).toBe(`docker-image://docker.io/caisson/debian:bookworm@${PIN}`);
      expect(i.attrs).toEqual({ "image.resolvemode": "local" });
    }
  });

  it("refuses to build when the engine's image is not the pinned one, naming both digests", async () => {
    const other = `sha256:${"cd".repeat(32)}`;
    const f = fakeBridge(HELLO_PINNED, other);
    const outcome = await runFrontend(f.bridge, env(), () => undefined);
    expect(outcome.ok).toBe(false);
    expect(f.solved).toHaveLength(1); // only the definition's source
    const msg = f.returned[0]?.error?.message ?? "";
    expect(msg).toContain("the engine's image differs from the pin");
    expect(msg).toContain(PIN);
    expect(msg).toContain(other);
  });

  it("does not resolve tag-only images (the engine finds them by name)", async () => {
    const f = fakeBridge(HELLO);
    await runFrontend(f.bridge, env(), () => undefined);
    expect(f.resolved).toEqual([]);
  });
});

describe("contextReader", () => {
  it("fetches each context path once, from local://context of the build's session, only that path", async () => {
    const f = fakeBridge(new TextEncoder().encode("name: base\n"));
    const read = contextReader(f.bridge, env());
    expect(await read("./base/image.yaml")).toBe("name: base\n");
    expect(await read("base/image.yaml")).toBe("name: base\n");
    expect(f.solved).toHaveLength(1);
    const src = checkStructure(f.solved[0] as Definition).find((o) => o.op.op.case === "source");
    expect(src?.op.op.case === "source" && src.op.op.value).toMatchObject({
      identifier: "local://context",
      attrs: { "local.session": "sess-1", "local.followpaths": '["base/image.yaml"]', "local.differ": "none" },
    });
    expect(f.reads).toEqual(["src:base/image.yaml"]);
  });
});
