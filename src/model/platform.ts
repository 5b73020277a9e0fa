import type { Platform } from "./index.js";

/** Architectures caisson can name a GNU triple and a Debian toolchain for. */
export const SUPPORTED_ARCHITECTURES = ["amd64", "arm64", "arm/v7", "386", "ppc64le", "s390x", "riscv64"] as const;

const ALIASES: Record<string, string> = {
  x86_64: "amd64",
  "x86-64": "amd64",
  aarch64: "arm64",
  armhf: "arm",
  armel: "arm",
  i386: "386",
  i686: "386",
};

/**
 * Parses `os/arch[/variant]` and normalises it the containerd way
 * (x86_64 → amd64, aarch64 → arm64 without a variant, arm → arm/v7).
 * Returns the reason as a string when the text is not a platform.
 */
export function parsePlatform(text: string): Platform | string {
  const parts = text.trim().toLowerCase().split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) {
    return `"${text}" is not a platform (write os/arch, e.g. linux/amd64 or linux/arm64)`;
  }
  const [os, rawArch, rawVariant] = parts as [string, string, string | undefined];
  if (os !== "linux") return `platform "${text}": only linux images are supported`;
  const architecture = ALIASES[rawArch] ?? rawArch;
  let variant = rawVariant;
  if (architecture === "arm64" && (variant === "v8" || variant === undefined)) variant = undefined;
  else if (architecture === "arm") variant = variant ?? "v7";
  const id = variant ? `${architecture}/${variant}` : architecture;
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(id)) {
    return `platform "${text}": unsupported architecture ${id} (supported: ${SUPPORTED_ARCHITECTURES.join(", ")})`;
  }
  return { os, architecture, ...(variant ? { variant } : {}) };
}
