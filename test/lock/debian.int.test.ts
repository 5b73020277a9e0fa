// Debian packages pinned by content, end to end, against a signed Debian
// repository of the test's own on loopback (test/support/debrepo.ts) and the
// real engine: `caisson lock` pins the whole closure (name, version, arch,
// sha256, pool path); the build installs exactly those .debs; a tampered
// store file and a pin the mirror no longer serves both fail before the
// engine runs, by name; a newer version makes `caisson outdated` report it,
// and `--write` moves the pins, after which the build installs the new one.
// Nothing here depends on what Debian's own mirror serves today: the stage
// starts from the repo's pinned base image. Fails instead of skipping under
// CI=true when the engine or the Debian tools are missing.
import { readFileSync, rmSync, writeFileSync, mkdtempSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseLockfile } from "../../src/lock/index.js";
import { caisson as runCaisson, engineError, ensureDist, IN_CI, ROOT } from "../e2e/helpers.js";
import { haveDebTools, makeDebRepo, type DebRepo } from "../support/debrepo.js";

const BASE = /caisson\/debian:bookworm@sha256:[0-9a-f]{64}/.exec(readFileSync(join(ROOT, "images/builder/image.yaml"), "utf8"))?.[0] as string;

const DEF = `name: pinned-debs
platforms: [linux/amd64]
stages:
  build:
    from: ${BASE}
    packages: [caisson-test-hello]
    run:
      - mkdir -p /out && dpkg-query -W caisson-test-hello caisson-test-lib > /out/v && cat /usr/share/caisson-test/hello > /out/hello
image:
  copy:
    - { from: build, src: /out, dest: /out }
`;

const ready = (): boolean => {
  const why = engineError ?? (haveDebTools() ? undefined : "dpkg-deb, gpg and apt are needed");
  if (why && IN_CI) throw new Error(`required under CI=true: ${why}`);
  return why === undefined;
};

describe("Debian packages pinned by content (loopback mirror, real engine)", () => {
  let repo: DebRepo | undefined;
  let ctx = "";
  let store = "";
  const caisson = (args: readonly string[]) => runCaisson(args, { cwd: ctx, env: { CI: "", CAISSON_SOURCE_STORE: store, CAISSON_DEBIAN_SOURCES: repo?.sourcesFile ?? "" } });
  const lockOf = () => parseLockfile(readFileSync(join(ctx, "image.lock.json"), "utf8"));
  const build = (out: string) => caisson(["build", "image.yaml", "--context", ".", "-o", `local=${out}`, "--progress", "plain", "--no-check"]);

  beforeAll(async () => {
    if (!ready()) return;
    ensureDist();
    repo = await makeDebRepo({
      suite: "bookworm",
      packages: [
        { name: "caisson-test-lib", version: "1.0-1", files: { "usr/share/caisson-test/lib": "lib 1.0\n" } },
        { name: "caisson-test-hello", version: "1.0-1", depends: "caisson-test-lib (>= 1.0)", files: { "usr/share/caisson-test/hello": "hello 1.0\n" } },
      ],
    });
    ctx = mkdtempSync(join(tmpdir(), "caisson-debs-"));
    store = join(ctx, ".store");
    mkdirSync(store);
    writeFileSync(join(ctx, "image.yaml"), DEF);
  }, 120_000);

  afterAll(async () => {
    await repo?.close();
    if (ctx) rmSync(ctx, { recursive: true, force: true });
  });

  it("lock pins the whole closure by sha256; the build installs exactly those .debs", async () => {
    if (!ready()) return;
    const frozen = await caisson(["validate", "--frozen", "image.yaml"]);
    expect(frozen.code).toBe(1);
    expect(frozen.stderr + frozen.stdout).toContain("error[unpinned_package]");

    const l = await caisson(["lock", "image.yaml"]);
    expect(l.code, l.stderr).toBe(0);
    const closure = lockOf().debian?.["build/amd64"];
    expect(closure?.request).toEqual(["caisson-test-hello"]);
    expect(closure?.packages.map((p) => [p.name, p.version, p.arch, p.archive])).toEqual([
      ["caisson-test-hello", "1.0-1", "all", "debian"],
      ["caisson-test-lib", "1.0-1", "all", "debian"],
    ]);
    for (const p of closure?.packages ?? []) {
      expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(p.path).toBe(repo?.poolPath(p.name, p.version));
    }
    expect((await caisson(["lock", "--check", "image.yaml"])).code).toBe(0);

    const b = await build("out1");
    expect(b.code, b.stderr.slice(-3000)).toBe(0);
    expect(b.stderr).toContain("install 1 Debian package (2 .deb pinned by sha256)");
    expect(readFileSync(join(ctx, "out1/out/v"), "utf8")).toBe("caisson-test-hello\t1.0-1\ncaisson-test-lib\t1.0-1\n");
  }, 900_000);

  it("a tampered .deb in the store fails the build before the engine runs, naming the package", async () => {
    if (!ready()) return;
    const pin = lockOf().debian?.["build/amd64"]?.packages.find((p) => p.name === "caisson-test-lib");
    expect(pin).toBeDefined();
    const file = join(store, pin!.sha256, pin!.path.slice(pin!.path.lastIndexOf("/") + 1));
    expect(existsSync(file)).toBe(true);
    const good = readFileSync(file);
    writeFileSync(file, Buffer.concat([good, Buffer.from("tampered")]));
    try {
      const b = await build("out-tampered");
      expect(b.code).toBe(1);
      expect(b.stderr).toContain("caisson-test-lib");
      expect(b.stderr).toContain(pin!.sha256);
      expect(b.stderr).not.toMatch(/^#\d+ /m); // nothing reached the engine
      expect(existsSync(join(ctx, "out-tampered"))).toBe(false);
    } finally {
      writeFileSync(file, good);
    }
  }, 600_000);

  it("a pin the mirror no longer serves fails before the engine runs, naming every place looked and the refresh command", async () => {
    if (!ready()) return;
    const pin = lockOf().debian?.["build/amd64"]?.packages.find((p) => p.name === "caisson-test-hello");
    rmSync(join(store, pin!.sha256), { recursive: true, force: true });
    repo!.remove("caisson-test-hello", "1.0-1");
    try {
      const b = await build("out-gone");
      expect(b.code).toBe(1);
      expect(b.stderr).toContain(`caisson-test-hello 1.0-1 all sha256 ${pin!.sha256}`);
      expect(b.stderr).toContain(join(store, pin!.sha256));
      expect(b.stderr).toMatch(/HTTP 404/);
      expect(b.stderr).toContain("caisson outdated --write");
      expect(b.stderr).not.toMatch(/^#\d+ /m);
    } finally {
      // Back on the mirror (rebuilt: other bytes, so the next test's --write pins them anew).
      repo!.add({ name: "caisson-test-hello", version: "1.0-1", depends: "caisson-test-lib (>= 1.0)", files: { "usr/share/caisson-test/hello": "hello 1.0\n" } });
    }
  }, 600_000);

  it("a newer version on the mirror: outdated reports it, --write moves the pins, the build installs it", async () => {
    if (!ready()) return;
    repo!.add({ name: "caisson-test-lib", version: "1.1-1", files: { "usr/share/caisson-test/lib": "lib 1.1\n" } });
    const o = await caisson(["outdated", "image.yaml"]);
    expect(o.code, o.stderr).toBe(10);
    expect(o.stdout).toMatch(/build\/amd64: caisson-test-lib:all\s+1\.0-1\s+1\.1-1\s+outdated/);

    const w = await caisson(["outdated", "--write", "image.yaml"]);
    expect(w.code, w.stderr).toBe(10);
    const lib = lockOf().debian?.["build/amd64"]?.packages.find((p) => p.name === "caisson-test-lib");
    expect(lib?.version).toBe("1.1-1");
    expect((await caisson(["outdated", "image.yaml"])).code).toBe(0);

    const b = await build("out2");
    expect(b.code, b.stderr.slice(-3000)).toBe(0);
    expect(readFileSync(join(ctx, "out2/out/v"), "utf8")).toBe("caisson-test-hello\t1.0-1\ncaisson-test-lib\t1.1-1\n");
  }, 900_000);
});
