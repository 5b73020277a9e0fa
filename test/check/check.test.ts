// caisson check on synthetic images: tar reader, layers and whiteouts, OCI
// layouts, every policy rule, waivers, the renderers and the runtime contract.

import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import {
  checkImage,
  CheckError,
  checkPolicy,
  ImageFs,
  parsePlatform,
  readTar,
  renderReport,
  reportJson,
  runtimeContract,
  RULES,
  TarError,
  type CheckReport,
  type Finding,
  type Waiver,
} from "../../src/check/index.js";
import { EM_AARCH64, EM_X86_64, exe, GOOD_CONFIG, goodLayer, lib, makeOciArchive, makeTar, PASSWD, RWX, type TEntry } from "./helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "caisson-check-unit-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64" };

function archive(bytes: Uint8Array): string {
  const p = join(tmp, `img-${n++}.tar`);
  writeFileSync(p, bytes);
  return p;
}

/** Checks a one-platform amd64 image made of the good layer plus `extra` entries (and optional config overrides). */
async function check(extra: TEntry[] = [], config: Record<string, unknown> = {}, opts: { waivers?: Waiver[]; machine?: number } = {}): Promise<CheckReport> {
  const machine = opts.machine ?? EM_X86_64;
  const p = archive(makeOciArchive([{ platform: AMD64, config: { ...GOOD_CONFIG, ...config }, layers: [goodLayer(machine, extra)] }]));
  return checkImage({ kind: "oci-archive", ref: p }, { ...(opts.waivers ? { waivers: opts.waivers } : {}) });
}

function errors(r: CheckReport): { rule: string; path?: string }[] {
  return r.platforms
    .flatMap((p) => p.findings)
    .filter((f) => f.severity === "error" && f.waived === undefined)
    .map((f) => ({ rule: f.rule, ...(f.path ? { path: f.path } : {}) }));
}

describe("tar reader", () => {
  it("reads ustar prefixes, GNU long names and links, PAX paths and binary xattrs, base-256 ids", () => {
    const long = "d/" + "x".repeat(120) + "/file";
    const cap = Uint8Array.from([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const t = makeTar([
      { path: "./a/", type: "dir", mode: 0o755 },
      { path: long, data: "pax", long: "pax" },
      { path: "g/" + "y".repeat(120), data: "gnu", long: "gnu" },
      { path: "u/" + "z".repeat(80) + "/" + "w".repeat(60), data: "ustar", long: "ustar" },
      { path: "l", type: "symlink", link: "/" + "t".repeat(150), long: "gnu" },
      { path: "cap", data: "x", mode: 0o4755, xattrs: { "security.capability": cap } },
      { path: "big", data: "b", uid: 3_000_000, gid: 3_000_001, base256: true },
      { path: "hl", type: "hardlink", link: "./cap" },
    ]);
    const r = readTar(t);
    expect(r.map((x) => x.path)).toEqual(["a", long, "g/" + "y".repeat(120), "u/" + "z".repeat(80) + "/" + "w".repeat(60), "l", "cap", "big", "hl"]);
    expect(r[0]).toMatchObject({ type: "dir", mode: 0o755 });
    expect(Buffer.from(r[1]!.data).toString()).toBe("pax");
    expect(Buffer.from(r[2]!.data).toString()).toBe("gnu");
    expect(r[4]).toMatchObject({ type: "symlink", linkTarget: "/" + "t".repeat(150) });
    expect(r[5]!.mode).toBe(0o4755);
    expect([...r[5]!.xattrs!["security.capability"]!]).toEqual([...cap]);
    expect(r[6]).toMatchObject({ uid: 3_000_000, gid: 3_000_001 });
    expect(r[7]).toMatchObject({ type: "hardlink", linkTarget: "cap" });
  });

  it("rejects a bad checksum and truncated data with TarError", () => {
    const t = makeTar([{ path: "f", data: "hello" }]);
    const bad = Uint8Array.from(t);
    bad[0] = 0x41;
    expect(() => readTar(bad)).toThrow(TarError);
    expect(() => readTar(t.subarray(0, 512 + 2))).toThrow(/runs past the end/);
  });
});

describe("layers", () => {
  const apply = (...layers: TEntry[][]): ImageFs => {
    const fs = new ImageFs();
    for (const l of layers) fs.applyLayer(readTar(makeTar(l)));
    return fs;
  };

  it("applies whiteouts and opaque directories to lower layers only", () => {
    const fs = apply(
      [{ path: "a/x", data: "1" }, { path: "a/y", data: "1" }, { path: "b/old", data: "1" }, { path: "b/sub/deep", data: "1" }, { path: "c", data: "1" }],
      [
        { path: "a/.wh.x", data: "" },
        { path: "b", type: "dir" },
        { path: "b/new", data: "2" },
        { path: "b/.wh..wh..opq", data: "" }, // after the new file: still only hides lower layers
        { path: "c", data: "2" },
        { path: ".wh.c", data: "" }, // same-layer file survives its whiteout
      ],
    );
    const paths = [...fs.entries()].map((e) => e.path);
    expect(paths).toEqual(["/a", "/a/y", "/b", "/b/new", "/c"]);
    expect(fs.size).toBe(5);
  });

  it("follows symlinked parents (merged /usr), resolves hard links, replaces a dir by a file", () => {
    const fs = apply(
      [{ path: "usr/lib", type: "dir" }, { path: "lib", type: "symlink", link: "usr/lib" }, { path: "d/x", data: "1" }],
      [{ path: "lib/libz.so.1", data: lib("libz.so.1"), mode: 0o755 }, { path: "lib/hard", type: "hardlink", link: "lib/libz.so.1" }, { path: "d", data: "now a file" }],
    );
    expect(fs.lstat("/usr/lib/libz.so.1")).toMatchObject({ elf: true, mode: 0o755 });
    expect(fs.stat("/lib/libz.so.1")?.path).toBe("/usr/lib/libz.so.1");
    expect(fs.stat("/usr/lib/hard")).toMatchObject({ type: "file", elf: true });
    expect(fs.stat("/d")?.type).toBe("file");
    expect(fs.stat("/d/x")).toBeUndefined();
  });
});

describe("OCI archives", () => {
  it("walks the nested index, skips attestations, reads gzip and plain layers per platform", async () => {
    const p = archive(
      makeOciArchive([
        { platform: AMD64, config: GOOD_CONFIG, layers: [goodLayer(EM_X86_64)] },
        { platform: ARM64, config: GOOD_CONFIG, layers: [goodLayer(EM_AARCH64)], gzip: false },
      ]),
    );
    const r = await checkImage({ kind: "oci-archive", ref: p });
    expect(r.platforms.map((x) => x.platform)).toEqual(["linux/amd64", "linux/arm64"]);
    expect(r.notes.filter((x) => x.includes("attestation"))).toHaveLength(2);
    expect(errors(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.platforms[1]!.elves.map((e) => [e.path, e.machine, e.role])).toEqual([
      ["/app/server", "aarch64", "executable"],
      ["/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", "aarch64", "system-library"],
      ["/usr/lib/aarch64-linux-gnu/libc.so.6", "aarch64", "system-library"],
    ]);
    // Filtering and a platform the image lacks.
    const one = await checkImage({ kind: "oci-archive", ref: p }, { platforms: ["aarch64"] });
    expect(one.platforms.map((x) => x.platform)).toEqual(["linux/arm64"]);
    const miss = await checkImage({ kind: "oci-archive", ref: p }, { platforms: ["linux/riscv64"] });
    expect(errors(miss)).toEqual([{ rule: "platform.missing" }]);
  });

  it("applies layers in order (a later layer's whiteout removes a setuid file)", async () => {
    const l1 = goodLayer(EM_X86_64, [{ path: "usr/bin/su", data: "x", mode: 0o4755 }]);
    const l2 = makeTar([{ path: "usr/bin/.wh.su", data: "" }]);
    const p = archive(makeOciArchive([{ platform: AMD64, config: GOOD_CONFIG, layers: [l1, l2] }], { nested: false, attestations: false }));
    expect(errors(await checkImage({ kind: "oci-archive", ref: p }))).toEqual([]);
    const p1 = archive(makeOciArchive([{ platform: AMD64, config: GOOD_CONFIG, layers: [l1] }]));
    expect(errors(await checkImage({ kind: "oci-archive", ref: p1 }))).toEqual([{ rule: "fs.setuid", path: "/usr/bin/su" }]);
  });

  it("reads a docker save archive of the classic store (manifest.json)", async () => {
    const layer = goodLayer();
    const cfg = JSON.stringify({ architecture: "amd64", os: "linux", config: GOOD_CONFIG });
    const p = archive(makeTar([{ path: "manifest.json", data: JSON.stringify([{ Config: "c.json", Layers: ["l/layer.tar"] }]) }, { path: "c.json", data: cfg }, { path: "l/layer.tar", data: layer }]));
    const r = await checkImage({ kind: "oci-archive", ref: p });
    expect(r.platforms.map((x) => x.platform)).toEqual(["linux/amd64"]);
    expect(r.ok).toBe(true);
  });

  it("fails with CheckError on unreadable input", async () => {
    await expect(checkImage({ kind: "oci-archive", ref: join(tmp, "nope.tar") })).rejects.toThrow(CheckError);
    const p = archive(makeTar([{ path: "hello", data: "x" }]));
    await expect(checkImage({ kind: "oci-archive", ref: p })).rejects.toThrow(/neither an OCI layout/);
    await expect(checkImage({ kind: "oci-archive", ref: p }, { waivers: [{ rule: "no.such", reason: "x" }] })).rejects.toThrow(/no rule matches/);
    await expect(checkImage({ kind: "oci-archive", ref: p }, { waivers: [{ rule: "user.root", reason: " " }] })).rejects.toThrow(/reason is required/);
  });

  it("a corrupt or unsupported layer is a CheckError naming the layer, never an internal error", async () => {
    const img = (layer: Uint8Array, gzip = false) =>
      archive(makeOciArchive([{ platform: AMD64, config: GOOD_CONFIG, layers: [layer], gzip }]));
    const good = goodLayer();
    const gz = gzipSync(good);
    const cases: [string, Uint8Array, RegExp][] = [
      ["gzip cut in half", gz.subarray(0, gz.length >> 1), /corrupt compressed data/],
      ["gzip with garbage inside", Buffer.concat([gz.subarray(0, 20), Buffer.alloc(200, 0x55), gz.subarray(220)]), /corrupt compressed data|cannot be read/],
      ["not a tar", Buffer.alloc(4096, 0x41), /cannot be read/],
      ["a tar cut in half", good.subarray(0, 1536), /cannot be read/],
      ["zstd (Node 20 has no zstd)", Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(64)]), /zstd|cannot be read/],
    ];
    for (const [what, layer, message] of cases) {
      const err = await checkImage({ kind: "oci-archive", ref: img(layer) }).catch((e: unknown) => e);
      expect(err, what).toBeInstanceOf(CheckError);
      expect((err as Error).message, what).toMatch(/^layer sha256:[0-9a-f]{64} of linux\/amd64 cannot be read: /);
      expect((err as Error).message, what).toMatch(message);
    }
  });

  it("refuses a platform it does not know, like compile does", async () => {
    const p = archive(makeOciArchive([{ platform: AMD64, config: GOOD_CONFIG, layers: [goodLayer()] }]));
    for (const bad of ["garbage", "windows/amd64", "linux/mips", "linux/"]) {
      await expect(checkImage({ kind: "oci-archive", ref: p }, { platforms: [bad] }), bad).rejects.toThrow(CheckError);
    }
  });
});

describe("policy rules", () => {
  it("a good image passes; system libraries' partial RELRO and missing canary are info only", async () => {
    const r = await check();
    expect(errors(r)).toEqual([]);
    expect(r.ok).toBe(true);
    const infos = r.platforms[0]!.findings.filter((f) => f.severity === "info").map((f) => [f.rule, f.path]);
    expect(infos).toEqual(
      expect.arrayContaining([
        ["elf.relro", "/usr/lib/x86_64-linux-gnu/libc.so.6"],
        ["elf.canary", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"],
        ["fs.world-writable", "/tmp"],
      ]),
    );
    expect(r.platforms[0]).toMatchObject({ entrypoint: "/app/server", user: { uid: 65532, gid: 65532, name: "caisson" }, volumes: ["/data"] });
  });

  it("root user: an error unless waived; the waiver is reported", async () => {
    expect(errors(await check([], { User: "" }))).toEqual([{ rule: "user.root" }]);
    expect(errors(await check([], { User: "root" }))).toEqual([{ rule: "user.root" }]);
    const w = await check([], { User: "0:0" }, { waivers: [{ rule: "user.root", reason: "binds port 80, drops privileges itself" }] });
    expect(w.ok).toBe(true);
    expect(w.waivers).toEqual([{ rule: "user.root", reason: "binds port 80, drops privileges itself", used: 1 }]);
    expect(renderReport(w)).toContain("binds port 80, drops privileges itself");
  });

  it("user names resolve through /etc/passwd and /etc/group; unknown names and gid 0 are reported", async () => {
    const r = await check([], { User: "caisson" });
    expect(r.platforms[0]!.user).toMatchObject({ uid: 65532, gid: 65532, groups: [65532, 700] });
    expect(errors(await check([], { User: "nobody" }))).toEqual([{ rule: "user.unknown" }]);
    expect(errors(await check([], { User: "65532:nogroup" }))).toEqual([{ rule: "user.unknown" }]);
    const g0 = await check([], { User: "4242" });
    expect(g0.platforms[0]!.findings.map((f) => f.rule)).toContain("user.root-group");
  });

  it("setuid, setgid, file capabilities, world-writable", async () => {
    const r = await check([
      { path: "usr/bin", type: "dir" },
      { path: "usr/bin/suid", data: "x", mode: 0o4755 },
      { path: "usr/bin/sgid", data: "x", mode: 0o2755 },
      { path: "usr/bin/capped", data: "x", mode: 0o755, xattrs: { "security.capability": Uint8Array.from([1, 0, 0, 2]) } },
      { path: "etc/ww", data: "x", mode: 0o666 },
      { path: "var/spool", type: "dir", mode: 0o777 },
      { path: "etc/link", type: "symlink", link: "ww" },
      { path: "setgid-dir", type: "dir", mode: 0o2755 },
    ]);
    expect(errors(r)).toEqual(
      expect.arrayContaining([
        { rule: "fs.setuid", path: "/usr/bin/suid" },
        { rule: "fs.setgid", path: "/usr/bin/sgid" },
        { rule: "fs.capability", path: "/usr/bin/capped" },
        { rule: "fs.world-writable", path: "/etc/ww" },
        { rule: "fs.world-writable", path: "/var/spool" },
      ]),
    );
    expect(errors(r)).toHaveLength(5);
  });

  it("a named pipe or a device in the image is an error (caisson release would refuse it), named by path", async () => {
    const r = await check([
      { path: "app", type: "dir" },
      { path: "app/fifo", type: "fifo", mode: 0o644 },
      { path: "app/null", type: "char", mode: 0o644 },
      { path: "app/data", data: "x", mode: 0o644 },
    ]);
    expect(errors(r)).toEqual([
      { rule: "fs.special", path: "/app/fifo" },
      { rule: "fs.special", path: "/app/null" },
    ]);
    const f = r.platforms[0]!.findings.find((x) => x.path === "/app/fifo");
    expect(f?.message).toMatch(/^named pipe \(FIFO\): .*caisson release refuses it.*exclude:/);
    expect(r.platforms[0]!.findings.find((x) => x.path === "/app/null")?.message).toMatch(/^character device/);
  });

  it("files owned or group-writable by the runtime user outside the volumes; inside them is fine", async () => {
    const r = await check([
      { path: "app/config", data: "x", uid: 65532, gid: 65532, mode: 0o444 },
      { path: "app/shared", data: "x", uid: 0, gid: 700, mode: 0o664 },
      { path: "app/readonly-group", data: "x", uid: 0, gid: 65532, mode: 0o644 },
      { path: "data/db", data: "x", uid: 65532, gid: 65532, mode: 0o600 },
    ], { User: "65532" }); // in /etc/passwd: gid 65532 and supplementary group 700
    expect(errors(r)).toEqual([
      { rule: "fs.user-owned", path: "/app/config" },
      { rule: "fs.user-writable", path: "/app/shared" },
    ]);
  });

  it("shells and package managers, also as symlinks; waivable by path glob", async () => {
    const extra: TEntry[] = [
      { path: "bin/busybox", data: "x", mode: 0o755 },
      { path: "bin/sh", type: "symlink", link: "busybox" },
      { path: "usr/bin/dpkg", data: "x", mode: 0o755 },
      { path: "usr/share/doc/bash", data: "docs", mode: 0o644 },
      { path: "etc/cron.daily/dpkg", data: "#!/bin/sh\n", mode: 0o755 }, // not in a bin directory
    ];
    // /bin is a real directory here (not merged-usr).
    expect(errors(await check(extra))).toEqual([
      { rule: "fs.shell", path: "/bin/busybox" },
      { rule: "fs.shell", path: "/bin/sh" },
      { rule: "fs.package-manager", path: "/usr/bin/dpkg" },
    ]);
    const w = await check(extra, {}, { waivers: [{ rule: "fs.shell", path: "/bin/*", reason: "debug image" }, { rule: "fs.package-manager", path: "/usr/**", reason: "x" }] });
    expect(w.ok).toBe(true);
    expect(w.summary.waived).toBe(3);
  });

  it("entrypoint missing, not executable, found through PATH, a script whose interpreter is missing", async () => {
    expect(errors(await check([], { Entrypoint: ["/app/nope"] }))).toEqual([{ rule: "entrypoint.missing", path: "/app/nope" }]);
    expect(errors(await check([], { Entrypoint: null, Cmd: null }))).toEqual([{ rule: "entrypoint.missing" }]);
    expect(errors(await check([{ path: "app/ro", data: exe(), mode: 0o644 }], { Entrypoint: ["/app/ro"] }))).toEqual([{ rule: "entrypoint.not-executable", path: "/app/ro" }]);
    // Executable by its owner only, who is not the runtime user.
    expect(errors(await check([{ path: "app/own", data: exe(), mode: 0o700 }], { Entrypoint: ["/app/own"] }))).toEqual([{ rule: "entrypoint.not-executable", path: "/app/own" }]);
    const viaPath = await check([], { Entrypoint: ["server"], Env: ["PATH=/usr/bin:/app"] });
    expect(errors(viaPath)).toEqual([]);
    expect(viaPath.platforms[0]!.entrypoint).toBe("/app/server");
    expect(errors(await check([{ path: "app/run.sh", data: "#!/bin/sh\nexec /app/server\n", mode: 0o755 }], { Entrypoint: ["/app/run.sh"] }))).toEqual([
      { rule: "elf.interpreter-missing", path: "/app/run.sh" },
    ]);
    // Healthcheck program.
    expect(errors(await check([], { Healthcheck: { Test: ["CMD", "/app/probe"] } }))).toEqual([{ rule: "healthcheck.missing", path: "/app/probe" }]);
  });

  it("missing libraries and loader, for the entrypoint (errors, transitively) and other programs (warnings)", async () => {
    const r = await check([
      { path: "app/server", data: exe({ needed: ["libssl.so.3", "libc.so.6"] }), mode: 0o755 },
      { path: "usr/lib/x86_64-linux-gnu/libssl.so.3", data: lib("libssl.so.3", { needed: ["libcrypto.so.3"] }) },
      { path: "app/tool", data: exe({ needed: ["libfoo.so.1"] }), mode: 0o755 },
    ]);
    expect(errors(r)).toEqual([{ rule: "elf.library-missing", path: "/usr/lib/x86_64-linux-gnu/libssl.so.3" }]);
    const f = r.platforms[0]!.findings.find((x) => x.rule === "elf.library-missing" && x.severity === "error")!;
    expect(f.message).toMatch(/NEEDED libcrypto\.so\.3 not found.*searched .*\/lib\/x86_64-linux-gnu.*needed by the entrypoint/);
    expect(r.platforms[0]!.findings.filter((x) => x.severity === "warning").map((x) => [x.rule, x.path])).toEqual([["elf.library-missing", "/app/tool"]]);

    const noLoader = await check([], {}, {});
    expect(errors(noLoader)).toEqual([]);
    const p = archive(
      makeOciArchive([{ platform: AMD64, config: GOOD_CONFIG, layers: [makeTar([...PASSWD, { path: "app/server", data: exe(), mode: 0o755 }, { path: "data", type: "dir", uid: 65532 }])] }]),
    );
    const bare = await checkImage({ kind: "oci-archive", ref: p });
    expect(errors(bare)).toEqual([
      { rule: "elf.interpreter-missing", path: "/app/server" },
      { rule: "elf.library-missing", path: "/app/server" },
    ]);
  });

  it("RUNPATH with $ORIGIN finds a library, and is itself a violation", async () => {
    const r = await check([
      { path: "app/server", data: exe({ needed: ["libown.so", "libc.so.6"], runpath: "$ORIGIN/lib" }), mode: 0o755 },
      { path: "app/lib/libown.so", data: lib("libown.so", { relro: "full" }) },
    ]);
    expect(errors(r)).toEqual([{ rule: "elf.rpath", path: "/app/server" }]);
  });

  it("a library of the wrong machine is skipped in the search; wrong-arch binaries are errors", async () => {
    const r = await check([
      { path: "app/arm", data: exe({ machine: EM_AARCH64 }), mode: 0o755 },
      { path: "usr/local/lib/libc.so.6", data: lib("libc.so.6", { machine: EM_AARCH64, relro: "full" }) },
    ], { Env: ["LD_LIBRARY_PATH=/usr/local/lib"] });
    expect(errors(r)).toEqual([
      { rule: "elf.arch", path: "/app/arm" },
      { rule: "elf.arch", path: "/usr/local/lib/libc.so.6" },
    ]);
    const whole = await check([], {}, { machine: EM_AARCH64 });
    // Every ELF file is flagged (its libraries are not where an amd64 loader looks either).
    const archErrors = errors(whole).filter((e) => e.rule === "elf.arch").map((e) => e.path);
    expect(archErrors).toEqual(whole.platforms[0]!.elves.map((e) => e.path));
  });

  it("hardening of executables and non-system libraries: PIE, RELRO, canary, NX, FORTIFY, RPATH", async () => {
    const r = await check([
      { path: "app/nopie", data: exe({ pie: false }), mode: 0o755 },
      { path: "app/partial", data: exe({ relro: "partial" }), mode: 0o755 },
      { path: "app/norelro", data: exe({ relro: "none" }), mode: 0o755 },
      { path: "app/nocanary", data: exe({ canary: false }), mode: 0o755 },
      { path: "app/execstack", data: exe({ stack: RWX }), mode: 0o755 },
      { path: "app/nostack", data: exe({ stack: null }), mode: 0o755 },
      { path: "app/unfortified", data: exe({ fortify: "no" }), mode: 0o755 },
      { path: "app/nothing-to-fortify", data: exe({ fortify: "none" }), mode: 0o755 },
      { path: "app/rpath", data: exe({ rpath: "/opt/lib" }), mode: 0o755 },
      { path: "opt/lib/libmine.so", data: lib("libmine.so") },
      { path: "usr/lib/x86_64-linux-gnu/libexecstack.so", data: lib("libexecstack.so", { stack: RWX }) },
    ]);
    const key = (x: { rule: string; path?: string }): string => `${x.path} ${x.rule}`;
    expect(errors(r).map(key).sort()).toEqual([
      { rule: "elf.rpath", path: "/app/rpath" },
      { rule: "elf.pie", path: "/app/nopie" },
      { rule: "elf.relro", path: "/app/partial" },
      { rule: "elf.relro", path: "/app/norelro" },
      { rule: "elf.canary", path: "/app/nocanary" },
      { rule: "elf.nx", path: "/app/execstack" },
      { rule: "elf.nx", path: "/app/nostack" },
      { rule: "elf.fortify", path: "/app/unfortified" },
      { rule: "elf.relro", path: "/opt/lib/libmine.so" },
      { rule: "elf.nx", path: "/usr/lib/x86_64-linux-gnu/libexecstack.so" },
    ].map(key).sort());
    const rows = Object.fromEntries(r.platforms[0]!.elves.map((e) => [e.path, e]));
    expect(rows["/app/nothing-to-fortify"]!.fortify).toBe("n/a");
    expect(rows["/app/server"]).toMatchObject({ role: "executable", pie: true, relro: "full", canary: true, nx: true, fortify: "yes", fortified: 1, fortifiable: 2 });
    // hardening: none keeps machine and dependency rules only.
    const p = archive(makeOciArchive([{ platform: AMD64, config: GOOD_CONFIG, layers: [goodLayer(EM_X86_64, [{ path: "app/x", data: exe({ pie: false, stack: RWX }), mode: 0o755 }])] }]));
    expect((await checkImage({ kind: "oci-archive", ref: p }, { hardening: "none" })).ok).toBe(true);
  });

  it("unused waivers are warnings; a waiver with a path does not cover a finding without one", async () => {
    const r = await check([], { User: "0" }, { waivers: [{ rule: "user.root", path: "/x", reason: "nope" }, { rule: "elf.*", reason: "all elf" }] });
    expect(errors(r)).toEqual([{ rule: "user.root" }]);
    expect(r.findings.map((f) => f.rule)).toEqual(["waiver.unused", "waiver.unused"]);
  });

  it("checkPolicy is usable on its own", () => {
    const fs = new ImageFs();
    fs.applyLayer(readTar(goodLayer()));
    const res = checkPolicy({ fs, platform: AMD64, config: { config: GOOD_CONFIG }, hardening: "strict" });
    expect(res.findings.filter((f: Finding) => f.severity === "error")).toEqual([]);
  });

  it("every rule id is documented in docs/check.md", async () => {
    const { readFileSync } = await import("node:fs");
    const doc = readFileSync(new URL("../../docs/check.md", import.meta.url), "utf8");
    for (const r of RULES) expect(doc, r.id).toContain(`\`${r.id}\``);
  });
});

describe("directory input", () => {
  it("reads a root filesystem directory, and one subfolder per platform", async () => {
    const root = join(tmp, "local");
    for (const [arch, machine] of [["amd64", EM_X86_64], ["arm64", EM_AARCH64]] as const) {
      const d = join(root, `linux_${arch}`);
      mkdirSync(join(d, "app"), { recursive: true });
      writeFileSync(join(d, "app/server"), exe({ machine, needed: [], interp: null }));
      chmodSync(join(d, "app/server"), 0o755);
      writeFileSync(join(d, "app/suid"), "x");
      chmodSync(join(d, "app/suid"), 0o4755);
      symlinkSync("server", join(d, "app/link"));
    }
    const r = await checkImage({ kind: "dir", ref: root }, { config: { config: { User: "65532:65532", Entrypoint: ["/app/link"] } } });
    expect(r.platforms.map((p) => p.platform)).toEqual(["linux/amd64", "linux/arm64"]);
    for (const p of r.platforms) {
      expect(p.findings.filter((f) => f.severity === "error").map((f) => [f.rule, f.path])).toEqual([["fs.setuid", "/app/suid"]]);
      expect(p.entrypoint).toBe("/app/server");
    }
    // A single root without a config: platform guessed from the ELF files, config.missing warned.
    const single = await checkImage({ kind: "dir", ref: join(root, "linux_arm64") });
    expect(single.platforms[0]!.platform).toBe("linux/arm64");
    expect(single.platforms[0]!.findings.map((f) => f.rule)).toContain("config.missing");
  });
});

describe("rendering", () => {
  it("prints an ELF table, violations with file and rule, and a summary; JSON round-trips", async () => {
    const r = await check([{ path: "usr/bin/suid", data: "x", mode: 0o4755 }, { path: "app/execstack", data: exe({ stack: RWX }), mode: 0o755 }]);
    const t = renderReport(r);
    expect(t).toMatch(/FILE\s+ROLE\s+ARCH\s+PIE\s+RELRO\s+CANARY\s+NX\s+FORTIFY\s+RPATH/);
    expect(t).toMatch(/\/app\/server\s+exec\s+x86_64\s+yes\s+full\s+yes\s+yes\s+yes 1\/2\s+no/);
    expect(t).toMatch(/\/usr\/lib\/x86_64-linux-gnu\/libc\.so\.6\s+syslib\s+x86_64\s+-\s+partial/);
    expect(t).toMatch(/error\s+fs\.setuid\s+\/usr\/bin\/suid\s+setuid file/);
    expect(t).toMatch(/error\s+elf\.nx\s+\/app\/execstack/);
    expect(t).toMatch(/^FAIL: 1 platform\(s\), \d+ files, 4 ELF; 2 error\(s\)/m);
    const flagged = renderReport(r, { elves: "flagged" });
    expect(flagged).not.toMatch(/\/app\/server\s+exec/);
    expect(flagged).toContain("3 more ELF files without findings");
    const j = JSON.parse(reportJson(r)) as CheckReport;
    expect(j.ok).toBe(false);
    expect(j.platforms[0]!.findings.some((f) => f.rule === "fs.setuid")).toBe(true);
  });

  it("parses platforms the containerd way", () => {
    expect(parsePlatform("x86_64")).toEqual(AMD64);
    expect(parsePlatform("linux/arm64/v8")).toEqual(ARM64);
    expect(parsePlatform("linux/arm/v7")).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
    expect(() => parsePlatform("a/b/c/d")).toThrow(CheckError);
  });
});

describe("runtimeContract", () => {
  it("prints docker run flags, a compose service and a Kubernetes securityContext", () => {
    const s = runtimeContract({ user: { uid: 65532, gid: 65532 }, volumes: ["/data", "/tmp"], runtime: { readOnly: true, capabilities: ["CAP_NET_BIND_SERVICE"], noNewPrivileges: true } }, { image: "redis:7", name: "redis" });
    expect(s).toContain("--read-only");
    expect(s).toContain("--cap-drop ALL");
    expect(s).toContain("--cap-add NET_BIND_SERVICE");
    expect(s).toContain("--security-opt no-new-privileges");
    expect(s).toContain("--user 65532:65532");
    expect(s).toContain("--tmpfs /tmp:uid=65532,gid=65532,mode=0700");
    expect(s).toContain("-v redis-data:/data");
    expect(s).toMatch(/services:\n  redis:\n    image: redis:7\n    user: "65532:65532"\n    read_only: true\n    cap_drop: \[ALL\]\n    cap_add: \[NET_BIND_SERVICE\]/);
    expect(s).toContain('security_opt: ["no-new-privileges:true"]');
    for (const k of ["runAsNonRoot: true", "runAsUser: 65532", "readOnlyRootFilesystem: true", "allowPrivilegeEscalation: false", "drop: [ALL]", "type: RuntimeDefault"]) expect(s).toContain(k);
  });

  it("reads an OCI image config (User, Volumes, caisson.runtime.* labels)", () => {
    const s = runtimeContract({ config: { User: "0:0", Volumes: { "/var/lib/x": {} }, Labels: { "caisson.runtime.read-only": "false", "caisson.runtime.no-new-privileges": "true", "caisson.runtime.capabilities": "none" } } });
    expect(s).not.toContain("--read-only");
    expect(s).toContain("--user 0:0");
    expect(s).toContain("-v app-var-lib-x:/var/lib/x");
    expect(s).toContain("runAsNonRoot: false");
    expect(s).toContain("readOnlyRootFilesystem: false");
  });
});

