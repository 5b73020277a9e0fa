// Lowering per platform: the names an architecture goes by (src/platform)
// reach the toolchain and the library collector, and a platform caisson has
// no toolchain for is a named error, never a made-up triple.
import { describe, expect, it } from "vitest";
import { decodeDefinition, definitionBytes } from "../../src/llb/index.js";
import { compileModel } from "../../src/compile/index.js";
import { LowerError } from "../../src/lower/index.js";
import { checkDefinition } from "../../src/validate/index.js";

const TEXT = `name: hello
platforms: [linux/amd64, linux/386, linux/arm/v7]
sources:
  src: { path: . }
stages:
  build:
    from: caisson/debian:bookworm@sha256:${"a".repeat(64)}
    toolchain: { cc: gcc }
    mounts: { /src: src }
    run: [$CC -o /out/hello /src/hello.c]
image:
  copy: [{ from: build, src: /out/hello, dest: /hello, libraries: true }]
  entrypoint: [/hello]
`;
const BUILD = { os: "linux", architecture: "amd64" };

function execArgs(target: { os: string; architecture: string; variant?: string }): string[][] {
  const def = checkDefinition("image.yaml", TEXT).definition;
  if (!def) throw new Error("does not validate");
  const [r] = compileModel(def, { buildPlatform: BUILD, platforms: [target] });
  const out: string[][] = [];
  for (const { op } of decodeDefinition(definitionBytes(r!.definition)).ops) {
    if (op.op.case === "exec") out.push([...(op.op.value.meta?.args ?? []), ...(op.op.value.meta?.env ?? [])]);
  }
  return out;
}

describe("lowering per platform", () => {
  it("collects linux/386 libraries into Debian's i386-linux-gnu, with the i686-linux-gnu cross toolchain", () => {
    const execs = execArgs({ os: "linux", architecture: "386" });
    const collect = execs.find((a) => a[3] === "collect-libs");
    expect(collect?.slice(3, 6)).toEqual(["collect-libs", "i386-linux-gnu", "i686-linux-gnu"]);
    expect(execs.flat()).toContain("CC=i686-linux-gnu-gcc");
  });

  it("arm/v7 is armhf's triple in both places", () => {
    const collect = execArgs({ os: "linux", architecture: "arm", variant: "v7" }).find((a) => a[3] === "collect-libs");
    expect(collect?.slice(4, 6)).toEqual(["arm-linux-gnueabihf", "arm-linux-gnueabihf"]);
  });

  it.each([
    [{ os: "linux", architecture: "mips" }],
    [{ os: "windows", architecture: "amd64" }],
    [{ os: "linux", architecture: "arm", variant: "v6" }],
  ])("refuses to lower for %j", (target) => {
    const def = checkDefinition("image.yaml", TEXT).definition!;
    let caught: unknown;
    try {
      compileModel(def, { buildPlatform: BUILD, platforms: [target] });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(LowerError);
    expect((caught as LowerError).diagnostic.code).toBe("invalid_platform");
    expect((caught as LowerError).diagnostic.hint).toContain("linux/arm64");
  });
});
