// Image references given on the command line: one grammar (src/reference)
// for `caisson build -o image=/push=`, `--cache-from/--cache-to
// type=registry,ref=` and `caisson release --to`, so the commands accept and
// refuse the same names; each refusal is one line, exit 2, before any work.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkReference, parseOutput } from "../../src/cli/build.js";
import { parseCacheSpec } from "../../src/client/index.js";
import { parseReference, shownReference } from "../../src/reference/index.js";
import { parseRepoRef } from "../../src/release/index.js";
import { runCli } from "../support/cli.js";

const D = "sha256:" + "a".repeat(64);

describe("parseReference", () => {
  it.each([
    ["redis", {}],
    ["caisson/redis:7.0.15", { path: "caisson/redis", tag: "7.0.15" }],
    ["127.0.0.1:5000/caisson/redis", { domain: "127.0.0.1:5000", path: "caisson/redis" }],
    ["localhost/x", { domain: "localhost", path: "x" }],
    ["localhost:5000", { path: "localhost", tag: "5000" }],
    ["[::1]:5000/a/b:t", { domain: "[::1]:5000", path: "a/b", tag: "t" }],
    ["registry.example/a.b_c__d---e/f:T_1.x-y", { domain: "registry.example", tag: "T_1.x-y" }],
    [`x:1@${D}`, { path: "x", tag: "1", digest: D }],
    [`x@sha512:${"0".repeat(128)}`, { digest: `sha512:${"0".repeat(128)}` }],
    [`r.example/x:${"t".repeat(128)}`, {}],
    ["Registry/x", { domain: "Registry", path: "x" }],
  ])("takes %s", (text, parts) => {
    const r = parseReference(text);
    expect(r.ok ? r.value : r.reason).toMatchObject(parts);
  });

  it.each([
    ["", /the name is empty/],
    ["UPPER", /the repository name must be lowercase \("UPPER": write "upper"\)/],
    ["r.example/Caisson", /the repository name must be lowercase/],
    ["a//b", /empty part/],
    ["a/", /empty part/],
    ["-a", /"-a" is not a repository name part/],
    ["a_-b", /is not a repository name part/],
    ["a___b", /is not a repository name part/],
    ["x:", /the tag after ':' is empty/],
    [`x:${"t".repeat(129)}`, /is not a tag \(at most 128/],
    ["x:.t", /is not a tag/],
    ["x@sha256:abc", /sha256: and 64 hex digits/],
    [`x@sha256:${"A".repeat(64)}`, /must be lowercase hex/],
    [`x@md5:${"a".repeat(32)}`, /algorithm "md5" is not supported/],
    ["x@latest", /is not ALGORITHM:HEX/],
    ["127.0.0.1:99999/x", /port 99999 is out of range \(1-65535\)/],
    ["127.0.0.1:0/x", /port 0 is out of range/],
    ["host:/x", /has an empty port/],
    ["-h.example/x", /"-h\.example" is not a registry host/],
    ["a b", /white space/],
    [`r.example/${"a".repeat(250)}`, /at most 255/],
  ])("refuses %j", (text, reason) => {
    const r = parseReference(text);
    expect(r.ok ? "accepted" : r.reason).toMatch(reason);
  });
});

describe("credentials in a name", () => {
  it.each(["u:secretpw@127.0.0.1:5000/x", "u:secretpw@r.example/a/b:1", "u:se/cret@pw@r.example/x", "u:secretpw@127.0.0.1:5000", `u:secretpw@r.example/x@${D}`])(
    "refuses %s without echoing them, pointing at docker login",
    (text) => {
      const r = parseReference(text);
      expect(r.ok).toBe(false);
      const reason = r.ok ? "" : r.reason;
      expect(reason).toMatch(/^credentials do not belong in the name .*docker login .*CAISSON_REGISTRY_USER and CAISSON_REGISTRY_PASSWORD/);
      expect(reason).not.toMatch(/secret|digest algorithm/);
    },
  );

  it("names the registry to log in to, and is not fooled by a digest", () => {
    const r = parseReference("u:secretpw@127.0.0.1:5000/x");
    expect(r.ok ? "" : r.reason).toContain("`docker login 127.0.0.1:5000`");
    expect(parseReference(`r.example/x@${D}`).ok).toBe(true);
    expect(parseReference(`x:1@${D}`).ok).toBe(true);
    expect(shownReference("u:secretpw@127.0.0.1:5000/x")).toBe("…@127.0.0.1:5000/x");
    expect(shownReference(`r.example/x@${D}`)).toBe(`r.example/x@${D}`);
  });

  it("release --to, build -o and --cache-to quote the name without them", () => {
    const messages = [
      () => parseRepoRef("u:secretpw@127.0.0.1:5000/x"),
      () => parseOutput("push=u:secretpw@127.0.0.1:5000/x"),
      () => parseCacheSpec("type=registry,ref=u:secretpw@127.0.0.1:5000/x:cache", "--cache-to"),
    ].map((f) => {
      try {
        f();
        return "accepted";
      } catch (e) {
        return (e as Error).message;
      }
    });
    for (const m of messages) {
      expect(m).toContain("…@127.0.0.1:5000/x");
      expect(m).toContain("credentials do not belong in the name");
      expect(m).not.toMatch(/secretpw|digest algorithm/);
    }
  });
});

describe("build and release accept and refuse the same repository names", () => {
  // Names with a registry and no tag: what `release --to` takes, and what `build -o push=` takes too.
  const names = [
    "127.0.0.1:5000/caisson/redis",
    "localhost/x",
    "[::1]:5000/a/b",
    "r.example/a.b_c__d-e/f",
    "r.example:443/x",
    "127.0.0.1:99999/x",
    "127.0.0.1:5000/Caisson",
    "r.example/a__-b",
    "r.example//x",
    "r_x.example/x",
    "-r.example/x",
    `r.example/${"a".repeat(250)}`,
  ];
  it.each(names)("%s", (name) => {
    const viaBuild = (() => {
      try {
        parseOutput(`push=${name}`);
        return "ok";
      } catch (e) {
        return (e as Error).message.replace(/^.*is not a valid image reference: (.*); want .*$/, "$1");
      }
    })();
    const viaRelease = (() => {
      try {
        parseRepoRef(name);
        return "ok";
      } catch (e) {
        return (e as Error).message.replace(/^--to \S+: (.*); give REGISTRY\/REPO, .*$/, "$1");
      }
    })();
    expect(viaRelease).toBe(viaBuild);
  });

  it("release also wants a registry and takes no tag or digest", () => {
    expect(() => checkReference("caisson/redis", "-o")).not.toThrow();
    expect(() => parseRepoRef("caisson/redis")).toThrow(/give REGISTRY\/REPO, e\.g\. 127\.0\.0\.1:5000\/caisson\/redis/);
    expect(() => parseRepoRef("127.0.0.1:5000/x:1")).toThrow(/give the repository without a tag \(127\.0\.0\.1:5000\/x\); drop the tag: the tags pushed come from the definition/);
    expect(() => parseRepoRef(`127.0.0.1:5000/x@${D}`)).toThrow(/without a digest/);
  });

  it("cache refs go through the same grammar", () => {
    expect(parseCacheSpec("type=registry,ref=127.0.0.1:5000/app:cache,mode=max", "--cache-to").attrs["ref"]).toBe("127.0.0.1:5000/app:cache");
    expect(() => parseCacheSpec("type=registry,ref=App:Cache", "--cache-from")).toThrow(
      /--cache-from type=registry,ref=App:Cache: ref "App:Cache" is not a valid image reference: the repository name must be lowercase/,
    );
    expect(() => parseCacheSpec("type=registry,ref=r.example/app:", "--cache-to")).toThrow(/the tag after ':' is empty; want ref=/);
  });
});

const run = runCli;

describe("refused on the command line, exit 2, before any work", () => {
  const dir = mkdtempSync(join(tmpdir(), "caisson-reference-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "app"));
  writeFileSync(join(dir, "app", "hello"), "hi\n");
  const def = join(dir, "image.yaml");
  writeFileSync(def, "name: mini\nversion: 1.0.0\nplatforms: [linux/amd64]\nsources:\n  app: { path: ./app }\nimage:\n  from: scratch\n  copy: [{ from: app, src: /hello, dest: /hello }]\n  entrypoint: [/hello]\n  check: { hardening: none }\n");
  const build = (...extra: string[]) => run("build", def, "--context", dir, "--builder", "tcp://127.0.0.1:1", ...extra);

  it.each([
    ["-o push= uppercase", () => build("-o", "push=127.0.0.1:5000/Caisson"), /--output push=127\.0\.0\.1:5000\/Caisson: "127\.0\.0\.1:5000\/Caisson" is not a valid image reference: the repository name must be lowercase/],
    ["-o image= port out of range", () => build("-o", "image=127.0.0.1:99999/x"), /port 99999 is out of range/],
    ["--cache-from a bad ref", () => build("-o", `oci=${join(dir, "o.tar")}`, "--cache-from", "type=registry,ref=r.example/x:"), /--cache-from type=registry,ref=r\.example\/x:: ref "r\.example\/x:" is not a valid image reference: the tag after ':' is empty/],
    ["--cache-to a bad ref", () => build("-o", `oci=${join(dir, "o.tar")}`, "--cache-to", "type=registry,ref=r.example//x"), /--cache-to .*: ref "r\.example\/\/x" is not a valid image reference: the repository path has an empty part/],
    ["release --to uppercase", () => run("release", def, "--context", dir, "--to", "127.0.0.1:5000/Caisson"), /--to 127\.0\.0\.1:5000\/Caisson: the repository name must be lowercase/],
    ["release --to with a tag", () => run("release", def, "--context", dir, "--to", "127.0.0.1:5000/x:1"), /--to 127\.0\.0\.1:5000\/x:1: give the repository without a tag/],
    ["release --to with credentials", () => run("release", def, "--context", dir, "--to", "u:secretpw@127.0.0.1:5000/x"), /^(?![\s\S]*secretpw)[\s\S]*--to …@127\.0\.0\.1:5000\/x: credentials do not belong in the name/],
  ])("%s", async (_what, call, message) => {
    const r = await call();
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at |building/);
    expect(r.code).toBe(2);
  }, 10_000);
});
