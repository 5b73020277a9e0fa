import { describe, expect, it } from "vitest";
import { PLATFORM_MACHINES } from "../../src/check/policy.js";
import { parsePlatform as checkParsePlatform, CheckError } from "../../src/check/index.js";
import { FrontendOptionError, parsePlatform as frontendParsePlatform } from "../../src/frontend/options.js";
import {
  ARCHITECTURES,
  DPKG_ARCHITECTURES,
  SUPPORTED_PLATFORMS,
  archInfo,
  dpkgArch,
  formatPlatform,
  gnuTriple,
  multiarchDir,
  parsePlatform,
  platformOfDpkgArch,
} from "../../src/platform/index.js";
import { parsePlatform as validateParsePlatform } from "../../src/validate/index.js";

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64" };
const ARMV7 = { os: "linux", architecture: "arm", variant: "v7" };

describe("parsePlatform", () => {
  it.each([
    ["linux/amd64", AMD64],
    ["linux/x86_64", AMD64],
    ["linux/x86-64", AMD64],
    ["linux/amd64/v1", AMD64],
    ["Linux/AMD64", AMD64],
    [" linux/amd64 ", AMD64],
    ["linux/arm64", ARM64],
    ["linux/aarch64", ARM64],
    ["linux/arm64/v8", ARM64],
    ["linux/arm", ARMV7],
    ["linux/armhf", ARMV7],
    ["linux/armv7l", ARMV7],
    ["linux/arm/v7", ARMV7],
    ["linux/386", { os: "linux", architecture: "386" }],
    ["linux/i386", { os: "linux", architecture: "386" }],
    ["linux/i686", { os: "linux", architecture: "386" }],
    ["linux/ppc64le", { os: "linux", architecture: "ppc64le" }],
    ["linux/ppc64el", { os: "linux", architecture: "ppc64le" }],
    ["linux/s390x", { os: "linux", architecture: "s390x" }],
    ["linux/riscv64", { os: "linux", architecture: "riscv64" }],
  ])("accepts %s", (text, expected) => {
    expect(parsePlatform(text)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ["windows/amd64", /unsupported operating system "windows"/, /Linux images only/],
    ["darwin/arm64", /unsupported operating system "darwin"/, /linux\/arm64/],
    ["linux/mips", /"linux\/mips" is not supported$/, /supported: linux\/amd64/],
    ["linux/mips64le", /not supported/, /linux\/riscv64/],
    ["linux/arm/v6", /not supported: caisson builds 32-bit ARM as linux\/arm\/v7/, /linux\/arm\/v7/],
    ["linux/arm/v5", /linux\/arm\/v7/, /supported/],
    ["linux/armel", /armel is Debian's ARMv5/, /supported/],
    ["linux/armv6l", /linux\/arm\/v7/, /supported/],
    ["linux/ppc64", /big-endian/, /linux\/ppc64le/],
    ["linux/amd64/v3", /no variant of linux\/amd64/, /supported/],
    ["linux/arm64/v9", /no variant of linux\/arm64/, /supported/],
    ["linux/s390x/v1", /no variant/, /supported/],
    ["linux/sparc", /unknown architecture "sparc"/, /supported/],
    ["linux/__proto__", /unknown architecture/, /supported/],
    ["linux", /must be os\/arch\[\/variant\]/, /linux\/amd64/],
    ["linux//amd64", /must be os\/arch/, /e\.g\./],
    ["linux/arm/v7/x", /must be os\/arch/, /e\.g\./],
    ["", /must be os\/arch/, /e\.g\./],
  ])("refuses %j", (text, message, hint) => {
    const r = parsePlatform(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.message).toMatch(message);
    expect(r.hint).toMatch(hint);
  });

  it("escapes control characters and cuts long text in messages", () => {
    const r = parsePlatform(`linux/\u001b[31m${"x".repeat(200)}`);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.message).not.toContain("\u001b");
    expect(r.message).toContain("\\u001b");
    expect(r.message.length).toBeLessThan(250);
  });

  it("formats what it parses back to the canonical form, and that parses to itself", () => {
    for (const s of SUPPORTED_PLATFORMS) {
      const r = parsePlatform(s);
      expect(r.ok && formatPlatform(r.value)).toBe(s);
    }
    expect(SUPPORTED_PLATFORMS).toEqual(["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/386", "linux/ppc64le", "linux/s390x", "linux/riscv64"]);
  });
});

describe("names of an architecture", () => {
  it("dpkg architectures, GNU triples and multiarch directories", () => {
    const row = (s: string) => {
      const r = parsePlatform(s);
      if (!r.ok) throw new Error(r.message);
      return [dpkgArch(r.value), gnuTriple(r.value), multiarchDir(r.value)];
    };
    expect(row("linux/amd64")).toEqual(["amd64", "x86_64-linux-gnu", "x86_64-linux-gnu"]);
    expect(row("linux/arm64")).toEqual(["arm64", "aarch64-linux-gnu", "aarch64-linux-gnu"]);
    expect(row("linux/arm/v7")).toEqual(["armhf", "arm-linux-gnueabihf", "arm-linux-gnueabihf"]);
    // Debian's i386: the cross compiler is i686-linux-gnu-gcc, the libraries are in /lib/i386-linux-gnu.
    expect(row("linux/386")).toEqual(["i386", "i686-linux-gnu", "i386-linux-gnu"]);
    expect(row("linux/ppc64le")).toEqual(["ppc64el", "powerpc64le-linux-gnu", "powerpc64le-linux-gnu"]);
    expect(row("linux/s390x")).toEqual(["s390x", "s390x-linux-gnu", "s390x-linux-gnu"]);
    expect(row("linux/riscv64")).toEqual(["riscv64", "riscv64-linux-gnu", "riscv64-linux-gnu"]);
    expect(DPKG_ARCHITECTURES).toEqual(["amd64", "arm64", "armhf", "i386", "ppc64el", "s390x", "riscv64"]);
  });

  it("maps dpkg architectures back to platforms", () => {
    for (const a of ARCHITECTURES) expect(platformOfDpkgArch(a.dpkg)).toEqual(a.platform);
    expect(platformOfDpkgArch("armel")).toBeUndefined();
  });

  it("refuses to make up names for a platform it does not support", () => {
    expect(archInfo({ os: "windows", architecture: "amd64" })).toBeUndefined();
    expect(archInfo({ os: "linux", architecture: "arm", variant: "v6" })).toBeUndefined();
    expect(archInfo({ os: "linux", architecture: "aarch64" })?.dpkg).toBe("arm64");
    expect(() => gnuTriple({ os: "linux", architecture: "mips" })).toThrow(/not a supported platform/);
    expect(() => dpkgArch({ os: "windows", architecture: "amd64" })).toThrow(/not a supported platform/);
  });

  it("the check looks for libraries where lowering collects them", () => {
    for (const a of ARCHITECTURES) {
      expect(PLATFORM_MACHINES[a.platform.architecture]?.triple, formatPlatform(a.platform)).toBe(a.multiarch);
    }
  });
});

describe("one parser for validate, the frontend and check", () => {
  const inputs = ["linux/amd64", "linux/x86_64", "linux/arm64/v8", "linux/arm", "linux/i686", "windows/amd64", "linux/mips", "linux/arm/v6", "garbage", "linux/amd64/v3"];
  it.each(inputs)("%s", (text) => {
    const v = validateParsePlatform(text);
    const f = (() => {
      try {
        return { ok: true, value: frontendParsePlatform(text) };
      } catch (e) {
        expect(e).toBeInstanceOf(FrontendOptionError);
        return { ok: false };
      }
    })();
    const c = (() => {
      try {
        return { ok: true, value: checkParsePlatform(text) };
      } catch (e) {
        expect(e).toBeInstanceOf(CheckError);
        return { ok: false };
      }
    })();
    expect(f.ok).toBe(v.ok);
    expect(c.ok).toBe(v.ok);
    if (v.ok) {
      expect(f).toEqual({ ok: true, value: v.value });
      expect(c).toEqual({ ok: true, value: v.value });
    }
  });

  it("check also takes a bare architecture, as linux's", () => {
    expect(checkParsePlatform("x86_64")).toEqual(AMD64);
    expect(() => checkParsePlatform("mips")).toThrow(CheckError);
  });
});
