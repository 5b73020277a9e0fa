// frontend: caisson as a BuildKit gateway frontend (gateway.v0).
//  - main.ts: the image's entrypoint (bundled; not exported here: importing it runs it)
//  - frontend.ts: the flow (read definition → compile → solve → Return), over a Bridge
//  - grpc.ts: unary gRPC over HTTP/2 on any Duplex (BuildKit's stdio connection)
//  - images.ts: digest-pinned images checked against (and made usable from) the engine's image store
//  - options.ts, result.ts, errors.ts: the pure parts
export { runFrontend, definitionSource, type Bridge, type FrontendOutcome, type Logger } from "./frontend.js";
export { parseFrontendEnv, parsePlatform, parsePlatformList, frontendOpts, workersBuildPlatform, FrontendOptionError } from "./options.js";
export type { FrontendOptions } from "./options.js";
export { assembleResult, CONFIG_KEY, DEFINITIONS_KEY, PLATFORMS_KEY, RUNTIME_KEY, sha256Hex, type SolvedPlatform } from "./result.js";
export { diagnosticsStatus, diagnosticLine, errorStatus, sourceDetail, SOURCE_TYPE_URL, Code } from "./errors.js";
export { imageUses, resolvePinnedImages, splitImageRef, ImagePinError, IMAGE_PREFIX, type ImageUse } from "./images.js";
export { GrpcClient, GrpcError } from "../grpc/index.js";
