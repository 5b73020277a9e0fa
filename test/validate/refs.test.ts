import { describe, expect, it } from "vitest";
import { parseDuration, parseImageRef, parsePlatform, parsePort } from "../../src/validate/index.js";
import { checkImportPath, parseDebianSource } from "../../src/validate/refs.js";
import { imageSchema } from "../../src/validate/schema.js";

const D = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

describe("parsePlatform", () => {
  it.each([
    ["linux/amd64", { os: "linux", architecture: "amd64" }],
    ["linux/x86_64", { os: "linux", architecture: "amd64" }],
    ["linux/aarch64", { os: "linux", architecture: "arm64" }],
    ["linux/arm64/v8", { os: "linux", architecture: "arm64" }],
    ["linux/arm", { os: "linux", architecture: "arm", variant: "v7" }],
    ["linux/arm/v7", { os: "linux", architecture: "arm", variant: "v7" }],
    ["linux/i386", { os: "linux", architecture: "386" }],
    ["Linux/AMD64", { os: "linux", architecture: "amd64" }],
  ])("%s", (text, expected) => {
    expect(parsePlatform(text)).toEqual({ ok: true, value: expected });
  });
  it.each(["linux", "linux/mips", "windows/amd64", "linux/arm/v6", "linux/amd64/v3", "linux//amd64", "a/b/c/d"])("rejects %s", (t) => {
    expect(parsePlatform(t).ok).toBe(false);
  });
  it("lists the supported architectures", () => {
    const r = parsePlatform("linux/mips");
    expect(!r.ok && r.hint).toContain("linux/arm/v7");
  });
});

describe("parseImageRef", () => {
  it.each([
    ["debian", "docker.io/library/debian:latest"],
    ["debian:bookworm", "docker.io/library/debian:bookworm"],
    ["caisson/debian:bookworm", "docker.io/caisson/debian:bookworm"],
    [`debian@sha256:${D}`, `docker.io/library/debian@sha256:${D}`],
    [`debian:bookworm@sha256:${D}`, `docker.io/library/debian:bookworm@sha256:${D}`],
    ["docker.io/library/debian:12", "docker.io/library/debian:12"],
    ["index.docker.io/library/debian:12", "docker.io/library/debian:12"],
    ["localhost:5000/app", "localhost:5000/app:latest"],
    ["registry.example.org/team/app:1.0", "registry.example.org/team/app:1.0"],
  ])("%s → %s", (text, ref) => {
    const r = parseImageRef(text);
    expect(r.ok && r.value.ref).toBe(ref);
  });
  it("reports malformed digests as such", () => {
    expect(parseImageRef("debian@sha256:abc")).toMatchObject({ ok: false, code: "malformed_digest" });
    expect(parseImageRef(`debian@sha256:${D.toUpperCase()}`)).toMatchObject({ ok: false, code: "malformed_digest", message: expect.stringContaining("lower-case") });
    expect(parseImageRef("Debian:12")).toMatchObject({ ok: false, code: "invalid_image_ref" });
    expect(parseImageRef("debian:bad tag")).toMatchObject({ ok: false, code: "invalid_image_ref" });
  });
});

describe("parsePort / parseDuration", () => {
  it("normalises ports", () => {
    expect(parsePort("6379")).toEqual({ ok: true, value: "6379/tcp" });
    expect(parsePort("53/udp")).toEqual({ ok: true, value: "53/udp" });
    expect(parsePort("0").ok).toBe(false);
    expect(parsePort("65536").ok).toBe(false);
  });
  it("converts durations to nanoseconds", () => {
    expect(parseDuration("30s")).toEqual({ ok: true, value: 30e9 });
    expect(parseDuration("1m30s")).toEqual({ ok: true, value: 90e9 });
    expect(parseDuration("500ms")).toEqual({ ok: true, value: 5e8 });
    expect(parseDuration("1.5h")).toEqual({ ok: true, value: 5400e9 });
    expect(parseDuration("30").ok).toBe(false);
    expect(parseDuration(".5s")).toEqual({ ok: true, value: 5e8 });
    expect(parseDuration("5.s")).toEqual({ ok: true, value: 5e9 });
    expect(parseDuration("1.5μs")).toEqual({ ok: true, value: 1500 });
    for (const bad of [".s", "s", "-1s", "1.5", ".", "1..5s"]) expect(parseDuration(bad).ok, bad).toBe(false);
  });
});

const DEBIAN_PATTERN = new RegExp((imageSchema.$defs.debianSource.properties.debian as unknown as { pattern: string }).pattern, "u");

describe("parseDebianSource", () => {
  it.each([
    ["redis=5:7.0.15-1~deb12u10", "redis", "5:7.0.15-1~deb12u10"],
    ["openssl=3.0.15-1~deb12u1", "openssl", "3.0.15-1~deb12u1"],
    ["gcc-12=12.2.0-14+deb12u1", "gcc-12", "12.2.0-14+deb12u1"],
    ["libxml2=2.9.14+dfsg-1.3~deb12u1", "libxml2", "2.9.14+dfsg-1.3~deb12u1"],
    ["dpkg=1.21.22", "dpkg", "1.21.22"],
    ["tzdata=2024a-0+deb12u1", "tzdata", "2024a-0+deb12u1"],
    ["g++-12=12.2.0-14", "g++-12", "12.2.0-14"],
    ["pkg=1:2.0-rc1-3", "pkg", "1:2.0-rc1-3"],
    ["pkg=0~git20240101.abc-1", "pkg", "0~git20240101.abc-1"],
  ])("%s", (text, pkg, version) => {
    expect(parseDebianSource(text)).toEqual({ ok: true, value: { package: pkg, version } });
    expect(DEBIAN_PATTERN.test(text)).toBe(true);
  });
  it.each([
    ["redis", "must be <source package>=<version>"],
    ["redis=", "the version is missing"],
    ["r=1.0", "not a Debian source package name"],
    ["Redis=1.0", 'write "redis=1.0"'],
    ["redis=v1.0", "must start with a digit"],
    ["redis=x:1.0", 'the epoch "x" must be a number'],
    ["redis=1:2:3", "only the epoch"],
    ["redis=1.0-", "revision after the last '-' is empty"],
    ["redis=1.0_2", "'_' cannot appear"],
    ["redis=1.0-1_2", "'_' cannot appear"],
  ])("rejects %s", (text, why) => {
    const r = parseDebianSource(text);
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : `${r.message} ${r.hint ?? ""}`).toContain(why);
    expect(DEBIAN_PATTERN.test(text)).toBe(false);
  });
});

describe("checkImportPath", () => {
  it.each(["images/builder/image.yaml", "b.yml", "x/y.json"])("accepts %s", (p) => {
    expect(checkImportPath(p)).toEqual({ ok: true, value: p });
  });
  it.each([
    ["/images/b.yaml", 'write "images/b.yaml"'],
    ["../b/image.yaml", '".."'],
    ["a/../b.yaml", '".."'],
    ["./b.yaml", 'write "b.yaml"'],
    ["a//b.yaml", 'write "a/b.yaml"'],
    ["images/builder", 'write "images/builder/image.yaml"'],
    ["images/builder/", 'write "images/builder/image.yaml"'],
    ["notes.txt", ".yaml, .yml or .json"],
  ])("rejects %s", (p, why) => {
    const r = checkImportPath(p);
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : `${r.message} ${r.hint ?? ""}`).toContain(why);
  });
});
