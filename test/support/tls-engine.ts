// A throwaway second Docker engine for the client tests: its own data root,
// exec root, pidfile, unix socket and bridge (no iptables rules, no IP
// forwarding), the containerd image store, listening on 127.0.0.1 over TCP
// with TLS client verification, with certificates made here by the openssl
// CLI. The machine's own engine is never touched. stop() ends the daemon and
// removes everything.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TlsEngine {
  readonly dir: string;
  readonly port: number;
  /** `tcp://127.0.0.1:PORT` */
  readonly tcp: string;
  /** `unix://<dir>/docker.sock` */
  readonly unix: string;
  /** PEM files: the CA the engine trusts, a client certificate it signed, and one signed by another CA. */
  readonly certs: { ca: string; cert: string; key: string; wrongCert: string; wrongKey: string };
  readonly log: string;
  stop(): Promise<void>;
}

/** Why a throwaway engine cannot be started here, or undefined. */
export function tlsEngineUnavailable(): string | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return "needs root (a second dockerd)";
  for (const c of ["dockerd", "containerd", "openssl", "ip"]) {
    if (spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0) return `${c} is missing (hack/engine.sh installs it)`;
  }
  return undefined;
}

function run(cmd: string, args: readonly string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...(cwd ? { cwd } : {}) });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
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

/** A CA, a server certificate for 127.0.0.1, a client certificate, and a client certificate of another CA (EC P-256, one day). */
function makeCerts(dir: string): TlsEngine["certs"] & { serverCert: string; serverKey: string } {
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ca = (name: string) => run("openssl", ["req", "-x509", ...key, "-keyout", `${name}-key.pem`, "-out", `${name}.pem`, "-days", "1", "-subj", `/CN=caisson test ${name}`], dir);
  const signed = (name: string, cn: string, ext: string, by: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    run("openssl", ["req", ...key, "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`], dir);
    run("openssl", ["x509", "-req", "-in", `${name}.csr`, "-CA", `${by}.pem`, "-CAkey", `${by}-key.pem`, "-CAcreateserial", "-out", `${name}-cert.pem`, "-days", "1", "-extfile", `${name}.ext`], dir);
  };
  ca("ca");
  ca("other-ca");
  signed("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n", "ca");
  signed("client", "caisson test client", "extendedKeyUsage=clientAuth\n", "ca");
  signed("wrong", "caisson test client", "extendedKeyUsage=clientAuth\n", "other-ca");
  const p = (f: string) => join(dir, f);
  return { ca: p("ca.pem"), cert: p("client-cert.pem"), key: p("client-key.pem"), wrongCert: p("wrong-cert.pem"), wrongKey: p("wrong-key.pem"), serverCert: p("server-cert.pem"), serverKey: p("server-key.pem") };
}

async function waitFor(check: () => boolean, what: string, child: ChildProcess, log: string, seconds = 60): Promise<void> {
  for (let i = 0; i < seconds * 4; i++) {
    if (check()) return;
    if (child.exitCode !== null) throw new Error(`${what}: dockerd exited (${child.exitCode}):\n${readFileSync(log, "utf8").slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: no answer within ${seconds}s:\n${readFileSync(log, "utf8").slice(-3000)}`);
}

/** Starts the engine; `docker` is the client used to talk to it. */
export async function startTlsEngine(docker: string): Promise<TlsEngine> {
  const dir = mkdtempSync(join(tmpdir(), "caisson-tls-engine-"));
  const certs = makeCerts(dir);
  const port = await freePort();
  const bridge = `cst${process.pid % 100000}`;
  // A subnet no interface of this machine uses (the fresh engine of hack/fresh.sh uses .77).
  const used = run("ip", ["-4", "-o", "addr", "show"]);
  const third = [78, 79, 80, 81, 82, 83].find((n) => !used.includes(`10.213.${n}.`));
  if (third === undefined) throw new Error("no free 10.213.78-83.0/24 subnet for the throwaway bridge");
  run("ip", ["link", "add", bridge, "type", "bridge"]);
  let child: ChildProcess | undefined;
  const cleanup = async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      for (let i = 0; i < 80 && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 250));
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    // containerd shims of this engine outlive it; their command line names its exec root.
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      let cmd = "";
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        continue;
      }
      if (cmd.startsWith("containerd-shim") || cmd.includes("/containerd-shim")) if (cmd.includes(`${dir}/`)) process.kill(Number(pid), "SIGTERM");
    }
    const mounts = readFileSync("/proc/self/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "").filter((m) => m.startsWith(`${dir}/`)).sort().reverse();
    for (const m of mounts) spawnSync("umount", ["-l", m]);
    spawnSync("ip", ["link", "del", bridge]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run("ip", ["addr", "add", `10.213.${third}.1/24`, "dev", bridge]);
    run("ip", ["link", "set", bridge, "up"]);
    writeFileSync(join(dir, "daemon.json"), JSON.stringify({ features: { "containerd-snapshotter": true } }));
    const log = join(dir, "dockerd.log");
    const sock = join(dir, "docker.sock");
    const out = openSync(log, "a");
    child = spawn(
      "dockerd",
      [
        "--config-file", join(dir, "daemon.json"),
        "--data-root", join(dir, "data"), "--exec-root", join(dir, "exec"), "--pidfile", join(dir, "docker.pid"),
        "-H", `unix://${sock}`, "-H", `tcp://127.0.0.1:${port}`,
        "--tlsverify", "--tlscacert", certs.ca, "--tlscert", certs.serverCert, "--tlskey", certs.serverKey,
        `--bridge=${bridge}`, "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
      ],
      { stdio: ["ignore", out, out], detached: true },
    );
    const env = { ...process.env, DOCKER_HOST: `unix://${sock}` };
    await waitFor(() => existsSync(sock) && spawnSync(docker, ["info", "-f", "{{.ServerVersion}}"], { env }).status === 0, "the throwaway engine", child, log);
    return {
      dir,
      port,
      tcp: `tcp://127.0.0.1:${port}`,
      unix: `unix://${sock}`,
      certs: { ca: certs.ca, cert: certs.cert, key: certs.key, wrongCert: certs.wrongCert, wrongKey: certs.wrongKey },
      log,
      stop: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Copies an image from the machine's engine into another (docker save | docker load). */
export function copyImage(docker: string, ref: string, toHost: string): void {
  const r = spawnSync("sh", ["-c", `"$0" save "$1" | DOCKER_HOST="$2" "$0" load -q`, docker, ref, toHost], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`copying ${ref} to ${toHost} failed: ${r.stderr}`);
}
