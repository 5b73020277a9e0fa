// The model produced from the valid fixtures: normalised values and defaults.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LineIndex } from "../../src/diag/index.js";
import { checkDefinition } from "../../src/validate/index.js";

const fixture = (name: string, file = "image.yaml"): { text: string; path: string } => {
  const path = join(import.meta.dirname, "..", "fixtures", "valid", name, file);
  return { text: readFileSync(path, "utf8"), path };
};

describe("model", () => {
  it("redis: every field normalised", () => {
    const { text } = fixture("redis");
    const { definition: d, diagnostics } = checkDefinition("redis.yaml", text);
    expect(diagnostics).toEqual([]);
    if (!d) throw new Error("no definition");
    const lines = new LineIndex(text);
    expect(d.name).toBe("redis");
    expect(d.version).toBe("7.0.15");
    expect(d.platforms).toEqual([{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }]);
    expect(d.sources).toMatchObject([{ kind: "http", name: "redis", filename: "7.0.15.tar.gz", extract: true }]);
    const build = d.stages[0];
    expect(build?.from).toMatchObject({ kind: "image", ref: expect.stringMatching(/^docker\.io\/caisson\/debian:bookworm@sha256:/) });
    expect(build?.toolchain).toMatchObject({ cc: "gcc", hardening: "strict" });
    expect(build?.env).toEqual([["MALLOC", "libc"]]);
    expect(build?.on).toBe("build");
    expect(build?.network).toBe("sandbox");
    expect(build?.mounts.map((m) => m.kind)).toEqual(["bind", "cache", "tmpfs"]);
    expect(build?.mounts[0]).toMatchObject({ dest: "/src", from: "redis", fromKind: "source", path: "/", readonly: true });
    expect(build?.mounts[1]).toMatchObject({ dest: "/root/.cache", id: "ccache", sharing: "locked" });
    expect(build?.run.map((r) => r.value)).toEqual(['make -j"$(nproc)" MALLOC=libc', "make install PREFIX=/out"]);
    expect(lines.slice(build?.run[1]?.span.start ?? 0, build?.run[1]?.span.end ?? 0)).toBe("make install PREFIX=/out");
    const img = d.image;
    expect(img.copy.map((c) => c.mode)).toEqual([0o755, 0o755]);
    expect(img.copy[0]).toMatchObject({ from: "build", fromKind: "stage", libraries: true });
    expect(img.user).toMatchObject({ uid: 65532, gid: 65532, name: "caisson" });
    expect(img.expose).toEqual(["6379/tcp"]);
    expect(img.env).toEqual([["REDIS_PORT", "6379"]]);
    expect(img.cmd).toEqual(["--port", "6379"]);
    expect(img.healthcheck).toEqual({ test: ["/usr/bin/redis-cli", "ping"], interval: 30e9, timeout: 5e9, startPeriod: 90e9, retries: 3 });
    expect(img.runtime).toEqual({ readOnly: true, capabilities: [], noNewPrivileges: true });
    expect(img.stopSignal).toBe("SIGTERM");
  });

  it("hello: defaults", () => {
    const { text } = fixture("hello");
    const { definition: d, diagnostics } = checkDefinition("hello.yaml", text);
    expect(diagnostics.map((x) => x.code)).toEqual(["unpinned_image"]);
    expect(d?.sources[0]).toMatchObject({ kind: "local", path: "examples/hello", exclude: ["*.o"] });
    expect(d?.stages[0]?.from).toMatchObject({ kind: "image", ref: "docker.io/caisson/debian:bookworm" });
    expect(d?.stages[0]?.toolchain?.hardening).toBe("strict");
    expect(d?.image.from.kind).toBe("scratch");
    expect(d?.image.user).toMatchObject({ uid: 65532, gid: 65532, name: "caisson" });
    expect(d?.image.runtime).toEqual({ readOnly: true, capabilities: [], noNewPrivileges: true });
    expect(d?.image.workdir).toBeUndefined();
  });

  it("json: platforms normalised, root with a reason, ports", () => {
    const { text } = fixture("json", "image.json");
    const { definition: d, diagnostics } = checkDefinition("image.json", text);
    expect(diagnostics).toEqual([]);
    expect(d?.version).toBe("1.0");
    expect(d?.platforms).toEqual([
      { os: "linux", architecture: "amd64" },
      { os: "linux", architecture: "arm64" },
      { os: "linux", architecture: "arm", variant: "v7" },
    ]);
    expect(d?.stages[1]?.from).toMatchObject({ kind: "stage", name: "deps" });
    expect(d?.stages[1]?.mounts[1]).toMatchObject({ from: "deps", fromKind: "stage", path: "/out" });
    expect(d?.image.user).toMatchObject({ uid: 0, gid: 0, name: "caisson", rootReason: "binds port 80 in a legacy setup" });
    expect(d?.image.expose).toEqual(["80/tcp", "53/udp"]);
    expect(d?.image.copy[0]?.mode).toBe(0o555);
  });

  it("imports-patches: imports, Debian source files, stage copies and patches", () => {
    const { text } = fixture("imports-patches");
    const { definition: d, diagnostics } = checkDefinition("image.yaml", text);
    expect(diagnostics).toEqual([]);
    if (!d) throw new Error("no definition");
    const lines = new LineIndex(text);
    expect(d.imports).toMatchObject([{ name: "builder", path: "images/debian-builder/image.yaml" }]);
    expect(lines.slice(d.imports[0]?.span.start ?? 0, d.imports[0]?.span.end ?? 0)).toBe("builder: images/debian-builder/image.yaml");
    expect(d.sources[0]).toEqual({
      kind: "http",
      name: "orig",
      debian: "redis=5:7.0.15-1~deb12u10",
      sha256: "fcb933106b6b621988f5c08e6575b6f046c65c6e7b6bfcd44520c66352a56186",
      filename: "redis_7.0.15.orig.tar.gz",
      extract: true,
      span: expect.anything(),
    });
    expect(d.sources[0]).not.toHaveProperty("url");
    const [build, config] = d.stages;
    expect(build?.from).toMatchObject({ kind: "import", name: "builder" });
    expect(lines.slice(build?.from.span.start ?? 0, build?.from.span.end ?? 0)).toBe("builder");
    expect(build?.copy).toMatchObject([
      { from: "orig", fromKind: "source", src: "/redis-7.0.15", dest: "/src/redis" },
      { from: "packaging", fromKind: "source", src: "/debian", dest: "/src/redis/debian" },
    ]);
    expect(build?.patches.map((p) => [p.from, p.path, p.strip])).toEqual([
      ["packaging", "/debian/patches/0002-Add-CPPFLAGS-to-upstream-makefiles.patch", 1],
      ["packaging", "/debian/patches/0003-Use-get_current_dir_name-over-PATHMAX-etc.patch", 1],
      ["local-patches", "/no-lto.patch", 0],
    ]);
    expect(build?.patches[2]?.sha256).toBe("a0fde963011374836c232265091f86178e806064be01f8f81abe195816b50153");
    expect(lines.slice(build?.patches[2]?.span.start ?? 0, build?.patches[2]?.span.end ?? 0)).toMatch(/^\{ from: local-patches, .* strip: 0 \}$/);
    expect(config?.copy).toMatchObject([{ from: "build", fromKind: "stage", src: "/src/redis/redis.conf" }]);
    expect(config?.patches).toEqual([]);
  });

  it("older definitions get empty imports, copies and patches", () => {
    const { text } = fixture("redis");
    const { definition: d } = checkDefinition("redis.yaml", text);
    expect(d?.imports).toEqual([]);
    expect(d?.stages[0]?.copy).toEqual([]);
    expect(d?.stages[0]?.patches).toEqual([]);
  });

  it("warns about an unused import; the image may start from an import", () => {
    const base = "name: app\nplatforms: [linux/amd64]\nimports:\n  base: images/base/image.yaml\n  extra: images/extra/image.json\n";
    const r = checkDefinition("image.yaml", `${base}image:\n  from: base\n`);
    expect(r.diagnostics.map((x) => [x.code, x.message])).toEqual([["unused_import", 'import "extra" is not used']]);
    expect(r.definition?.image.from).toMatchObject({ kind: "import", name: "base" });
  });

  it("a copy from another stage is a dependency (cycles are found through copies)", () => {
    const yaml = [
      "name: app",
      "platforms: [linux/amd64]",
      "stages:",
      "  a: { from: scratch, copy: [{ from: b, src: /x, dest: /x }], run: [make] }",
      "  b: { from: a, run: [make] }",
      "image: { from: b }",
    ].join("\n");
    expect(checkDefinition("image.yaml", yaml).diagnostics.map((x) => x.code)).toEqual(["stage_cycle"]);
  });
});
