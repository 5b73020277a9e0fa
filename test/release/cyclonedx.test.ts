// The CycloneDX 1.5 SBOM of a release, without the engine: a one-platform
// layout (a built binary, a symlink, a library from a pinned .deb, a file
// caisson writes) made into a release; its CycloneDX document checked
// against the official 1.5 JSON schema, compared with the SPDX document of
// the same model, and shown to be a function of its inputs.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { assembleRelease, cyclonedxDocument, uuidV5, type ReleaseInputs } from "../../src/release/index.js";
import type { DebPin } from "../../src/debian/index.js";
import { checkCycloneDx15 } from "./cyclonedx.js";
import { oneLayerLayout } from "./layout.js";

type Obj = Record<string, unknown>;
type Component = { type: string; "bom-ref": string; name: string; version?: string; scope?: string; purl?: string; hashes?: { alg: string; content: string }[]; externalReferences?: { type: string; url: string; comment?: string }[]; pedigree?: { patches: { type: string; resolves?: { type: string; id: string }[] }[] }; properties?: { name: string; value: string }[] };

const hex = (algo: string, data: string) => createHash(algo).update(data).digest("hex");
const LIBC = "\x7fELF libc";
const libc6: DebPin = { name: "libc6", version: "2.36-9+deb12u14", arch: "amd64", sha256: "1".repeat(64), size: 1, archive: "debian", path: "pool/main/g/glibc/libc6_2.36-9+deb12u14_amd64.deb" };
const gcc: DebPin = { name: "gcc-12", version: "12.2.0-14", arch: "amd64", sha256: "2".repeat(64), size: 1, archive: "debian", path: "pool/main/g/gcc-12/gcc-12_12.2.0-14_amd64.deb" };

function layout(app = "\x7fELF app") {
  return oneLayerLayout([
    { type: "file", path: "usr/local/bin/app", data: Buffer.from(app), mode: 0o755 },
    { type: "symlink", path: "usr/local/bin/app-cli", target: "app" },
    { type: "file", path: "lib/x86_64-linux-gnu/libc.so.6", data: Buffer.from(LIBC) },
    { type: "file", path: "etc/passwd", data: Buffer.from("app:x:65532:65532::/:/sbin/nologin\n") },
  ]);
}

const inputs: ReleaseInputs = {
  name: "app",
  version: "1.2.3",
  definition: "images/app/image.yaml",
  sourceDateEpoch: 0,
  caissonVersion: "0.0.0-test",
  buildPlatform: "linux/amd64",
  sources: [
    { name: "app", url: "https://example.org/app-1.2.3.tar.gz", sha256: "a".repeat(64), filename: "app-1.2.3.tar.gz" },
    { name: "lib", git: { url: "https://example.org/lib.git", commit: "f".repeat(40) } },
    { name: "debian", url: "https://example.org/app_1.2.3-1.debian.tar.xz", sha256: "9".repeat(64), filename: "app_1.2.3-1.debian.tar.xz", debian: "app=1.2.3-1" },
  ],
  patches: [
    { stage: "build", source: "debian", path: "/debian/patches/0001-security.patch", sha256: "b".repeat(64), cves: ["CVE-2025-1000", "CVE-2025-1001"], headerRead: true, appliedTo: ["app"] },
    { stage: "build", source: "debian", path: "/debian/patches/0002-build-flags.patch", sha256: "8".repeat(64), cves: [], headerRead: true, appliedTo: ["app", "lib"] },
  ],
  debPins: [gcc, libc6],
  debs: [{ pin: libc6, control: [["Package", "libc6"], ["Version", libc6.version], ["Architecture", "amd64"]], md5sums: new Map([["lib/x86_64-linux-gnu/libc.so.6", hex("md5", LIBC)]]), files: new Map([["lib/x86_64-linux-gnu/libc.so.6", { sha256: hex("sha256", LIBC) }]]) }],
  copies: [{ dest: "/usr/local/bin", stage: "build", sources: ["app", "lib"], libraries: true }],
  materials: [],
  builder: [],
};

const components = (doc: Obj) => doc["components"] as Component[];
const props = (c: Component, name: string) => (c.properties ?? []).filter((p) => p.name === name).map((p) => p.value);

describe("the CycloneDX SBOM", () => {
  it("conforms to the official CycloneDX 1.5 JSON schema, naming sources, patches with their CVE ids, packages and files", async () => {
    const release = await assembleRelease(layout(), inputs);
    const p = release.platforms[0]!;
    const doc = p.cyclonedx;
    expect(checkCycloneDx15(doc)).toEqual([]);
    // The same once written and read back, as `caisson release` writes it.
    expect(checkCycloneDx15(JSON.parse(JSON.stringify(doc, null, 2)))).toEqual([]);
    expect(doc).toMatchObject({ bomFormat: "CycloneDX", specVersion: "1.5", version: 1 });
    expect(doc["serialNumber"]).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const metadata = doc["metadata"] as { timestamp: string; tools: { components: { name: string; version: string }[] }; component: Component };
    expect(metadata.timestamp).toBe("1970-01-01T00:00:00Z");
    expect(metadata.tools.components).toEqual([{ type: "application", name: "caisson", version: "0.0.0-test" }]);
    expect(metadata.component).toMatchObject({ type: "container", name: "app", version: "1.2.3", hashes: [{ alg: "SHA-256", content: p.manifest.digest.slice(7) }] });

    const byRef = new Map(components(doc).map((c) => [c["bom-ref"], c]));
    const app = byRef.get("source:app")!;
    expect(app).toMatchObject({ type: "file", name: "app", hashes: [{ alg: "SHA-256", content: "a".repeat(64) }], externalReferences: [{ type: "distribution", url: "https://example.org/app-1.2.3.tar.gz" }] });
    // Both patches apply to app, in order; the first resolves its two CVEs.
    expect(app.pedigree?.patches).toEqual([
      { type: "unofficial", resolves: [expect.objectContaining({ type: "security", id: "CVE-2025-1000" }), expect.objectContaining({ type: "security", id: "CVE-2025-1001" })] },
      { type: "unofficial" },
    ]);
    expect(byRef.get("source:lib")).toMatchObject({ type: "library", version: "f".repeat(40), externalReferences: [{ type: "vcs", url: "https://example.org/lib.git", comment: `commit ${"f".repeat(40)}` }], pedigree: { patches: [{ type: "unofficial" }] } });
    expect(byRef.get("source:debian")?.pedigree).toBeUndefined();
    expect(byRef.get("patch:1")).toMatchObject({ type: "file", name: "0001-security.patch", hashes: [{ alg: "SHA-256", content: "b".repeat(64) }] });
    expect(props(byRef.get("patch:1")!, "caisson:patch.fixes")).toEqual(["CVE-2025-1000", "CVE-2025-1001"]);

    const debs = components(doc).filter((c) => c.purl?.startsWith("pkg:deb/"));
    expect(debs.map((c) => [c.name, c.version, c.purl, c.scope, c.hashes?.[0]?.content])).toEqual([
      ["gcc-12", "12.2.0-14", "pkg:deb/debian/gcc-12@12.2.0-14?arch=amd64", "excluded", "2".repeat(64)],
      ["libc6", "2.36-9+deb12u14", "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64", "required", "1".repeat(64)],
    ]);
    expect(doc["dependencies"]).toEqual([{ ref: "image", dependsOn: [debs[1]!["bom-ref"]] }]);

    // Every file the SPDX document lists, with the same hashes, and where it came from.
    const files = components(doc).filter((c) => props(c, "caisson:role")[0] === "file");
    const spdx = (p.sbom["files"] as { fileName: string; checksums: { algorithm: string; checksumValue: string }[]; comment: string }[]).map((f) => [f.fileName.slice(1), f.checksums.map((c) => c.checksumValue), f.comment]);
    expect(files.map((f) => [f.name, f.hashes!.map((h) => h.content), props(f, "caisson:file.origin.description")[0]])).toEqual(spdx);
    expect(files.map((f) => f.name)).toEqual(["/etc/passwd", "/lib/x86_64-linux-gnu/libc.so.6", "/usr/local/bin/app", "/usr/local/bin/app-cli", "/var/lib/dpkg/status.d/libc6", "/var/lib/dpkg/status.d/libc6.md5sums"]);
    const file = (name: string) => files.find((f) => f.name === name)!;
    expect(props(file("/lib/x86_64-linux-gnu/libc.so.6"), "caisson:file.from")).toEqual([debs[1]!["bom-ref"]]);
    expect(props(file("/usr/local/bin/app"), "caisson:file.from")).toEqual(["source:app", "source:lib"]);
    expect(props(file("/usr/local/bin/app-cli"), "caisson:file.symlink")).toEqual(["app"]);
    expect(props(file("/etc/passwd"), "caisson:file.origin")).toEqual(["caisson"]);
  });

  it("is a function of its inputs: same release, same bytes; another image, another serial number", async () => {
    const a = await assembleRelease(layout(), inputs);
    const b = await assembleRelease(layout(), inputs);
    expect(JSON.stringify(b.platforms[0]!.cyclonedx)).toBe(JSON.stringify(a.platforms[0]!.cyclonedx));
    const c = await assembleRelease(layout("\x7fELF apq"), inputs);
    expect(c.platforms[0]!.cyclonedx["serialNumber"]).not.toBe(a.platforms[0]!.cyclonedx["serialNumber"]);
    // RFC 4122's own example of a version 5 UUID (www.example.com in the DNS name space).
    expect(uuidV5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")).toBe("2ed6657d-e927-568b-95e1-2665a8aea6a2");
  });

  it("fails the schema check when the document does not conform", () => {
    const doc = cyclonedxDocument({ name: "x", version: "1", platform: "linux/amd64", manifestDigest: `sha256:${"e".repeat(64)}`, created: "1970-01-01T00:00:00Z", caissonVersion: "0", sources: [], patches: [], debs: [gcc], files: [] });
    expect(checkCycloneDx15(doc)).toEqual([]);
    const bad = JSON.parse(JSON.stringify(doc)) as { serialNumber: string; components: { hashes: { alg: string }[]; scope: string }[]; metadata: { timestamp: string } };
    bad.serialNumber = "urn:uuid:not-a-uuid";
    bad.components[0]!.hashes[0]!.alg = "SHA256";
    bad.components[0]!.scope = "build";
    bad.metadata.timestamp = "yesterday";
    const problems = checkCycloneDx15(bad).join("\n");
    expect(problems).toMatch(/^\/serialNumber must match pattern/m);
    expect(problems).toMatch(/^\/components\/0\/hashes\/0\/alg must be equal to one of the allowed values/m);
    expect(problems).toMatch(/^\/components\/0\/scope must be equal to one of the allowed values/m);
    expect(problems).toMatch(/^\/metadata\/timestamp must match format "date-time"/m);
    const dangling = { ...doc, dependencies: [{ ref: "image", dependsOn: ["deb:nothing"] }] };
    expect(checkCycloneDx15(dangling)).toEqual(["dependencies[0]: deb:nothing names no bom-ref"]);
  });
});
