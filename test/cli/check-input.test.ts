// `caisson check` reads back every form its report prints (`caisson check <kind>:<ref>`),
// as well as a bare file, directory or engine reference.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkImage, renderReport } from "../../src/check/index.js";
import { checkInputFor } from "../../src/cli/check.js";

const tmp = mkdtempSync(join(tmpdir(), "caisson-check-input-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("caisson check <image>", () => {
  it("takes the kind:ref forms the report prints", async () => {
    const rootfs = join(tmp, "rootfs");
    mkdirSync(join(rootfs, "etc"), { recursive: true });
    const report = await checkImage({ kind: "dir", ref: rootfs });
    for (const input of [
      { kind: "dir", ref: rootfs },
      { kind: "engine", ref: "newuser/hello:1" },
      { kind: "engine", ref: "localhost:5000/hello@sha256:" + "a".repeat(64) },
      { kind: "oci-archive", ref: "out/hello.oci.tar" },
      { kind: "dir", ref: "/tmp/rootfs" },
    ] as const) {
      const printed = renderReport({ ...report, input }, { verbose: false });
      const form = /^caisson check (\S+)/m.exec(printed)?.[1];
      expect(form).toBe(`${input.kind}:${input.ref}`);
      expect(checkInputFor(form as string)).toEqual(input);
    }
  });

  it("takes bare paths and references by what they are; an existing path wins over a prefix", () => {
    const archive = join(tmp, "a.oci.tar");
    writeFileSync(archive, "");
    const dir = join(tmp, "dir:rootfs");
    mkdirSync(dir);
    expect(checkInputFor(archive)).toEqual({ kind: "oci-archive", ref: archive });
    expect(checkInputFor(tmp)).toEqual({ kind: "dir", ref: tmp });
    expect(checkInputFor("caisson/redis:7.0.15")).toEqual({ kind: "engine", ref: "caisson/redis:7.0.15" });
    expect(checkInputFor(dir)).toEqual({ kind: "dir", ref: dir });
    expect(checkInputFor("engine:")).toEqual({ kind: "engine", ref: "engine:" });
  });
});
