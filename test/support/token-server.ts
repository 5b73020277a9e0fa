// A bearer-token service for the test registry (distribution's `auth: token`):
// on 127.0.0.1, it checks HTTP basic credentials and answers with a JWT
// (RS256, its certificate in `x5c`) granting pull and push on the scope asked
// for; the registry trusts that certificate through `rootcertbundle`.
import { spawnSync } from "node:child_process";
import { createPrivateKey, randomBytes, sign, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export class TokenServer {
  private constructor(
    private readonly server: Server,
    readonly realm: string,
    /** PEM of the signing certificate (the registry's rootcertbundle). */
    readonly certFile: string,
  ) {}

  static readonly SERVICE = "caisson-test-registry";
  static readonly ISSUER = "caisson-test-token";

  /** Makes a signing key and certificate in `dir`, then listens on a loopback port. */
  static async start(dir: string, user: string, password: string): Promise<TokenServer> {
    const r = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "token.key", "-out", "token.crt", "-days", "2", "-subj", "/CN=caisson test token issuer"], { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
    const key = createPrivateKey(readFileSync(join(dir, "token.key")));
    const der = new X509Certificate(readFileSync(join(dir, "token.crt"))).raw;
    const expected = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    const server = createServer((req, res) => {
      const u = new URL(req.url ?? "/", "http://127.0.0.1");
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { "content-type": "application/json" }).end('{"details":"bad credentials"}');
        return;
      }
      const access = u.searchParams.getAll("scope").flatMap((s) => {
        const m = /^repository:([^:]+):(.+)$/.exec(s);
        return m ? [{ type: "repository", name: m[1], actions: m[2]!.split(",") }] : [];
      });
      const now = Math.floor(Date.now() / 1000);
      const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", x5c: [der.toString("base64")] }));
      const claims = b64url(JSON.stringify({ iss: TokenServer.ISSUER, sub: user, aud: u.searchParams.get("service"), exp: now + 3600, nbf: now - 60, iat: now, jti: randomBytes(8).toString("hex"), access }));
      const signature = b64url(sign("RSA-SHA256", Buffer.from(`${header}.${claims}`), key));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: `${header}.${claims}.${signature}` }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    return new TokenServer(server, `http://127.0.0.1:${port}/token`, join(dir, "token.crt"));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
