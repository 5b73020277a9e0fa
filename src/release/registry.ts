// A small OCI distribution client over node:https: blobs by digest (HEAD,
// then a monolithic POST + PUT upload), manifests by digest or tag (PUT,
// HEAD), with basic and bearer-token auth and docker's certs.d CA rule.
// Every push is by digest, so a push cut short is completed by running it
// again: what is already there is skipped.
import { readdirSync, readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import type { Credentials } from "./credentials.js";

/** A registry operation that failed, with what to do about it. */
export class RegistryError extends Error {
  override readonly name = "RegistryError";
  constructor(
    message: string,
    /** `auth` (401/403), `unreachable`, `tls`, `refused` (a tag would move), `protocol`. */
    readonly kind: "auth" | "unreachable" | "tls" | "refused" | "protocol",
  ) {
    super(message);
  }
}

/** `host[:port]/path/to/repo[:tag]` split into its parts. */
export interface RepoRef {
  readonly host: string;
  readonly repo: string;
}

/** Parses `REGISTRY/REPO` (a host must be named: it has a dot or a port, or is localhost). */
export function parseRepoRef(spec: string): RepoRef {
  const slash = spec.indexOf("/");
  const host = slash < 0 ? "" : spec.slice(0, slash);
  const repo = slash < 0 ? "" : spec.slice(slash + 1);
  if (!host || !(host.includes(".") || host.includes(":") || host === "localhost") || !repo) {
    throw new RegistryError(`--to ${spec}: give REGISTRY/REPO, e.g. 127.0.0.1:5000/caisson/redis (the registry's host, then the repository)`, "protocol");
  }
  if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(repo)) {
    throw new RegistryError(`--to ${spec}: "${repo}" is not a repository name (lower-case letters, digits, . _ - separated by /)`, "protocol");
  }
  return { host, repo };
}

export interface RegistryOptions {
  readonly credentials?: Credentials;
  /** Extra CA certificates (PEM) to trust besides the system's and certs.d's. */
  readonly ca?: string;
  /** docker's per-registry CA directory: `<certsDir>/<host:port>/*.crt` (default /etc/docker/certs.d). */
  readonly certsDir?: string;
  /** Plain HTTP instead of HTTPS (a loopback registry without TLS). */
  readonly plainHttp?: boolean;
}

interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

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

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME/;

/** A client for one repository of one registry. */
export class Registry {
  private token: string | undefined;
  private readonly ca: string[] | undefined;
  private readonly base: string;

  constructor(
    readonly ref: RepoRef,
    private readonly opts: RegistryOptions = {},
  ) {
    const extra = [...certsFor(ref.host, opts.certsDir ?? "/etc/docker/certs.d"), ...(opts.ca ? [opts.ca] : [])];
    // Node replaces its default roots when `ca` is given: keep them.
    this.ca = extra.length > 0 ? [...rootCertificates, ...extra] : undefined;
    this.base = `${opts.plainHttp ? "http" : "https"}://${ref.host}`;
  }

  private raw(method: string, url: string, headers: Record<string, string>, body?: Uint8Array): Promise<Response> {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const req = (u.protocol === "http:" ? httpRequest : httpsRequest)(
        u,
        { method, headers: { ...headers, ...(body ? { "content-length": String(body.length) } : {}) }, ...(this.ca ? { ca: this.ca } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on("error", reject);
        },
      );
      req.on("error", (e: NodeJS.ErrnoException) => reject(this.netError(e, method, url)));
      req.end(body);
    });
  }

  private netError(e: NodeJS.ErrnoException, method: string, url: string): RegistryError {
    const code = e.code ?? "";
    const what = `${method} ${url}`;
    if (TLS_CODES.test(code) || /certificate|ssl|tls/i.test(e.message)) {
      return new RegistryError(
        `${this.ref.host}: TLS failed (${code || e.message}) on ${what}; if the registry uses its own CA, put it in /etc/docker/certs.d/${this.ref.host}/ca.crt (docker's rule) or give --ca-cert FILE`,
        "tls",
      );
    }
    return new RegistryError(`${this.ref.host} is unreachable (${code || e.message}) on ${what}; nothing was tagged. Start the registry (or check the address) and run the same command again: what was already pushed is skipped`, "unreachable");
  }

  /** Answers a 401 challenge: Basic with the credentials, or a bearer token fetched with them. */
  private async authorize(challenge: string, scope: string): Promise<string> {
    const creds = this.opts.credentials;
    const m = /^(\w+)\s*(.*)$/.exec(challenge.trim());
    const scheme = (m?.[1] ?? "").toLowerCase();
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}` : undefined;
    if (scheme === "basic") {
      if (!basic) throw this.authError(401, "it asks for a user name and password and none were found");
      return basic;
    }
    if (scheme !== "bearer") throw new RegistryError(`${this.ref.host}: unsupported auth challenge ${JSON.stringify(challenge)}`, "protocol");
    const params: Record<string, string> = {};
    for (const p of (m?.[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) params[p[1] as string] = p[2] as string;
    if (!params["realm"]) throw new RegistryError(`${this.ref.host}: bearer challenge without a realm: ${challenge}`, "protocol");
    const u = new URL(params["realm"]);
    if (params["service"]) u.searchParams.set("service", params["service"]);
    u.searchParams.set("scope", params["scope"] ?? scope);
    const r = await this.raw("GET", u.toString(), basic ? { authorization: basic } : {});
    if (r.status === 401 || r.status === 403) throw this.authError(r.status, "its token service refused the credentials");
    if (r.status !== 200) throw new RegistryError(`${this.ref.host}: token service answered ${r.status}: ${r.body.toString("utf8").slice(0, 200)}`, "protocol");
    const t = JSON.parse(r.body.toString("utf8")) as { token?: string; access_token?: string };
    const token = t.token ?? t.access_token;
    if (!token) throw new RegistryError(`${this.ref.host}: token service gave no token`, "protocol");
    return `Bearer ${token}`;
  }

  private authError(status: number, why: string): RegistryError {
    const c = this.opts.credentials;
    const who = c ? `as "${c.username}" (credentials from ${c.from})` : "without credentials";
    return new RegistryError(
      `${this.ref.host}: authentication failed (${status}) ${who}: ${why}. Give the right ones with \`docker login ${this.ref.host}\` (DOCKER_CONFIG's config.json) or CAISSON_REGISTRY_USER and CAISSON_REGISTRY_PASSWORD`,
      "auth",
    );
  }

  /** A request to `/v2/<repo>/<path>` (or an absolute URL), authenticating on a 401 and retrying once. */
  private async call(method: string, path: string, headers: Record<string, string> = {}, body?: Uint8Array): Promise<Response> {
    const url = /^https?:/.test(path) ? path : `${this.base}/v2/${this.ref.repo}/${path}`;
    const send = () => this.raw(method, url, { ...headers, ...(this.token ? { authorization: this.token } : {}) }, body);
    let r = await send();
    if (r.status === 401) {
      const challenge = String(r.headers["www-authenticate"] ?? "");
      this.token = await this.authorize(challenge, `repository:${this.ref.repo}:pull,push`);
      r = await send();
      if (r.status === 401) throw this.authError(401, "it refused them");
    }
    if (r.status === 403) throw this.authError(403, `it does not allow ${method} on ${this.ref.repo}`);
    return r;
  }

  private fail(r: Response, what: string): never {
    throw new RegistryError(`${this.ref.host}: ${what} failed with ${r.status}: ${r.body.toString("utf8").slice(0, 300).trim()}`, "protocol");
  }

  /** Whether the repository has the blob. */
  async hasBlob(digest: string): Promise<boolean> {
    const r = await this.call("HEAD", `blobs/${digest}`);
    if (r.status === 200) return true;
    if (r.status === 404) return false;
    return this.fail(r, `HEAD blob ${digest}`);
  }

  /** Uploads a blob unless the repository has it; returns whether bytes were sent. */
  async pushBlob(digest: string, data: Uint8Array): Promise<boolean> {
    if (await this.hasBlob(digest)) return false;
    const start = await this.call("POST", "blobs/uploads/", { "content-type": "application/octet-stream" }, new Uint8Array(0));
    if (start.status !== 202) this.fail(start, `starting the upload of ${digest}`);
    const loc = String(start.headers.location ?? "");
    if (!loc) this.fail(start, `starting the upload of ${digest} (no Location)`);
    const u = new URL(loc, `${this.base}/`);
    u.searchParams.set("digest", digest);
    const put = await this.call("PUT", u.toString(), { "content-type": "application/octet-stream" }, data);
    if (put.status !== 201) this.fail(put, `uploading blob ${digest}`);
    return true;
  }

  /** PUTs a manifest or index under `reference` (a digest or a tag). */
  async putManifest(reference: string, mediaType: string, data: Uint8Array): Promise<void> {
    const r = await this.call("PUT", `manifests/${reference}`, { "content-type": mediaType }, data);
    if (r.status !== 201) this.fail(r, `PUT manifest ${reference}`);
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
    if (r.status !== 200) return this.fail(r, `HEAD manifest ${reference}`);
    const d = r.headers["docker-content-digest"];
    if (typeof d !== "string") return this.fail(r, `HEAD manifest ${reference} (no Docker-Content-Digest)`);
    return d;
  }
}
