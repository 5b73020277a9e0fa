import type { Hardening } from "../model/index.js";
import { formatPlatform, gnuTriple, type Platform } from "../platform/index.js";

export { gnuTriple };

/** The variables BuildKit's Dockerfile frontend defines for a build and a target platform. */
export function platformEnv(build: Platform, target: Platform, withTarget: boolean): [string, string][] {
  const id = formatPlatform;
  const env: [string, string][] = [
    ["BUILDPLATFORM", id(build)],
    ["BUILDOS", build.os],
    ["BUILDARCH", build.architecture],
    ["BUILDVARIANT", build.variant ?? ""],
  ];
  if (withTarget) {
    env.push(
      ["TARGETPLATFORM", id(target)],
      ["TARGETOS", target.os],
      ["TARGETARCH", target.architecture],
      ["TARGETVARIANT", target.variant ?? ""],
    );
  }
  return env;
}

/**
 * Compiler flags for a hardening level, per target architecture: stack
 * protector, stack clash protection, _FORTIFY_SOURCE, PIE, full RELRO,
 * non-executable stack, and CET (amd64) or branch protection (arm64).
 */
export function hardeningFlags(level: Hardening, target: Platform): { cflags: string; ldflags: string } {
  if (level === "none") return { cflags: "-O2", ldflags: "" };
  const arch =
    target.architecture === "amd64" ? ["-fcf-protection=full"] : target.architecture === "arm64" ? ["-mbranch-protection=standard"] : [];
  const cflags = [
    "-O2",
    "-fstack-protector-strong",
    "-fstack-clash-protection",
    "-D_FORTIFY_SOURCE=2",
    "-fPIE",
    "-Wformat",
    "-Werror=format-security",
    ...arch,
  ].join(" ");
  const ldflags = ["-pie", "-Wl,-z,relro", "-Wl,-z,now", "-Wl,-z,noexecstack"].join(" ");
  return { cflags, ldflags };
}

/**
 * The environment a toolchain gives a stage: the target's compilers and
 * binutils by their triple-prefixed names (so native and cross builds read
 * the same), pkg-config for the target, and the hardening flags.
 */
export function toolchainEnv(level: Hardening, build: Platform, target: Platform): [string, string][] {
  const t = gnuTriple(target);
  const { cflags, ldflags } = hardeningFlags(level, target);
  return [
    ["BUILD_TRIPLE", gnuTriple(build)],
    ["TARGET_TRIPLE", t],
    ["CC", `${t}-gcc`],
    ["CXX", `${t}-g++`],
    ["AR", `${t}-ar`],
    ["RANLIB", `${t}-ranlib`],
    ["STRIP", `${t}-strip`],
    ["OBJCOPY", `${t}-objcopy`],
    ["READELF", `${t}-readelf`],
    ["PKG_CONFIG", `${t}-pkg-config`],
    ["CFLAGS", cflags],
    ["CXXFLAGS", cflags],
    ["LDFLAGS", ldflags],
  ];
}

