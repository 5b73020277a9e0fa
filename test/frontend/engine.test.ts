import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildxArgs, failureReason, outputFlag, syntaxDirective } from "../../src/engine/build.js";
import { tar } from "../../src/engine/tar.js";

describe("engine: pure parts", () => {
  it("finds a # syntax= first line like BuildKit", () => {
    expect(syntaxDirective("# syntax=caisson/frontend:1\nname: x\n")).toBe("caisson/frontend:1");
    expect(syntaxDirective("#syntax = docker.io/caisson/frontend:latest\n")).toBe("docker.io/caisson/frontend:latest");
    expect(syntaxDirective("\uFEFF# syntax=a/b:c")).toBe("a/b:c");
    expect(syntaxDirective("name: x\n# syntax=caisson/frontend:1\n")).toBeUndefined();
  });

  it("maps outputs to --output values", () => {
    expect(outputFlag({ type: "docker", name: "x/y:1" }, "")).toBe("type=image,name=x/y:1");
    expect(outputFlag({ type: "oci", dest: "out.tar" }, "/tmp/t")).toBe("type=oci,dest=/tmp/t");
    expect(outputFlag({ type: "local", dest: "out" }, "/tmp/d")).toBe("type=local,dest=/tmp/d");
  });

  it("builds the buildx command line", () => {
    expect(
      buildxArgs({
        file: "/d/image.yaml",
        contextDir: "/c",
        frontend: "caisson/frontend:abc",
        platforms: ["linux/amd64", "linux/arm64"],
        output: "type=oci,dest=/t",
        progress: "plain",
        metadataFile: "/m.json",
        buildArgs: { A: "1" },
        noCache: true,
        provenance: false,
      }),
    ).toEqual([
      "buildx", "build", "--progress", "plain", "-f", "/d/image.yaml", "--metadata-file", "/m.json",
      "--build-arg", "BUILDKIT_SYNTAX=caisson/frontend:abc", "--build-arg", "A=1",
      "--platform", "linux/amd64,linux/arm64", "--no-cache", "--provenance=false", "--output", "type=oci,dest=/t", "/c",
    ]);
  });

  it("extracts the ERROR block from buildx output", () => {
    expect(failureReason("#1 ...\n#2 DONE\nERROR: failed to solve: image.yaml: 1 error\nimage.yaml:3:1: error[x]: y\n")).toBe(
      "ERROR: failed to solve: image.yaml: 1 error\nimage.yaml:3:1: error[x]: y",
    );
  });

  it("writes tar archives GNU tar reads back, byte-identically each time", () => {
    const entries = [
      { type: "dir" as const, path: "etc" },
      { type: "file" as const, path: "etc/passwd", data: Buffer.from("root:x:0:0::/:/x\n"), mode: 0o644 },
      { type: "file" as const, path: `deep/${"d".repeat(90)}/${"f".repeat(60)}`, data: Buffer.alloc(1000, 7), mode: 0o755, uid: 65532, gid: 65532 },
      { type: "symlink" as const, path: "bin", target: "usr/bin" },
    ];
    const a = tar(entries);
    expect(Buffer.compare(a, tar(entries))).toBe(0);
    expect(a.length % 512).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), "caisson-tar-"));
    try {
      writeFileSync(join(dir, "a.tar"), a);
      const listing = execFileSync("tar", ["-tvf", join(dir, "a.tar"), "--numeric-owner"], { encoding: "utf8", env: { ...process.env, TZ: "UTC" } });
      expect(listing).toMatch(/drwxr-xr-x 0\/0 +0 2025-01-01 00:00 etc\//);
      expect(listing).toMatch(/-rwxr-xr-x 65532\/65532 +1000 .* deep\/d+\/f{60}/);
      expect(listing).toMatch(/lrwxrwxrwx 0\/0 .* bin -> usr\/bin/);
      execFileSync("tar", ["-xf", join(dir, "a.tar"), "-C", dir]);
      expect(readFileSync(join(dir, "etc/passwd"), "utf8")).toBe("root:x:0:0::/:/x\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
