// A throwaway Docker engine for real-engine tests: its own containerd and
// dockerd, roots and socket under one directory, and its own bridge, the way
// hack/fresh.sh starts one; no iptables. Never the machine's dockerd. NOT
// `bridge: "none"`: a dockerd started so deletes the host's docker0 interface
// at start-up (moby's removeDefaultBridgeInterface), which breaks the main
// engine's networking. With `tls`, it also listens on 127.0.0.1 over TCP and
// verifies client certificates.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { dockerBinary } from "../../src/engine/index.js";

const DOCKER = dockerBinary();

export interface ThrowawayEngine {
  readonly env: NodeJS.ProcessEnv;
  /** `unix://<dir>/docker.sock` */
  readonly unix: string;
  /** `tcp://127.0.0.1:PORT`, with `tls`. */
  readonly tcp?: string;
  /** SIGKILL dockerd: the engine stops as a crash or an OOM kill would stop it. */
  killDaemon(): void;
  stop(): void;
}

function waitFor(check: () => boolean, what: string, child: ChildProcess, log: string, seconds = 60): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      if (check()) return resolve();
      if (child.exitCode !== null) return reject(new Error(`${what} exited (${child.exitCode}):\n${readFileSync(log, "utf8").slice(-3000)}`));
      if (Date.now() - t0 > seconds * 1000) return reject(new Error(`${what} did not answer in ${seconds} s:\n${readFileSync(log, "utf8").slice(-3000)}`));
      setTimeout(tick, 500);
    };
    tick();
  });
}

/** Server side of TLS: the CA whose client certificates are accepted, and the server's certificate and key. */
export interface EngineTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export async function startThrowawayEngine(dir: string, tls?: EngineTls): Promise<ThrowawayEngine> {
  for (const d of ["containerd/root", "containerd/state", "docker", "exec", "docker-config", "logs"]) mkdirSync(join(dir, d), { recursive: true });
  const runContainerdExisted = existsSync("/run/containerd");
  const ctrdSock = join(dir, "containerd/containerd.sock");
  writeFileSync(
    join(dir, "containerd/config.toml"),
    [
      "version = 2",
      `root = "${dir}/containerd/root"`,
      `state = "${dir}/containerd/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "[grpc]",
      `  address = "${ctrdSock}"`,
      "[ttrpc]",
      '  address = ""',
      "[debug]",
      '  address = ""',
      "[metrics]",
      '  address = ""',
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${dir}/containerd/opt"`,
      "",
    ].join("\n"),
  );
  // Its own bridge on a subnet no interface of this machine uses.
  const bridge = `cft${process.pid % 1_000_000}`;
  const used = spawnSync("ip", ["-4", "-o", "addr", "show"], { encoding: "utf8" }).stdout;
  const third = [...Array(100).keys()].map((i) => 120 + ((process.pid + i) % 100)).find((n) => !used.includes(` 10.213.${n}.`));
  if (third === undefined) throw new Error("no free 10.213.x.0/24 subnet for the throwaway engine's bridge");
  for (const args of [["link", "add", bridge, "type", "bridge"], ["addr", "add", `10.213.${third}.1/24`, "dev", bridge], ["link", "set", bridge, "up"]]) {
    const r = spawnSync("ip", args, { encoding: "utf8" });
    if (r.status !== 0) {
      spawnSync("ip", ["link", "del", bridge]);
      throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
    }
  }
  writeFileSync(
    join(dir, "daemon.json"),
    JSON.stringify({ features: { "containerd-snapshotter": true }, bridge, iptables: false, ip6tables: false, "ip-forward": false, "ip-masq": false, "userland-proxy": false }),
  );
  const ctrdLog = join(dir, "logs/containerd.log");
  const dockerdLog = join(dir, "logs/dockerd.log");
  const containerd = spawn("containerd", ["--config", join(dir, "containerd/config.toml")], { stdio: ["ignore", openSync(ctrdLog, "a"), openSync(ctrdLog, "a")], detached: true });
  const sock = join(dir, "docker.sock");
  const port = tls ? await freePort() : undefined;
  const env = { DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, "docker-config") };
  let dockerd: ChildProcess | undefined;

  const stop = () => {
    for (const p of [dockerd, containerd]) {
      if (p?.pid !== undefined && p.exitCode === null && p.signalCode === null) {
        try {
          process.kill(p.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    // Shims of our containerd outlive it (their command line names its socket's directory).
    const shims = spawnSync("pgrep", ["-f", `containerd-shim.*-address ${dir}/`], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
    for (const pid of shims) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
    spawnSync("sleep", ["0.5"]);
    // Mounts left under our directory (overlay, netns), deepest first, then the directory itself.
    const mounts = readFileSync("/proc/self/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[1] ?? "")
      .filter((m) => m.startsWith(`${dir}/`))
      .sort()
      .reverse();
    for (const m of mounts) if (spawnSync("umount", [m]).status !== 0) spawnSync("umount", ["-l", m]);
    spawnSync("rm", ["-rf", "--one-file-system", dir]);
    spawnSync("ip", ["link", "del", bridge]);
    if (!runContainerdExisted && existsSync("/run/containerd")) spawnSync("find", ["/run/containerd", "-depth", "-type", "d", "-empty", "-delete"]);
  };

  try {
    await waitFor(() => spawnSync("ctr", ["-a", ctrdSock, "version"]).status === 0, "the throwaway containerd", containerd, ctrdLog);
    dockerd = spawn(
      "dockerd",
      [
        "--config-file", join(dir, "daemon.json"),
        "--containerd", ctrdSock,
        "--data-root", join(dir, "docker"),
        "--exec-root", join(dir, "exec"),
        "--pidfile", join(dir, "docker.pid"),
        "-H", `unix://${sock}`,
        ...(tls ? ["-H", `tcp://127.0.0.1:${port}`, "--tlsverify", "--tlscacert", tls.ca, "--tlscert", tls.cert, "--tlskey", tls.key] : []),
      ],
      { stdio: ["ignore", openSync(dockerdLog, "a"), openSync(dockerdLog, "a")], detached: true },
    );
    const d = dockerd;
    await waitFor(() => spawnSync(DOCKER, ["info", "--format", "{{.ServerVersion}}"], { env: { ...process.env, ...env } }).status === 0, "the throwaway dockerd", d, dockerdLog);
  } catch (e) {
    stop();
    throw e;
  }
  return {
    env,
    unix: `unix://${sock}`,
    ...(port ? { tcp: `tcp://127.0.0.1:${port}` } : {}),
    killDaemon: () => {
      if (dockerd?.pid !== undefined) process.kill(dockerd.pid, "SIGKILL");
    },
    stop,
  };
}
