// Entrypoint of the frontend image (bundled into one file by esbuild).
// stdin/stdout are BuildKit's gRPC connection: log to stderr only.
import { Duplex } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { hostPlatform } from "../compile/index.js";
import { LLBBridge, ReturnRequestSchema } from "../gen/buildkit/gateway/gateway_pb.js";
import { errorStatus } from "./errors.js";
import { runFrontend, type Bridge } from "./frontend.js";
import { GrpcClient } from "../grpc/index.js";
import { parseFrontendEnv, type FrontendOptions } from "./options.js";

/** Unprivileged identity the frontend drops to (BuildKit starts it as root and ignores the image's User). */
const NOBODY = 65532;

function log(line: string): void {
  process.stderr.write(line.endsWith("\n") ? line : line + "\n");
}

/** Gives up root before touching any input, unless CAISSON_FRONTEND_KEEP_ROOT is set. */
function dropPrivileges(): void {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return;
  if (process.env["CAISSON_FRONTEND_KEEP_ROOT"]) return;
  process.setgroups?.([]);
  process.setgid?.(NOBODY);
  process.setuid?.(NOBODY);
}

export async function main(): Promise<number> {
  dropPrivileges();
  const client = new GrpcClient(Duplex.from({ readable: process.stdin, writable: process.stdout }));
  const bridge: Bridge = {
    solve: (req) => client.call(LLBBridge.method.solve, req),
    readFile: (req) => client.call(LLBBridge.method.readFile, req),
    resolveImageConfig: (req) => client.call(LLBBridge.method.resolveImageConfig, req),
    return: (req) => client.call(LLBBridge.method.return, req),
  };
  let opts: FrontendOptions;
  try {
    opts = parseFrontendEnv(process.env, hostPlatform());
  } catch (err) {
    await bridge.return(create(ReturnRequestSchema, { error: errorStatus(err) }));
    return 0;
  }
  await runFrontend(bridge, opts, log);
  // The outcome (result or error) went to BuildKit through Return. Exit now,
  // without closing the HTTP/2 session first: BuildKit treats its server
  // seeing the connection end before the process exits as a failure
  // ("frontend grpc server closed unexpectedly") and drops the result.
  // A non-zero exit would likewise replace the result.
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`caisson frontend: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(2);
  },
);
