// The frontend image released the way every image is (images/frontend): built
// for amd64 and arm64 from Debian's Node.js, pushed by `caisson release` to a
// registry on 127.0.0.1 (plain HTTP, which the engine's resolver uses for a
// loopback registry), then named by `# syntax=<registry>/caisson/frontend:<version>`
// in a definition that the engine builds for both platforms, pulling the
// frontend from that registry. The arm64 image runs its Node under emulation.
// Under CI=true a missing engine or tool fails instead of skipping.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { caissonVersion, checkEngine, dockerBinary, PREBUILT_DIR, writeFrontendFiles } from "../../src/engine/index.js";
import { MEDIA_INDEX, type Index } from "../../src/release/index.js";
import { IN_CI } from "../support/ci.js";
import { TestRegistry } from "../support/registry.js";
import { checkCycloneDx15 } from "./cyclonedx.js";
import { checkSpdx23 } from "./spdx.js";

const DOCKER = dockerBinary();
const engineError = await checkEngine(DOCKER).then(
  () => undefined,
  (e: unknown) => (e instanceof Error ? e.message : String(e)),
);
const VERSION = caissonVersion();

function run(cmd: string, args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 << 20, timeout: 1_200_000, ...opts });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: { code: number; stdout: string; stderr: string }, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr.slice(-6000)}${r.stdout.slice(-2000)}`);
  return r.stdout;
}

it("images/frontend has caisson's version, so `caisson/frontend:<version>` names this code", () => {
  expect(readFileSync("images/frontend/image.yaml", "utf8")).toMatch(new RegExp(`^version: ${VERSION.replace(/\./g, "\\.")}$`, "m"));
});

describe.skipIf(engineError !== undefined && !IN_CI)("the frontend image, released for amd64 and arm64 and used by `# syntax=`", () => {
  const tmp = mkdtempSync(join(tmpdir(), "caisson-frontend-release-"));
  let reg: TestRegistry;
  let ref = "";
  let released: { code: number; stdout: string; stderr: string };
  const pulled: string[] = [];

  beforeAll(async () => {
    if (engineError) throw new Error(`the engine is required under CI: ${engineError}`);
    for (const tool of ["docker-registry", "skopeo"]) if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing: run hack/engine.sh`);
    // What `npm run build` writes, from this checkout's code.
    await writeFrontendFiles(resolve("dist", PREBUILT_DIR));
    reg = await TestRegistry.start({ plain: true });
    ref = `${reg.host}/caisson/frontend`;
    released = run(process.execPath, ["bin/caisson.js", "release", "images/frontend/image.yaml", "--to", ref, "--out", join(tmp, "out"), "--progress", "plain"]);
  });

  afterAll(async () => {
    for (const image of pulled) spawnSync(DOCKER, ["rmi", "-f", image]);
    await reg?.remove();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("pushes an index with linux/amd64 and linux/arm64 (and their attestations) under the version's tags", () => {
    ok(released, "caisson release images/frontend/image.yaml");
    const raw = JSON.parse(ok(run("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${ref}:${VERSION}`]), "skopeo inspect --raw")) as Index;
    expect(raw.mediaType).toBe(MEDIA_INDEX);
    expect(raw.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`)).toEqual(["linux/amd64", "linux/arm64", "unknown/unknown", "unknown/unknown"]);
    const tags = JSON.parse(ok(run("skopeo", ["list-tags", "--tls-verify=false", `docker://${ref}`]), "skopeo list-tags")) as { Tags: string[] };
    expect(tags.Tags).toContain(VERSION);
    expect(tags.Tags).toContain("latest");
  });

  it("ships Debian's node and its libraries for each platform, recorded in status.d, and runs non-root under the runtime contract", () => {
    ok(released, "caisson release");
    for (const arch of ["amd64", "arm64"]) {
      const sbom = JSON.parse(readFileSync(join(tmp, "out", `frontend-${VERSION}.linux-${arch}.spdx.json`), "utf8")) as {
        packages: { name: string; versionInfo?: string; externalRefs?: { referenceLocator: string }[] }[];
        files: { fileName: string; comment?: string }[];
      };
      // Files copied as they are from the node stage are traced to the .debs that hold them.
      const said = (path: string) => sbom.files.find((f) => f.fileName === `.${path}`)?.comment ?? "";
      expect(said("/usr/bin/node")).toMatch(new RegExp(`^copied from Debian package nodejs 18\\.[^ ]+ \\(${arch}\\), its /usr/bin/node`));
      expect(said("/usr/share/nodejs/cjs-module-lexer/lexer.js")).toMatch(/^copied from Debian package node-cjs-module-lexer .* \(all\)/);
      expect(said("/frontend/caisson-frontend.cjs")).toBe('copied from source "frontend"');
      expect(checkSpdx23(sbom as unknown as Record<string, unknown>), `${arch} SPDX`).toEqual([]);
      const cdx = JSON.parse(readFileSync(join(tmp, "out", `frontend-${VERSION}.linux-${arch}.cdx.json`), "utf8")) as Record<string, unknown>;
      expect(checkCycloneDx15(cdx), `${arch} CycloneDX`).toEqual([]);
      const purls = sbom.packages.flatMap((p) => p.externalRefs?.map((r) => r.referenceLocator) ?? []);
      expect(purls.some((p) => p.startsWith("pkg:deb/debian/nodejs@") && p.endsWith(`arch=${arch}`)), `${arch}: nodejs in the SBOM`).toBe(true);
      // Each platform's SBOM lists its own target's node, not the other one's.
      const other = arch === "amd64" ? "arm64" : "amd64";
      expect(purls.some((p) => p.startsWith("pkg:deb/debian/nodejs@") && p.endsWith(`arch=${other}`)), `${arch}: no ${other} nodejs`).toBe(false);
      // The base image's libc6 and the node stage's libnode108, for this architecture.
      const statusd = new RegExp(`linux/${arch}: sha256:[0-9a-f]{64};.*status\\.d: (.*)$`, "m").exec(released.stderr)?.[1] ?? "";
      expect(statusd, `${arch} status.d`).toMatch(/\blibc6 2\.36-/);
      expect(statusd, `${arch} status.d`).toMatch(/\blibnode108 18\./);
      expect(statusd, `${arch} status.d`).toMatch(/\bnodejs 18\./);
      expect(statusd, `${arch} status.d`).toMatch(/\bnode-undici 5\./);
      const image = `${ref}:${VERSION}`;
      ok(run(DOCKER, ["pull", "-q", "--platform", `linux/${arch}`, image]), `docker pull --platform linux/${arch}`);
      pulled.push(image);
      const r = ok(
        run(DOCKER, ["run", "--rm", "--platform", `linux/${arch}`, "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--network", "none", "--entrypoint", "/usr/bin/node", image, "-e", "console.log(process.arch, process.getuid(), require('fs').existsSync('/frontend/cue/cue.wasm'))"]),
        `docker run --platform linux/${arch}`,
      );
      expect(r.trim()).toBe(`${arch === "amd64" ? "x64" : "arm64"} 65532 true`);
    }
  });

  it("is a working `# syntax=` frontend pulled from the registry, for both platforms", () => {
    ok(released, "caisson release");
    const dir = join(tmp, "hello");
    cpSync(resolve("test/fixtures/engine/hello"), dir, { recursive: true });
    writeFileSync(join(dir, "image.yaml"), `# syntax=${ref}:${VERSION}\n${readFileSync(join(dir, "image.yaml"), "utf8")}`);
    const out = join(tmp, "hello-out");
    const r = run(DOCKER, ["buildx", "build", "--progress=plain", "-f", "image.yaml", "--platform", "linux/amd64,linux/arm64", "--output", `type=local,dest=${out}`, "."], { cwd: dir });
    expect(r.code, r.stderr.slice(-4000)).toBe(0);
    expect(r.stderr).toContain(`resolve image config for docker-image://${ref}:${VERSION}`);
    for (const arch of ["amd64", "arm64"]) expect(readFileSync(join(out, `linux_${arch}`, "platform"), "utf8").trim()).toBe(`linux/${arch}`);
  });
});
