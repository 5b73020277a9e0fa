// images/haproxy and images/nginx on the real engine: ./hack/build.sh builds
// both platforms of each (once for this file), then nginx runs behind
// HAProxy under the runtime contract on the default bridge: curl reaches the
// page through HAProxy over HTTP and TLS (a certificate this test makes),
// nginx answers HTTP/2, both metrics endpoints are scraped; the binaries
// pass Debian's checksec on both platforms and the arm64 ones run under
// qemu. Under CI=true a missing engine or tool fails these tests instead of
// skipping them.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkEngine, dockerBinary } from "../../src/engine/index.js";

import { IN_CI } from "../support/ci.js";
const DOCKER = dockerBinary();
const engineError = await checkEngine(DOCKER).then(
  () => undefined,
  (e: unknown) => (e instanceof Error ? e.message : String(e)),
);
const IMAGES = { haproxy: "2.6.12", nginx: "1.22.1" } as const;
type Name = keyof typeof IMAGES;
const image = (n: Name) => `caisson/${n}:${IMAGES[n]}`;
const BINARY = { haproxy: "usr/local/sbin/haproxy", nginx: "usr/local/sbin/nginx" } as const;
const CONTRACT = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"];
const tmpfs = (path: string) => ["--tmpfs", `${path}:uid=65532,gid=65532,mode=0700,size=16m`];

function run(cmd: string, args: string[], opts: { allowFail?: boolean; timeout?: number } = {}) {
  // Bounded: a server that accepts but never answers must fail the test, not hang it.
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 << 20, timeout: opts.timeout ?? 300_000 });
  if (r.error) throw r.error;
  if (!opts.allowFail && r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stderr.slice(-6000)}${r.stdout.slice(-2000)}`);
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}
const docker = (...args: string[]) => run(DOCKER, args).stdout.trim();
const curl = (...args: string[]) => run("curl", ["-sS", "--fail", "--max-time", "10", ...args], { timeout: 30_000 }).stdout;
const hostPort = (id: string, port: number) => Number(docker("port", id, `${port}/tcp`).split("\n")[0]!.split(":").pop());

/** The filesystem of each platform of an OCI archive, unpacked from its layers into dir/linux_<arch> (no second build). */
function unpack(oci: string, dir: string): void {
  const blob = (digest: string) => `blobs/sha256/${digest.slice(7)}`;
  const json = (path: string) => JSON.parse(run("tar", ["-xOf", oci, path]).stdout);
  const index = json(blob(json("index.json").manifests[0].digest)) as { manifests: { digest: string; platform?: { os: string; architecture: string } }[] };
  for (const m of index.manifests) {
    const root = join(dir, `${m.platform?.os}_${m.platform?.architecture}`);
    mkdirSync(root, { recursive: true });
    for (const layer of json(blob(m.digest)).layers as { digest: string }[]) {
      run("sh", ["-c", 'tar -xOf "$0" "$1" | tar -xzf - -C "$2"', oci, blob(layer.digest), root]);
    }
  }
}

async function waitFor(what: string, probe: () => boolean): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (probe()) return;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`${what} never became ready`);
}

describe.skipIf(engineError !== undefined && !IN_CI)("images/haproxy and images/nginx on the real engine", () => {
  const tmp = mkdtempSync(join(tmpdir(), "caisson-proxy-"));
  const tag = `caisson-proxy-test-${process.pid}`;
  const containers: string[] = [];
  const rootfs = { haproxy: join(tmp, "haproxy"), nginx: join(tmp, "nginx") };
  let web = { id: "", http: 0, https: 0, metrics: 0 };
  let lb = { id: "", http: 0, https: 0, metrics: 0 };

  beforeAll(async () => {
    if (engineError) throw new Error(`the engine is required under CI: ${engineError}`);
    for (const tool of ["curl", "openssl", "checksec", "qemu-aarch64-static"]) {
      if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing: run hack/engine.sh`);
    }
    for (const name of Object.keys(IMAGES) as Name[]) {
      // The wrapper users type: both platforms, the engine's store and the OCI archive.
      const b = spawnSync("bash", ["hack/build.sh", name, "--progress", "plain"], { encoding: "utf8", maxBuffer: 256 << 20 });
      if (b.status !== 0) throw new Error(`hack/build.sh ${name} failed:\n${b.stderr.slice(-6000)}`);
      unpack(`out/${name}-${IMAGES[name]}.oci.tar`, rootfs[name]);
    }

    // A certificate for "localhost" and 127.0.0.1, readable by uid 65532 inside the containers.
    const tls = join(tmp, "tls");
    mkdirSync(tls);
    run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", join(tls, "tls.key"), "-out", join(tls, "tls.crt")]);
    writeFileSync(join(tls, "site.pem"), readFileSync(join(tls, "tls.crt"), "utf8") + readFileSync(join(tls, "tls.key"), "utf8"));
    // nginx's conf.d: a TLS server with HTTP/2 on 8443, beside the default configuration.
    const confd = join(tmp, "conf.d");
    mkdirSync(confd);
    writeFileSync(join(confd, "tls.conf"), [
      "server {",
      "    listen 8443 ssl http2;",
      "    ssl_certificate /etc/nginx/tls/tls.crt;",
      "    ssl_certificate_key /etc/nginx/tls/tls.key;",
      "    root /usr/share/nginx/html;",
      "}",
      "",
    ].join("\n"));
    for (const d of [tmp, tls, confd]) chmodSync(d, 0o755);
    for (const f of ["tls.key", "tls.crt", "site.pem"]) chmodSync(join(tls, f), 0o644);

    const start = (name: string, args: string[], img: string, ports: number[]) => {
      const id = docker("run", "-d", "--name", `${tag}-${name}`, ...CONTRACT, ...args,
        ...ports.flatMap((p) => ["-p", `127.0.0.1::${p}`]), img);
      containers.push(id);
      const [http, https, metrics] = ports.map((p) => hostPort(id, p)) as [number, number, number];
      return { id, http, https, metrics };
    };
    web = start("web", [
      ...tmpfs("/var/cache/nginx"), ...tmpfs("/run/nginx"),
      "-v", `${tls}:/etc/nginx/tls:ro`, "-v", `${confd}:/etc/nginx/conf.d:ro`,
    ], image("nginx"), [8080, 8443, 8081]);
    // Both on the engine's default bridge, nginx by its address: a user-defined network (its
    // names served by the engine's embedded DNS) needs iptables rules that an engine run
    // without them (hack/fresh.sh's throwaway one) does not have.
    const webIp = docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", web.id);
    lb = start("lb", [
      ...tmpfs("/run/haproxy"), "-e", `BACKEND=${webIp}:8080`, "-e", "TLS_CERT=/etc/haproxy/tls/site.pem", "-v", `${tls}:/etc/haproxy/tls:ro`,
    ], image("haproxy"), [8080, 8443, 8404]);
    const answers = (port: number, path: string) =>
      run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", `http://127.0.0.1:${port}${path}`], { allowFail: true, timeout: 10_000 }).stdout === "200";
    await waitFor("nginx", () => answers(web.metrics, "/healthz"));
    await waitFor("haproxy", () => answers(lb.metrics, "/healthz") && answers(lb.http, "/"));
  });

  afterAll(() => {
    for (const c of containers) spawnSync(DOCKER, ["rm", "-f", "-v", c]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it.each(["web", "lb"] as const)("runs read-only, without capabilities, as 65532 (%s)", (which) => {
    const { id } = which === "web" ? web : lb;
    const inspect = JSON.parse(docker("inspect", id))[0];
    expect(inspect.Config.User).toBe("65532:65532");
    expect(inspect.HostConfig.ReadonlyRootfs).toBe(true);
    expect(inspect.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(inspect.HostConfig.SecurityOpt).toContain("no-new-privileges");
    // Every process of the container (nginx's master and workers, haproxy) runs as 65532.
    const users = docker("top", id, "-o", "pid,uid,comm").split("\n").slice(1).map((l) => l.trim().split(/\s+/));
    expect(users.length).toBeGreaterThan(which === "web" ? 1 : 0); // nginx: a master and its workers
    for (const [, uid, comm] of users) {
      expect(uid, comm).toBe("65532");
      expect(comm).toBe(which === "web" ? "nginx" : "haproxy");
    }
  });

  it("serves nginx's page through HAProxy over HTTP, and logs the request to stdout on both sides", async () => {
    expect(curl(`http://127.0.0.1:${lb.http}/`)).toContain("<h1>caisson/nginx</h1>");
    const headers = curl("-D", "-", "-o", "/dev/null", `http://127.0.0.1:${lb.http}/index.html`);
    expect(headers).toMatch(/^HTTP\/1\.1 200/);
    expect(headers).not.toMatch(/^Server: nginx\//im); // server_tokens off
    await waitFor("the access logs", () =>
      /"GET \/index\.html HTTP\/1\.1" 200/.test(run(DOCKER, ["logs", web.id]).stdout) &&
      /http app\/app .* 200 .*"GET \/index\.html HTTP\/1\.1"/.test(run(DOCKER, ["logs", lb.id]).stdout));
  });

  it("serves nginx's page through HAProxy over TLS with the test's certificate", () => {
    const ca = join(tmp, "tls", "tls.crt");
    const out = curl("--cacert", ca, "-w", "\n%{ssl_verify_result} %{http_version}", `https://localhost:${lb.https}/`);
    expect(out).toContain("<h1>caisson/nginx</h1>");
    expect(out.trim().split("\n").pop()).toBe("0 2"); // verified; HTTP/2 by ALPN
    // A client that does not trust the certificate is refused.
    expect(run("curl", ["-sS", "--max-time", "10", `https://localhost:${lb.https}/`], { allowFail: true }).code).not.toBe(0);
  });

  it("answers HTTP/2 from nginx (curl --http2 over TLS), gzip-compressed on request", () => {
    const ca = join(tmp, "tls", "tls.crt");
    const out = curl("--http2", "--cacert", ca, "-D", "-", "-o", "/dev/null", "-H", "Accept-Encoding: gzip", `https://localhost:${web.https}/`);
    expect(out).toMatch(/^HTTP\/2 200/);
    expect(out).toMatch(/^content-encoding: gzip/im);
  });

  it("exposes HAProxy's Prometheus metrics and nginx's stub_status", () => {
    curl(`http://127.0.0.1:${lb.http}/`);
    const metrics = curl(`http://127.0.0.1:${lb.metrics}/metrics`);
    expect(metrics).toMatch(/^haproxy_process_build_info\{version="2\.6\.12-1\+deb12u3"\} 1$/m);
    expect(metrics).toMatch(/^haproxy_backend_http_responses_total\{proxy="app",code="2xx"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^haproxy_server_status\{proxy="app",server="app",state="UP"\} 1$/m);
    const status = curl(`http://127.0.0.1:${web.metrics}/stub_status`);
    expect(status).toMatch(/^Active connections: \d+/);
    expect(status).toMatch(/^Reading: \d+ Writing: \d+ Waiting: \d+/m);
  });

  it.each(["web", "lb"] as const)("runs its healthcheck probe inside the container (%s)", (which) => {
    const { id } = which === "web" ? web : lb;
    const test = JSON.parse(docker("inspect", id))[0].Config.Healthcheck.Test as string[];
    expect(test[0]).toBe("CMD");
    expect(run(DOCKER, ["exec", id, ...test.slice(1)]).code).toBe(0);
    // The probe fails on a port nothing listens on.
    expect(run(DOCKER, ["exec", id, test[1]!, "9"], { allowFail: true }).code).toBe(1);
  });

  it.each(["lb", "web"] as const)("stops gracefully on its stop signal, exit status 0 (%s)", (which) => {
    // Last of the container tests. HAProxy's threads end in pthread_exit, which needs libgcc_s at run time.
    const { id } = which === "web" ? web : lb;
    docker("stop", "-t", "20", id);
    const state = JSON.parse(docker("inspect", id))[0].State;
    expect(state.ExitCode, run(DOCKER, ["logs", "--tail", "20", id]).stderr).toBe(0);
    expect(state.OOMKilled).toBe(false);
  });

  it.each(Object.keys(IMAGES) as Name[])("lists both platforms in the OCI archive's index (%s)", (name) => {
    const oci = `out/${name}-${IMAGES[name]}.oci.tar`;
    const blob = (digest: string) => JSON.parse(run("tar", ["-xOf", oci, `blobs/sha256/${digest.slice(7)}`]).stdout);
    const index = blob(JSON.parse(run("tar", ["-xOf", oci, "index.json"]).stdout).manifests[0].digest) as { manifests: { platform?: { os: string; architecture: string } }[] };
    expect(index.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).sort()).toEqual(["linux/amd64", "linux/arm64"]);
  });

  it.each(Object.keys(IMAGES) as Name[])("passes caisson check on both platforms (%s)", (name) => {
    const r = run(process.execPath, ["bin/caisson.js", "check", `out/${name}-${IMAGES[name]}.oci.tar`], { allowFail: true });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/linux\/amd64/);
    expect(r.stdout).toMatch(/linux\/arm64/);
  });

  it.each(Object.keys(IMAGES) as Name[])("ships an aarch64 binary that prints its version under qemu-aarch64-static (%s)", (name) => {
    const arm = join(rootfs[name], "linux_arm64");
    const bin = join(arm, BINARY[name]);
    expect(readFileSync(bin).subarray(0, 20).readUInt16LE(18)).toBe(183); // EM_AARCH64
    const r = run("qemu-aarch64-static", ["-L", arm, bin, "-v"]);
    expect(r.stdout + r.stderr).toMatch(name === "haproxy" ? /HAProxy version 2\.6\.12-1\+deb12u3/ : /nginx version: nginx\/1\.22\.1/);
  });

  const execs = (Object.keys(IMAGES) as Name[]).flatMap((n) => ["linux_amd64", "linux_arm64"].flatMap((p) => [[n, p, BINARY[n]], [n, p, "usr/local/bin/httpcheck"]]));
  it.each(execs)("passes Debian's checksec (%s %s /%s)", (name, platform, path) => {
    const file = join(rootfs[name as Name], platform!, path!);
    const report = JSON.parse(run("checksec", ["--format=json", `--file=${file}`]).stdout)[file];
    expect(report).toMatchObject({ relro: "full", canary: "yes", nx: "yes", pie: "yes", rpath: "no", runpath: "no", fortify_source: "yes" });
  });
});
