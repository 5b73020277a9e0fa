// A real registry for tests: Debian's docker-registry on 127.0.0.1 with TLS
// (a CA and a server certificate made here with openssl) and htpasswd basic
// auth (bcrypt, made with htpasswd -B), or bearer tokens from
// token-server.ts. Started and stopped by the tests; its
// storage survives a stop, so a restarted registry still has what it had.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TokenServer } from "./token-server.js";

export const REGISTRY_TOOLS = ["docker-registry", "openssl", "htpasswd"];

function sh(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class TestRegistry {
  private child: ChildProcess | undefined;
  private log = "";
  readonly host: string;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly user: string,
    readonly password: string,
    /** Plain HTTP without auth (what BuildKit's and buildx's resolvers speak to a loopback registry). */
    readonly plain = false,
    private readonly token?: TokenServer,
  ) {
    this.host = `127.0.0.1:${port}`;
  }

  /** Makes the certificates, the password file and the config; starts the registry. */
  static async start(o: { plain?: boolean; token?: boolean } = {}, user = "caisson", password = "release-secret"): Promise<TestRegistry> {
    const dir = mkdtempSync(join(tmpdir(), "caisson-registry-"));
    const port = await freePort();
    if (o.plain) {
      mkdirSync(join(dir, "data"));
      writeFileSync(join(dir, "config.yml"), `version: 0.1\nlog: { level: warn }\nstorage: { filesystem: { rootdirectory: ${join(dir, "data")} } }\nhttp: { addr: "127.0.0.1:${port}" }\n`);
      const r = new TestRegistry(dir, port, "", "", true);
      await r.resume();
      return r;
    }
    sh("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=caisson test CA"], dir);
    sh("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"], dir);
    writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
    sh("openssl", ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext"], dir);
    sh("htpasswd", ["-Bbc", "htpasswd", user, password], dir);
    const token = o.token ? await TokenServer.start(dir, user, password) : undefined;
    mkdirSync(join(dir, "data"));
    writeFileSync(
      join(dir, "config.yml"),
      [
        "version: 0.1",
        "log: { level: warn }",
        `storage: { filesystem: { rootdirectory: ${join(dir, "data")} } }`,
        `http: { addr: "127.0.0.1:${port}", tls: { certificate: ${join(dir, "server.crt")}, key: ${join(dir, "server.key")} } }`,
        token
          ? `auth: { token: { realm: "${token.realm}", service: ${TokenServer.SERVICE}, issuer: ${TokenServer.ISSUER}, rootcertbundle: ${token.certFile} } }`
          : `auth: { htpasswd: { realm: caisson-test, path: ${join(dir, "htpasswd")} } }`,
        "",
      ].join("\n"),
    );
    const r = new TestRegistry(dir, port, user, password, false, token);
    await r.resume();
    return r;
  }

  get caFile(): string {
    return join(this.dir, "ca.crt");
  }

  /** Starts (again) and waits until it answers /v2/ (401 without credentials; 200 when plain). */
  async resume(): Promise<void> {
    this.log = "";
    const child = spawn("docker-registry", ["serve", join(this.dir, "config.yml")], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (b: Buffer) => (this.log += b.toString()));
    child.stderr?.on("data", (b: Buffer) => (this.log += b.toString()));
    this.child = child;
    const ca = this.plain ? undefined : readFileSync(this.caFile, "utf8");
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode}: ${this.log}`);
      const status = await new Promise<number>((resolve) => {
        const req = (this.plain ? httpRequest : request)({ host: "127.0.0.1", port: this.port, path: "/v2/", ...(ca ? { ca } : {}) }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", () => resolve(0));
        req.end();
      });
      if (status === (this.plain ? 200 : 401)) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`docker-registry on ${this.host} never answered: ${this.log}`);
  }

  /** Stops the registry and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  }

  /** Stops it (and its token service) and removes its files. */
  async remove(): Promise<void> {
    await this.stop();
    await this.token?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
