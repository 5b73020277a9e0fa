import { describe, expect, it } from "vitest";
import {
  FrontendOptionError,
  frontendOpts,
  parseFrontendEnv,
  parsePlatform,
  parsePlatformList,
  workersBuildPlatform,
} from "../../src/frontend/options.js";

const AMD64 = { os: "linux", architecture: "amd64" };

describe("frontend options", () => {
  it("collects BUILDKIT_FRONTEND_OPT_<i> in index order, splitting at the first '='", () => {
    const opts = frontendOpts({
      BUILDKIT_FRONTEND_OPT_10: "build-arg:X=a=b",
      BUILDKIT_FRONTEND_OPT_2: "filename=image.yaml",
      BUILDKIT_FRONTEND_OPT_0: "platform=linux/arm64",
      BUILDKIT_FRONTEND_OPT_1: "no-value",
      PATH: "/usr/bin",
    });
    expect([...opts]).toEqual([
      ["platform", "linux/arm64"],
      ["no-value", ""],
      ["filename", "image.yaml"],
      ["build-arg:X", "a=b"],
    ]);
  });

  it("normalises platforms the containerd way", () => {
    expect(parsePlatform("linux/x86_64")).toEqual(AMD64);
    expect(parsePlatform("linux/aarch64")).toEqual({ os: "linux", architecture: "arm64" });
    expect(parsePlatform("linux/arm64/v8")).toEqual({ os: "linux", architecture: "arm64" });
    expect(parsePlatform("linux/arm")).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
    expect(parsePlatform("Linux/ARM/v7")).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
    // Platforms caisson does not build for are refused, never given a made-up toolchain.
    expect(() => parsePlatform("Linux/ARM/v6")).toThrow(/not supported/);
    expect(() => parsePlatform("windows/amd64")).toThrow(/Linux images only/);
    expect(() => parsePlatform("linux/mips")).toThrow(FrontendOptionError);
    expect(parsePlatformList("linux/amd64, linux/arm64,")).toEqual([AMD64, { os: "linux", architecture: "arm64" }]);
    expect(() => parsePlatform("amd64")).toThrow(FrontendOptionError);
    expect(() => parsePlatform("linux//v7")).toThrow(FrontendOptionError);
  });

  it("takes the build platform from the first worker (Go's JSON field names)", () => {
    const workers = JSON.stringify([
      { ID: "w1", Labels: {}, Platforms: [{ architecture: "arm64", os: "linux" }, AMD64] },
      { ID: "w2", Platforms: [AMD64] },
    ]);
    expect(workersBuildPlatform(workers)).toEqual({ os: "linux", architecture: "arm64" });
    expect(workersBuildPlatform(undefined)).toBeUndefined();
    expect(workersBuildPlatform("[]")).toBeUndefined();
    expect(() => workersBuildPlatform("{")).toThrow(FrontendOptionError);
  });

  it("parses a whole environment as BuildKit sets it", () => {
    const o = parseFrontendEnv(
      {
        BUILDKIT_SESSION_ID: "sess1",
        BUILDKIT_WORKERS: JSON.stringify([{ ID: "x", Platforms: [{ os: "linux", architecture: "amd64" }] }]),
        BUILDKIT_FRONTEND_OPT_0: "filename=defs/image.yaml",
        BUILDKIT_FRONTEND_OPT_1: "platform=linux/amd64,linux/arm64",
        BUILDKIT_FRONTEND_OPT_2: "build-arg:GREETING=a, b",
        BUILDKIT_FRONTEND_OPT_3: "build-arg:BUILDKIT_SYNTAX=caisson/frontend:1",
      },
      { os: "linux", architecture: "riscv64" },
    );
    expect(o.sessionId).toBe("sess1");
    expect(o.filename).toBe("defs/image.yaml");
    expect(o.definitionLocal).toBe("dockerfile");
    expect(o.platforms).toEqual([AMD64, { os: "linux", architecture: "arm64" }]);
    expect(o.buildPlatform).toEqual(AMD64);
    expect(o.buildArgs.get("BUILDKIT_SYNTAX")).toBe("caisson/frontend:1");
    expect(o.buildArgs.get("GREETING")).toBe("a, b");
  });

  it("defaults: image.yaml, the definition's platforms, the fallback build platform", () => {
    const o = parseFrontendEnv({ BUILDKIT_SESSION_ID: "s" }, AMD64);
    expect(o.filename).toBe("image.yaml");
    expect(o.platforms).toBeUndefined();
    expect(o.buildPlatform).toEqual(AMD64);
  });

  it("reads caisson's build arguments: the definition's context path and the source mirror", () => {
    const o = parseFrontendEnv(
      {
        BUILDKIT_SESSION_ID: "s",
        BUILDKIT_FRONTEND_OPT_0: "filename=image.yaml",
        BUILDKIT_FRONTEND_OPT_1: "build-arg:CAISSON_DEFINITION=./images/hello/image.yaml",
        BUILDKIT_FRONTEND_OPT_2: "build-arg:CAISSON_SOURCE_MIRROR=http://127.0.0.1:41234",
      },
      AMD64,
    );
    expect(o.definitionName).toBe("images/hello/image.yaml");
    expect(o.filename).toBe("image.yaml");
    expect(o.sourceMirror).toBe("http://127.0.0.1:41234");
    expect(parseFrontendEnv({ BUILDKIT_SESSION_ID: "s" }, AMD64).definitionName).toBe("image.yaml");
    const bad = (k: string, v: string) => () =>
      parseFrontendEnv({ BUILDKIT_SESSION_ID: "s", BUILDKIT_FRONTEND_OPT_0: `build-arg:${k}=${v}` }, AMD64);
    expect(bad("CAISSON_DEFINITION", "../x.yaml")).toThrow(/inside the build context/);
    expect(bad("CAISSON_DEFINITION", "/abs.yaml")).toThrow(/inside the build context/);
    expect(bad("CAISSON_SOURCE_MIRROR", "file:///etc")).toThrow(/http/);
  });

  it("refuses a missing session and a filename that climbs out", () => {
    expect(() => parseFrontendEnv({}, AMD64)).toThrow(/BUILDKIT_SESSION_ID/);
    expect(() => parseFrontendEnv({ BUILDKIT_SESSION_ID: "s", BUILDKIT_FRONTEND_OPT_0: "filename=../x.yaml" }, AMD64)).toThrow(
      /leaves/,
    );
  });
});
