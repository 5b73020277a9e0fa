// client: caisson's own BuildKit client.
//  - endpoint.ts: --builder / CAISSON_BUILDER / DOCKER_HOST → an address, TLS, failures named
//  - connect.ts: the Control API connection (Docker's /grpc upgrade or plain gRPC) and the session's way in
//  - solve.ts: Control.Solve (client-driven gateway build, or a daemon frontend) with Control.Status
//  - progress.ts: tty / plain / json displays of the status stream
//  - errors.ts: a failed solve as the definition's file:line:col with the code frame
//  - build.ts: `caisson build`'s build: outputs, session, progress, atomic files
//  - session/: the services the daemon calls back (local sources, outputs, auth, secrets)
export { buildNative, exporterFor, parseCacheSpec, type NativeBuildOptions, type NativeBuildResult } from "./build.js";
export { connectBuilder, sessionHeaders, type Builder, type Attachable } from "./connect.js";
export { BuilderError, resolveAddress, type BuilderSpec, type TlsFiles } from "./endpoint.js";
export { formatFailure, failureLocations } from "./errors.js";
export { progressDisplay, ProgressState, type ProgressMode } from "./progress.js";
export { solve, solveRequest, newId, type Entry, type SolveOptions, type SolveResult } from "./solve.js";
