// A small OCI distribution client over node:https: blobs by digest (HEAD,
// then a monolithic POST + PUT upload), manifests by digest or tag (PUT,
// HEAD), with basic and bearer-token auth and docker's certs.d CA rule.
// Every push is by digest, so a push cut short is completed by running it
// again: what is already there is skipped. Credentials go only to the
// registry's own origin (and basic ones to its token realm), never to a
// Location or redirect elsewhere; every request has an idle timeout and
// every body read a size cap; a loopback registry without TLS is spoken to
// over plain HTTP, as docker does. Whatever the registry says (bodies,
// headers, challenges) is escaped and clipped before it goes into a message,
// and URLs in messages lose their query (signed upload URLs) and userinfo.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders } from "node:http";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import type { Credentials } from "./credentials.js";
import { parseReference, shownReference } from "../reference/index.js";
import { visible } from "../diag/index.js";

/** A registry operation that failed, with what to do about it. */
export class RegistryError extends Error {
  override readonly name = "RegistryError";
  constructor(
    message: string,
    /** `auth` (401/403), `unreachable`, `tls`, `refused` (a tag would move), `protocol`, `interrupted` (Ctrl-C). */
    readonly kind: "auth" | "unreachable" | "tls" | "refused" | "protocol" | "interrupted",
  ) {
    super(message);
  }
}

/** A registry (`host[:port]`) and a repository in it. */
export interface RepoRef {
  readonly host: string;
  readonly repo: string;
}

const TO_EXAMPLE = "e.g. 127.0.0.1:5000/caisson/redis (the registry's host, then the repository)";

/**
 * Parses `--to REGISTRY/REPO` with src/reference's grammar (the one `caisson
 * build -o push=` takes), and on top: a registry must be named (a dot or a
 * port, or localhost) and no tag or digest given (the release's tags are made
 * from the definition).
 */
export function parseRepoRef(spec: string): RepoRef {
  const parsed = parseReference(spec);
  if (!parsed.ok) throw new RegistryError(`--to ${shownReference(spec)}: ${parsed.reason}; give REGISTRY/REPO, ${TO_EXAMPLE}`, "protocol");
  const { domain, path, tag, digest } = parsed.value;
  const what = digest !== undefined ? "digest" : "tag";
  const drop = `drop the ${what}: the tags pushed come from the definition (its version, or release.tags)`;
  if (domain === undefined || !(/[.:]/.test(domain) || domain === "localhost")) {
    throw new RegistryError(`--to ${spec}: give REGISTRY/REPO, ${TO_EXAMPLE}${tag !== undefined || digest !== undefined ? `; and ${drop}` : ""}`, "protocol");
  }
  if (tag !== undefined || digest !== undefined) {
    throw new RegistryError(`--to ${spec}: give the repository without a ${what} (${domain}/${path}); ${drop}`, "protocol");
  }
  return { host: domain, repo: path };
}

export interface RegistryOptions {
  readonly credentials?: Credentials;
  /** Extra CA certificates (PEM) to trust besides the system's and certs.d's (`--ca-cert`). */
  readonly ca?: string;
  /** Where `ca` came from, for messages. */
  readonly caFrom?: string;
  /** docker's per-registry CA directory: `<certsDir>/<host:port>/*.crt` (default /etc/docker/certs.d). */
  readonly certsDir?: string;
  /** How long a request may wait for the next byte, connecting included (default 30 s). */
  readonly idleTimeoutMs?: number;
  /** Cancels every request (Ctrl-C). */
  readonly signal?: AbortSignal;
}

interface Response {
  readonly url: string;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** The most a response body read into memory may hold (token JSON, error bodies, manifests). */
export const MAX_BODY = 4 << 20;
const MAX_REDIRECTS = 5;

/** The PEM certificates docker would trust for `host`: `<certsDir>/<host>/*.crt`. */
function certsFor(host: string, certsDir: string): string[] {
  const dir = join(certsDir, host);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".crt")).sort();
  } catch {
    return [];
  }
  return names.map((n) => readFileSync(join(dir, n), "utf8"));
}

/** Certificate problems: the CA is missing or wrong; never a reason to fall back to plain HTTP. */
const CERT_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME|ERR_TLS_CERT/;
/** The peer does not speak TLS at all (a plain-HTTP registry). */
const TLS_PROTOCOL = /EPROTO|ERR_SSL_WRONG_VERSION_NUMBER|wrong version number|ERR_SSL_PACKET_LENGTH_TOO_LONG|packet length too long/i;

/** 127.0.0.0/8, ::1 and localhost: registries docker treats as insecure (HTTP allowed). */
export function isLoopback(host: string): boolean {
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
  return name === "localhost" || name === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

const sha256 = (data: Uint8Array) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** The most characters of the registry's own text (a body, a header, a challenge) quoted in a message. */
const QUOTE_MAX = 300;

/** Text from the registry made safe for a message: control characters (C0, DEL, C1) and the like escaped, clipped to QUOTE_MAX. */
function quoted(text: string): string {
  let out = "";
  for (const ch of text.length > QUOTE_MAX * 2 ? text.slice(0, QUOTE_MAX * 2) : text) {
    const v = visible(ch);
    if (out.length + v.length > QUOTE_MAX) return `${out}…`;
    out += v;
  }
  return text.length > QUOTE_MAX * 2 ? `${out}…` : out;
}

const excerpt = (body: Buffer) => quoted(body.subarray(0, QUOTE_MAX * 4).toString("utf8").trim());

/**
 * A URL as messages show it: scheme, host and path, without userinfo or
 * query (`?…` when there was one: upload URLs may carry a signature), escaped.
 */
export function shownUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return quoted(url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1").replace(/[?#][\s\S]*$/, (q) => (q.startsWith("?") ? "?…" : "")));
  }
  return quoted(`${u.protocol}//${u.host}${u.pathname}${u.search ? "?…" : ""}`);
}

/**
 * The actions a registry token (a JWT with distribution's `access` claim)
 * grants on `repo`; undefined when the token does not say (an opaque token).
 */
function tokenActions(token: string, repo: string): string[] | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1] as string, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  const access = claims && typeof claims === "object" ? (claims as { access?: unknown }).access : undefined;
  if (!Array.isArray(access)) return undefined;
  return access.flatMap((a: unknown) => {
    const e = a as { type?: unknown; name?: unknown; actions?: unknown };
    return e && e.type === "repository" && e.name === repo && Array.isArray(e.actions) ? e.actions.filter((x): x is string => typeof x === "string") : [];
  });
}

/** Where a `Location` header (an upload URL, a redirect) points: an http(s) URL, or a protocol error naming who sent it. */
function locate(r: Response, method: string, loc: string): URL {
  let u: URL | undefined;
  try {
    u = new URL(loc, r.url);
  } catch {
    u = undefined;
  }
  if (u && (u.protocol === "https:" || u.protocol === "http:")) return u;
  throw new RegistryError(
    `${method} ${shownUrl(r.url)} answered ${r.status} with ${u ? "a Location that is not an http(s) URL" : "a malformed Location header"} (${shownUrl(loc)}); that is not a registry answer, nothing was tagged`,
    "protocol",
  );
}

/** A client for one repository of one registry. */
export class Registry {
  private token: string | undefined;
  /** The scope `token` was asked for (the challenge's, else the push's). */
  private tokenScope: string | undefined;
  private readonly ca: string[] | undefined;
  private base: string;
  /** Whether the registry's scheme is settled (a loopback registry may turn out to be plain HTTP). */
  private settled: boolean;

  constructor(
    readonly ref: RepoRef,
    private readonly opts: RegistryOptions = {},
  ) {
    const extra = [...certsFor(ref.host, opts.certsDir ?? "/etc/docker/certs.d"), ...(opts.ca ? [opts.ca] : [])];
    // Node replaces its default roots when `ca` is given: keep them.
    this.ca = extra.length > 0 ? [...rootCertificates, ...extra] : undefined;
    this.base = `https://${ref.host}`;
    this.settled = !isLoopback(ref.host);
  }

  /** One request; the body read is capped at MAX_BODY, and it fails after `idleTimeoutMs` without a byte. */
  private raw(method: string, url: string, headers: Record<string, string>, body?: Uint8Array): Promise<Response> {
    const idle = this.opts.idleTimeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const fail = (e: NodeJS.ErrnoException) => reject(e instanceof RegistryError ? e : this.netError(e, method, url));
      if (u.protocol === "http:" && !isLoopback(u.host) && headers["authorization"] !== undefined) {
        reject(new RegistryError(`refusing to send credentials over plain HTTP to ${shownUrl(url)} (only a loopback registry is spoken to without TLS)`, "protocol"));
        return;
      }
      let req: ClientRequest;
      try {
        req = (u.protocol === "http:" ? httpRequest : httpsRequest)(
          u,
          {
            method,
            headers: { ...headers, ...(body ? { "content-length": String(body.length) } : {}) },
            timeout: idle,
            ...(this.opts.signal ? { signal: this.opts.signal } : {}),
            ...(this.ca && u.protocol === "https:" ? { ca: this.ca } : {}),
          },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on("data", (c: Buffer) => {
              size += c.length;
              if (size > MAX_BODY) {
                req?.destroy(new RegistryError(`${method} ${shownUrl(url)} answered with a body of more than ${MAX_BODY >> 20} MiB; that is not a registry (or token service) answer`, "protocol"));
                return;
              }
              chunks.push(c);
            });
            res.on("end", () => resolve({ url, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
            res.on("error", fail);
          },
        );
      } catch (e) {
        fail(e as NodeJS.ErrnoException);
        return;
      }
      req.on("timeout", () =>
        req.destroy(new RegistryError(`${method} ${shownUrl(url)}: no answer for ${idle / 1000} s; nothing was tagged. Check that the registry is up and reachable, then run the same command again: what was already pushed is skipped`, "unreachable")),
      );
      req.on("error", fail);
      req.end(body);
    });
  }

  private netError(e: NodeJS.ErrnoException, method: string, url: string): RegistryError {
    const code = e.code ?? "";
    const what = `${method} ${shownUrl(url)}`;
    if (e.name === "AbortError" || code === "ABORT_ERR") return new RegistryError(`interrupted during ${what}; nothing was tagged`, "interrupted");
    if (code.startsWith("HPE_")) {
      return new RegistryError(`${what}: the server answered with malformed HTTP (${quoted(code)}: ${quoted(e.message)}); is that address a registry? Nothing was tagged`, "protocol");
    }
    if (CERT_CODES.test(code) || TLS_PROTOCOL.test(code) || /certificate|ssl|tls/i.test(e.message)) {
      const fix = this.opts.ca
        ? `the CA given with --ca-cert ${this.opts.caFrom ?? ""} does not verify it either (is it the CA that signed the registry's certificate?)`
        : `if the registry uses its own CA, put it in /etc/docker/certs.d/${this.ref.host}/ca.crt (docker's rule) or give --ca-cert FILE`;
      return new RegistryError(`${new URL(url).host}: TLS failed (${quoted(code || e.message)}) on ${what}; ${fix}`, "tls");
    }
    return new RegistryError(`${new URL(url).host} is unreachable (${quoted(code || e.message)}) on ${what}; nothing was tagged. Start the registry (or check the address) and run the same command again: what was already pushed is skipped`, "unreachable");
  }

  /** Answers a 401 challenge: Basic with the credentials, or a bearer token fetched with them from the realm. */
  private async authorize(challenge: string, scope: string): Promise<string> {
    const creds = this.opts.credentials;
    const m = /^(\w+)\s*(.*)$/.exec(challenge.trim());
    const scheme = (m?.[1] ?? "").toLowerCase();
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}` : undefined;
    if (scheme === "basic") {
      if (!basic) throw this.authError(401, "");
      return basic;
    }
    if (scheme !== "bearer") throw new RegistryError(`${this.ref.host}: unsupported auth challenge "${quoted(challenge)}"`, "protocol");
    const params: Record<string, string> = {};
    for (const p of (m?.[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) params[p[1] as string] = p[2] as string;
    let u: URL;
    try {
      u = new URL(params["realm"] ?? "");
      if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error();
    } catch {
      throw new RegistryError(`${this.ref.host}: bearer challenge without a usable realm URL: ${quoted(challenge)}`, "protocol");
    }
    if (u.protocol === "http:" && !isLoopback(u.host)) {
      throw new RegistryError(
        `${this.ref.host}: its bearer challenge names a token service over plain HTTP (${shownUrl(u.toString())}); caisson sends credentials to a token service only over HTTPS (plain HTTP on loopback only), so nothing was sent. Give the registry an https:// auth realm`,
        "protocol",
      );
    }
    if (params["service"]) u.searchParams.set("service", params["service"]);
    u.searchParams.set("scope", params["scope"] ?? scope);
    this.tokenScope = params["scope"] ?? scope;
    const realm = shownUrl(`${u.origin}${u.pathname}`);
    const r = await this.raw("GET", u.toString(), basic ? { authorization: basic } : {});
    if (r.status === 401 || r.status === 403) throw this.authError(r.status, creds ? `its token service at ${realm} refused the credentials` : "");
    const bad = (why: string) => new RegistryError(`${this.ref.host}: the token service at ${realm} answered ${why}; that is not a token (is the registry's auth realm right?)`, "protocol");
    if (r.status !== 200) throw bad(`${r.status}: ${excerpt(r.body) || "(empty body)"}`);
    let t: unknown;
    try {
      t = JSON.parse(r.body.toString("utf8"));
    } catch (e) {
      throw bad(`with malformed JSON (${quoted((e as Error).message)})`);
    }
    const token = t && typeof t === "object" ? ((t as { token?: unknown }).token ?? (t as { access_token?: unknown }).access_token) : undefined;
    if (typeof token !== "string" || !token) throw bad(`without a token: ${excerpt(r.body)}`);
    if (!/^[\x21-\x7e]+$/.test(token)) throw bad("with a token that is not printable ASCII (it cannot go in a header)");
    return `Bearer ${token}`;
  }

  private authError(status: number, why: string): RegistryError {
    const c = this.opts.credentials;
    const fix = `\`docker login ${this.ref.host}\` (DOCKER_CONFIG's config.json) or CAISSON_REGISTRY_USER and CAISSON_REGISTRY_PASSWORD`;
    if (!c) return new RegistryError(`${this.ref.host}: authentication required (${status}) and no credentials found for ${this.ref.host}; set them with ${fix}`, "auth");
    return new RegistryError(`${this.ref.host}: authentication failed (${status}) as "${c.username}" (credentials from ${c.from}): ${why}. Give the right ones with ${fix}`, "auth");
  }

  /**
   * A request to `/v2/<repo>/<path>` (or an absolute URL), authenticating on a 401 and retrying once.
   * Authorization goes only to the registry's origin; redirects are followed (307/308 keeping the
   * method and body, 301/302/303 for GET and HEAD), to another origin without it.
   */
  private async call(method: string, path: string, headers: Record<string, string> = {}, body?: Uint8Array): Promise<Response> {
    let url = /^https?:/.test(path) ? path : `${this.base}/v2/${this.ref.repo}/${path}`;
    for (let hop = 0; ; hop++) {
      const own = new URL(url).origin === new URL(this.base).origin;
      const send = () => this.raw(method, url, { ...headers, ...(own && this.token ? { authorization: this.token } : {}) }, body);
      let r = await (own && !this.settled ? this.settle(send, () => (url = url.replace(/^https:/, "http:"))) : send());
      if (own && r.status === 401) {
        this.token = await this.authorize(String(r.headers["www-authenticate"] ?? ""), `repository:${this.ref.repo}:pull,push`);
        r = await send();
        if (r.status === 401) throw this.authError(401, "it refused them");
      }
      if (r.status === 403) throw this.authError(403, `it does not allow ${method} on ${this.ref.repo}`);
      const loc = r.headers.location;
      const follow = r.status === 307 || r.status === 308 || ([301, 302, 303].includes(r.status) && (method === "GET" || method === "HEAD"));
      if (!follow || !loc) return r;
      if (hop >= MAX_REDIRECTS) throw new RegistryError(`${method} ${shownUrl(url)}: more than ${MAX_REDIRECTS} redirects`, "protocol");
      url = locate(r, method, loc).toString();
    }
  }

  /** The first request to a loopback registry: HTTPS, and plain HTTP when the other end does not speak TLS (docker's rule). */
  private async settle(send: () => Promise<Response>, toHttp: () => void): Promise<Response> {
    try {
      const r = await send();
      this.settled = true;
      return r;
    } catch (e) {
      if (!(e instanceof RegistryError && e.kind === "tls" && TLS_PROTOCOL.test(e.message))) throw e;
      this.base = `http://${this.ref.host}`;
      this.settled = true;
      toHttp();
      return send();
    }
  }

  private fail(r: Response, method: string, what: string): never {
    const body = excerpt(r.body);
    const hint =
      r.status >= 500 && !body
        ? " (an empty body: the registry's own log says why). Run the same command again once it is fixed: what was already pushed is skipped"
        : `: ${body || "(empty body)"}`;
    throw new RegistryError(`${what}: ${method} ${shownUrl(r.url)} answered ${r.status}${hint}`, "protocol");
  }

  /**
   * What the push needs, checked before anything is built: the registry answers
   * `/v2/` (the push's TLS rules: certs.d, the extra CA, plain HTTP for a loopback
   * registry that does not speak TLS), and it accepts the credentials for push on
   * the repository, asked the way the push asks (basic: the request with them is
   * not refused; bearer: the token service issues a token for `pull,push` on the
   * repository, and a token that lists what it grants grants push). Fails with
   * the push's messages.
   */
  async preflight(): Promise<void> {
    const r = await this.call("GET", `${this.base}/v2/`).catch((e: unknown) => {
      // Nothing has been pushed yet: say so, not what a push cut short would say.
      if (e instanceof RegistryError && e.kind === "unreachable") {
        throw new RegistryError(e.message.replace(/; nothing was tagged\..*$/s, "; checked first, so nothing was built. Start the registry (or check the address) and run the same command again"), "unreachable");
      }
      throw e;
    });
    if (r.status !== 200) this.fail(r, "GET", `${this.ref.host} does not answer as a registry (checked before building; is the address right?)`);
    // Judged only when the token was asked for push on the repository: a /v2/ challenge may name
    // a scope of its own (another repository, pull only), and its token says nothing of the push's.
    const mine = `repository:${this.ref.repo}:`;
    const asked = this.tokenScope?.split(" ").some((s) => s.startsWith(mine) && s.slice(mine.length).split(",").some((a) => a === "push" || a === "*"));
    const granted = asked && this.token?.startsWith("Bearer ") ? tokenActions(this.token.slice(7), this.ref.repo) : undefined;
    if (granted && !granted.includes("push") && !granted.includes("*")) {
      const c = this.opts.credentials;
      if (!c) throw this.authError(401, "");
      throw new RegistryError(
        `${this.ref.host}: its token service gives "${c.username}" (credentials from ${c.from}) no push on ${this.ref.repo} (only ${granted.join(", ") || "nothing"}); nothing was built. Use an account that may push there, or another repository`,
        "auth",
      );
    }
  }

  /** The registry's Docker-Content-Digest, when given, must be the digest sent. */
  private checkDigest(r: Response, sent: string): void {
    const got = r.headers["docker-content-digest"];
    if (typeof got === "string" && got !== sent) {
      throw new RegistryError(`${this.ref.host}: registry stored ${quoted(got)} for ${sent} (${shownUrl(r.url)}); nothing was tagged`, "protocol");
    }
  }

  /** Whether the repository has the blob. */
  async hasBlob(digest: string): Promise<boolean> {
    const r = await this.call("HEAD", `blobs/${digest}`);
    if (r.status === 404) return false;
    if (r.status !== 200) return this.fail(r, "HEAD", `checking blob ${digest}`);
    this.checkDigest(r, digest);
    return true;
  }

  /** Uploads a blob unless the repository has it; returns whether bytes were sent. */
  async pushBlob(digest: string, data: Uint8Array): Promise<boolean> {
    if (await this.hasBlob(digest)) return false;
    const start = await this.call("POST", "blobs/uploads/", { "content-type": "application/octet-stream" }, new Uint8Array(0));
    if (start.status !== 202) this.fail(start, "POST", `starting the upload of ${digest}`);
    const loc = String(start.headers.location ?? "");
    if (!loc) throw new RegistryError(`starting the upload of ${digest}: POST ${shownUrl(start.url)} answered 202 without a Location header`, "protocol");
    const u = locate(start, "POST", loc);
    u.searchParams.set("digest", digest);
    const put = await this.call("PUT", u.toString(), { "content-type": "application/octet-stream" }, data);
    if (put.status !== 201) this.fail(put, "PUT", `uploading blob ${digest}`);
    this.checkDigest(put, digest);
    return true;
  }

  /** PUTs a manifest or index under `reference` (a digest or a tag). */
  async putManifest(reference: string, mediaType: string, data: Uint8Array): Promise<void> {
    const r = await this.call("PUT", `manifests/${reference}`, { "content-type": mediaType }, data);
    if (r.status !== 201) this.fail(r, "PUT", `pushing manifest ${reference}`);
    this.checkDigest(r, sha256(data));
  }

  /** The digest `reference` (a tag) points at, or undefined when the tag does not exist. */
  async manifestDigest(reference: string): Promise<string | undefined> {
    const accept = [
      "application/vnd.oci.image.index.v1+json",
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.docker.distribution.manifest.list.v2+json",
      "application/vnd.docker.distribution.manifest.v2+json",
    ].join(", ");
    const r = await this.call("HEAD", `manifests/${reference}`, { accept });
    if (r.status === 404) return undefined;
    if (r.status !== 200) return this.fail(r, "HEAD", `looking up tag ${reference}`);
    const d = r.headers["docker-content-digest"];
    if (typeof d !== "string" || !/^sha256:[0-9a-f]{64}$/.test(d)) {
      throw new RegistryError(`looking up tag ${reference}: HEAD ${shownUrl(r.url)} answered 200 without a valid Docker-Content-Digest header (${typeof d === "string" ? `"${quoted(d)}"` : "none"}), which a registry must send; caisson cannot tell whether the tag would move, so nothing was pushed`, "protocol");
    }
    return d;
  }
}
