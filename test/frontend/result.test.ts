import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { RefSchema } from "../../src/gen/buildkit/gateway/gateway_pb.js";
import { assembleResult, CONFIG_KEY, DEFINITIONS_KEY, PLATFORMS_KEY, sha256Hex, type SolvedPlatform } from "../../src/frontend/result.js";

const dec = (b: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(b)) as unknown;
const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64" };
const ARMV7 = { os: "linux", architecture: "arm", variant: "v7" };

function solved(platform: typeof AMD64 | typeof ARMV7, id: string): SolvedPlatform {
  return {
    platform,
    ref: create(RefSchema, { id }),
    config: { architecture: platform.architecture, os: platform.os, config: { User: "65532:65532" } },
    definitionBytes: new TextEncoder().encode(id),
  };
}

describe("Result assembly", () => {
  it("one platform: ref + containerimage.config, no refs.platforms", () => {
    const r = assembleResult([solved(AMD64, "r1")]);
    expect(r.result.case).toBe("ref");
    expect(r.result.case === "ref" && r.result.value.id).toBe("r1");
    expect(dec(r.metadata[CONFIG_KEY])).toEqual({ architecture: "amd64", os: "linux", config: { User: "65532:65532" } });
    expect(r.metadata[PLATFORMS_KEY]).toBeUndefined();
    expect(dec(r.metadata[DEFINITIONS_KEY])).toEqual({ "linux/amd64": sha256Hex(new TextEncoder().encode("r1")) });
  });

  it("several platforms: refs by platform id, a config each, and refs.platforms", () => {
    const r = assembleResult([solved(AMD64, "a"), solved(ARM64, "b"), solved(ARMV7, "c")]);
    expect(r.result.case).toBe("refs");
    if (r.result.case !== "refs") return;
    expect(Object.fromEntries(Object.entries(r.result.value.refs).map(([k, v]) => [k, v.id]))).toEqual({
      "linux/amd64": "a",
      "linux/arm64": "b",
      "linux/arm/v7": "c",
    });
    expect(r.metadata[CONFIG_KEY]).toBeUndefined();
    expect(dec(r.metadata[`${CONFIG_KEY}/linux/arm/v7`])).toMatchObject({ architecture: "arm" });
    expect(dec(r.metadata[PLATFORMS_KEY])).toEqual({
      Platforms: [
        { ID: "linux/amd64", Platform: { architecture: "amd64", os: "linux" } },
        { ID: "linux/arm64", Platform: { architecture: "arm64", os: "linux" } },
        { ID: "linux/arm/v7", Platform: { architecture: "arm", os: "linux", variant: "v7" } },
      ],
    });
  });

  it("forceMulti keeps the multi-platform shape for a single platform", () => {
    const r = assembleResult([solved(ARM64, "only")], true);
    expect(r.result.case).toBe("refs");
    expect(dec(r.metadata[PLATFORMS_KEY])).toEqual({ Platforms: [{ ID: "linux/arm64", Platform: { architecture: "arm64", os: "linux" } }] });
  });

  it("rejects nothing to return, duplicate platforms and non-frontend extra keys", () => {
    expect(() => assembleResult([])).toThrow();
    expect(() => assembleResult([solved(AMD64, "a"), solved(AMD64, "b")])).toThrow(/twice/);
    expect(() => assembleResult([solved(AMD64, "a")], false, { "containerimage.x": 1 })).toThrow(/frontend\./);
    const r = assembleResult([solved(AMD64, "a")], false, { "frontend.caisson.runtime": { uid: 65532 } });
    expect(dec(r.metadata["frontend.caisson.runtime"])).toEqual({ uid: 65532 });
  });
});
