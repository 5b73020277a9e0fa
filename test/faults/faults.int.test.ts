// Fault injection on the real engine, through `caisson build` as users run it.
// Each case shows the error named, nothing half-written (no temporary sibling
// left next to the output) and the previous output intact:
//  - a store file removed mid-build;
//  - a store file that cannot be read (EIO: a symlink to /proc/self/mem is a
//    regular file to stat() and fails on read, even as root);
//  - a full output disk (a 1 MiB tmpfs mounted as the output's directory);
//  - the engine stopped mid-build (a throwaway containerd + dockerd with
//    their own roots and socket, killed while BuildKit downloads a source;
//    the machine's main dockerd is never touched).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOCKER, engineError, ensureDist, IN_CI, requireEngine, ROOT, sha256 } from "../e2e/helpers.js";
import { startThrowawayEngine, type ThrowawayEngine } from "../support/throwaway-engine.js";

const CLI = join(ROOT, "bin/caisson.js");

interface Run {
  readonly code: number;
  readonly stderr: string;
}

/** `caisson <args>`, calling `onStderr` with everything printed so far each time stderr grows. */
function caissonWatching(args: readonly string[], onStderr: (soFar: string) => void = () => undefined, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (b: Buffer) => {
      err += b.toString("utf8");
      onStderr(err);
    });
    child.on("error", fail);
    child.on("close", (code, signal) => done({ code: code ?? (signal ? 128 : 1), stderr: err }));
  });
}

/** The previous output (file or directory) is exactly as it was, and no temporary sibling is left beside it. */
function previousIntact(dest: string, expected: Readonly<Record<string, string>> | string): void {
  if (typeof expected === "string") expect(readFileSync(dest, "utf8"), `${dest} changed`).toBe(expected);
  else for (const [f, text] of Object.entries(expected)) expect(readFileSync(join(dest, f), "utf8"), `${dest}/${f} changed`).toBe(text);
  const parent = join(dest, "..");
  expect(readdirSync(parent).filter((f) => f.startsWith(".") && f.includes("caisson-")), `leftovers in ${parent}`).toEqual([]);
}

/** A definition whose only source is a store-only (Debian-style) file; its own context folder. */
function storeOnlyDefinition(dir: string, name: string, file: string, data: Buffer): string {
  mkdirSync(dir, { recursive: true });
  const def = join(dir, "image.yaml");
  writeFileSync(
    def,
    [
      `name: ${name}`,
      "platforms: [linux/amd64]",
      "sources:",
      "  payload:",
      `    debian: ${name}=1.0-1`,
      `    file: ${file}`,
      `    sha256: ${sha256(data)}`,
      "image:",
      "  copy:",
      `    - { from: payload, src: /${file}, dest: /${file} }`,
      "",
    ].join("\n"),
  );
  return def;
}

describe.skipIf(engineError !== undefined && !IN_CI)("faults on the real engine: named errors, nothing half-written, the previous output intact", () => {
  let tmp = "";
  const nonce = `${process.pid}-${Date.now()}`;

  beforeAll(() => {
    requireEngine();
    ensureDist();
    tmp = mkdtempSync(join(tmpdir(), "caisson-faults-"));
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("a store file removed mid-build: the build fails naming the file; the previous OCI archive is intact", async () => {
    // Unique bytes: BuildKit has never cached this hash, so it must ask the store.
    const data = Buffer.from(`removed mid-build ${nonce}\n`);
    const def = storeOnlyDefinition(join(tmp, "removed"), "fault-removed", "payload.txt", data);
    const store = join(tmp, "store-removed");
    mkdirSync(join(store, sha256(data)), { recursive: true });
    const storeFile = join(store, sha256(data), "payload.txt");
    writeFileSync(storeFile, data);
    const outDir = join(tmp, "out-removed");
    mkdirSync(outDir);
    const dest = join(outDir, "image.oci.tar");
    writeFileSync(dest, "the previous archive\n");

    let removedAt = "";
    const r = await caissonWatching(
      ["build", def, "--context", join(def, ".."), "--source-store", store, "-o", `oci=${dest}`, "--progress", "plain", "--no-check"],
      (soFar) => {
        // caisson has checked the store (the file was there) and started the engine: remove it now.
        if (!removedAt && soFar.includes("caisson: building ")) {
          rmSync(storeFile);
          removedAt = soFar.slice(soFar.lastIndexOf("caisson: building "));
        }
      },
    );
    expect(removedAt, "the build started with the file in the store").not.toBe("");
    expect(r.code, r.stderr).toBe(1);
    // BuildKit v0.13 takes the 404's body as the file and reports the digest mismatch; caisson names the cause.
    expect(r.stderr).toMatch(/^#\d+ source payload\n#\d+ ERROR: (digest mismatch|invalid response status 404)/m);
    expect(r.stderr).toContain(
      `caisson: the source store could not serve source "payload" (payload.txt, sha256 ${sha256(data)}): ${join(store, sha256(data))}: not in the source store ${store} (removed during the build?)`,
    );
    expect(r.stderr).not.toContain("internal error");
    previousIntact(dest, "the previous archive\n");
  });

  it("an unreadable store file: served as a 500, the build fails naming the file and the read error; the previous directory is intact", async () => {
    const data = Buffer.from(`unreadable ${nonce}\n`);
    const def = storeOnlyDefinition(join(tmp, "unreadable"), "fault-unreadable", "payload.txt", data);
    const store = join(tmp, "store-unreadable");
    mkdirSync(store);
    // stat() says regular file (so caisson's pre-build check finds it); read() fails with EIO, root or not.
    symlinkSync("/proc/self/mem", join(store, sha256(data)));
    const dest = join(tmp, "out-unreadable");
    mkdirSync(dest);
    writeFileSync(join(dest, "keep.txt"), "the previous export\n");

    const r = await caissonWatching(["build", def, "--context", join(def, ".."), "--source-store", store, "-o", `local=${dest}`, "--force", "--progress", "plain", "--no-check"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^#\d+ source payload\n#\d+ ERROR: (digest mismatch|invalid response status 500)/m);
    expect(r.stderr).toMatch(
      new RegExp(`caisson: the source store could not serve source "payload" \\(payload\\.txt, sha256 ${sha256(data)}\\): ${join(store, sha256(data)).replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: EIO: i/o error, read`),
    );
    expect(r.stderr).not.toContain("internal error");
    previousIntact(dest, { "keep.txt": "the previous export\n" });
    expect(readdirSync(dest)).toEqual(["keep.txt"]);
  });

  it("an empty PATH (no ldd, no docker, no buildx): caisson build needs none of them and touches no frontend image", async () => {
    const data = Buffer.from(`no ldd ${nonce}\n`);
    const def = storeOnlyDefinition(join(tmp, "no-ldd"), "fault-no-ldd", "payload.txt", data);
    const store = join(tmp, "store-no-ldd");
    mkdirSync(join(store, sha256(data)), { recursive: true });
    writeFileSync(join(store, sha256(data), "payload.txt"), data);
    const dest = join(tmp, "out-no-ldd");
    const before = spawnSync(DOCKER, ["image", "ls", "caisson/frontend", "--format", "{{.ID}} {{.Tag}}"], { encoding: "utf8" }).stdout;
    const r = await caissonWatching(["build", def, "--context", join(def, ".."), "--source-store", store, "-o", `local=${dest}`, "--progress", "plain", "--no-check"], undefined, { PATH: join(tmp, "empty-path") });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^#0 building with the Docker engine at unix:\/\/\S+$/m);
    expect(readFileSync(join(dest, "payload.txt"))).toEqual(data);
    expect(spawnSync(DOCKER, ["image", "ls", "caisson/frontend", "--format", "{{.ID}} {{.Tag}}"], { encoding: "utf8" }).stdout).toBe(before);
  });

  describe("a full output disk (1 MiB tmpfs)", () => {
    let mnt = "";
    let mounted = false;
    beforeAll(() => {
      mnt = join(tmp, "full");
      mkdirSync(mnt);
      const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt], { encoding: "utf8" });
      if (m.status !== 0) throw new Error(`mount -t tmpfs failed (the fault tests need root): ${m.stderr}`);
      mounted = true;
    });
    afterAll(() => {
      if (mounted) {
        const u = spawnSync("umount", [mnt], { encoding: "utf8" });
        if (u.status !== 0) spawnSync("umount", ["-l", mnt]);
      }
    });

    it("oci=FILE and local=DIR: 'no space left on device' named; the previous outputs intact, no temporary sibling left", async () => {
      // 3 MiB of random bytes: the layer cannot be compressed below the 1 MiB the tmpfs holds.
      const data = randomBytes(3 << 20);
      const def = storeOnlyDefinition(join(tmp, "full-def"), "fault-full", "payload.bin", data);
      const store = join(tmp, "store-full");
      mkdirSync(join(store, sha256(data)), { recursive: true });
      writeFileSync(join(store, sha256(data), "payload.bin"), data);

      const oci = join(mnt, "image.oci.tar");
      writeFileSync(oci, "the previous archive\n");
      const r1 = await caissonWatching(["build", def, "--context", join(def, ".."), "--source-store", store, "-o", `oci=${oci}`, "--progress", "plain", "--no-check"]);
      expect(r1.code, r1.stderr).toBe(1);
      expect(r1.stderr).toContain(`caisson: build of ${def} failed (exit 1): cannot write ${oci}: no space left on device; nothing was written`);
      previousIntact(oci, "the previous archive\n");

      const dir = join(mnt, "rootfs");
      mkdirSync(dir);
      writeFileSync(join(dir, "keep.txt"), "the previous export\n");
      const r2 = await caissonWatching(["build", def, "--context", join(def, ".."), "--source-store", store, "-o", `local=${dir}`, "--force", "--progress", "plain", "--no-check"]);
      expect(r2.code, r2.stderr).toBe(1);
      expect(r2.stderr).toContain(`cannot write ${dir}: no space left on device; nothing was written`);
      previousIntact(dir, { "keep.txt": "the previous export\n" });
      expect(readdirSync(dir)).toEqual(["keep.txt"]);
      expect(readdirSync(mnt).sort()).toEqual(["image.oci.tar", "rootfs"]);
    });
  });

  describe("the engine stopped mid-build (a throwaway engine)", () => {
    let engine: ThrowawayEngine | undefined;
    let slow: Server | undefined;
    const held: ServerResponse[] = [];

    afterAll(async () => {
      for (const res of held) res.destroy();
      await new Promise<void>((r) => (slow ? slow.close(() => r()) : r()));
      engine?.stop();
    });

    it("the daemon killed while BuildKit downloads a source: the stop is named; the previous archive is intact", async () => {
      const hostBridges = () => spawnSync("ip", ["-o", "link", "show", "type", "bridge"], { encoding: "utf8" }).stdout.split("\n").map((l) => l.split(":")[1]?.trim().split("@")[0] ?? "").filter(Boolean);
      const before = hostBridges();
      engine = await startThrowawayEngine(join(tmp, "engine"));
      // The machine's engine keeps its bridge (docker0): the throwaway one must not touch it.
      for (const b of before) expect(hostBridges(), `bridge ${b} of another engine`).toContain(b);
      const data = randomBytes(8 << 20);
      let requested!: () => void;
      const downloadStarted = new Promise<void>((r) => (requested = r));
      slow = createServer((req, res) => {
        // Headers and a first chunk, then nothing: the download hangs until the engine is gone.
        res.writeHead(200, { "content-length": data.length, "content-type": "application/octet-stream" });
        res.write(data.subarray(0, 64 * 1024));
        held.push(res);
        requested();
      });
      await new Promise<void>((r) => slow?.listen(0, "127.0.0.1", () => r()));
      const port = (slow.address() as AddressInfo).port;

      const dir = join(tmp, "engine-def");
      mkdirSync(dir);
      const def = join(dir, "image.yaml");
      writeFileSync(
        def,
        [
          "name: fault-engine",
          "platforms: [linux/amd64]",
          "sources:",
          `  slow: { url: "http://127.0.0.1:${port}/slow.bin", sha256: ${sha256(data)} }`,
          "image:",
          "  copy:",
          "    - { from: slow, src: /slow.bin, dest: /slow.bin }",
          "",
        ].join("\n"),
      );
      const outDir = join(tmp, "out-engine");
      mkdirSync(outDir);
      const dest = join(outDir, "image.oci.tar");
      writeFileSync(dest, "the previous archive\n");

      const build = caissonWatching(["build", def, "--context", dir, "-o", `oci=${dest}`, "--progress", "plain", "--no-check"], undefined, engine.env);
      const first = await Promise.race([downloadStarted.then(() => "download"), build.then((r) => `build ended first (exit ${r.code}):\n${r.stderr}`)]);
      expect(first).toBe("download");
      engine.killDaemon();
      const r = await build;
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`caisson: build of ${def} failed (exit 1): the Docker engine at ${engine.unix} stopped answering during the build (`);
      expect(r.stderr).toContain("nothing was written");
      expect(r.stderr).not.toContain("internal error");
      previousIntact(dest, "the previous archive\n");
    });
  });
});
