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
});
