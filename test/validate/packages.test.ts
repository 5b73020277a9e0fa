// A stage `on: target` with packages by build architecture runs on each
// target platform: the map must list every target's architecture, or the
// definition is refused at validation (not locked, then failed at build).
import { describe, expect, it } from "vitest";
import { LineIndex } from "../../src/diag/index.js";
import { checkDefinition } from "../../src/validate/index.js";

const def = (platforms: string, packages: string, on = "target") =>
  `name: x\nplatforms: [${platforms}]\nstages:\n  t:\n    from: debian:bookworm@sha256:${"a".repeat(64)}\n    on: ${on}\n    packages: ${packages}\n    run: [hello]\nimage:\n  from: scratch\n  copy: [{ from: t, src: /usr/bin/hello, dest: /hello }]\n  check: { hardening: none }\n`;

const codes = (text: string) => checkDefinition("image.yaml", text).diagnostics.filter((d) => d.severity === "error");

describe("packages by architecture for a stage on: target", () => {
  it("refuses a map without the target's architecture, at the packages key, naming it", () => {
    const text = def("linux/amd64", "{ arm64: [hello] }");
    const errs = codes(text);
    expect(errs).toHaveLength(1);
    const [e] = errs;
    expect(e?.code).toBe("no_packages_for_build_arch");
    expect(e?.message).toBe('stage "t" runs on each target platform (on: target), and its packages list none for amd64 (only for arm64)');
    expect(e?.hint).toContain("amd64: [...]");
    const lines = new LineIndex(text);
    expect(text.slice(e?.span.start, e?.span.end)).toBe("packages");
    expect(lines.position(e?.span.start ?? 0).line).toBe(7);
    expect(checkDefinition("image.yaml", text).definition).toBeUndefined();
  });

  it("names every missing architecture", () => {
    const errs = codes(def("linux/amd64, linux/arm64, linux/arm/v7", "{ arm64: [hello] }"));
    expect(errs.map((e) => e.message)).toEqual(['stage "t" runs on each target platform (on: target), and its packages list none for amd64, armhf (only for arm64)']);
    expect(codes(def("linux/amd64", "{}")).map((e) => e.message)).toEqual(['stage "t" runs on each target platform (on: target), and its packages list none for amd64']);
  });

  it.each([
    ["every target listed", def("linux/amd64, linux/arm64", "{ amd64: [hello], arm64: [] }")],
    ["more architectures than targets", def("linux/amd64", "{ amd64: [hello], arm64: [hello] }")],
    ["the list form", def("linux/amd64", "[hello]")],
    ["on: build (its architecture is the build machine's, known at build time)", def("linux/amd64", "{ arm64: [hello] }", "build")],
  ])("accepts %s", (_what, text) => {
    expect(codes(text)).toEqual([]);
  });
});
