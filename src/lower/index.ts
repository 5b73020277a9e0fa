// lower: a validated ImageDefinition → the LLB graph and OCI image config of
// its runtime image, per target platform. Pure (no I/O, no clock).
//  - lower.ts: lowerImage, the stages (on the build platform, cross-compiling), in dependency order
//  - sources.ts: http, git and local sources
//  - runtime.ts: the runtime filesystem (passwd/group, copies, collected libraries, volumes)
//  - toolchain.ts: BUILD*/TARGET* variables, compiler environment and hardening flags (triples: src/platform)
//  - scripts.ts: every shell script an exec runs (patches, .deb install; collect-libs.ts: the
//    script that gathers a binary's shared libraries without running it)
//  - debs.ts: a stage's pinned .deb files, fetched by sha256 and installed with no network
//  - image-config.ts: the OCI image config, with the runtime contract as labels
export { lowerImage, type LowerOptions, type LoweredImage } from "./lower.js";
export { LowerError } from "./errors.js";
export { imageConfig, type ImageConfig } from "./image-config.js";
export { gnuTriple, hardeningFlags, platformEnv, toolchainEnv } from "./toolchain.js";
