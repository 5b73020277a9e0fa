// Where BuildKit is, and how to reach it.
//
//   docker (default)   the Docker engine of DOCKER_HOST (unix socket, or tcp
//                      with TLS from DOCKER_CERT_PATH / DOCKER_TLS_VERIFY):
//                      POST /grpc upgraded to h2c carries the Control API,
//                      POST /session upgraded to h2c carries the session.
//   unix:///path       a Docker engine's socket or a buildkitd socket;
//   tcp://host:port    the same over TCP, with mutual TLS when a CA, client
//                      certificate and key are given.
// A unix:// or tcp:// endpoint is asked `GET /_ping` first: a Docker engine
// answers it; a buildkitd does not speak HTTP/1.1 and gets plain gRPC, its
// session going through the Control.Session tunnel.
import http from "node:http";
import { readFileSync, statSync } from "node:fs";
import net from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import tls from "node:tls";

/** A builder that cannot be used; the message says what is wrong and what to do. */
export class BuilderError extends Error {
  override readonly name = "BuilderError";
}

export interface TlsFiles {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /** Skip verifying the server's certificate (DOCKER_CERT_PATH without DOCKER_TLS_VERIFY). */
  readonly insecure?: boolean;
}

export interface BuilderSpec {
  /** `docker`, `unix:///path`, `tcp://host:port`; default $CAISSON_BUILDER, else `docker`. */
  readonly builder?: string;
  readonly tls?: TlsFiles;
  readonly env?: NodeJS.ProcessEnv;
}

/** A resolved address: how to open a byte stream to it. */
export interface Address {
  /** As the user wrote it (for messages). */
  readonly display: string;
  /** What the builder is when it is known without asking (`docker` always is a Docker engine). */
  readonly kind: "docker" | "probe";
  /** Where the setting came from, for messages that say what to change. */
  readonly origin: string;
  readonly unix?: string;
  readonly host?: string;
  readonly port?: number;
  readonly tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; insecure: boolean };
}

function readPem(path: string, what: string, flag: string): Buffer {
  try {
    // A FIFO or a device would block the read (and the process) forever: regular files only.
    const st = statSync(path);
    if (!st.isFile() && !st.isDirectory()) throw new BuilderError(`cannot read the ${what} ${path}: not a regular file (give a readable PEM file with ${flag})`);
    return readFileSync(path);
  } catch (e) {
    if (e instanceof BuilderError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "EISDIR" ? "it is a directory" : code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (code ?? (e as Error).message);
    throw new BuilderError(`cannot read the ${what} ${path}: ${why} (give a readable PEM file with ${flag})`);
  }
}

function parseUrl(value: string, origin: string): { unix?: string; host?: string; port?: number } {
  if (value.startsWith("unix://")) {
    const path = value.slice("unix://".length);
    if (!path.startsWith("/")) throw new BuilderError(`${origin} ${value}: a unix socket needs an absolute path, e.g. unix:///run/buildkit/buildkitd.sock`);
    return { unix: path };
  }
  if (value.startsWith("tcp://")) {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new BuilderError(`${origin} ${value}: not a valid address (want tcp://HOST:PORT)`);
    }
    if (!u.port) throw new BuilderError(`${origin} ${value}: give the port, e.g. tcp://${u.hostname}:1234`);
    return { host: u.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(u.port) };
  }
  throw new BuilderError(`${origin} ${value}: unknown builder (use docker, unix:///path/to/socket or tcp://HOST:PORT)`);
}

/** Resolves `--builder` / CAISSON_BUILDER / DOCKER_HOST to an address; throws BuilderError. */
export function resolveAddress(spec: BuilderSpec = {}): Address {
  const env = spec.env ?? process.env;
  const fromFlag = spec.builder;
  const builder = fromFlag ?? env["CAISSON_BUILDER"] ?? "docker";
  const origin = fromFlag !== undefined ? "--builder" : env["CAISSON_BUILDER"] !== undefined ? "CAISSON_BUILDER" : "--builder";
  const t = spec.tls ?? {};
  const given = [t.ca, t.cert, t.key].some((x) => x !== undefined);
  if (builder === "docker") {
    if (given) throw new BuilderError(`--tls-ca, --tls-cert and --tls-key apply to a tcp:// builder only; the docker builder takes its TLS files from DOCKER_CERT_PATH and DOCKER_TLS_VERIFY`);
    const host = env["DOCKER_HOST"] || "unix:///var/run/docker.sock";
    if (!host.startsWith("unix://") && !host.startsWith("tcp://")) {
      throw new BuilderError(`DOCKER_HOST=${host}: caisson reaches a Docker engine over unix:// or tcp:// only (for ssh, forward the socket: ssh -L /tmp/docker.sock:/var/run/docker.sock HOST, then DOCKER_HOST=unix:///tmp/docker.sock)`);
    }
    const where = parseUrl(host, "DOCKER_HOST");
    const certPath = env["DOCKER_CERT_PATH"] || join(homedir(), ".docker");
    const verify = (env["DOCKER_TLS_VERIFY"] ?? "") !== "";
    const useTls = where.host !== undefined && (verify || (env["DOCKER_CERT_PATH"] ?? "") !== "" || (env["DOCKER_TLS"] ?? "") !== "");
    const tlsOpts = useTls
      ? {
          ...(verify ? { ca: readPem(join(certPath, "ca.pem"), "CA certificate", "DOCKER_CERT_PATH") } : {}),
          cert: readPem(join(certPath, "cert.pem"), "client certificate", "DOCKER_CERT_PATH"),
          key: readPem(join(certPath, "key.pem"), "client key", "DOCKER_CERT_PATH"),
          insecure: !verify,
        }
      : undefined;
    return { display: `the Docker engine at ${host}`, kind: "docker", origin: "DOCKER_HOST", ...where, ...(tlsOpts ? { tls: tlsOpts } : {}) };
  }
  const where = parseUrl(builder, origin);
  if (where.unix !== undefined && given) throw new BuilderError(`${origin} ${builder}: --tls-ca, --tls-cert and --tls-key apply to tcp:// builders only`);
  if ((t.cert === undefined) !== (t.key === undefined)) throw new BuilderError(`${origin} ${builder}: --tls-cert and --tls-key go together (the client certificate and its key)`);
  const tlsOpts = given
    ? {
        ...(t.ca !== undefined ? { ca: readPem(t.ca, "CA certificate", "--tls-ca") } : {}),
        ...(t.cert !== undefined ? { cert: readPem(t.cert, "client certificate", "--tls-cert") } : {}),
        ...(t.key !== undefined ? { key: readPem(t.key, "client key", "--tls-key") } : {}),
        insecure: t.insecure ?? false,
      }
    : undefined;
  return { display: builder, kind: "probe", origin, ...where, ...(tlsOpts ? { tls: tlsOpts } : {}) };
}

/** Opens a byte stream to the address (TLS when configured); errors arrive as the stream's "error" event. */
export function dial(a: Address): Duplex {
  if (a.unix !== undefined) return net.connect(a.unix);
  const t = a.tls;
  if (!t) return net.connect(a.port as number, a.host);
  const host = a.host as string;
  return tls.connect({
    host,
    port: a.port as number,
    ...(net.isIP(host) ? {} : { servername: host }),
    ...(t.ca ? { ca: t.ca } : {}),
    ...(t.cert ? { cert: t.cert } : {}),
    ...(t.key ? { key: t.key } : {}),
    rejectUnauthorized: !t.insecure,
  });
}

/** What went wrong reaching the builder, and what to do about it. */
export function explainConnectError(err: unknown, a: Address): BuilderError {
  if (err instanceof BuilderError) return err;
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = e.code ?? "";
  const msg = e.message ?? String(err);
  const where = a.display;
  const change = a.kind === "docker" ? "start the engine (hack/engine.sh) or point DOCKER_HOST at a running one" : `start it or give another ${a.origin}`;
  if (code === "ENOENT" || code === "ECONNREFUSED") return new BuilderError(`cannot reach ${where}: nothing listens there (${code}); ${change}`);
  if (code === "EACCES" || code === "EPERM") return new BuilderError(`cannot reach ${where}: permission denied on the socket; run as a user allowed to use it (root, or the docker group)`);
  if (code === "ETIMEDOUT" || code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new BuilderError(`cannot reach ${where}: ${code}; check the host name and port, and that a firewall lets the connection through`);
  }
  const tlsWhat = a.kind === "docker" ? "DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem)" : "--tls-ca, --tls-cert and --tls-key";
  if (/CERTIFICATE_REQUIRED|certificate required|HANDSHAKE_FAILURE|handshake failure/i.test(code + msg) && a.tls && !a.tls.cert) {
    return new BuilderError(`${where} refused the TLS connection: it requires a client certificate; give one signed by the CA it trusts with ${tlsWhat}`);
  }
  if (/CERTIFICATE_REQUIRED|certificate required/i.test(code + msg)) {
    return new BuilderError(`${where} refused the TLS connection: it wants a client certificate; give one with ${tlsWhat}`);
  }
  if (/BAD_CERTIFICATE|UNKNOWN_CA|bad certificate|unknown ca|DECRYPT_ERROR|CERTIFICATE_UNKNOWN/i.test(code + msg)) {
    return new BuilderError(`${where} rejected the client certificate (${msg.split("\n")[0]}); give a certificate signed by the CA the builder trusts with ${tlsWhat}`);
  }
  if (/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ALTNAME|ERR_TLS_CERT/i.test(code)) {
    return new BuilderError(`the server certificate of ${where} is not trusted (${code}: ${msg}); give the CA that signed it with ${tlsWhat}${/ALTNAME/.test(code) ? ", and connect by a name the certificate lists" : ""}`);
  }
  if (/wrong version number|WRONG_VERSION_NUMBER|packet length too long|unknown protocol/i.test(code + msg)) {
    return new BuilderError(`${where} does not speak TLS (${msg}); leave out the TLS options, or check the port`);
  }
  if (code === "ECONNRESET" || code === "EPIPE" || /socket hang up/.test(msg)) {
    if (a.tls) return new BuilderError(`${where} closed the TLS connection (${code || msg}); it probably requires a client certificate it trusts: give one with ${tlsWhat}`);
    return new BuilderError(`${where} closed the connection (${code || msg}); if it expects TLS, give ${a.kind === "docker" ? "DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH" : "--tls-ca, --tls-cert and --tls-key"}`);
  }
  return new BuilderError(`cannot use ${where}: ${msg}`);
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** For a 101: the upgraded connection, bytes already read pushed back. */
  readonly socket?: Duplex;
}

/** One HTTP/1.1 request on a new connection; an `Upgrade` header makes a 101 hand back the socket. */
export function httpRequest(a: Address, method: string, path: string, headers: Record<string, string | string[]> = {}, timeoutMs = 10_000, signal?: AbortSignal): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let done = false;
    let accepted = false;
    const fail = (e: unknown) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        reject(explainConnectError(e, a));
      }
    };
    const onAbort = () => {
      req.destroy();
      fail(new BuilderError(`interrupted while connecting to ${a.display}`));
    };
    // Node's `timeout` option is not applied to a socket from createConnection: a deadline of its own,
    // covering the connection, TLS and the answer.
    const timer = setTimeout(() => {
      req.destroy();
      fail(
        accepted
          ? new BuilderError(`${a.display} accepted the connection but never answered within ${timeoutMs / 1000}s; is it BuildKit or a Docker engine?`)
          : Object.assign(new Error(`no connection within ${timeoutMs / 1000}s`), { code: "ETIMEDOUT" }),
      );
    }, timeoutMs);
    const settle = () => {
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const req = http.request({
      method,
      path,
      // No body: Content-Length 0, or Node would frame the POST as chunked and send a
      // terminating chunk that the upgraded connection's peer would read as HTTP/2 bytes.
      headers: { Host: "docker", ...(method === "POST" ? { "Content-Length": "0" } : {}), ...headers },
      createConnection: () => {
        const sock = dial(a) as net.Socket;
        sock.once(a.tls ? "secureConnect" : "connect", () => void (accepted = true));
        return sock;
      },
    });
    if (signal?.aborted) queueMicrotask(onAbort);
    else signal?.addEventListener("abort", onAbort);
    req.on("error", fail);
    req.on("upgrade", (res, socket, head) => {
      settle();
      socket.setTimeout(0);
      if (head.length > 0) socket.unshift(head);
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: "", socket });
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", fail);
      res.on("end", () => {
        if (done) return;
        settle();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    req.end();
  });
}

/** How long connecting to a builder and its first answer may take. */
export const CONNECT_TIMEOUT_MS = 15_000;

/** The oldest Docker API whose engine carries BuildKit's Control API on /grpc with exporters caisson uses (Docker 23). */
export const MIN_DOCKER_API = "1.42";

function apiAtLeast(v: string, min: string): boolean {
  const [a = 0, b = 0] = v.split(".").map(Number);
  const [c = 0, d = 0] = min.split(".").map(Number);
  return a > c || (a === c && b >= d);
}

/** Asks `GET /_ping`: true for a Docker engine fit to build (throws BuilderError naming why not), false for something else (a buildkitd). */
export async function pingDocker(a: Address, signal?: AbortSignal, timeoutMs = CONNECT_TIMEOUT_MS): Promise<boolean> {
  let answer: HttpAnswer;
  try {
    answer = await httpRequest(a, "GET", "/_ping", {}, timeoutMs, signal);
  } catch (e) {
    // A buildkitd hangs up on HTTP/1.1; everything else (nothing listening, TLS refused) is final.
    if (a.kind === "probe" && /closed the (TLS )?connection|Parse Error|HPE_/i.test(`${(e as Error).message}`)) return false;
    throw e;
  }
  const api = answer.headers["api-version"];
  if (typeof api !== "string") {
    if (a.kind === "probe") return false;
    throw new BuilderError(`${a.display} answered HTTP ${answer.status} without an API version: it is not a Docker engine; point DOCKER_HOST at one, or use --builder unix:///path or tcp://HOST:PORT for a buildkitd`);
  }
  if (!apiAtLeast(api, MIN_DOCKER_API)) {
    throw new BuilderError(`${a.display} is too old: Docker API ${api}, caisson needs ${MIN_DOCKER_API} or newer (Docker 23+); upgrade the engine (hack/engine.sh installs Docker 26)`);
  }
  if (answer.headers["builder-version"] === "1") {
    throw new BuilderError(`${a.display} has BuildKit turned off (its default builder is the legacy one); set "features": {"buildkit": true} in its daemon.json and restart it`);
  }
  return true;
}
