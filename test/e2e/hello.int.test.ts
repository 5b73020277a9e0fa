// The engine issue's first "must show": a C program from a local context,
// built for linux/amd64 and linux/arm64 by ONE `caisson build` through
// cross-compilation (no arm64 code runs during the build), shipped FROM
// scratch with only its libraries; the amd64 image runs under the runtime
// contract, the arm64 binary from the OCI export runs under qemu. Then a
// second, unchanged build is fully cached.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeElf } from "../../src/elf/index.js";
import {
  caisson,
  DOCKER,
  engineError,
  ensureDist,
  lockedFixture,
  IN_CI,
  layerEntries,
  parseProgress,
  readOciLayout,
  requireEngine,
  run,
  type CliResult,
  type OciImage,
} from "./helpers.js";

interface DumpedOp {
  op: {
    source?: { identifier: string };
    exec?: { meta: { args: string[] } };
    file?: unknown;
    platform?: { Architecture: string; OS: string };
  };
  metadata?: { description?: Record<string, string> };
}

const EM_X86_64 = 62;
const EM_AARCH64 = 183;

/** e_machine of an ELF file (little-endian, at offset 18), after checking the magic. */
function elfMachine(bytes: Uint8Array): number {
  expect([...bytes.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
  expect(bytes[4]).toBe(2); // ELFCLASS64
  expect(bytes[5]).toBe(1); // little-endian
  return (bytes[18] as number) | ((bytes[19] as number) << 8);
}

describe.skipIf(engineError !== undefined && !IN_CI)("hello: cross-compiled multi-arch image through `caisson build`", () => {
  const nonce = `${process.pid}-${Date.now()}`;
  const image = `caisson-e2e/hello:${nonce}`;
  let out = "";
  let ctx = "";
  let first: CliResult | undefined;
  let oci: OciImage[] = [];

  beforeAll(async () => {
    requireEngine();
    ensureDist();
    out = mkdtempSync(join(tmpdir(), "caisson-e2e-hello-out-"));
    // A fresh copy of the fixture plus a file unique to this run, so the
    // target-dependent steps really run (the apt stage stays cached between runs).
    ctx = await lockedFixture("hello");
    writeFileSync(join(ctx, "build-id"), `${nonce}\n`);
    first = await caisson([
      "build", join(ctx, "image.yaml"), "--context", ctx, "--platform", "linux/amd64,linux/arm64",
      "-o", `image=${image}`, "-o", `oci=${join(out, "hello.oci.tar")}`, "-o", `local=${join(out, "local")}`,
      "--progress", "plain",
    ]);
    process.stderr.write(`hello: first build (3 outputs) in ${first.seconds}s\n`);
    if (first.code === 0) oci = readOciLayout(join(out, "hello.oci.tar"), mkdtempOut("layout"));
  });

  function mkdtempOut(name: string): string {
    const d = join(out, name);
    mkdirSync(d, { recursive: true });
    return d;
  }

  afterAll(() => {
    spawnSync(DOCKER, ["image", "rm", "-f", image]);
    if (out) rmSync(out, { recursive: true, force: true });
    if (ctx) rmSync(ctx, { recursive: true, force: true });
  });

  it("builds both platforms in one invocation, compiling on x86_64 for each target", () => {
    expect(first?.code, first?.stderr).toBe(0);
    const stderr = first?.stderr ?? "";
    // Two solves for the three outputs: the OCI archive (checked) and the file outputs, which did the work,
    // then, once the check passed, the image store (all cached).
    const runs = parseProgress(stderr);
    expect(runs).toHaveLength(2);
    const said = (runs[0] ?? []).flatMap((v) => v.logs.filter((l) => l.startsWith("caisson-e2e: compiling on")));
    expect(said.sort()).toEqual([
      "caisson-e2e: compiling on x86_64 for linux/amd64 with x86_64-linux-gnu-gcc",
      "caisson-e2e: compiling on x86_64 for linux/arm64 with aarch64-linux-gnu-gcc",
    ]);
    // No step of any run executed on an arm64 CPU (emulated): `uname -m` never said aarch64.
    const everything = runs.flat().flatMap((v) => v.logs);
    expect(everything.filter((l) => /compiling on/.test(l) && !/compiling on x86_64 /.test(l))).toEqual([]);
    expect(stderr).not.toMatch(/runs under emulation/);
  });

  it("compiles every exec op of the arm64 image for the amd64 build platform", async () => {
    const r = await caisson(["compile", join(ctx, "image.yaml"), "--context", ctx, "--platform", "linux/arm64", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("emulation");
    const ops = JSON.parse(r.stdout) as DumpedOp[];
    const execs = ops.filter((d) => d.op.exec);
    expect(execs.length).toBeGreaterThanOrEqual(4); // apt, echo, compile, collect libraries
    for (const d of execs) expect(d.op.platform, d.metadata?.description?.["llb.customname"]).toEqual({ Architecture: "amd64", OS: "linux" });
    // The only image pulled is the base, for amd64; the arm64 image starts from scratch.
    for (const d of ops.filter((x) => x.op.source?.identifier.startsWith("docker-image://"))) {
      expect(d.op.platform?.Architecture).toBe("amd64");
    }
    // …and yet the compiler was the aarch64 cross compiler.
    expect(JSON.stringify(execs)).toContain("CC=aarch64-linux-gnu-gcc");
  });

  it("the amd64 image runs read-only, without capabilities or new privileges", () => {
    expect(first?.code).toBe(0);
    const r = spawnSync(
      DOCKER,
      ["run", "--rm", "--platform", "linux/amd64", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--network", "none", image],
      { encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("hello from caisson (x86_64)\n");
    const cfg = JSON.parse(run(DOCKER, ["image", "inspect", image, "--format", "{{json .Config}}"])) as Record<string, unknown>;
    expect(cfg).toMatchObject({ User: "65532:65532", Entrypoint: ["/hello"] });
  });

  it("the OCI export holds both platforms FROM scratch: the binary, its libraries, passwd/group, nothing else", () => {
    expect(oci.map((i) => i.platform).sort()).toEqual(["linux/amd64", "linux/arm64"]);
    for (const img of oci) {
      const entries = [...new Map(img.layers.flatMap((l) => [...layerEntries(l)])).keys()].sort();
      const triple = img.platform === "linux/arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
      expect(entries).toContain("hello");
      expect(entries).toContain(`lib/${triple}/libc.so.6`);
      expect(entries).toEqual(expect.arrayContaining(["etc/passwd", "etc/group"]));
      // No shell, no package manager, no /usr: only the program, its loader and libraries.
      for (const e of entries) expect(e, img.platform).toMatch(/^(etc|etc\/(passwd|group)|hello|lib|lib64|lib\/.*|lib64\/.*)$/);
      expect(img.config.config).toMatchObject({ User: "65532:65532", Entrypoint: ["/hello"] });
    }
  });

  it("the arm64 binary is a hardened aarch64 ELF and runs under qemu-aarch64 on its own root", () => {
    const arm = oci.find((i) => i.platform === "linux/arm64");
    expect(arm).toBeDefined();
    const rootfs = mkdtempOut("arm64-rootfs");
    for (const layer of arm?.layers ?? []) run("tar", ["-xzf", layer, "-C", rootfs]);
    const bin = readFileSync(join(rootfs, "hello"));
    expect(elfMachine(bin)).toBe(EM_AARCH64);
    // The same bytes as the local export's linux_arm64/.
    expect(bin.equals(readFileSync(join(out, "local/linux_arm64/hello")))).toBe(true);
    expect(elfMachine(readFileSync(join(out, "local/linux_amd64/hello")))).toBe(EM_X86_64);

    const r = spawnSync("qemu-aarch64-static", ["-L", rootfs, join(rootfs, "hello")], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("hello from caisson (aarch64)\n");

    // hardening: strict, on both targets.
    for (const [name, bytes] of [["arm64", bin], ["amd64", readFileSync(join(out, "local/linux_amd64/hello"))]] as const) {
      const rep = analyzeElf(bytes, name);
      expect({ pie: rep.pie, relro: rep.relro, bindNow: rep.bindNow, nx: rep.nx, canary: rep.canary, rpath: rep.rpath }, name).toEqual({
        pie: true, relro: "full", bindNow: true, nx: true, canary: true, rpath: [],
      });
      expect(rep.fortify.fortified, name).toContain("snprintf");
      // libc, and on aarch64 the loader too (it defines __stack_chk_guard).
      expect(rep.needed, name).toContain("libc.so.6");
      for (const lib of rep.needed) expect(lib, name).toMatch(/^(libc\.so\.6|ld-linux-aarch64\.so\.1)$/);
    }
  });

  it("a second, unchanged build is fully cached", async () => {
    const r = await caisson([
      "build", join(ctx, "image.yaml"), "--context", ctx, "-o", `local=${join(out, "again")}`, "--progress", "plain",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const [vertices = []] = parseProgress(r.stderr);
    // Every exec and file op of both platforms' LLB is in the progress, and CACHED.
    const names = new Set<string>();
    for (const platform of ["linux/amd64", "linux/arm64"]) {
      const c = await caisson(["compile", join(ctx, "image.yaml"), "--context", ctx, "--platform", platform, "--json"]);
      expect(c.code, c.stderr).toBe(0);
      for (const d of JSON.parse(c.stdout) as DumpedOp[]) {
        const name = d.metadata?.description?.["llb.customname"];
        if ((d.op.exec || d.op.file) && name) names.add(name);
      }
    }
    expect(names.size).toBeGreaterThanOrEqual(8);
    for (const name of names) {
      const v = vertices.find((x) => x.name === name);
      expect(v, `no vertex for ${name}`).toBeDefined();
      expect(v?.cached, `${name} was not cached`).toBe(true);
    }
    // Nothing else ran: the only vertices not CACHED are BuildKit's own bookkeeping
    // (reading the definition, resolving the base and frontend images, sending the context, exporting)
    // and the pinned .debs, whose cache keys BuildKit takes from their checksums without fetching
    // anything (reported DONE, not CACHED, since the store URL's port differs from the last build).
    const ran = vertices.filter((v) => !v.cached).map((v) => v.name);
    for (const name of ran) {
      expect(name).toMatch(/^(\[internal\] load |resolve image config for |image docker\.io\/caisson\/debian|docker-image:\/\/docker\.io\/caisson\/frontend:|source app$|deb [a-z0-9.+-]+_[^ ]+$|exporting to )/);
    }
    expect(vertices.find((v) => /: install \d+ Debian package/.test(v.name))?.cached, "the Debian install step is cached").toBe(true);
    expect(vertices.flatMap((v) => v.logs)).toEqual([]);
  });
});
