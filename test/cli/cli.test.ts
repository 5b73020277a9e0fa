// The CLI's handling of awkward calls, in-process (no engine needed): every
// readable file reported even when another is missing, JSON on stdout, the
// same platform rules for check and compile, --context checked, and outputs
// that would destroy inputs or another directory refused before any build.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk: unknown, ...rest: unknown[]) => {
    stdout += String(chunk);
    const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
    cb?.();
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown, ...rest: unknown[]) => {
    stderr += String(chunk);
    const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
    cb?.();
    return true;
  });
  try {
    const code = await main(["node", "caisson", ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const CLEAN = [
  "name: clean",
  "platforms: [linux/amd64, linux/arm64]",
  "sources:",
  `  f: { url: "http://127.0.0.1:1/f.txt", sha256: ${"a".repeat(64)} }`,
  "image:",
  "  copy:",
  "    - { from: f, src: /f.txt, dest: /f.txt }",
  "",
].join("\n");

describe("caisson CLI: awkward calls", () => {
  let tmp = "";
  let ctx = "";
  let def = "";
  let bad = "";
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "caisson-cli-"));
    ctx = join(tmp, "ctx");
    mkdirSync(ctx);
    def = join(ctx, "image.yaml");
    writeFileSync(def, CLEAN);
    bad = join(ctx, "bad.yaml");
    writeFileSync(bad, CLEAN.replace("name: clean", "name: clean\nplatfroms: []"));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("validate a.yaml missing.yaml: a.yaml's diagnostics still printed, the missing file named, exit 2", async () => {
    const r = await run("validate", bad, join(ctx, "missing.yaml"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("platfroms");
    expect(r.stderr).toContain(`caisson: cannot read ${join(ctx, "missing.yaml")}: no such file`);
  });

  it("validate --format json: one array on stdout, [] for a clean file; errors as objects", async () => {
    const clean = await run("validate", "--format", "json", def);
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toEqual([]);
    const r = await run("validate", "--format", "json", bad);
    expect(r.code).toBe(1);
    const diags = JSON.parse(r.stdout) as { severity: string; file: string }[];
    expect(diags.some((d) => d.severity === "error" && d.file === bad)).toBe(true);
  });

  it("config needs no source mirror: the image config of a definition with Debian sources and packages (images/redis)", async () => {
    const r = await run("config", "images/redis/image.yaml", "--platform", "linux/arm64");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const config = JSON.parse(r.stdout) as { architecture: string; config: { User: string } };
    expect(config.architecture).toBe("arm64");
    expect(config.config.User).toBe("65532:65532");
  });

  it("validate reads the lockfile as build does: unlocked packages are error[unpinned_package], exit 1", async () => {
    const pk = join(ctx, "packages.yaml");
    writeFileSync(
      pk,
      [
        "name: pk",
        "platforms: [linux/amd64]",
        "stages:",
        "  build:",
        `    from: caisson/debian:bookworm@sha256:${"b".repeat(64)}`,
        "    packages: [gcc]",
        "    run: [mkdir -p /out && touch /out/x]",
        "image:",
        "  copy: [{ from: build, src: /out/x, dest: /x }]",
        "",
      ].join("\n"),
    );
    for (const frozen of [[], ["--frozen"]]) {
      const r = await run("validate", pk, ...frozen);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/packages\.yaml:6:\d+: error\[unpinned_package\]/);
      expect(r.stderr).toContain(`caisson lock ${pk}`);
    }
  });

  it("a .cue definition's unpinned_package hint names the .cue file given, whatever its name", async () => {
    const cue = join(ctx, "hardened.cue");
    writeFileSync(
      cue,
      [
        'name: "pk"',
        'platforms: ["linux/amd64"]',
        "stages: build: {",
        `\tfrom: "caisson/debian:bookworm@sha256:${"b".repeat(64)}"`,
        '\tpackages: ["gcc"]',
        '\trun: ["mkdir -p /out && touch /out/x"]',
        "}",
        'image: copy: [{from: "build", src: "/out/x", dest: "/x"}]',
        "",
      ].join("\n"),
    );
    for (const command of ["validate", "compile"]) {
      const r = await run(command, cue, ...(command === "compile" ? ["--json"] : []));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("hardened.cue:5:13: error[unpinned_package]");
      expect(r.stderr).toContain(`run \`caisson lock ${cue}\` to pin it`);
      expect(r.stderr).not.toContain("export.json");
    }
  }, 60_000);

  it("check --platform garbage is refused with exit 2, like compile", async () => {
    const archive = join(tmp, "x.oci.tar");
    writeFileSync(archive, "not read: the platform is refused first");
    const c = await run("check", "--platform", "garbage", archive);
    expect(c.code).toBe(2);
    const k = await run("compile", def, "--platform", "garbage", "--json");
    expect(k.code).toBe(2);
  });

  it("compile --platform for a platform the definition does not list is refused, naming the ones it lists", async () => {
    const r = await run("compile", def, "--platform", "linux/s390x", "--json", "--context", ctx);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--platform linux/s390x: ");
    expect(r.stderr).toContain("it lists linux/amd64, linux/arm64");
    expect(r.stdout).toBe("");
  });

  it("compile -o never writes over the definition or a directory, and a failed compile leaves the previous file", async () => {
    expect((await run("compile", def, "--context", ctx, "--platform", "linux/amd64", "-o", def)).code).toBe(2);
    expect(readFileSync(def, "utf8")).toBe(CLEAN);
    expect((await run("compile", def, "--context", ctx, "--platform", "linux/amd64", "-o", tmp)).code).toBe(2);
    const out = join(tmp, "llb.bin");
    writeFileSync(out, "previous\n");
    expect((await run("compile", bad, "--context", ctx, "--platform", "linux/amd64", "-o", out)).code).toBe(1);
    expect(readFileSync(out, "utf8")).toBe("previous\n");
    expect((await run("compile", def, "--context", ctx, "--platform", "linux/amd64", "-o", out)).code).toBe(0);
    expect(readFileSync(out).length).toBeGreaterThan(100);
    expect(readdirSync(tmp).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("--context that does not exist or is not a directory: exit 2", async () => {
    for (const cmd of ["compile", "build"]) {
      const a = await run(cmd, def, "--context", join(tmp, "nonexistent"), ...(cmd === "compile" ? ["--json"] : []));
      expect(a.code, cmd).toBe(2);
      expect(a.stderr).toContain("no such directory");
      const b = await run(cmd, def, "--context", def, ...(cmd === "compile" ? ["--json"] : []));
      expect(b.code, cmd).toBe(2);
      expect(b.stderr).toContain("not a directory");
    }
  });

  it("build refuses outputs that would destroy the context, the definition or a non-empty directory, before building", async () => {
    const full = join(tmp, "full");
    mkdirSync(full);
    writeFileSync(join(full, "keep.txt"), "keep\n");
    const cases: [string[], RegExp][] = [
      [["-o", `local=${ctx}`], /refusing to write over the build context/],
      [["-o", `local=${tmp}`], /refusing to write over the build context/],
      [["-o", "local=/"], /refusing to write over the build context/],
      [["-o", `oci=${def}`], /refusing to write over the definition/],
      [["-o", `local=${full}`], /non-empty directory; .*--force/],
      [["-o", `oci=${full}`], /exists and is not a file/],
      [["-o", `local=${join(full, "keep.txt")}`], /exists and is not a directory/],
      [["-o", `local=${ctx}`, "--force"], /refusing to write over the build context/],
    ];
    for (const [args, message] of cases) {
      const r = await run("build", def, "--context", ctx, "--no-check", ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(message);
      expect(r.stderr).not.toContain("building");
    }
    expect(readdirSync(full)).toEqual(["keep.txt"]);
    expect(readFileSync(def, "utf8")).toBe(CLEAN);
  });

  it("build refuses a wrong --builder, misplaced or unreadable --tls-* files and a local cache before building (exit 2)", async () => {
    const cases: [string[], RegExp][] = [
      [["--builder", "bogus"], /--builder bogus: unknown builder/],
      [["--tls-ca", def], /apply to a tcp:\/\/ builder only; the docker builder takes its TLS files from DOCKER_CERT_PATH/],
      [["--builder", "unix:///run/x.sock", "--tls-ca", def], /apply to tcp:\/\/ builders only/],
      [["--builder", "tcp://127.0.0.1:1", "--tls-ca", tmp], /cannot read the CA certificate .*: it is a directory \(give a readable PEM file with --tls-ca\)/],
      [["--builder", "tcp://127.0.0.1:1", "--tls-cert", join(tmp, "no.pem"), "--tls-key", join(tmp, "no.key")], /cannot read the client certificate .*no\.pem: no such file/],
      [["--cache-to", `type=local,dest=${join(tmp, "cache")}`], /type=local is not supported by caisson build .*use type=registry,ref=NAME/],
      [["--cache-from", "type=local,src=/nonexistent"], /type=local is not supported/],
    ];
    for (const [args, message] of cases) {
      const r = await run("build", def, "--context", ctx, ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(message);
      expect(r.stderr).not.toContain("building");
    }
    // Under --progress json the refusal is a JSON line too.
    const j = await run("build", def, "--context", ctx, "--builder", "bogus", "--progress", "json");
    expect(j.code).toBe(2);
    expect(j.stderr.trimEnd().split("\n").map((l) => JSON.parse(l) as unknown)).toEqual([{ type: "error", usage: true, message: expect.stringMatching(/unknown builder/) }]);
  });

  it("build --help offers only the registry cache", async () => {
    const r = await run("build", "--help");
    expect(r.stdout).toContain("type=registry,ref=NAME");
    expect(r.stdout).not.toContain("type=local");
  });
});
