// Platforms, in one place: parsing and normalising `os/arch[/variant]`,
// formatting, and the names each architecture goes by elsewhere — its dpkg
// architecture (apt, `packages:`), its GNU triple (the cross toolchain's
// prefix) and its Debian multiarch directory (where its libraries live).
// Pure and dependency-free, so validate, lower, the frontend and check all
// use the same table without breaking the pipeline's one-way imports.
//
// src/llb keeps its own formatPlatform: the LLB library stands alone and
// formats whatever platform it is given; for the platforms this module
// returns, the two give the same string.

/** An OCI platform, normalised the containerd way (x86_64 → amd64, aarch64 → arm64, arm → arm/v7). */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export type PlatformResult = { ok: true; value: Platform } | { ok: false; message: string; hint: string };

/** What caisson knows about one supported target architecture. */
export interface ArchInfo {
  /** The normalised platform. */
  readonly platform: Platform;
  /** Other spellings of the architecture (the containerd, uname and Debian names). */
  readonly aliases: readonly string[];
  /** dpkg architecture: what apt and `packages:` call it. */
  readonly dpkg: string;
  /** GNU triple of Debian's cross toolchain for it (`<triple>-gcc`). */
  readonly gnuTriple: string;
  /** Debian's multiarch tuple: its libraries are in /lib/<dir> and /usr/lib/<dir>. */
  readonly multiarch: string;
}

/**
 * Every platform caisson builds for, in the order they are listed to users.
 * linux/amd64 and linux/arm64 are the tested ones; the others are lowered the
 * same way (Debian's cross toolchains and multiarch libraries).
 */
export const ARCHITECTURES: readonly ArchInfo[] = [
  { platform: { os: "linux", architecture: "amd64" }, aliases: ["x86_64", "x86-64"], dpkg: "amd64", gnuTriple: "x86_64-linux-gnu", multiarch: "x86_64-linux-gnu" },
  { platform: { os: "linux", architecture: "arm64" }, aliases: ["aarch64"], dpkg: "arm64", gnuTriple: "aarch64-linux-gnu", multiarch: "aarch64-linux-gnu" },
  {
    platform: { os: "linux", architecture: "arm", variant: "v7" },
    aliases: ["armhf", "armv7l", "armv7"],
    dpkg: "armhf",
    gnuTriple: "arm-linux-gnueabihf",
    multiarch: "arm-linux-gnueabihf",
  },
  // Debian's i386 port: the toolchain is i686-linux-gnu-gcc, the libraries are in /lib/i386-linux-gnu.
  { platform: { os: "linux", architecture: "386" }, aliases: ["i386", "i686"], dpkg: "i386", gnuTriple: "i686-linux-gnu", multiarch: "i386-linux-gnu" },
  { platform: { os: "linux", architecture: "ppc64le" }, aliases: ["ppc64el", "powerpc64le"], dpkg: "ppc64el", gnuTriple: "powerpc64le-linux-gnu", multiarch: "powerpc64le-linux-gnu" },
  { platform: { os: "linux", architecture: "s390x" }, aliases: [], dpkg: "s390x", gnuTriple: "s390x-linux-gnu", multiarch: "s390x-linux-gnu" },
  { platform: { os: "linux", architecture: "riscv64" }, aliases: [], dpkg: "riscv64", gnuTriple: "riscv64-linux-gnu", multiarch: "riscv64-linux-gnu" },
];

/** "linux/amd64", "linux/arm/v7", … */
export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** Every supported platform, formatted: linux/amd64, linux/arm64, linux/arm/v7, linux/386, linux/ppc64le, linux/s390x, linux/riscv64. */
export const SUPPORTED_PLATFORMS: readonly string[] = ARCHITECTURES.map((a) => formatPlatform(a.platform));

/** The dpkg architectures of the supported platforms: amd64, arm64, armhf, i386, ppc64el, s390x, riscv64. */
export const DPKG_ARCHITECTURES: readonly string[] = ARCHITECTURES.map((a) => a.dpkg);

const SUPPORTED_HINT = `supported: ${SUPPORTED_PLATFORMS.join(", ")}`;

const ARM_ONLY_V7 = "caisson builds 32-bit ARM as linux/arm/v7 (Debian's armhf) only";

/** Architectures that exist but caisson does not build for, with why when there is more to say (the word after "linux/"). */
const REFUSED: Readonly<Record<string, string | undefined>> = {
  armel: `armel is Debian's ARMv5 soft-float port; ${ARM_ONLY_V7}`,
  armv5: ARM_ONLY_V7,
  armv5l: ARM_ONLY_V7,
  armv6: ARM_ONLY_V7,
  armv6l: ARM_ONLY_V7,
  ppc64: "big-endian ppc64 is not linux/ppc64le",
  mips: undefined,
  mipsle: undefined,
  mipsel: undefined,
  mips64: undefined,
  mips64le: undefined,
  mips64el: undefined,
  loong64: undefined,
  loongarch64: undefined,
  ppc: undefined,
  powerpc: undefined,
  sparc64: undefined,
  wasm: undefined,
};

function byArch(arch: string): ArchInfo | undefined {
  return ARCHITECTURES.find((a) => a.platform.architecture === arch || a.aliases.includes(arch));
}

/** A printable form of what was written, for messages (control characters escaped, long text cut). */
function quote(text: string): string {
  const cut = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  return JSON.stringify(cut);
}

/**
 * Parses `os/arch[/variant]` and normalises it: case-insensitive,
 * x86_64/x86-64 → amd64, aarch64 and arm64/v8 → arm64, arm/armhf/armv7l →
 * arm/v7, i386/i686 → 386, ppc64el → ppc64le, amd64/v1 → amd64. Only the
 * supported platforms are accepted; anything else is refused with the reason
 * and the supported list.
 */
export function parsePlatform(text: string): PlatformResult {
  const parts = text.trim().toLowerCase().split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) {
    return { ok: false, message: `platform ${quote(text)} must be os/arch[/variant]`, hint: "e.g. linux/amd64 or linux/arm/v7" };
  }
  const [os = "", rawArch = "", rawVariant] = parts;
  if (os !== "linux") {
    return {
      ok: false,
      message: `unsupported operating system ${quote(os)} in platform ${quote(text)}`,
      hint: `caisson builds Linux images only; ${SUPPORTED_HINT}`,
    };
  }
  if (Object.prototype.hasOwnProperty.call(REFUSED, rawArch)) {
    const why = REFUSED[rawArch];
    return { ok: false, message: `platform ${quote(text)} is not supported${why !== undefined ? `: ${why}` : ""}`, hint: SUPPORTED_HINT };
  }
  const info = byArch(rawArch);
  if (info === undefined) return { ok: false, message: `unknown architecture ${quote(rawArch)} in platform ${quote(text)}`, hint: SUPPORTED_HINT };
  const arch = info.platform.architecture;
  const implied = rawArch === "armv7l" || rawArch === "armv7" ? "v7" : undefined;
  let variant = rawVariant ?? implied;
  // Variants that name the only one there is, the containerd way.
  if ((arch === "arm64" && variant === "v8") || (arch === "amd64" && variant === "v1")) variant = undefined;
  if (arch === "arm" && variant === undefined) variant = "v7";
  if (variant !== info.platform.variant) {
    const why = arch === "arm" ? ARM_ONLY_V7 : `caisson builds no variant of ${formatPlatform({ os, architecture: arch })}`;
    return { ok: false, message: `platform ${quote(text)} is not supported: ${why}`, hint: SUPPORTED_HINT };
  }
  return { ok: true, value: info.platform };
}

/** The same platform (variants compared as written; "" and none are the same). */
export function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? "") === (b.variant ?? "");
}

/** The table entry of a supported platform (normalised first: aarch64 is arm64); undefined for any other. */
export function archInfo(p: Platform): ArchInfo | undefined {
  const r = parsePlatform(formatPlatform(p));
  return r.ok ? ARCHITECTURES.find((a) => samePlatform(a.platform, r.value)) : undefined;
}

function info(p: Platform, what: string): ArchInfo {
  const i = archInfo(p);
  if (!i) throw new Error(`${formatPlatform(p)} is not a supported platform (no ${what}); ${SUPPORTED_HINT}`);
  return i;
}

/** The dpkg architecture of a platform (the name apt and `packages:` use): amd64, arm64, armhf, i386, ppc64el, s390x, riscv64. */
export function dpkgArch(p: Platform): string {
  return info(p, "dpkg architecture").dpkg;
}

/** GNU triple of the platform's cross toolchain, e.g. aarch64-linux-gnu (linux/386: i686-linux-gnu). */
export function gnuTriple(p: Platform): string {
  return info(p, "GNU triple").gnuTriple;
}

/** Debian's multiarch directory name for the platform's libraries, e.g. aarch64-linux-gnu (linux/386: i386-linux-gnu). */
export function multiarchDir(p: Platform): string {
  return info(p, "multiarch directory").multiarch;
}

/** The platform of a dpkg architecture (armhf → linux/arm/v7); undefined for one caisson does not build for. */
export function platformOfDpkgArch(dpkg: string): Platform | undefined {
  return ARCHITECTURES.find((a) => a.dpkg === dpkg)?.platform;
}
