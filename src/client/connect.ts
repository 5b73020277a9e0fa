// A connection to BuildKit's Control API, and the way a session reaches the
// daemon: Docker's `/session` upgrade, or the Control.Session byte tunnel.
import { Duplex } from "node:stream";
import { TLSSocket } from "node:tls";
import { Control as ControlService, type BytesMessageSchema } from "../gen/buildkit/control/control_pb.js";
import { GrpcClient, GrpcError, type Call } from "../grpc/index.js";
import { BuilderError, CONNECT_TIMEOUT_MS, explainConnectError, httpRequest, pingDocker, resolveAddress, dial, type Address, type BuilderSpec } from "./endpoint.js";

/** What a session gives the daemon to find it (src/client/session implements it). */
export interface Attachable {
  readonly id: string;
  readonly name: string;
  readonly sharedKey: string;
  readonly methods: readonly string[];
  serve(conn: Duplex): void;
}

/** The session headers, as Docker's /session takes them and the tunnel's metadata (lower-cased) carries them. */
export function sessionHeaders(s: Attachable): Record<string, string | string[]> {
  return {
    "x-docker-expose-session-uuid": s.id,
    "x-docker-expose-session-name": s.name,
    "x-docker-expose-session-sharedkey": s.sharedKey,
    "x-docker-expose-session-grpc-method": [...s.methods],
  };
}

export interface Builder {
  /** For messages: `the Docker engine at unix:///var/run/docker.sock`, `tcp://host:1234`. */
  readonly display: string;
  readonly kind: "docker" | "buildkitd";
  readonly control: GrpcClient;
  /** Connects the session so the daemon can call it; resolves once it is attached. */
  attach(session: Attachable, how?: "auto" | "tunnel"): Promise<void>;
  close(): Promise<void>;
}

/** Largest tunnel message (the daemon's gRPC server refuses requests over 4 MiB). */
const TUNNEL_CHUNK = 1 << 20;

/** The Control.Session stream as a byte pipe: each write one BytesMessage, reads the concatenated data. */
export function tunnelDuplex(call: Call<typeof BytesMessageSchema, typeof BytesMessageSchema>): Duplex {
  const it = call.messages[Symbol.asyncIterator]();
  let reading = false;
  const d = new Duplex({
    read() {
      if (reading) return;
      reading = true;
      const pump = async () => {
        for (;;) {
          let r: IteratorResult<{ data: Uint8Array }>;
          try {
            r = await it.next();
          } catch (e) {
            // The stream ending with the build (cancelled by the daemon) is the tunnel's EOF.
            if (e instanceof GrpcError && e.code === 1) return d.push(null);
            return d.destroy(e as Error);
          }
          if (r.done) return d.push(null);
          if (r.value.data.length > 0 && !d.push(Buffer.from(r.value.data))) {
            reading = false;
            return;
          }
        }
      };
      void pump();
    },
    write(chunk: Buffer, _enc, cb) {
      for (let at = 0; at < chunk.length; at += TUNNEL_CHUNK) call.send({ data: chunk.subarray(at, at + TUNNEL_CHUNK) });
      cb();
    },
    final(cb) {
      call.end();
      cb();
    },
    destroy(err, cb) {
      call.cancel();
      cb(err);
    },
  });
  return d;
}

async function grpcOver(conn: Duplex, a: Address, signal?: AbortSignal, timeoutMs = CONNECT_TIMEOUT_MS): Promise<GrpcClient> {
  const authority = a.host ?? "localhost";
  const client = new GrpcClient(conn, authority);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  // The HTTP/2 handshake has a deadline too, and an interrupt ends it.
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BuilderError(`${a.display} accepted the connection but never answered within ${timeoutMs / 1000}s; is it BuildKit or a Docker engine?`)), timeoutMs);
    onAbort = () => reject(new BuilderError(`interrupted while connecting to ${a.display}`));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort);
  });
  try {
    await Promise.race([client.connected(), stop]);
  } catch (e) {
    client.destroy();
    conn.destroy();
    throw explainConnectError(e, a);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
  return client;
}

/** Opens the Control API of the builder `spec` names; throws BuilderError saying what is wrong and what to do. */
export async function connectBuilder(spec: BuilderSpec = {}, signal?: AbortSignal, timeoutMs = CONNECT_TIMEOUT_MS): Promise<Builder> {
  const a = resolveAddress(spec);
  const docker = await pingDocker(a, signal, timeoutMs);
  let control: GrpcClient;
  if (docker) {
    const up = await httpRequest(a, "POST", "/grpc", { Connection: "Upgrade", Upgrade: "h2c" }, timeoutMs, signal);
    if (up.status !== 101 || !up.socket) {
      throw new BuilderError(`${a.display} refused POST /grpc (HTTP ${up.status}: ${up.body.trim().slice(0, 200)}); it needs BuildKit (Docker 23+ with BuildKit enabled)`);
    }
    control = await grpcOver(up.socket, a, signal, timeoutMs);
  } else {
    const conn = dial(a);
    conn.on("error", () => undefined); // reported through the HTTP/2 session
    control = await grpcOver(conn, a, signal, timeoutMs);
  }
  const tunnel = (session: Attachable) => {
    const call = control.bidi(ControlService.method.session, { metadata: sessionHeaders(session) });
    session.serve(tunnelDuplex(call));
  };
  return {
    display: a.display,
    kind: docker ? "docker" : "buildkitd",
    control,
    async attach(session, how = "auto") {
      if (!docker || how === "tunnel") return tunnel(session);
      const up = await httpRequest(a, "POST", "/session", { Connection: "Upgrade", Upgrade: "h2c", ...sessionHeaders(session) });
      if (up.status !== 101 || !up.socket) throw new BuilderError(`${a.display} refused the build's session (HTTP ${up.status}: ${up.body.trim().slice(0, 200)})`);
      // Node's HTTP/2 server treats a TLS socket without ALPN as HTTP/1.1 (and answers 403):
      // hand it the bytes as a plain stream.
      session.serve(up.socket instanceof TLSSocket ? Duplex.from({ readable: up.socket, writable: up.socket }) : up.socket);
    },
    close: () => control.close(),
  };
}
