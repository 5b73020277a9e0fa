// caisson check on images the real engine builds: one Dockerfile, a target per
// broken rule, each exported with `docker buildx build --output type=oci` and
// checked; the good image passes on amd64 and arm64 and runs under the
// runtime contract it prints. Binaries are compiled on the host (gcc and
// aarch64-linux-gnu-gcc); glibc comes from the local base image
// docker.io/caisson/debian:bookworm. Under CI=true a missing engine fails.

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkImage, renderReport, runtimeContract, type CheckReport } from "../../src/check/index.js";
import { checkEngine, dockerBinary } from "../../src/engine/index.js";

import { IN_CI } from "../support/ci.js";
const DOCKER = dockerBinary();
const engineError = await checkEngine(DOCKER).then(
  () => undefined,
  (e: unknown) => (e instanceof Error ? e.message : String(e)),
);

const HARDENED = ["-O2", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong", "-fPIE", "-pie", "-Wl,-z,relro,-z,now"];
const HELLO = String.raw`
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
  char buf[64];
  strncpy(buf, argc > 1 ? argv[1] : "caisson", sizeof buf - 1);
  buf[sizeof buf - 1] = 0;
  printf("hello %s\n", buf);
  return 0;
}
`;
const EXTRA_LIB = "int extra(void) { return 42; }\n";
const NEEDS_EXTRA = String.raw`
#include <stdio.h>
int extra(void);
int main(void) { char b[32]; snprintf(b, sizeof b, "%d", extra()); puts(b); return 0; }
`;

// glibc from the base image at Debian's paths, per target architecture.
const DOCKERFILE = String.raw`
FROM caisson/debian:bookworm AS deb

FROM scratch AS libs-amd64
COPY --from=deb /usr/lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 /usr/lib/x86_64-linux-gnu/
COPY --from=deb /usr/lib64/ld-linux-x86-64.so.2 /lib64/

FROM scratch AS libs-arm64
COPY --from=deb /usr/lib/aarch64-linux-gnu/libc.so.6 /usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1 /usr/lib/aarch64-linux-gnu/
COPY --from=deb /usr/lib/ld-linux-aarch64.so.1 /lib/

FROM libs-$TARGETARCH AS good
ARG TARGETARCH
COPY etc/ /etc/
COPY --chown=65532:65532 data/ /data/
COPY --chmod=0755 hello-$TARGETARCH /hello
USER 65532:65532
VOLUME /data
WORKDIR /data
ENTRYPOINT ["/hello"]

FROM good AS root
USER 0:0

FROM good AS setuid
COPY --chmod=4755 hello-amd64 /usr/bin/suid

FROM good AS world-writable
COPY --chmod=0666 etc/passwd /etc/ww

FROM good AS missing-lib
COPY --chmod=0755 needs-extra /hello

FROM good AS wrong-arch
COPY --chmod=0755 hello-arm64 /hello-arm64

FROM good AS execstack
COPY --chmod=0755 hello-execstack /hello
`;

interface Case {
  readonly target: string;
  readonly rule: string;
  readonly path?: string;
}
const CASES: readonly Case[] = [
  { target: "root", rule: "user.root" },
  { target: "setuid", rule: "fs.setuid", path: "/usr/bin/suid" },
  { target: "world-writable", rule: "fs.world-writable", path: "/etc/ww" },
  { target: "missing-lib", rule: "elf.library-missing", path: "/hello" },
  { target: "wrong-arch", rule: "elf.arch", path: "/hello-arm64" },
  { target: "execstack", rule: "elf.nx", path: "/hello" },
];

function unwaivedErrors(r: CheckReport): { platform: string; rule: string; path?: string; message: string }[] {
  return r.platforms.flatMap((p) =>
    p.findings.filter((f) => f.severity === "error" && f.waived === undefined).map((f) => ({ platform: p.platform, rule: f.rule, ...(f.path ? { path: f.path } : {}), message: f.message })),
  );
}

describe.skipIf(engineError !== undefined && !IN_CI)("caisson check on images built by the real engine", () => {
  const ctx = mkdtempSync(join(tmpdir(), "caisson-check-int-"));
  const images: string[] = [];

  function buildx(args: string[]): void {
    const t0 = Date.now();
    const r = spawnSync(DOCKER, ["buildx", "build", "--progress=plain", ...args, "."], { cwd: ctx, encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`docker buildx build ${args.join(" ")} failed:\n${r.stderr.slice(-4000)}`);
    process.stderr.write(`buildx ${args.join(" ")}: ${(Date.now() - t0) / 1000}s\n`);
  }

  beforeAll(() => {
    if (engineError) throw new Error(`the engine is required under CI: ${engineError}`);
    const cc = (compiler: string, out: string, src: string, flags: string[], extra: string[] = []): void => {
      writeFileSync(join(ctx, `${out}.c`), src);
      execFileSync(compiler, [...flags, "-o", join(ctx, out), join(ctx, `${out}.c`), ...extra], { cwd: ctx, stdio: ["ignore", "ignore", "pipe"] });
    };
    cc("gcc", "hello-amd64", HELLO, HARDENED);
    cc("aarch64-linux-gnu-gcc", "hello-arm64", HELLO, HARDENED);
    cc("gcc", "hello-execstack", HELLO, [...HARDENED, "-Wl,-z,execstack"]);
    cc("gcc", "libextra.so", EXTRA_LIB, ["-O2", "-fPIC", "-shared", "-Wl,-z,relro,-z,now", "-Wl,-soname,libextra.so"]);
    cc("gcc", "needs-extra", NEEDS_EXTRA, HARDENED, ["-L.", "-lextra"]);
    mkdirSync(join(ctx, "etc"));
    writeFileSync(join(ctx, "etc/passwd"), "root:x:0:0:root:/root:/sbin/nologin\ncaisson:x:65532:65532:caisson:/data:/sbin/nologin\n");
    writeFileSync(join(ctx, "etc/group"), "root:x:0:\ncaisson:x:65532:\n");
    mkdirSync(join(ctx, "data"));
    writeFileSync(join(ctx, "data/.keep"), "");
    chmodSync(join(ctx, "data"), 0o755);
    writeFileSync(join(ctx, "Dockerfile"), DOCKERFILE);
  });
  afterAll(() => {
    rmSync(ctx, { recursive: true, force: true });
    for (const i of images) spawnSync(DOCKER, ["image", "rm", "-f", i]);
  });

  it("the good image passes on linux/amd64 and linux/arm64 (OCI archive with attestations)", async () => {
    buildx(["--target", "good", "--platform", "linux/amd64,linux/arm64", "--output", `type=oci,dest=${join(ctx, "good.tar")}`]);
    const r = await checkImage({ kind: "oci-archive", ref: join(ctx, "good.tar") });
    const text = renderReport(r);
    process.stderr.write(text);
    expect(unwaivedErrors(r), text).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.notes.some((n) => n.includes("attestation"))).toBe(true);
    expect(r.platforms.map((p) => p.platform)).toEqual(["linux/amd64", "linux/arm64"]);
    for (const p of r.platforms) {
      expect(p.user).toMatchObject({ uid: 65532, gid: 65532, name: "caisson" });
      expect(p.entrypoint).toBe("/hello");
      const hello = p.elves.find((e) => e.path === "/hello")!;
      expect(hello).toMatchObject({ role: "executable", machine: p.platform === "linux/amd64" ? "x86_64" : "aarch64", pie: true, relro: "full", canary: true, nx: true, fortify: "yes" });
      // Debian's libc is partial RELRO: a system library, reported as info.
      const libc = p.elves.find((e) => e.path.endsWith("/libc.so.6"))!;
      expect(libc).toMatchObject({ role: "system-library", relro: "partial", nx: true });
      expect(p.findings.some((f) => f.rule === "elf.relro" && f.severity === "info" && f.path === libc.path)).toBe(true);
    }
    expect(r.timings.totalMs).toBeLessThan(1000);
  });

  for (const c of CASES) {
    it(`rejects the ${c.target} image: ${c.rule}${c.path ? ` at ${c.path}` : ""}`, async () => {
      const out = join(ctx, `${c.target}.tar`);
      buildx(["--target", c.target, "--platform", "linux/amd64", "--output", `type=oci,dest=${out}`]);
      const r = await checkImage({ kind: "oci-archive", ref: out });
      const errs = unwaivedErrors(r);
      const text = renderReport(r, { elves: "flagged" });
      process.stderr.write(text);
      expect(r.ok).toBe(false);
      // Exactly the broken rule, nothing else.
      expect(errs.map((e) => ({ rule: e.rule, ...(e.path ? { path: e.path } : {}) })), text).toEqual([{ rule: c.rule, ...(c.path ? { path: c.path } : {}) }]);
      // The table names the rule and the file on one line.
      const line = text.split("\n").find((l) => /^\s+error\s/.test(l) && l.includes(c.rule));
      expect(line, text).toBeDefined();
      if (c.path) expect(line).toContain(c.path);
      if (c.target === "missing-lib") expect(errs[0]!.message).toContain("libextra.so");
      if (c.target === "wrong-arch") expect(errs[0]!.message).toMatch(/aarch64.*linux\/amd64/);
    });
  }

  it("engine input: the good image loaded into the engine passes, and runs under the contract it prints", async () => {
    const name = "caisson-check-int/good:1";
    images.push(name);
    buildx(["--target", "good", "--platform", "linux/amd64", "--output", `type=image,name=${name}`]);
    const r = await checkImage({ kind: "engine", ref: name });
    expect(unwaivedErrors(r), renderReport(r)).toEqual([]);
    const cfg = JSON.parse(execFileSync(DOCKER, ["image", "inspect", name, "--format", "{{json .Config}}"], { encoding: "utf8" })) as { User: string; Volumes: Record<string, object> };
    const contract = runtimeContract({ config: cfg }, { image: name, name: "hello" });
    for (const flag of ["--read-only", "--cap-drop ALL", "--security-opt no-new-privileges", "--user 65532:65532", "-v hello-data:/data"]) expect(contract).toContain(flag);
    // Run it with exactly those flags (anonymous volume instead of a named one, so nothing is left behind).
    const run = spawnSync(DOCKER, ["run", "--rm", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--user", "65532:65532", "-v", "/data", name, "contract"], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("hello contract\n");
  });

  it("engine input of a multi-platform Debian image: root, shells, package managers, setuid files on both platforms", async () => {
    const r = await checkImage({ kind: "engine", ref: "docker.io/caisson/debian:bookworm" });
    expect(r.platforms.map((p) => p.platform)).toEqual(["linux/amd64", "linux/arm64"]);
    for (const p of r.platforms) {
      const got = new Set(p.findings.filter((f) => f.severity === "error").map((f) => `${f.rule} ${f.path ?? ""}`.trim()));
      for (const want of ["user.root", "fs.shell /usr/bin/bash", "fs.shell /usr/bin/sh", "fs.package-manager /usr/bin/apt-get", "fs.package-manager /usr/bin/dpkg", "fs.setuid /usr/bin/su"]) expect(got).toContain(want);
      expect(p.findings.some((f) => f.rule === "elf.arch")).toBe(false);
    }
    process.stderr.write(`debian: ${r.summary.files} files, ${r.summary.elfFiles} ELF, ${r.timings.totalMs} ms (incl. docker save)\n`);
  });

  it("directory input: a multi-platform type=local export, checked against the image config", async () => {
    const dest = join(ctx, "local");
    buildx(["--target", "setuid", "--platform", "linux/amd64,linux/arm64", "--output", `type=local,dest=${dest}`]);
    const r = await checkImage({ kind: "dir", ref: dest }, { config: { config: { User: "65532:65532", Entrypoint: ["/hello"], Volumes: { "/data": {} } } } });
    expect(r.platforms.map((p) => p.platform)).toEqual(["linux/amd64", "linux/arm64"]);
    const errs = unwaivedErrors(r).map((e) => `${e.platform} ${e.rule} ${e.path ?? ""}`);
    // The amd64 setuid binary is in both platforms' trees: on arm64 it is also the wrong machine.
    expect(errs).toContain("linux/amd64 fs.setuid /usr/bin/suid");
    expect(errs).toContain("linux/arm64 fs.setuid /usr/bin/suid");
    expect(errs).toContain("linux/arm64 elf.arch /usr/bin/suid");
  });
});
