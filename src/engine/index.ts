// engine: the real Docker Engine (embedded BuildKit) through the docker CLI.
//  - build.ts: buildWithEngine: `docker buildx build` with the caisson frontend
//  - frontend-image.ts: ensureFrontendImage: the frontend image, self-assembled
//  - docker.ts: the docker binary, checkEngine, EngineError
export { buildWithEngine, buildxArgs, checkOutputDest, failureReason, moveIntoPlace, OutputRefused, outputFlag, syntaxDirective } from "./build.js";
export type { EngineBuildOptions, EngineBuildResult, EngineOutput } from "./build.js";
export { bundleFrontend, writeFrontendFiles, PREBUILT_BUNDLE, PREBUILT_DIR, caissonVersion, ensureFrontendImage, FRONTEND_REPO, FRONTEND_UID, hasImage } from "./frontend-image.js";
export type { FrontendImage, FrontendImageOptions } from "./frontend-image.js";
export { checkEngine, dockerBinary, EngineError, engineAnswers } from "./docker.js";
