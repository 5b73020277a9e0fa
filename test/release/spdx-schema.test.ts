// The SPDX 2.3 validator (spdx-2.3.schema.json plus the cross-reference
// checks of spdx.ts) accepts what caisson writes and names what breaks a
// document: a missing required field, an unknown enumeration value, a checksum
// of the wrong length, a relationship to nothing, an SPDXID used twice.
import { describe, expect, it } from "vitest";
import { spdxDocument, type SbomInput } from "../../src/release/index.js";
import { checkSpdx23 } from "./spdx.js";

const gcc = { name: "gcc-12", version: "12.2.0-14", arch: "amd64", sha256: "c".repeat(64), size: 1, archive: "debian", path: "pool/main/g/gcc-12/gcc-12_12.2.0-14_amd64.deb" };
const libc = { name: "libc6", version: "2.36-9+deb12u10", arch: "arm64", sha256: "1".repeat(64), size: 1, archive: "debian-security", path: "pool/main/g/glibc/libc6_2.36-9+deb12u10_arm64.deb" };

/** Every kind of thing the builder writes: URL, git and Debian sources, a patch with CVEs, shipped and build-only packages, files of each origin and a symlink. */
const input: SbomInput = {
  name: "app",
  version: "1.2.3",
  platform: "linux/arm64",
  manifestDigest: `sha256:${"e".repeat(64)}`,
  created: "1970-01-01T00:00:00Z",
  caissonVersion: "0.0.0-test",
  sources: [
    { name: "app", url: "https://example.org/app-1.2.3.tar.gz", sha256: "a".repeat(64), filename: "app-1.2.3.tar.gz" },
    { name: "lib", git: { url: "https://example.org/lib.git", commit: "f".repeat(40) } },
    { name: "debian", url: "https://example.org/app_1.2.3-1.debian.tar.xz", sha256: "9".repeat(64), debian: "app=1.2.3-1" },
  ],
  patches: [{ stage: "build", source: "debian", path: "/debian/patches/CVE-2025-1.patch", sha256: "b".repeat(64), cves: ["CVE-2025-1000", "CVE-2025-1001"], headerRead: true, appliedTo: ["app"] }],
  debs: [gcc, libc],
  files: [
    { path: "/usr/local/bin/app", sha1: "2".repeat(40), sha256: "3".repeat(64), origin: { kind: "stage", stage: "build", sources: ["app", "lib"] } },
    { path: "/lib/aarch64-linux-gnu/libc.so.6", sha1: "4".repeat(40), sha256: "5".repeat(64), origin: { kind: "deb", pin: libc, debPath: "lib/aarch64-linux-gnu/libc.so.6" } },
    { path: "/lib/ld-linux-aarch64.so.1", sha1: "6".repeat(40), sha256: "7".repeat(64), symlink: "aarch64-linux-gnu/ld-linux-aarch64.so.1", origin: { kind: "deb", pin: libc, debPath: "lib/ld-linux-aarch64.so.1" } },
    { path: "/etc/passwd", sha1: "8".repeat(40), sha256: "0".repeat(64), origin: { kind: "caisson", what: "the image's users" } },
  ],
};

type Obj = Record<string, unknown>;
const fresh = (): Obj => spdxDocument(input);
const list = (doc: Obj, key: string) => doc[key] as Obj[];

describe("the SPDX 2.3 validator", () => {
  it("accepts the SBOM caisson writes, with every kind of source, package and file", () => {
    const doc = fresh();
    expect(list(doc, "packages").length).toBe(1 + 3 + 1 + 2);
    expect(list(doc, "files").length).toBe(4);
    expect(checkSpdx23(doc)).toEqual([]);
    // The same after a round trip through the JSON written beside the archive.
    expect(checkSpdx23(JSON.parse(JSON.stringify(doc, null, 2)) as Obj)).toEqual([]);
  });

  it("accepts a package whose files were analysed when it has a verification code, fields of clauses 10, 12 and 13, and an external document", () => {
    const doc = fresh();
    const pkg = list(doc, "packages")[0]!;
    delete pkg["filesAnalyzed"];
    pkg["packageVerificationCode"] = { packageVerificationCodeValue: "d".repeat(40) };
    pkg["annotations"] = [{ annotator: "Tool: caisson-0", annotationDate: "2024-02-29T23:59:59Z", annotationType: "REVIEW", comment: "looked at" }];
    doc["hasExtractedLicensingInfos"] = [{ licenseId: "LicenseRef-app", extractedText: "Do what you like." }];
    doc["externalDocumentRefs"] = [{ externalDocumentId: "DocumentRef-base", spdxDocument: "urn:example:base", checksum: { algorithm: "SHA1", checksumValue: "d".repeat(40) } }];
    list(doc, "relationships").push({ spdxElementId: "SPDXRef-Image", relationshipType: "DESCENDANT_OF", relatedSpdxElement: "DocumentRef-base:SPDXRef-Image" });
    doc["revieweds"] = [{ reviewDate: "2024-01-01T00:00:00Z", reviewer: "Person: A. Reviewer" }];
    expect(checkSpdx23(doc)).toEqual([]);
  });

  it("names each missing required field, where it is missing", () => {
    const doc = fresh();
    delete doc["documentNamespace"];
    delete (doc["creationInfo"] as Obj)["created"];
    delete list(doc, "packages")[1]!["downloadLocation"];
    delete list(doc, "files")[0]!["fileName"];
    delete list(doc, "relationships")[0]!["relationshipType"];
    expect(checkSpdx23(doc)).toEqual([
      "document: documentNamespace is required",
      "creationInfo: created is required",
      "packages[1]: downloadLocation is required",
      "files[0]: fileName is required",
      "relationships[0]: relationshipType is required",
    ]);
  });

  it("needs a verification code when a package's files were analysed (the default), and none when they were not", () => {
    const doc = fresh();
    delete list(doc, "packages")[0]!["filesAnalyzed"];
    list(doc, "packages")[1]!["packageVerificationCode"] = { packageVerificationCodeValue: "d".repeat(40) };
    expect(checkSpdx23(doc)).toEqual([
      "packages[0]: packageVerificationCode is required (or filesAnalyzed: false)",
      "packages[1].packageVerificationCode must be absent: the package's filesAnalyzed is false",
    ]);
  });

  it("refuses values outside the specification's enumerations and fixed values", () => {
    const doc = fresh();
    doc["dataLicense"] = "MIT";
    list(doc, "packages")[0]!["primaryPackagePurpose"] = "IMAGE";
    list(doc, "files")[0]!["fileTypes"] = ["EXECUTABLE"];
    (list(doc, "packages")[0]!["externalRefs"] as Obj[])[0]!["referenceCategory"] = "PURL";
    list(doc, "relationships")[1]!["relationshipType"] = "USES";
    (list(doc, "packages")[1]!["checksums"] as Obj[])[0]!["algorithm"] = "SHA-256";
    const problems = checkSpdx23(doc);
    expect(problems).toEqual(
      expect.arrayContaining([
        'dataLicense must be "CC0-1.0"',
        expect.stringMatching(/^packages\[0\]\.primaryPackagePurpose must be one of APPLICATION, .*CONTAINER/),
        expect.stringMatching(/^files\[0\]\.fileTypes\[0\] must be one of SOURCE, BINARY/),
        expect.stringMatching(/^packages\[0\]\.externalRefs\[0\]\.referenceCategory must be one of SECURITY, PACKAGE-MANAGER, PACKAGE_MANAGER/),
        expect.stringMatching(/^relationships\[1\]\.relationshipType must be one of DESCRIBES, /),
        expect.stringMatching(/^packages\[1\]\.checksums\[0\]\.algorithm must be one of SHA1, .*BLAKE3, .*ADLER32/),
      ]),
    );
    expect(problems).toHaveLength(6);
  });

  it("checks a checksum's length against its algorithm, lower-case hex, and a file's SHA1", () => {
    const doc = fresh();
    const file = list(doc, "files")[0]!;
    file["checksums"] = [{ algorithm: "SHA256", checksumValue: "3".repeat(64) }];
    (list(doc, "packages")[1]!["checksums"] as Obj[])[0]!["checksumValue"] = "a".repeat(40);
    (list(doc, "files")[1]!["checksums"] as Obj[])[0]!["checksumValue"] = "A".repeat(40);
    list(doc, "packages")[2]!["checksums"] = [{ algorithm: "ADLER32", checksumValue: "0123abcd" }, { algorithm: "BLAKE2b-384", checksumValue: "0".repeat(96) }];
    expect(checkSpdx23(doc)).toEqual([
      "packages[1].checksums[0].checksumValue must match ^[0-9a-f]{64}$",
      "files[0].checksums must include a SHA1 checksum",
      "files[1].checksums[0].checksumValue must match ^[0-9a-f]{40}$",
      "files[1].checksums[0].checksumValue must match ^[0-9a-f]+$",
    ]);
  });

  it("checks identifiers, dates, agents and fields the specification does not define", () => {
    const doc = fresh();
    list(doc, "packages")[1]!["SPDXID"] = "SPDXRef-Source_app";
    (doc["creationInfo"] as Obj)["created"] = "1970-01-01 00:00:00";
    (doc["creationInfo"] as Obj)["creators"] = ["caisson"];
    doc["documentNamespace"] = "urn:caisson:x#frag";
    list(doc, "files")[0]!["sha256"] = "3".repeat(64);
    expect(checkSpdx23(doc)).toEqual([
      "documentNamespace must match ^[A-Za-z][A-Za-z0-9+.-]*:[^\\s#]+$",
      "creationInfo.created must match ^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)Z$",
      "creationInfo.creators[0] must match ^(Person|Organization|Tool): \\S",
      "packages[1].SPDXID must match ^SPDXRef-[A-Za-z0-9.-]+$",
      "files[0]: sha256 is not an SPDX 2.3 field here",
      // The relationships to the renamed source now name nothing.
      "relationships[1].spdxElementId SPDXRef-Source-app names no element of the document",
      "relationships[4].relatedSpdxElement SPDXRef-Source-app names no element of the document",
      "relationships[8].relatedSpdxElement SPDXRef-Source-app names no element of the document",
    ]);
  });

  it("finds a relationship or documentDescribes entry that names no element", () => {
    const doc = fresh();
    list(doc, "relationships").push({ spdxElementId: "SPDXRef-File-99", relationshipType: "GENERATED_FROM", relatedSpdxElement: "SPDXRef-Source-app" });
    list(doc, "relationships").push({ spdxElementId: "SPDXRef-Image", relationshipType: "DEPENDS_ON", relatedSpdxElement: "NOASSERTION" });
    doc["documentDescribes"] = ["SPDXRef-Image", "SPDXRef-Gone"];
    const n = list(doc, "relationships").length;
    expect(checkSpdx23(doc)).toEqual([`relationships[${n - 2}].spdxElementId SPDXRef-File-99 names no element of the document`, "documentDescribes[1] SPDXRef-Gone names no element of the document"]);
  });

  it("finds an SPDXID used twice, across packages and files", () => {
    const doc = fresh();
    list(doc, "packages").push({ ...list(doc, "packages")[1]! });
    list(doc, "files").push({ ...list(doc, "files")[0]!, SPDXID: "SPDXRef-Image" });
    expect(checkSpdx23(doc)).toEqual(["packages[7].SPDXID SPDXRef-Source-app is already used by another element", "files[4].SPDXID SPDXRef-Image is already used by another element"]);
  });

  it("needs something described", () => {
    const doc = fresh();
    delete doc["documentDescribes"];
    doc["relationships"] = list(doc, "relationships").filter((r) => r["relationshipType"] !== "DESCRIBES");
    expect(checkSpdx23(doc)).toEqual(["document: nothing is described (no documentDescribes and no SPDXRef-DOCUMENT DESCRIBES relationship)"]);
  });
});
