// lower: a validated ImageDefinition → the LLB graph and OCI image config of
// its runtime image, per target platform. Pure (no I/O, no clock).
//  - lower.ts: stages (on the build platform, cross-compiling), sources, the runtime filesystem
//  - toolchain.ts: GNU triples, BUILD*/TARGET* variables, compiler environment and hardening flags
//  - collect-libs.ts: the script that gathers a binary's shared libraries without running it
//  - image-config.ts: the OCI image config, with the runtime contract as labels
export { lowerImage, LowerError, type LowerOptions, type LoweredImage } from "./lower.js";
export { imageConfig, type ImageConfig } from "./image-config.js";
export { gnuTriple, hardeningFlags, platformEnv, toolchainEnv } from "./toolchain.js";
