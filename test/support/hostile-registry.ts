// A registry that misbehaves on purpose, for tests: a node:http server on
// 127.0.0.1 speaking just enough of the distribution API (blobs and
// manifests kept in memory, basic auth "alice:s3cret"), and a second server,
// "elsewhere", on another port that records every request it gets (with its
// Authorization header) and stores PUT blobs. Modes:
//   ok            a well-behaved registry
//   hang          accepts connections and never answers
//   bad-http      answers with a malformed header
//   token-json    bearer auth whose token service answers malformed JSON
//   token-null    … answers `null`
//   token-endless … answers a body that never ends
//   token-pull    … issues a token (a JWT) granting pull only, which the registry takes
//   token-scoped  … whose /v2/ challenge names a scope of its own (repository:user/image:pull, as
//                 some registries' do), the token granting exactly the scope asked, which the registry takes
//   wrong-digest  every PUT is answered with Docker-Content-Digest sha256:000…
//   no-digest     a manifest HEAD is answered 200 without Docker-Content-Digest
//   empty-500     every upload start is answered 500 with an empty body
//   location      the upload Location is on the other server
//   redirect      blob HEAD and the upload PUT answer 307 to the other server (as S3-backed registries do)
//   ansi-body     every upload start is answered 400 with an error body full of terminal escapes
//   ansi-challenge  a 401 whose bearer challenge is C1 control characters, no realm
//   ansi-digest   every PUT is answered with a Docker-Content-Digest holding a C1 control character
//   token-ansi    bearer auth whose token service answers 500 with terminal escapes
//   http-realm    bearer auth whose realm is plain HTTP on a host that is not loopback (never contacted)
//   bad-location  the upload Location is not a URL (http://[::1)
//   bad-redirect  blob HEAD answers 307 to a Location that is not a URL
//   signed        the upload Location carries userinfo and a signed query; its PUT is answered 400
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";

export type HostileMode = "ok" | "hang" | "bad-http" | "token-json" | "token-null" | "token-endless" | "token-pull" | "token-scoped" | "wrong-digest" | "no-digest" | "empty-500" | "location" | "redirect" | "ansi-body" | "ansi-challenge" | "ansi-digest" | "token-ansi" | "http-realm" | "bad-location" | "bad-redirect" | "signed";

/** An error body a registry could send to take over a terminal (raw escapes: clear screen, colour, bell, window title; a C1 CSI), and long. */
export const ANSI_BODY = `{"errors":[{"message":"\u001b[2J\u001b[31mPWNED\u0007 \u001b]0;title\u0007 \u009b2J","detail":"${"x".repeat(5000)}"}]}`;
/** The query of the signed upload URL in mode "signed"; it must never be printed. */
export const SIGNATURE = "X-Amz-Signature=0123456789abcdef&X-Amz-Credential=AKIASECRET";

export const USER = "alice";
export const PASSWORD = "s3cret";
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
const ZERO = `sha256:${"0".repeat(64)}`;
const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
  });
}

async function listen(s: Server | TcpServer): Promise<number> {
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  return (s.address() as { port: number }).port;
}

export class HostileRegistry {
  /** Requests the other server got: method, URL and Authorization. */
  readonly elsewhere: { method: string; url: string; authorization?: string }[] = [];
  readonly blobs = new Map<string, Buffer>();
  /** The scope of every token asked for. */
  readonly tokenScopes: string[] = [];
  readonly manifests = new Map<string, Buffer>();
  private readonly sockets = new Set<Socket>();
  host = "";
  otherHost = "";

  private constructor(
    private mode: HostileMode,
    private readonly servers: (Server | TcpServer)[],
  ) {}

  static async start(mode: HostileMode): Promise<HostileRegistry> {
    const main = mode === "bad-http" ? createTcpServer() : createServer();
    const other = createServer();
    const r = new HostileRegistry(mode, [main, other]);
    for (const s of [main, other]) s.on("connection", (c: Socket) => (r.sockets.add(c), c.on("close", () => r.sockets.delete(c))));
    if (mode === "bad-http") (main as TcpServer).on("connection", (c: Socket) => c.end("HTTP/1.1 200 OK\r\nBad Header Name: x\r\n\r\n"));
    else (main as Server).on("request", (req, res) => void r.serve(req, res));
    other.on("request", (req, res) => void r.serveElsewhere(req, res));
    r.host = `127.0.0.1:${await listen(main)}`;
    r.otherHost = `127.0.0.1:${await listen(other)}`;
    return r;
  }

  private async serveElsewhere(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.elsewhere.push({ method: req.method ?? "", url: req.url ?? "", ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    const data = await body(req);
    const u = new URL(req.url ?? "/", "http://x");
    const digest = u.searchParams.get("digest") ?? u.pathname.split("/").pop() ?? "";
    if (req.method === "PUT") {
      this.blobs.set(digest, data);
      res.writeHead(201, { "docker-content-digest": digest }).end();
    } else res.writeHead(this.blobs.has(digest) ? 200 : 404, { "docker-content-digest": digest }).end();
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const mode = this.mode;
    if (mode === "hang") return;
    const u = new URL(req.url ?? "/", `http://${this.host}`);
    const data = await body(req);
    if (u.pathname === "/token") {
      this.tokenScopes.push(u.searchParams.get("scope") ?? "");
      if (mode === "token-json") res.writeHead(200, { "content-type": "application/json" }).end("{not json");
      else if (mode === "token-null") res.writeHead(200, { "content-type": "application/json" }).end("null");
      else if (mode === "token-ansi") res.writeHead(500, { "content-type": "application/json" }).end(ANSI_BODY);
      else if (mode === "token-pull" || mode === "token-scoped") {
        const [, repo = "", asked = ""] = /^repository:([^:]+):(.*)$/.exec(u.searchParams.get("scope") ?? "") ?? [];
        const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
        const actions = mode === "token-pull" ? ["pull"] : asked.split(",");
        const jwt = `${part({ alg: "none" })}.${part({ sub: USER, access: [{ type: "repository", name: repo, actions }] })}.x`;
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: jwt }));
      }
      else {
        res.writeHead(200, { "content-type": "application/json" });
        const chunk = Buffer.alloc(64 << 10, 0x20);
        const more = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once("drain", more);
        };
        more();
      }
      return;
    }
    if (mode === "ansi-challenge" || mode === "http-realm") {
      // Node's server lets bytes 0x80-0xff through in a header (as latin1): C1 controls such as CSI (0x9b).
      const challenge = mode === "http-realm" ? 'Bearer realm="http://auth.example/token",service="hostile"' : 'Bearer realm="\x9b2J\x9b31mPWNED"';
      res.writeHead(401, { "www-authenticate": challenge }).end();
      return;
    }
    const bearer = (mode === "token-pull" || mode === "token-scoped") && req.headers.authorization?.startsWith("Bearer ");
    if (mode.startsWith("token-") && !bearer) {
      const scope = mode === "token-scoped" ? (u.pathname === "/v2/" ? ',scope="repository:user/image:pull"' : ',scope="repository:caisson/x:pull,push"') : "";
      res.writeHead(401, { "www-authenticate": `Bearer realm="http://${this.host}/token",service="hostile"${scope}` }).end();
      return;
    }
    if (req.headers.authorization !== BASIC && !bearer) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="hostile"' }).end();
      return;
    }
    if (u.pathname === "/v2/") {
      res.writeHead(200, { "docker-distribution-api-version": "registry/2.0" }).end("{}");
      return;
    }
    const m = /^\/v2\/(.+)\/(blobs|manifests)\/(.+)$/.exec(u.pathname);
    const put = req.method === "PUT";
    const digestHeader = (d: string) => ({ "docker-content-digest": mode === "wrong-digest" && put ? ZERO : mode === "ansi-digest" && put ? "sha256:\x9b2J" : d });
    if (u.pathname.endsWith("/blobs/uploads/") && req.method === "POST") {
      const location =
        mode === "location" ? `http://${this.otherHost}/elsewhere` : mode === "bad-location" ? "http://[::1" : mode === "signed" ? `http://u:locpass@${this.host}/v2/upload/1?${SIGNATURE}` : `/v2/upload/${Date.now()}`;
      if (mode === "empty-500") res.writeHead(500).end();
      else if (mode === "ansi-body") res.writeHead(400, { "content-type": "application/json" }).end(ANSI_BODY);
      else res.writeHead(202, { location }).end();
      return;
    }
    if (u.pathname.startsWith("/v2/upload/") && req.method === "PUT") {
      const digest = u.searchParams.get("digest") ?? "";
      if (mode === "signed") {
        res.writeHead(400, { "content-type": "application/json" }).end('{"errors":[{"code":"DENIED"}]}');
        return;
      }
      if (mode === "redirect") {
        res.writeHead(307, { location: `http://${this.otherHost}/bucket/${digest}` }).end();
        return;
      }
      this.blobs.set(digest, data);
      res.writeHead(201, digestHeader(digest)).end();
      return;
    }
    if (m?.[2] === "blobs") {
      if (mode === "redirect") res.writeHead(307, { location: `http://${this.otherHost}/bucket/${m[3]}` }).end();
      else if (mode === "bad-redirect") res.writeHead(307, { location: "http://[::1" }).end();
      else res.writeHead(this.blobs.has(m[3]!) ? 200 : 404, this.blobs.has(m[3]!) ? { "docker-content-digest": m[3]! } : {}).end();
      return;
    }
    if (m?.[2] === "manifests") {
      if (req.method === "PUT") {
        this.manifests.set(m[3]!, data);
        res.writeHead(201, digestHeader(sha(data))).end();
        return;
      }
      const stored = this.manifests.get(m[3]!);
      if (!stored) res.writeHead(404).end();
      else res.writeHead(200, mode === "no-digest" ? {} : { "docker-content-digest": sha(stored) }).end();
      return;
    }
    res.writeHead(404).end();
  }

  setMode(mode: HostileMode): void {
    this.mode = mode;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}
