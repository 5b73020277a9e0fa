// The flagship image on the real engine: ./hack/build.sh redis builds both
// platforms, then the image is run under the runtime contract and exercised
// with Debian's redis-tools, its binaries are checked with Debian's checksec,
// and the arm64 binary is run under qemu. Under CI=true a missing engine or
// tool fails these tests instead of skipping them.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeElf, isElf } from "../../src/elf/index.js";
import { checkEngine, dockerBinary } from "../../src/engine/index.js";

import { IN_CI } from "../support/ci.js";
const DOCKER = dockerBinary();
const engineError = await checkEngine(DOCKER).then(
  () => undefined,
  (e: unknown) => (e instanceof Error ? e.message : String(e)),
);
const IMAGE = "caisson/redis:7.0.15";
const OCI = "out/redis-7.0.15.oci.tar";

function run(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean; timeout?: number } = {}) {
  // Bounded: a server that accepts but never answers must fail the test, not hang it.
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, timeout: opts.timeout ?? 300_000, ...(opts.input ? { input: opts.input } : {}) });
  if (r.error) throw r.error;
  if (!opts.allowFail && r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function docker(...args: string[]) {
  return run(DOCKER, args).stdout.trim();
}

/** Runs redis-cli against a port, returning its raw output. */
function cli(port: number, ...args: string[]) {
  return run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 60_000 }).stdout.trim();
}

async function waitForPong(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "ping"], { encoding: "utf8", timeout: 3000 });
    if (r.stdout.trim() === "PONG") return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`redis on port ${port} never answered PONG`);
}

/** Starts the image under the runtime contract; returns the container id and its loopback port. */
function start(name: string, volume: string): { id: string; port: number } {
  const id = docker(
    "run", "-d", "--name", name,
    "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
    "-v", `${volume}:/data`, "-p", "127.0.0.1::6379", IMAGE,
  );
  const port = Number(docker("port", id, "6379/tcp").split("\n")[0]!.split(":").pop());
  return { id, port };
}

describe.skipIf(engineError !== undefined && !IN_CI)("images/redis on the real engine", () => {
  const tmp = mkdtempSync(join(tmpdir(), "caisson-redis-"));
  const containers: string[] = [];
  const volume = `caisson-redis-test-${process.pid}`;
  let rootfs = "";

  beforeAll(() => {
    if (engineError) throw new Error(`the engine is required under CI: ${engineError}`);
    for (const tool of ["redis-cli", "redis-benchmark", "checksec", "qemu-aarch64-static"]) {
      if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing: run hack/engine.sh`);
    }
    // The wrapper users type: both platforms, the engine's store and the OCI archive.
    const b = spawnSync("bash", ["hack/build.sh", "redis", "--progress", "plain"], { encoding: "utf8", maxBuffer: 256 << 20 });
    if (b.status !== 0) throw new Error(`hack/build.sh redis failed:\n${b.stderr.slice(-6000)}`);
    // The filesystem of each platform, from the same (fully cached) build.
    rootfs = join(tmp, "rootfs");
    const l = spawnSync(process.execPath, ["bin/caisson.js", "build", "images/redis/image.yaml", "-o", `local=${rootfs}`, "--progress", "quiet"], { encoding: "utf8" });
    if (l.status !== 0) throw new Error(`local export failed:\n${l.stderr}`);
  });

  afterAll(() => {
    for (const c of containers) spawnSync(DOCKER, ["rm", "-f", c]);
    spawnSync(DOCKER, ["volume", "rm", "-f", volume]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it("runs read-only, without capabilities, as its non-root user; answers PONG and round-trips SET/GET", async () => {
    const { id, port } = start(`caisson-redis-a-${process.pid}`, volume);
    containers.push(id);
    await waitForPong(port);
    const inspect = JSON.parse(docker("inspect", id))[0];
    expect(inspect.Config.User).toBe("65532:65532");
    expect(inspect.HostConfig.ReadonlyRootfs).toBe(true);
    expect(inspect.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(inspect.HostConfig.SecurityOpt).toContain("no-new-privileges");
    // The server process itself runs as 65532.
    expect(docker("top", id)).toMatch(/^65532\s+\d+.*redis-server/m);
    expect(cli(port, "set", "caisson", "hardened")).toBe("OK");
    expect(cli(port, "get", "caisson")).toBe("hardened");
  });

  it("keeps data written with SAVE in its volume across a container restart", async () => {
    const { id, port } = start(`caisson-redis-b-${process.pid}`, volume);
    containers.push(id);
    await waitForPong(port);
    expect(cli(port, "set", "survives", "restart")).toBe("OK");
    expect(cli(port, "save")).toBe("OK");
    docker("restart", id);
    const port2 = Number(docker("port", id, "6379/tcp").split("\n")[0]!.split(":").pop());
    await waitForPong(port2);
    expect(cli(port2, "get", "survives")).toBe("restart");
  });

  it("completes redis-benchmark on loopback", async () => {
    const { id, port } = start(`caisson-redis-c-${process.pid}`, `${volume}-bench`);
    containers.push(id);
    await waitForPong(port);
    const out = run("redis-benchmark", ["-h", "127.0.0.1", "-p", String(port), "-q", "-n", "20000", "-c", "20", "-t", "set,get"]).stdout;
    expect(out).toMatch(/SET: [\d.]+ requests per second/);
    expect(out).toMatch(/GET: [\d.]+ requests per second/);
    spawnSync(DOCKER, ["rm", "-f", id]);
    spawnSync(DOCKER, ["volume", "rm", "-f", `${volume}-bench`]);
  });

  it("has Debian's fix for CVE-2025-67733: CR/LF in an error reply no longer breaks the protocol", async () => {
    const { id, port } = start(`caisson-redis-d-${process.pid}`, `${volume}-cve`);
    containers.push(id);
    await waitForPong(port);
    // Unpatched 7.0.15 echoes the argument raw, so the client sees "a" and then a stray "b" line.
    const out = cli(port, "function", "list", "a\r\nb");
    expect(out).toBe("ERR Unknown argument a  b");
    spawnSync(DOCKER, ["rm", "-f", id]);
    spawnSync(DOCKER, ["volume", "rm", "-f", `${volume}-cve`]);
  });

  it("lists both platforms in the OCI archive's index", () => {
    const outer = JSON.parse(run("tar", ["-xOf", OCI, "index.json"]).stdout) as { manifests: { digest: string }[] };
    const inner = JSON.parse(run("tar", ["-xOf", OCI, `blobs/sha256/${outer.manifests[0]!.digest.slice(7)}`]).stdout) as {
      manifests: { platform?: { architecture: string; os: string } }[];
    };
    const platforms = inner.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).sort();
    expect(platforms).toEqual(["linux/amd64", "linux/arm64"]);
  });

  it("ships an aarch64 redis-server that prints its version under qemu-aarch64-static", () => {
    const arm = join(rootfs, "linux_arm64");
    const bin = join(arm, "usr/local/bin/redis-server");
    const head = readFileSync(bin).subarray(0, 20);
    expect(head.readUInt16LE(18)).toBe(183); // EM_AARCH64
    const out = run("qemu-aarch64-static", ["-L", arm, bin, "--version"]).stdout;
    expect(out).toMatch(/Redis server v=7\.0\.15/);
  });

  it.each(["linux_amd64", "linux_arm64"])("passes Debian's checksec for every compiled executable (%s)", (platform) => {
    for (const name of ["redis-server", "redis-cli"]) {
      const file = join(rootfs, platform, "usr/local/bin", name);
      expect(existsSync(file), file).toBe(true);
      const report = JSON.parse(run("checksec", ["--format=json", `--file=${file}`]).stdout)[file];
      expect(report, `${platform}/${name}`).toMatchObject({
        relro: "full",
        canary: "yes",
        nx: "yes",
        pie: "yes",
        rpath: "no",
        runpath: "no",
        fortify_source: "yes",
      });
    }
  });

  it.each(["linux_amd64", "linux_arm64"])("caisson's ELF reader agrees with Debian's checksec on every ELF file (%s)", (platform) => {
    const root = join(rootfs, platform);
    const files = run("find", [root, "-type", "f"]).stdout.trim().split("\n").filter((f) => isElf(readFileSync(f)));
    expect(files.length).toBeGreaterThanOrEqual(5);
    const pick = (c: Record<string, unknown>, f: string, n: string, a: string) =>
      [c["relro"], c["canary"], c["nx"], c["pie"], c["rpath"], c["runpath"], `${c[f]}/${c[n]}/${c[a]}`].join(" ");
    for (const file of files) {
      const theirs = JSON.parse(run("checksec", ["--format=json", `--file=${file}`]).stdout)[file] as Record<string, unknown>;
      const ours = analyzeElf(readFileSync(file), file).checksec as unknown as Record<string, unknown>;
      expect(pick(ours, "fortifySource", "fortified", "fortifiable"), file).toBe(pick(theirs, "fortify_source", "fortified", "fortify-able"));
    }
    process.stderr.write(`${platform}: caisson and checksec agree on ${files.length}/${files.length} ELF files x 7 properties\n`);
  });

  it.each(["amd64", "arm64"])("holds only the server, the client, their libraries, passwd/group and /data (%s)", (arch) => {
    // Owners and modes as the image's layers record them (a local export re-owns files).
    const blob = (digest: string) => `blobs/sha256/${digest.slice(7)}`;
    const json = (path: string) => JSON.parse(run("tar", ["-xOf", OCI, path]).stdout);
    const index = json(blob(json("index.json").manifests[0].digest));
    const entry = index.manifests.find((m: { platform?: { architecture: string } }) => m.platform?.architecture === arch);
    const manifest = json(blob(entry.digest));
    const files: string[] = [];
    for (const layer of manifest.layers as { digest: string }[]) {
      const listing = execFileSync("sh", ["-c", `tar -xOf "$0" "$1" | tar -tvzf - --numeric-owner`, OCI, blob(layer.digest)], { encoding: "utf8" });
      for (const line of listing.trim().split("\n")) {
        const [mode, owner, , , , ...rest] = line.split(/\s+/);
        files.push(`${rest.join(" ").replace(/^\.\//, "").replace(/\/$/, "")} ${owner} ${mode}`);
      }
    }
    expect(files).toContain("data 65532/65532 drwxr-xr-x");
    expect(files).toContain("etc/passwd 0/0 -rw-r--r--");
    expect(files).toContain("usr/local/bin/redis-server 0/0 -rwxr-xr-x");
    const bins = files.filter((f) => /^usr\/local\/bin\/./.test(f)).map((f) => f.split(" ")[0]).sort();
    expect(bins).toEqual(["usr/local/bin/redis-cli", "usr/local/bin/redis-server"]);
    // Nothing else writable by the runtime user, no shell, no setuid bits.
    expect(files.filter((f) => f.includes(" 65532/")).map((f) => f.split(" ")[0])).toEqual(["data"]);
    expect(files.some((f) => /(^|\/)(sh|bash|dash|busybox)\s/.test(f))).toBe(false);
    expect(files.some((f) => /\s[-d]([r-][w-][sS]|[r-][w-][x-][r-][w-][sS])/.test(f))).toBe(false);
  });
});
