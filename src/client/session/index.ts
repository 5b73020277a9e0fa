// session: the services a BuildKit client serves back to the engine during
// a build, over the connection the engine opens to us (`/session` on Docker,
// the Control.Session tunnel on buildkitd); we are the gRPC server there.
//  - server.ts: gRPC over node:http2 on any Duplex (routing, streaming, status trailers)
//  - filesync.ts: FileSync.DiffCopy, local sources sent with fsutil's protocol
//    (walk.ts: listing order and filters; patterns.ts: .dockerignore rules; stat.ts: Go file modes)
//  - filesend.ts: FileSend.DiffCopy, exports received as a tar stream or into a directory
//  - auth.ts: Auth.Credentials from docker's config.json
//  - secrets.ts: Secrets.GetSecret
//  - grpc.health.v1.Health/Check, which the engine calls every 5 s (here)
import { createHash, randomBytes } from "node:crypto";
import { realpathSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { Duplex } from "node:stream";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { authHandler } from "./auth.js";
import { fileSendHandler, type ExportTarget } from "./filesend.js";
import { fileSyncHandler, type LocalDir } from "./filesync.js";
import { secretsHandler } from "./secrets.js";
import { GrpcServer, unary, type Handler } from "./server.js";

export type { LocalDir } from "./filesync.js";
export type { ExportTarget } from "./filesend.js";

export interface SessionOptions {
  /** FileSync.DiffCopy for local sources, by the name in the LLB's `local://NAME`. */
  locals?: Record<string, LocalDir>;
  /** Secrets.GetSecret by id. */
  secrets?: Record<string, Uint8Array>;
  /** Auth from docker's config.json (default $DOCKER_CONFIG/config.json or ~/.docker/config.json); false serves none. */
  auth?: { configFile?: string } | false;
  /**
   * FileSend.DiffCopy targets: a tar stream for the oci, docker and tar exporters, a directory for the local exporter;
   * one for every export, or one per exporter by its index in the SolveRequest's Exporters.
   */
  export?: ExportTarget | Readonly<Record<number, ExportTarget>>;
}

export interface Session {
  /** 25 base-36 characters, like BuildKit's identity.NewID. */
  readonly id: string;
  readonly name: string;
  readonly sharedKey: string;
  /** `/<service>/<Method>` of every method served: one X-Docker-Expose-Session-Grpc-Method value each. */
  readonly methods: readonly string[];
  /** Serves HTTP/2 on `conn` (the engine sends the preface). */
  serve(conn: Duplex): void;
  close(): Promise<void>;
  /** Rejects when a service fails on our side (an unreadable local source, an unwritable export target). */
  readonly errors: Promise<never>;
}

/** A random 128-bit id in base 36, zero-padded to 25 characters. */
export function newSessionId(): string {
  return BigInt(`0x${randomBytes(16).toString("hex")}`).toString(36).padStart(25, "0");
}

/**
 * The engine keeps its copy of a local source under name + shared key: the
 * same directories give the same key (a rebuild sends only what changed),
 * other directories another (two contexts never share a copy).
 */
function sharedKeyOf(locals: Readonly<Record<string, LocalDir>>): string {
  const h = createHash("sha256");
  for (const name of Object.keys(locals).sort()) {
    const dir = (locals[name] as LocalDir).dir;
    let real: string;
    try {
      real = realpathSync(dir);
    } catch {
      real = resolve(dir);
    }
    h.update(`${name}\0${real}\0`);
  }
  return h.digest("hex").slice(0, 32);
}

export function createSession(opts: SessionOptions): Session {
  let fail!: (err: Error) => void;
  const errors = new Promise<never>((_, reject) => (fail = reject));
  errors.catch(() => undefined); // nobody has to listen
  let failed = false;
  const onFailure = (err: Error) => {
    if (failed) return;
    failed = true;
    fail(err);
  };

  const handlers: [string, Handler][] = [
    unary(Health.method.check, async () => ({ status: HealthCheckResponse_ServingStatus.SERVING })),
  ];
  if (opts.locals) handlers.push(fileSyncHandler(opts.locals, onFailure));
  if (opts.export) handlers.push(fileSendHandler(opts.export, onFailure));
  if (opts.secrets) handlers.push(secretsHandler(opts.secrets));
  if (opts.auth !== false) handlers.push(authHandler(opts.auth?.configFile));

  const server = new GrpcServer(new Map(handlers));
  return {
    id: newSessionId(),
    name: basename(process.cwd()) || "caisson",
    sharedKey: sharedKeyOf(opts.locals ?? {}),
    methods: handlers.map(([path]) => path),
    serve: (conn) => server.serve(conn),
    close: () => server.close(),
    errors,
  };
}
