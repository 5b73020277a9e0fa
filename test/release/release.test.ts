// Release pieces without the engine: CVE ids from patch headers, default
// tags, repository references, credentials, layer normalisation, and the
// SPDX document's required fields (checked against spdx-2.3.schema.json, see
// spdx.ts).
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { tar } from "../../src/engine/tar.js";
import { readTar } from "../../src/check/index.js";
import {
  assembleRelease,
  compareReleases,
  releaseTags,
  findCredentials,
  normaliseLayer,
  parseRepoRef,
  patchCves,
  RegistryError,
  sourceMaterial,
  spdxDocument,
  type ReleaseInputs,
} from "../../src/release/index.js";
import { checkSpdx23 } from "./spdx.js";
import { oneLayerLayout } from "./layout.js";
import { Staged } from "../../src/cli/release.js";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { checkDefinition } from "../../src/validate/index.js";

describe("patchCves", () => {
  it("reads CVE ids from the file name and the header, not from the hunks", () => {
    const text = "Subject: fixes\n\n(CVE-2024-31449) Lua\n(CVE-2024-31227) ACL\n---\ndiff --git a/x b/x\n+CVE-2099-0001 in code\n";
    expect(patchCves("0001-Apply-security-fixes-for-CVEs-1113.patch", text)).toEqual(["CVE-2024-31227", "CVE-2024-31449"]);
    expect(patchCves("CVE-2025-46817.patch", undefined)).toEqual(["CVE-2025-46817"]);
    expect(patchCves("0002-Add-CPPFLAGS.patch", "Description: build flags\n")).toEqual([]);
  });
});

describe("releaseTags", () => {
  it("gives version, major.minor, major and latest by default; the version tag is immutable", () => {
    expect(releaseTags({ version: "7.0.15" })).toEqual({ tags: ["7.0.15", "7.0", "7", "latest"], immutable: ["7.0.15"] });
    expect(releaseTags({ version: "bookworm" })).toEqual({ tags: ["bookworm", "latest"], immutable: ["bookworm"] });
  });

  it("takes the definition's release: tags", () => {
    const r = checkDefinition("d.yaml", "name: x\nversion: 1.2.3\nplatforms: [linux/amd64]\nimage: { from: scratch }\nrelease: { tags: ['{major}.{minor}', 'v{version}', stable] }\n");
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(releaseTags(r.definition!)).toEqual({ tags: ["1.2", "v1.2.3", "stable"], immutable: ["v1.2.3"] });
  });

  it("reports a template the version cannot fill, and an unknown placeholder, by line and column", () => {
    const r = checkDefinition("d.yaml", "name: x\nversion: bookworm\nplatforms: [linux/amd64]\nimage: { from: scratch }\nrelease:\n  tags: ['{major}', '{build}']\n");
    const errs = r.diagnostics.filter((d) => d.severity === "error").map((d) => [d.code, d.message]);
    expect(errs).toEqual(expect.arrayContaining([["invalid_release_tag", expect.stringContaining('needs a MAJOR.MINOR.PATCH version for {major}, not "bookworm"')]]));
    expect(errs.length).toBe(2);
  });
});

describe("parseRepoRef", () => {
  it("needs a registry host and a repository", () => {
    expect(parseRepoRef("127.0.0.1:5000/caisson/redis")).toEqual({ host: "127.0.0.1:5000", repo: "caisson/redis" });
    expect(() => parseRepoRef("caisson/redis")).toThrow(/give REGISTRY\/REPO/);
    expect(() => parseRepoRef("127.0.0.1:5000/Caisson")).toThrow(/the repository name must be lowercase \("Caisson": write "caisson"\)/);
  });
});

describe("findCredentials", () => {
  it("takes the environment first, then docker's config.json", () => {
    const dir = mkdtempSync(join(tmpdir(), "caisson-creds-"));
    try {
      writeFileSync(join(dir, "config.json"), JSON.stringify({ auths: { "127.0.0.1:5000": { auth: Buffer.from("u:p:w").toString("base64") } } }));
      expect(findCredentials("127.0.0.1:5000", { DOCKER_CONFIG: dir })).toMatchObject({ username: "u", password: "p:w" });
      expect(findCredentials("127.0.0.1:5001", { DOCKER_CONFIG: dir })).toBeUndefined();
      expect(findCredentials("127.0.0.1:5000", { DOCKER_CONFIG: dir, CAISSON_REGISTRY_USER: "e", CAISSON_REGISTRY_PASSWORD: "x" })).toMatchObject({ username: "e", password: "x" });
      expect(() => findCredentials("h:1", { CAISSON_REGISTRY_USER: "e" })).toThrow(RegistryError);
      writeFileSync(join(dir, "config.json"), JSON.stringify({ credsStore: "pass" }));
      expect(() => findCredentials("127.0.0.1:5000", { DOCKER_CONFIG: dir })).toThrow(/docker-credential-pass/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("normaliseLayer", () => {
  it("dates every entry at the epoch and keeps owners, modes and contents", () => {
    const layer = tar([{ type: "dir", path: "data", uid: 65532, gid: 65532 }, { type: "file", path: "bin/x", data: Buffer.from("x"), mode: 0o755 }], 1_700_000_000);
    const out = normaliseLayer(layer, 0, "test");
    expect(out.subarray(136, 148).toString("ascii")).toBe("00000000000\0");
    const recs = readTar(out);
    expect(recs.map((r) => [r.path, r.uid, r.mode])).toEqual([["data", 65532, 0o755], ["bin/x", 0, 0o755]]);
    expect(normaliseLayer(layer, 0, "test").equals(out)).toBe(true);
  });
});

/** A one-platform layout as an exporter writes it: a nested index, one gzip layer. */
function builtLayout() {
  return oneLayerLayout([{ type: "file", path: "usr/local/bin/app", data: Buffer.from("\x7fELF app") }, { type: "file", path: "etc/passwd", data: Buffer.from("app:x:65532:65532::/:/sbin/nologin\n") }], { nested: true });
}

const inputs: ReleaseInputs = {
  name: "app",
  version: "1.2.3",
  definition: "images/app/image.yaml",
  sourceDateEpoch: 0,
  caissonVersion: "0.0.0-test",
  buildPlatform: "linux/amd64",
  sources: [{ name: "app", url: "https://example.org/app-1.2.3.tar.gz", sha256: "a".repeat(64), filename: "app-1.2.3.tar.gz" }],
  patches: [{ stage: "build", source: "debian", path: "/debian/patches/CVE-2025-1.patch", sha256: "b".repeat(64), cves: ["CVE-2025-1000"], headerRead: false, appliedTo: ["app"] }],
  debPins: [{ name: "gcc", version: "4:12.2.0-3", arch: "amd64", sha256: "c".repeat(64), size: 1, archive: "debian", path: "pool/main/g/gcc/gcc_12.2.0-3_amd64.deb" }],
  debs: [],
  copies: [{ dest: "/usr/local/bin/app", stage: "build", sources: ["app"], libraries: true }],
  materials: [{ name: "images/app/image.yaml", sha256: "d".repeat(64) }],
  builder: [],
};

describe("assembleRelease", () => {
  it("adds an attestation manifest per platform the way BuildKit does, deterministically", async () => {
    const a = await assembleRelease(builtLayout(), inputs);
    const b = await assembleRelease(builtLayout(), inputs);
    expect(a.index.digest).toBe(b.index.digest);
    const index = a.blobs.json<{ manifests: { digest: string; platform: { os: string }; annotations?: Record<string, string> }[] }>(a.index.digest);
    expect(index.manifests.map((m) => m.platform.os)).toEqual(["linux", "unknown"]);
    const att = index.manifests[1]!;
    expect(att.annotations).toEqual({ "vnd.docker.reference.digest": index.manifests[0]!.digest, "vnd.docker.reference.type": "attestation-manifest" });
    const manifest = a.blobs.json<{ layers: { mediaType: string; annotations: Record<string, string> }[] }>(att.digest);
    expect(manifest.layers.map((l) => [l.mediaType, l.annotations["in-toto.io/predicate-type"]])).toEqual([
      ["application/vnd.in-toto+json", "https://spdx.dev/Document"],
      ["application/vnd.in-toto+json", "https://slsa.dev/provenance/v1"],
    ]);
    const p = a.platforms[0]!;
    expect(checkSpdx23(p.sbom)).toEqual([]);
    const files = (p.sbom["files"] as { fileName: string; comment: string }[]).map((f) => [f.fileName, f.comment]);
    expect(files).toEqual([
      ["./etc/passwd", expect.stringMatching(/written by caisson/)],
      ["./usr/local/bin/app", 'built in stage "build" from source "app"'],
    ]);
    expect(JSON.stringify(p.provenance)).toContain("images/app/image.yaml");
  });

  it("traces a file copied under another name (src → dest, or a run step's cp) to the package holding the same bytes", async () => {
    const bin = Buffer.alloc(2048, 7); // large enough that equal bytes mean the same file
    const sha = createHash("sha256").update(bin).digest("hex");
    const pin = { name: "coreutils", version: "9.1-1", arch: "amd64", sha256: "f".repeat(64), size: 1, archive: "debian", path: "pool/main/c/coreutils/coreutils_9.1-1_amd64.deb" };
    const deb = { pin, control: [["Package", "coreutils"], ["Version", "9.1-1"], ["Architecture", "amd64"]], md5sums: new Map<string, string>(), files: new Map([["bin/true", { sha256: sha }]]) };
    const layout = () => oneLayerLayout([{ type: "file", path: "app/true", data: bin }, { type: "file", path: "app/copied", data: bin }]);
    const r = await assembleRelease(layout(), {
      ...inputs,
      debPins: [pin],
      debs: [deb as never],
      copies: [
        { dest: "/app/true", src: "/bin/true", stage: "build", sources: [], libraries: false },
        { dest: "/app/copied", src: "/out/copied", stage: "build", sources: [], libraries: false },
      ],
    });
    const p = r.platforms[0]!;
    const said = Object.fromEntries((p.sbom["files"] as { fileName: string; comment: string }[]).map((f) => [f.fileName, f.comment]));
    expect(said["./app/true"]).toBe("copied from Debian package coreutils 9.1-1 (amd64), its /bin/true");
    expect(said["./app/copied"]).toBe("copied from Debian package coreutils 9.1-1 (amd64), its /bin/true");
    expect(p.statusd).toEqual({ coreutils: "9.1-1" });
  });

  it("names the first differing file when two builds differ", async () => {
    const a = await assembleRelease(builtLayout(), inputs);
    const other = builtLayout();
    // The same layout but for one byte of the binary, as a build id would leave it.
    const changed = tar([{ type: "file", path: "usr/local/bin/app", data: Buffer.from("\x7fELF apq") }, { type: "file", path: "etc/passwd", data: Buffer.from("app:x:65532:65532::/:/sbin/nologin\n") }], 1_700_000_000);
    const m = other.blobs.json<{ layers: { digest: string }[] }>(other.blobs.json<{ manifests: { digest: string }[] }>(other.index.manifests[0]!["digest"] as string).manifests[0]!.digest);
    other.blobs.map.set(m.layers[0]!.digest, gzipSync(changed));
    const b = await assembleRelease(other, inputs);
    expect(await compareReleases(a, a)).toBeUndefined();
    expect(await compareReleases(a, b)).toMatch(/^linux\/amd64: \/usr\/local\/bin\/app \(file 644 0:0 sha256 [0-9a-f]{16}… in the first build, file 644 0:0 sha256 [0-9a-f]{16}… in the second\)$/);
  });

  it("gives an SBOM that fails the SPDX check when a required field is missing", () => {
    const doc = spdxDocument({ name: "x", version: "1", platform: "linux/amd64", manifestDigest: `sha256:${"e".repeat(64)}`, created: "1970-01-01T00:00:00Z", caissonVersion: "0", sources: [], patches: [], debs: [], files: [] });
    expect(checkSpdx23(doc)).toEqual([]);
    delete doc["dataLicense"];
    expect(checkSpdx23(doc)).toContain("document: dataLicense is required");
  });
});

describe("sourceMaterial (provenance's resolvedDependencies)", () => {
  const span = { file: "image.yaml", start: 0, end: 0 };
  it("names a file of a Debian source package by the package's purl and its file name", () => {
    const s = { kind: "http", name: "debian", debian: "redis=5:7.0.15-1~deb12u10", filename: "redis_7.0.15-1~deb12u10.debian.tar.xz", sha256: "7".repeat(64), extract: true, span } as const;
    expect(sourceMaterial(s)).toEqual({
      name: "source debian: redis_7.0.15-1~deb12u10.debian.tar.xz of Debian source package redis=5:7.0.15-1~deb12u10",
      uri: "pkg:deb/debian/redis@5%3A7.0.15-1~deb12u10?arch=source",
      sha256: "7".repeat(64),
    });
  });
  it("names a downloaded file by its URL", () => {
    const s = { kind: "http", name: "redis", url: "https://example.org/7.0.15.tar.gz", filename: "7.0.15.tar.gz", sha256: "4".repeat(64), extract: true, span } as const;
    expect(sourceMaterial(s)).toEqual({ name: "source redis", uri: "https://example.org/7.0.15.tar.gz", sha256: "4".repeat(64) });
  });
});

describe("Staged (the release's files, the build's archive included, put in place together)", () => {
  it("keeps every file under a temporary name until commit, which puts them in place and names them", async () => {
    const out = mkdtempSync(join(tmpdir(), "caisson-staged-"));
    try {
      writeFileSync(join(out, "x-1.oci.tar"), "previous build");
      const staged = new Staged();
      // A build writes the archive under the name reserve gives; nothing of the release is in place yet.
      writeFileSync(staged.reserve(join(out, "x-1.oci.tar")), "new build");
      await staged.write(join(out, "x-1.release.oci.tar"), "release");
      await staged.write(join(out, "x-1.verify.oci.tar"), "second build");
      staged.drop(join(out, "x-1.verify.oci.tar"));
      expect(readFileSync(join(out, "x-1.oci.tar"), "utf8")).toBe("previous build");
      expect(existsSync(join(out, "x-1.release.oci.tar"))).toBe(false);
      expect(readdirSync(out).filter((n) => n.includes("verify"))).toEqual([]);
      expect(await staged.commit()).toEqual([join(out, "x-1.oci.tar"), join(out, "x-1.release.oci.tar")]);
      expect(readdirSync(out).sort()).toEqual(["x-1.oci.tar", "x-1.release.oci.tar"]);
      expect(readFileSync(join(out, "x-1.oci.tar"), "utf8")).toBe("new build");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("stages under unpredictable names, one per call, which it creates itself (no planted link is followed)", () => {
    const staged = new Staged();
    const a = staged.reserve("/out/x-1.oci.tar");
    const b = staged.reserve("/out/x-1.oci.tar");
    expect(a).toMatch(/^\/out\/\.x-1\.oci\.tar\.caisson-tmp-\d+-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    staged.discard();
  });

  it("leaves the previous files as they were when the release fails (discard)", async () => {
    const out = mkdtempSync(join(tmpdir(), "caisson-staged-"));
    try {
      writeFileSync(join(out, "x-1.oci.tar"), "previous build");
      const staged = new Staged();
      writeFileSync(staged.reserve(join(out, "x-1.oci.tar")), "new build");
      await staged.write(join(out, "x-1.linux-amd64.spdx.json"), "{}");
      staged.discard();
      expect(readdirSync(out)).toEqual(["x-1.oci.tar"]);
      expect(readFileSync(join(out, "x-1.oci.tar"), "utf8")).toBe("previous build");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe("hack/release.sh", () => {
  // The script in a tree of its own, hack/setup.sh and bin/caisson.js replaced by stubs that record how they are called.
  const run = (...args: string[]) => {
    const root = mkdtempSync(join(tmpdir(), "caisson-release-sh-"));
    try {
      for (const d of ["hack", "bin", "images/redis"]) mkdirSync(join(root, d), { recursive: true });
      copyFileSync("hack/release.sh", join(root, "hack", "release.sh"));
      writeFileSync(join(root, "images", "redis", "image.yaml"), "name: redis\n");
      writeFileSync(join(root, "hack", "setup.sh"), 'echo "setup.sh $*" >> calls\n');
      writeFileSync(join(root, "bin", "caisson.js"), 'require("fs").appendFileSync("calls", "caisson " + process.argv.slice(2).join(" ") + "\\n");\n');
      const r = spawnSync("bash", [join(root, "hack", "release.sh"), "redis", ...args], { encoding: "utf8" });
      expect(r.status).toBe(0);
      return readFileSync(join(root, "calls"), "utf8").trim().split("\n");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  };

  it("sets up, then releases (which checks the registry before it builds), with --progress quiet unless a --progress is given", () => {
    const [setup, release] = run("--to", "127.0.0.1:5000/caisson/redis");
    expect(setup).toBe("setup.sh images/redis/image.yaml");
    expect(release).toMatch(/^caisson release images\/redis\/image\.yaml --out out --source-store \S+ --progress quiet --to 127\.0\.0\.1:5000\/caisson\/redis$/);
    expect(run("--verify", "--progress", "plain")[1]).toMatch(/ --source-store \S+ --verify --progress plain$/);
    expect(run("--progress=json", "--verify")[1]).toMatch(/ --source-store \S+ --progress=json --verify$/);
  });
});
