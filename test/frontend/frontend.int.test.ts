// The gateway frontend on the real engine: `docker buildx build` with the
// caisson frontend image. Needs the engine (hack/engine.sh) and the base
// image (hack/base-image.sh); under CI=true a missing engine fails the tests.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileDefinition, hostPlatform } from "../../src/compile/index.js";
import { buildWithEngine, checkEngine, dockerBinary, EngineError, ensureFrontendImage } from "../../src/engine/index.js";
import { sha256Hex } from "../../src/frontend/result.js";
import { definitionBytes, formatPlatform, type Platform } from "../../src/llb/index.js";

import { IN_CI } from "../support/ci.js";
const DOCKER = dockerBinary();
const engineError = await checkEngine(DOCKER).then(
  () => undefined,
  (e: unknown) => (e instanceof Error ? e.message : String(e)),
);
const HELLO = resolve("test/fixtures/engine/hello");
const BROKEN = resolve("test/fixtures/engine/broken");
const AMD64: Platform = { os: "linux", architecture: "amd64" };
const ARM64: Platform = { os: "linux", architecture: "arm64" };

/** sha256 of what compileDefinition gives for the file (named as the frontend sees it: its base name). */
async function compiledDigests(dir: string, platforms: Platform[] | undefined, session: string | undefined): Promise<Record<string, string>> {
  const text = readFileSync(join(dir, "image.yaml"), "utf8");
  const r = await compileDefinition("image.yaml", text, {
    buildPlatform: hostPlatform(),
    ...(platforms ? { platforms } : {}),
    ...(session ? { localSession: session } : {}),
  });
  expect(r.results, JSON.stringify(r.diagnostics)).toBeDefined();
  return Object.fromEntries((r.results ?? []).map((p) => [formatPlatform(p.platform), sha256Hex(definitionBytes(p.definition))]));
}

function buildx(args: string[], cwd: string) {
  const t0 = Date.now();
  const r = spawnSync(DOCKER, ["buildx", "build", ...args], { cwd, encoding: "utf8", maxBuffer: 64 << 20 });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - t0) / 1000 };
}

describe.skipIf(engineError !== undefined && !IN_CI)("caisson frontend on the real engine", () => {
  let frontend = "";
  const tmp = mkdtempSync(join(tmpdir(), "caisson-fe-int-"));
  const images: string[] = [];

  beforeAll(async () => {
    if (engineError) throw new Error(`the engine is required under CI: ${engineError}`);
    const t0 = Date.now();
    const img = await ensureFrontendImage({ docker: DOCKER });
    frontend = img.ref;
    process.stderr.write(`frontend image ${img.ref} (${img.built ? "built" : "present"}) in ${(Date.now() - t0) / 1000}s\n`);
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
    for (const i of images) spawnSync(DOCKER, ["image", "rm", "-f", i]);
  });

  it("builds a definition with docker buildx build and BUILDKIT_SYNTAX; solves exactly compileDefinition's bytes", async () => {
    const meta = join(tmp, "single.json");
    const name = "caisson-int/hello:single";
    images.push(name);
    const r = buildx(
      ["--progress=plain", "-f", "image.yaml", "--build-arg", `BUILDKIT_SYNTAX=${frontend}`, "--platform", "linux/amd64",
        "--metadata-file", meta, "--output", `type=image,name=${name}`, "."],
      HELLO,
    );
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(readFileSync(meta, "utf8")) as Record<string, string>;
    // The frontend reports the sha256 of every definition it solved, and the session its local sources name.
    const runtime = JSON.parse(m["frontend.caisson.runtime"] ?? "{}") as { uid?: number; session?: string };
    expect(JSON.parse(m["frontend.caisson.definitions"] ?? "{}")).toEqual(await compiledDigests(HELLO, [AMD64], runtime.session));
    // It ran unprivileged (BuildKit starts it as root; it drops to 65532).
    expect(runtime).toMatchObject({ uid: 65532 });
    const cfg = JSON.parse(execFileSync(DOCKER, ["image", "inspect", name, "--format", "{{json .Config}}"], { encoding: "utf8" })) as Record<string, unknown>;
    expect(cfg).toMatchObject({ User: "65532:65532", Env: ["GREETING=hello"], Cmd: ["/hello.txt"], WorkingDir: "/" });
  });

  it("multi-platform: the definition's two platforms come back as two images", async () => {
    const dest = join(tmp, "multi");
    const res = await buildWithEngine({ file: join(HELLO, "image.yaml"), output: { type: "local", dest }, progress: "plain", onProgress: () => undefined });
    expect(readdirSync(dest).sort()).toEqual(["linux_amd64", "linux_arm64"]);
    expect(readFileSync(join(dest, "linux_arm64/platform"), "utf8").trim()).toBe("linux/arm64");
    expect(readFileSync(join(dest, "linux_amd64/hello.txt"), "utf8")).toBe("hello from caisson\n");
    expect(res.definitions).toEqual(await compiledDigests(HELLO, undefined, res.frontendRuntime?.session));
    expect(res.frontend).toBe(frontend);

    const oci = join(tmp, "multi.oci.tar");
    const r2 = await buildWithEngine({
      file: join(HELLO, "image.yaml"),
      platforms: ["linux/arm64", "linux/amd64"],
      output: { type: "oci", dest: oci },
      provenance: false,
      progress: "quiet",
      onProgress: () => undefined,
    });
    const index = JSON.parse(execFileSync("tar", ["-xOf", oci, "index.json"], { encoding: "utf8" })) as { manifests: { digest: string }[] };
    const inner = index.manifests[0]?.digest.replace("sha256:", "") ?? "";
    const list = JSON.parse(execFileSync("tar", ["-xOf", oci, `blobs/sha256/${inner}`], { encoding: "utf8" })) as {
      manifests: { platform: { architecture: string } }[];
    };
    expect(list.manifests.map((x) => x.platform.architecture).sort()).toEqual(["amd64", "arm64"]);
    expect(r2.imageDigest).toBe(`sha256:${inner}`);
    expect(r2.definitions).toEqual(await compiledDigests(HELLO, [ARM64, AMD64], r2.frontendRuntime?.session));
  });

  it("a broken definition fails with file:line:col and the offending YAML lines", async () => {
    const r = buildx(["--progress=plain", "-f", "image.yaml", "--build-arg", `BUILDKIT_SYNTAX=${frontend}`, "."], BROKEN);
    expect(r.code).not.toBe(0);
    // BuildKit prints the errdefs.Source details: the file, then the lines around each range.
    expect(r.stderr).toMatch(/^image\.yaml:6\n-+\n(.*\n)*\s+6 \| >>>\s+runs: \[true\]/m);
    expect(r.stderr).toMatch(/>>>\s+- \{ from: biuld/);
    // And our message: one file:line:col: error[code]: line per error.
    expect(r.stderr).toContain('image.yaml:6:5: error[unknown_key]: unknown key "runs" in stages.build');
    expect(r.stderr).toContain('image.yaml:9:15: error[unknown_source_or_stage]: no source or stage named "biuld"');
  });

  it("honours a `# syntax=` first line (no build argument)", async () => {
    const dir = join(tmp, "syntax");
    cpSync(HELLO, dir, { recursive: true });
    const text = readFileSync(join(dir, "image.yaml"), "utf8");
    writeFileSync(join(dir, "image.yaml"), `# syntax=${frontend}\n${text}`);
    const out = join(tmp, "syntax-out");
    const r = buildx(["--progress=plain", "-f", "image.yaml", "--platform", "linux/arm64", "--output", `type=local,dest=${out}`, "."], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`resolve image config for docker-image://docker.io/${frontend}`);
    expect(readFileSync(join(out, "platform"), "utf8").trim()).toBe("linux/arm64");
  });

  it("reads imported definitions from the build context; errors in them show their lines", async () => {
    const ctx = join(tmp, "imports");
    cpSync(join(HELLO, "hello.txt"), join(ctx, "base/hello.txt"), { recursive: true });
    const base = [
      "name: base",
      "platforms: [linux/amd64, linux/arm64]",
      "sources:",
      '  files: { path: base, exclude: ["*.yaml"] }',
      "image:",
      "  copy:",
      "    - { from: files, src: /hello.txt, dest: /base.txt }",
      "",
    ].join("\n");
    writeFileSync(join(ctx, "base/image.yaml"), base);
    mkdirSync(join(ctx, "app"), { recursive: true });
    writeFileSync(
      join(ctx, "app/image.yaml"),
      ["name: app", "platforms: [linux/amd64, linux/arm64]", "imports:", "  base: base/image.yaml", "image:", "  from: base", "  cmd: [/base.txt]", ""].join("\n"),
    );
    const out = join(tmp, "imports-out");
    const res = await buildWithEngine({
      file: join(ctx, "app/image.yaml"),
      contextDir: ctx,
      output: { type: "local", dest: out },
      progress: "quiet",
      onProgress: () => undefined,
      // What `caisson build` passes: the definition's name = its context path.
      buildArgs: { CAISSON_DEFINITION: "app/image.yaml" },
    });
    expect(readFileSync(join(out, "linux_arm64/base.txt"), "utf8")).toBe("hello from caisson\n");
    const local = await compileDefinition("app/image.yaml", readFileSync(join(ctx, "app/image.yaml"), "utf8"), {
      buildPlatform: hostPlatform(),
      readContext: async (p) => readFileSync(join(ctx, p), "utf8"),
      ...(res.frontendRuntime?.session ? { localSession: res.frontendRuntime.session } : {}),
    });
    expect(res.definitions).toEqual(
      Object.fromEntries((local.results ?? []).map((p) => [formatPlatform(p.platform), sha256Hex(definitionBytes(p.definition))])),
    );

    writeFileSync(join(ctx, "base/image.yaml"), base.replace("  copy:", "  copie:"));
    const r = buildx(["--progress=plain", "-f", "app/image.yaml", "--build-arg", `BUILDKIT_SYNTAX=${frontend}`, "."], ctx);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^base\/image\.yaml:6\n-+\n(.*\n)*\s+6 \| >>>\s+copie:/m);
    expect(r.stderr).toContain('base/image.yaml:6:3: error[unknown_key]: unknown key "copie" in image');
  });

  it("buildWithEngine exports nothing and reports the reason when the build fails", async () => {
    const dest = join(tmp, "never");
    const err = await buildWithEngine({ file: join(BROKEN, "image.yaml"), output: { type: "local", dest }, progress: "quiet", onProgress: () => undefined }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).exitCode).toBe(1);
    expect((err as EngineError).message).toContain("image.yaml:6:5: error[unknown_key]");
    expect(existsSync(dest)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.includes("caisson-tmp"))).toEqual([]);
  });

  it("a base image pinned by digest: resolved by tag in the engine's store first; another digest is refused, naming both", () => {
    // The engine's own digest for the loaded base image (containerd store: the image id is the index digest).
    const digest = execFileSync(DOCKER, ["image", "inspect", "--format", "{{.Id}}", "caisson/debian:bookworm"], { encoding: "utf8" }).trim();
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const pinned = (pin: string): string => {
      const dir = join(tmp, `pinned-${pin.slice(7, 15)}`);
      cpSync(HELLO, dir, { recursive: true });
      const file = join(dir, "image.yaml");
      writeFileSync(file, readFileSync(file, "utf8").replace(/from: caisson\/debian:bookworm$/m, `from: caisson/debian:bookworm@${pin}`));
      return dir;
    };
    const good = buildx(["--progress=plain", "-f", "image.yaml", "--build-arg", `BUILDKIT_SYNTAX=${frontend}`, "--platform", "linux/amd64", "--output", "type=cacheonly", "."], pinned(digest));
    expect(good.code, good.stderr).toBe(0);
    expect(good.stderr).toContain("[internal] load metadata for docker.io/caisson/debian:bookworm (linux/amd64)");
    expect(good.stderr).toContain(`docker.io/caisson/debian:bookworm@${digest}`);

    const other = `sha256:${"0".repeat(64)}`;
    const bad = buildx(["--progress=plain", "-f", "image.yaml", "--build-arg", `BUILDKIT_SYNTAX=${frontend}`, "--platform", "linux/amd64", "--output", "type=cacheonly", "."], pinned(other));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("the engine's image differs from the pin");
    expect(bad.stderr).toContain(`is ${digest} in the engine, the definition pins ${other}`);
  });
});
