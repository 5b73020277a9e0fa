// `caisson release` against a real registry: Debian's docker-registry on
// 127.0.0.1 with TLS (its own CA, trusted through docker's certs.d) and
// htpasswd basic auth, started and stopped here. Redis is built once (the
// later releases reuse the engine's cache); the pushed index is read back with
// skopeo, docker buildx imagetools and docker pull, and run under the runtime
// contract. Under CI=true a missing engine or tool fails instead of skipping.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkEngine, dockerBinary } from "../../src/engine/index.js";
import { Blobs, flatten, MEDIA_INDEX, MEDIA_MANIFEST, pushRelease, readLayout, Registry, RegistryError, type Index, type Manifest, type Release } from "../../src/release/index.js";
import { IN_CI } from "../support/ci.js";
import { REGISTRY_TOOLS, TestRegistry } from "../support/registry.js";
import { checkSpdx23 } from "./spdx.js";
import { checkCycloneDx15 } from "./cyclonedx.js";
import { gunzipSync } from "node:zlib";

const DOCKER = dockerBinary();
const engineError = await checkEngine(DOCKER).then(
  () => undefined,
  (e: unknown) => (e instanceof Error ? e.message : String(e)),
);
const TOOLS = [...REGISTRY_TOOLS, "skopeo", "grep-dctrl", "redis-cli"];

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, opts: { input?: string; timeout?: number } = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 << 20, env: { ...process.env, ...env }, timeout: opts.timeout ?? 1_200_000, ...(opts.input ? { input: opts.input } : {}) });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: { code: number; stdout: string; stderr: string }, what: string) {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr.slice(-6000)}${r.stdout.slice(-2000)}`);
  return r.stdout;
}

describe.skipIf(engineError !== undefined && !IN_CI)("caisson release to a registry with TLS and basic auth", () => {
  const tmp = mkdtempSync(join(tmpdir(), "caisson-release-"));
  const dockerConfig = join(tmp, "docker");
  const out = join(tmp, "out");
  let reg: TestRegistry;
  let certsDir = "";
  let first: { code: number; stdout: string; stderr: string };
  const pulled: string[] = [];
  const containers: string[] = [];

  const caisson = (args: string[], env: NodeJS.ProcessEnv = {}) => run(process.execPath, ["bin/caisson.js", ...args], { DOCKER_CONFIG: dockerConfig, ...env });
  const release = (repo: string, ...extra: string[]) => caisson(["release", "images/redis/image.yaml", "--to", `${reg.host}/${repo}`, "--out", out, "--progress", "plain", ...extra]);
  const creds = () => `${reg.user}:${reg.password}`;

  beforeAll(async () => {
    if (engineError) throw new Error(`the engine is required under CI: ${engineError}`);
    for (const tool of TOOLS) if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing: run hack/engine.sh`);
    reg = await TestRegistry.start();
    // docker (and caisson, and skopeo) trust the registry's CA through docker's certs.d; no daemon restart needed.
    certsDir = `/etc/docker/certs.d/${reg.host}`;
    mkdirSync(certsDir, { recursive: true });
    copyFileSync(reg.caFile, join(certsDir, "ca.crt"));
    mkdirSync(dockerConfig, { recursive: true });
    ok(run(DOCKER, ["login", reg.host, "-u", reg.user, "--password-stdin"], { DOCKER_CONFIG: dockerConfig }, { input: reg.password }), "docker login");
    // One build for the whole file: every later release finds it in the engine's cache.
    first = release("caisson/redis");
  });

  afterAll(async () => {
    for (const c of containers) spawnSync(DOCKER, ["rm", "-f", c]);
    for (const image of pulled) spawnSync(DOCKER, ["rmi", "-f", image]);
    if (certsDir) rmSync(certsDir, { recursive: true, force: true });
    await reg?.remove();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("pushes one index with linux/amd64, linux/arm64 and an attestation manifest for each, with its tags", () => {
    ok(first, "caisson release");
    expect(first.stderr).toMatch(/pushed 127\.0\.0\.1:\d+\/caisson\/redis@sha256:[0-9a-f]{64}/);
    const raw = JSON.parse(ok(run("skopeo", ["inspect", "--raw", "--creds", creds(), `docker://${reg.host}/caisson/redis:7.0.15`]), "skopeo inspect --raw")) as Index;
    expect(raw.mediaType).toBe(MEDIA_INDEX);
    const plats = raw.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`);
    expect(plats).toEqual(["linux/amd64", "linux/arm64", "unknown/unknown", "unknown/unknown"]);
    for (const att of raw.manifests.slice(2)) {
      expect(att.annotations?.["vnd.docker.reference.type"]).toBe("attestation-manifest");
      expect(raw.manifests.slice(0, 2).map((m) => m.digest)).toContain(att.annotations?.["vnd.docker.reference.digest"]);
    }
    const inspected = JSON.parse(ok(run("skopeo", ["inspect", "--creds", creds(), `docker://${reg.host}/caisson/redis:7.0.15`]), "skopeo inspect")) as { RepoTags: string[] };
    expect(inspected.RepoTags.sort()).toEqual(["7", "7.0", "7.0.15", "latest"]);
    // What was pushed is the release archive written beside the build.
    const archive = JSON.parse(ok(run("tar", ["-xOf", join(out, "redis-7.0.15.release.oci.tar"), "index.json"]), "tar")) as Index;
    const digest = ok(run("skopeo", ["inspect", "--format", "{{.Digest}}", "--creds", creds(), `docker://${reg.host}/caisson/redis:7.0.15`]), "skopeo digest").trim();
    expect(archive.manifests[0]!.digest).toBe(digest);
  });

  it("is read back by docker buildx imagetools: SBOM and provenance for both platforms", async () => {
    // buildx's resolver (containerd's) speaks plain HTTP to any loopback registry, so it cannot read the
    // TLS one: the same release archive goes to a plain loopback registry, by digest, and is read there.
    const plain = await TestRegistry.start({ plain: true });
    try {
      const { index, blobs } = await readLayout(join(out, "redis-7.0.15.release.oci.tar"));
      await pushRelease(new Registry({ host: plain.host, repo: "caisson/redis" }), { index: index.manifests[0]!, blobs, platforms: [] }, { tags: ["7.0.15"], immutable: [] });
      const fmt = (what: string) =>
        JSON.parse(ok(run(DOCKER, ["buildx", "imagetools", "inspect", `${plain.host}/caisson/redis:7.0.15`, "--format", `{{json .${what}}}`]), `imagetools ${what}`)) as Record<string, Record<string, Record<string, unknown>>>;
      checkAttestations(fmt);
    } finally {
      await plain.remove();
    }
  });

  function checkAttestations(fmt: (what: string) => Record<string, Record<string, Record<string, unknown>>>) {
    const sbom = fmt("SBOM");
    expect(Object.keys(sbom).sort()).toEqual(["linux/amd64", "linux/arm64"]);
    expect(sbom["linux/amd64"]!["SPDX"]!["spdxVersion"]).toBe("SPDX-2.3");
    const prov = fmt("Provenance");
    expect(Object.keys(prov).sort()).toEqual(["linux/amd64", "linux/arm64"]);
    const slsa = prov["linux/arm64"]!["SLSA"] as { buildDefinition: { resolvedDependencies: { name: string; digest: { sha256: string } }[] }; runDetails: { builder: { version: { caisson: string }; builderDependencies: { name: string }[] } } };
    const names = slsa.buildDefinition.resolvedDependencies.map((d) => d.name);
    expect(names).toContain("images/redis/image.yaml");
    expect(slsa.runDetails.builder.builderDependencies.map((d) => d.name)).toEqual(expect.arrayContaining(["images/builder/image.yaml", "images/builder/image.lock.json", expect.stringMatching(/caisson\/debian:bookworm@sha256:d757fb0e/)]));
    expect(slsa.runDetails.builder.version.caisson).toMatch(/^\d+\.\d+\.\d+/);
  }

  it("pulls back with docker and answers PONG under --read-only --cap-drop ALL --security-opt no-new-privileges", async () => {
    const image = `${reg.host}/caisson/redis:7.0.15`;
    pulled.push(image);
    ok(run(DOCKER, ["pull", image], { DOCKER_CONFIG: dockerConfig }), "docker pull");
    const name = `caisson-release-redis-${process.pid}`;
    containers.push(name);
    ok(run(DOCKER, ["run", "-d", "--name", name, "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--tmpfs", "/data:uid=65532,gid=65532", "-p", "127.0.0.1::6379", image]), "docker run");
    const port = Number(ok(run(DOCKER, ["port", name, "6379/tcp"]), "docker port").split("\n")[0]!.split(":").pop());
    let answer = "";
    for (let i = 0; i < 100 && answer !== "PONG"; i++) {
      answer = run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "ping"], {}, { timeout: 3000 }).stdout.trim();
      if (answer !== "PONG") await new Promise((r) => setTimeout(r, 100));
    }
    expect(answer).toBe("PONG");
  });

  it("ships dpkg status.d entries that grep-dctrl parses, naming libc6 with its version", async () => {
    const { index, blobs } = await readLayout(join(out, "redis-7.0.15.release.oci.tar"));
    const top = blobs.json<Index>(index.manifests[0]!.digest);
    for (const m of top.manifests.filter((d) => d.platform?.os === "linux")) {
      const manifest = blobs.json<Manifest>(m.digest);
      const files = await flatten(manifest.layers.map((l) => gunzipSync(blobs.get(l.digest))));
      const entry = files.get("var/lib/dpkg/status.d/libc6");
      expect(entry, m.platform?.architecture).toBeDefined();
      expect(entry!.mode).toBe(0o644);
      const file = join(tmp, `libc6-${m.platform?.architecture}`);
      writeFileSync(file, entry!.data);
      const parsed = ok(run("grep-dctrl", ["-n", "-s", "Package,Version,Architecture", "-F", "Package", "-X", "libc6", file]), "grep-dctrl");
      expect(parsed.trim().split("\n")).toEqual(["libc6", "2.36-9+deb12u14", m.platform!.architecture]);
      const sums = files.get("var/lib/dpkg/status.d/libc6.md5sums");
      expect(Buffer.from(sums!.data).toString()).toMatch(/^[0-9a-f]{32} {2}lib\/.*libc\.so\.6$/m);
    }
  });

  it("writes an SPDX 2.3 SBOM per platform naming the Redis source, the 18 CVE patches and every file of the image", async () => {
    const { index, blobs } = await readLayout(join(out, "redis-7.0.15.release.oci.tar"));
    const top = blobs.json<Index>(index.manifests[0]!.digest);
    for (const arch of ["amd64", "arm64"]) {
      const sbom = JSON.parse(readFileSync(join(out, `redis-7.0.15.linux-${arch}.spdx.json`), "utf8")) as Record<string, unknown>;
      expect(checkSpdx23(sbom)).toEqual([]);
      const packages = sbom["packages"] as { name: string; downloadLocation: string; checksums?: { checksumValue: string }[]; comment?: string; externalRefs?: { referenceCategory: string; referenceLocator: string }[]; versionInfo?: string }[];
      const redis = packages.find((p) => (p as { SPDXID?: string }).SPDXID === "SPDXRef-Source-redis")!;
      expect(redis.downloadLocation).toBe("https://github.com/redis/redis/archive/refs/tags/7.0.15.tar.gz");
      expect(redis.checksums?.[0]?.checksumValue).toBe("4b1dc4ee6d622a09fff9c6777191209750fb5e5a725ef78ea012d6eef4c22982");
      const patches = packages.filter((p) => p.name.endsWith(".patch"));
      expect(patches).toHaveLength(18);
      for (const p of patches) expect(p.externalRefs?.some((r) => r.referenceCategory === "SECURITY" && /CVE-\d{4}-\d+$/.test(r.referenceLocator)), p.name).toBe(true);
      expect(patches.find((p) => p.name.startsWith("0001-Apply-security"))?.comment).toBe("fixes CVE-2024-31227, CVE-2024-31228, CVE-2024-31449");
      expect(packages.find((p) => p.name === "gcc-12")?.versionInfo).toMatch(/^12\./);
      // Every regular file and symlink of the pushed image, and nothing else.
      const m = top.manifests.find((d) => d.platform?.architecture === arch)!;
      const manifest = blobs.json<Manifest>(m.digest);
      const files = await flatten(manifest.layers.map((l) => gunzipSync(blobs.get(l.digest))));
      const inImage = [...files.values()].filter((r) => r.type === "file" || r.type === "symlink").map((r) => `./${r.path}`).sort();
      const listed = (sbom["files"] as { fileName: string; comment: string }[]);
      expect(listed.map((f) => f.fileName).sort()).toEqual(inImage);
      const libc = listed.find((f) => f.fileName.endsWith("/libc.so.6"))!;
      expect(libc.comment).toMatch(new RegExp(`copied from Debian package libc6 2\\.36-9\\+deb12u14 \\(${arch}\\)`));
      expect(listed.find((f) => f.fileName === "./usr/local/bin/redis-server")!.comment).toMatch(/built in stage "build" from source "redis"/);
    }
  });

  it("writes a CycloneDX 1.5 SBOM per platform beside, valid against the official schema, naming what the SPDX one names", () => {
    for (const arch of ["amd64", "arm64"]) {
      const cdx = JSON.parse(readFileSync(join(out, `redis-7.0.15.linux-${arch}.cdx.json`), "utf8")) as Record<string, unknown>;
      const spdx = JSON.parse(readFileSync(join(out, `redis-7.0.15.linux-${arch}.spdx.json`), "utf8")) as Record<string, unknown>;
      expect(checkCycloneDx15(cdx)).toEqual([]);
      expect(cdx["serialNumber"]).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
      const metadata = cdx["metadata"] as { timestamp: string; tools: { components: { name: string; version: string }[] }; component: { type: string; name: string; version: string } };
      expect(metadata.timestamp).toBe("1970-01-01T00:00:00Z");
      expect(metadata.tools.components[0]).toMatchObject({ name: "caisson", version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
      expect(metadata.component).toMatchObject({ type: "container", name: "redis", version: "7.0.15" });
      type Component = { "bom-ref": string; name: string; version?: string; purl?: string; hashes?: { alg: string; content: string }[]; externalReferences?: { type: string; url: string }[]; pedigree?: { patches: { resolves?: { type: string; id: string }[] }[] }; properties?: { name: string; value: string }[] };
      const components = cdx["components"] as Component[];
      const redis = components.find((c) => c["bom-ref"] === "source:redis")!;
      expect(redis.externalReferences).toEqual([expect.objectContaining({ type: "distribution", url: "https://github.com/redis/redis/archive/refs/tags/7.0.15.tar.gz" })]);
      expect(redis.hashes).toEqual([{ alg: "SHA-256", content: "4b1dc4ee6d622a09fff9c6777191209750fb5e5a725ef78ea012d6eef4c22982" }]);
      // The 18 patches, applied to the Redis source, resolving every CVE id the SPDX document names.
      expect(redis.pedigree?.patches).toHaveLength(18);
      const spdxCves = (spdx["packages"] as { name: string; externalRefs?: { referenceCategory: string; referenceLocator: string }[] }[])
        .filter((p) => p.name.endsWith(".patch"))
        .flatMap((p) => (p.externalRefs ?? []).filter((r) => r.referenceCategory === "SECURITY").map((r) => r.referenceLocator.replace(/^.*\//, "")));
      const resolved = redis.pedigree!.patches.flatMap((p) => (p.resolves ?? []).map((r) => r.id));
      expect(redis.pedigree!.patches.every((p) => (p.resolves ?? []).length > 0 && p.resolves!.every((r) => r.type === "security" && /^CVE-\d{4}-\d+$/.test(r.id)))).toBe(true);
      expect(resolved.sort()).toEqual(spdxCves.sort());
      expect(resolved).toEqual(expect.arrayContaining(["CVE-2024-31227", "CVE-2024-31228", "CVE-2024-31449", "CVE-2025-49844"]));
      const libc6 = components.find((c) => c.name === "libc6" && c.purl?.endsWith(`?arch=${arch}`))!;
      expect(libc6).toMatchObject({ version: "2.36-9+deb12u14", purl: `pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=${arch}`, scope: "required" });
      // Every file the SPDX document lists (every file of the image), with the same hashes.
      const files = components.filter((c) => c.properties?.some((p) => p.name === "caisson:role" && p.value === "file"));
      const spdxFiles = (spdx["files"] as { fileName: string; checksums: { checksumValue: string }[] }[]).map((f) => [f.fileName.slice(1), f.checksums.map((c) => c.checksumValue)]);
      expect(files.map((f) => [f.name, f.hashes!.map((h) => h.content)])).toEqual(spdxFiles);
      const libc = files.find((f) => f.name.endsWith("/libc.so.6"))!;
      expect(libc.properties).toContainEqual({ name: "caisson:file.from", value: libc6["bom-ref"] });
    }
  });

  it("fails clearly with wrong credentials", () => {
    const bad = caisson(["release", "images/redis/image.yaml", "--to", `${reg.host}/caisson/redis-denied`, "--out", out, "--progress", "quiet"], { CAISSON_REGISTRY_USER: reg.user, CAISSON_REGISTRY_PASSWORD: "wrong" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/authentication failed \(401\) as "caisson" \(credentials from CAISSON_REGISTRY_USER\/PASSWORD\).*docker login/);
    expect(bad.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
  });

  it("fails clearly when the registry stops mid-push, and a retry completes", async () => {
    const { index, blobs } = await readLayout(join(out, "redis-7.0.15.release.oci.tar"));
    const rel: Release = { index: index.manifests[0]!, blobs, platforms: [] };
    const registry = new Registry({ host: reg.host, repo: "caisson/redis-interrupted" }, { credentials: { username: reg.user, password: reg.password, from: "test" } });
    let pushed = 0;
    const cut = pushRelease(registry, rel, {
      tags: ["7.0.15"],
      immutable: ["7.0.15"],
      onPushed: async () => {
        if (++pushed === 2) await reg.stop();
      },
    });
    await expect(cut).rejects.toThrow(RegistryError);
    await expect(cut).rejects.toThrow(/127\.0\.0\.1:\d+ is unreachable \((ECONNREFUSED|ECONNRESET)\).*nothing was tagged.*run the same command again/);
    await reg.resume();
    const done = await pushRelease(registry, rel, { tags: ["7.0.15"], immutable: ["7.0.15"] });
    expect(done.blobsSkipped).toBeGreaterThanOrEqual(2);
    expect(done.digest).toBe(index.manifests[0]!.digest);
    const digest = ok(run("skopeo", ["inspect", "--format", "{{.Digest}}", "--creds", creds(), `docker://${reg.host}/caisson/redis-interrupted:7.0.15`]), "skopeo").trim();
    expect(digest).toBe(done.digest);
  });

  it("pushes with a bearer token from the registry's token service, trusting a CA given as an option (TLS refused without it)", async () => {
    const tokenReg = await TestRegistry.start({ token: true });
    try {
      const { index, blobs } = await readLayout(join(out, "redis-7.0.15.release.oci.tar"));
      const rel: Release = { index: index.manifests[0]!, blobs, platforms: [] };
      const ref = { host: tokenReg.host, repo: "caisson/redis" };
      const ca = readFileSync(tokenReg.caFile, "utf8");
      // Its CA is in no certs.d: refused as TLS, saying where the CA goes.
      const untrusted = new Registry(ref, { credentials: { username: tokenReg.user, password: tokenReg.password, from: "test" } });
      await expect(pushRelease(untrusted, rel, { tags: ["7.0.15"], immutable: ["7.0.15"] })).rejects.toThrow(/TLS failed \(\w+\).*\/etc\/docker\/certs\.d\/127\.0\.0\.1:\d+\/ca\.crt.*--ca-cert/);
      const wrong = new Registry(ref, { ca, credentials: { username: tokenReg.user, password: "wrong", from: "test" } });
      await expect(pushRelease(wrong, rel, { tags: ["7.0.15"], immutable: ["7.0.15"] })).rejects.toThrow(/authentication failed \(401\) as "caisson".*its token service at http:\/\/127\.0\.0\.1:\d+\/token refused the credentials/);
      const registry = new Registry(ref, { ca, credentials: { username: tokenReg.user, password: tokenReg.password, from: "test" } });
      const done = await pushRelease(registry, rel, { tags: ["7.0.15", "latest"], immutable: ["7.0.15"] });
      expect(await registry.manifestDigest("latest")).toBe(done.digest);
      expect(await registry.manifestDigest("7.0.15")).toBe(done.digest);
    } finally {
      await tokenReg.remove();
    }
  });

  it("refuses to move a version tag to another digest unless --force", async () => {
    // Another index under 7.0.15 first: an empty image pushed with the same client.
    const b = new Blobs();
    const config = b.putJson("application/vnd.oci.image.config.v1+json", { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } });
    const m = b.putJson(MEDIA_MANIFEST, { schemaVersion: 2, mediaType: MEDIA_MANIFEST, config, layers: [] }, { platform: { os: "linux", architecture: "amd64" } });
    const idx = b.putJson(MEDIA_INDEX, { schemaVersion: 2, mediaType: MEDIA_INDEX, manifests: [m] });
    const registry = new Registry({ host: reg.host, repo: "caisson/redis-moved" }, { credentials: { username: reg.user, password: reg.password, from: "test" } });
    await pushRelease(registry, { index: idx, blobs: b, platforms: [] }, { tags: ["7.0.15"], immutable: [] });
    const refused = release("caisson/redis-moved");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${reg.host}/caisson/redis-moved:7.0.15 already points at ${idx.digest}`);
    expect(refused.stderr).toMatch(/give --force to move it/);
    ok(release("caisson/redis-moved", "--force"), "caisson release --force");
    expect(await registry.manifestDigest("7.0.15")).not.toBe(idx.digest);
    expect(existsSync(join(out, "redis-7.0.15.linux-arm64.provenance.json"))).toBe(true);
  });
});
