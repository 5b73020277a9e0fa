// What a release's SBOMs say, per platform, from what caisson knows rather
// than from a scan: the sources (URL and sha256, or git commit), the patches
// and the CVE ids they fix, every Debian package the build stages installed
// (from the lockfile pins), and every shipped file with where it came from.
// One model (SbomInput) and the readings of it both formats share; the SPDX
// 2.3 document is written here, the CycloneDX 1.5 one in cyclonedx.ts.
import type { DebPin } from "../debian/index.js";
import type { PatchInfo } from "./patches.js";

/** Where a shipped file came from. */
export type FileOrigin =
  /** Copied from this Debian package (its file at `debPath` has the same content). */
  | { readonly kind: "deb"; readonly pin: DebPin; readonly debPath: string }
  /** Built in a stage from these sources; or (`library`) a shared library collected from it for a binary, held by no pinned package. */
  | { readonly kind: "stage"; readonly stage: string; readonly sources: readonly string[]; readonly library?: true }
  /** Copied as it is from a source (a local folder, a download, a git checkout). */
  | { readonly kind: "source"; readonly source: string }
  /** Written by caisson itself (/etc/passwd, the dpkg status.d entries). */
  | { readonly kind: "caisson"; readonly what: string };

export interface ShippedFile {
  /** Absolute path in the image. */
  readonly path: string;
  readonly sha1: string;
  readonly sha256: string;
  readonly symlink?: string;
  readonly origin: FileOrigin;
}

export interface SourceInfo {
  readonly name: string;
  readonly url?: string;
  readonly sha256?: string;
  readonly git?: { readonly url: string; readonly commit: string };
  /** `package=version` of a Debian source package. */
  readonly debian?: string;
  readonly filename?: string;
}

export interface SbomInput {
  readonly name: string;
  readonly version: string;
  /** `linux/amd64`. */
  readonly platform: string;
  /** The platform image manifest's digest (the SBOM's subject). */
  readonly manifestDigest: string;
  /** RFC 3339, from SOURCE_DATE_EPOCH: the document is a function of its inputs. */
  readonly created: string;
  readonly caissonVersion: string;
  readonly sources: readonly SourceInfo[];
  readonly patches: readonly PatchInfo[];
  /** Every .deb the build stages installed (build architecture). */
  readonly debs: readonly DebPin[];
  readonly files: readonly ShippedFile[];
}

const NOASSERTION = "NOASSERTION";

function idPart(s: string): string {
  return s.replace(/[^A-Za-z0-9.-]+/g, "-");
}

/** The package URL of a Debian binary package. */
export function debPurl(p: DebPin): string {
  return `pkg:deb/debian/${encodeURIComponent(p.name)}@${encodeURIComponent(p.version)}?arch=${encodeURIComponent(p.arch)}`;
}

/** The package URL of the platform image (by manifest digest, tagged with the version). */
export function imagePurl(o: SbomInput): string {
  return `pkg:oci/${encodeURIComponent(o.name)}@${encodeURIComponent(o.manifestDigest)}?tag=${encodeURIComponent(o.version)}`;
}

/** Where a source was fetched from: its URL, or `git+URL@COMMIT`; undefined for a local one. */
export function sourceLocation(s: SourceInfo): string | undefined {
  return s.git ? `git+${s.git.url}@${s.git.commit}` : s.url;
}

/** A patch's file name (its path's last element). */
export function patchFileName(p: PatchInfo): string {
  return p.path.slice(p.path.lastIndexOf("/") + 1);
}

/** The sha256 of each pinned .deb some shipped file was copied from. */
export function shippedDebs(o: SbomInput): Set<string> {
  return new Set(o.files.flatMap((f) => (f.origin.kind === "deb" ? [f.origin.pin.sha256] : [])));
}

/** Where a shipped file came from, in words (and that it is a link, for a symlink). */
export function fileOrigin(f: ShippedFile): string {
  let said: string;
  switch (f.origin.kind) {
    case "deb":
      said = `copied from Debian package ${f.origin.pin.name} ${f.origin.pin.version} (${f.origin.pin.arch}), its /${f.origin.debPath}`;
      break;
    case "stage":
      said = f.origin.library
        ? `a shared library that \`libraries: true\` collected in stage "${f.origin.stage}"; no pinned Debian package holds these bytes`
        : `built in stage "${f.origin.stage}" from ${f.origin.sources.map((s) => `source "${s}"`).join(", ") || "its commands"}`;
      break;
    case "source":
      said = `copied from source "${f.origin.source}"`;
      break;
    case "caisson":
      said = `written by caisson: ${f.origin.what}`;
      break;
  }
  return f.symlink !== undefined ? `symbolic link to ${f.symlink} (checksums of the link text); ${said}` : said;
}

function debId(p: DebPin): string {
  return `SPDXRef-Deb-${idPart(p.name)}-${idPart(p.arch)}-${p.sha256.slice(0, 12)}`;
}

/** The SPDX 2.3 document (JSON object) for one platform. */
export function spdxDocument(o: SbomInput): Record<string, unknown> {
  const imageId = "SPDXRef-Image";
  const sourceId = (name: string) => `SPDXRef-Source-${idPart(name)}`;
  const relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string; comment?: string }[] = [];
  const rel = (a: string, type: string, b: string, comment?: string) => relationships.push({ spdxElementId: a, relationshipType: type, relatedSpdxElement: b, ...(comment ? { comment } : {}) });

  const packages: Record<string, unknown>[] = [
    {
      SPDXID: imageId,
      name: o.name,
      versionInfo: o.version,
      downloadLocation: "NONE",
      filesAnalyzed: false,
      primaryPackagePurpose: "CONTAINER",
      checksums: [{ algorithm: "SHA256", checksumValue: o.manifestDigest.replace(/^sha256:/, "") }],
      licenseConcluded: NOASSERTION,
      licenseDeclared: NOASSERTION,
      copyrightText: NOASSERTION,
      externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: imagePurl(o) }],
      comment: `The ${o.platform} image built by caisson from its definition; the files it holds are listed with where each came from.`,
    },
  ];
  rel("SPDXRef-DOCUMENT", "DESCRIBES", imageId);

  for (const s of o.sources) {
    const location = sourceLocation(s) ?? NOASSERTION;
    packages.push({
      SPDXID: sourceId(s.name),
      name: s.name,
      ...(s.filename ? { packageFileName: s.filename } : {}),
      downloadLocation: location,
      filesAnalyzed: false,
      primaryPackagePurpose: "SOURCE",
      ...(s.sha256 ? { checksums: [{ algorithm: "SHA256", checksumValue: s.sha256 }] } : {}),
      licenseConcluded: NOASSERTION,
      licenseDeclared: NOASSERTION,
      copyrightText: NOASSERTION,
      ...(s.debian ? { sourceInfo: `file of Debian's source package ${s.debian}`, supplier: "Organization: Debian" } : {}),
      ...(s.git ? { sourceInfo: `git commit ${s.git.commit}` } : {}),
    });
    rel(sourceId(s.name), "BUILD_DEPENDENCY_OF", imageId);
  }

  o.patches.forEach((p, i) => {
    const id = `SPDXRef-Patch-${i + 1}`;
    packages.push({
      SPDXID: id,
      name: patchFileName(p),
      packageFileName: p.path,
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      primaryPackagePurpose: "SOURCE",
      checksums: [{ algorithm: "SHA256", checksumValue: p.sha256 }],
      licenseConcluded: NOASSERTION,
      licenseDeclared: NOASSERTION,
      copyrightText: NOASSERTION,
      sourceInfo: `patch from source "${p.source}", applied in stage "${p.stage}"`,
      comment: p.cves.length > 0 ? `fixes ${p.cves.join(", ")}` : "names no CVE",
      externalRefs: p.cves.map((c) => ({ referenceCategory: "SECURITY", referenceType: "advisory", referenceLocator: `https://nvd.nist.gov/vuln/detail/${c}`, comment: `fixed by this patch` })),
    });
    for (const t of p.appliedTo) rel(id, "PATCH_APPLIED", sourceId(t), `applied in stage ${p.stage}`);
  });

  const shipped = shippedDebs(o);
  for (const d of o.debs) {
    packages.push({
      SPDXID: debId(d),
      name: d.name,
      versionInfo: d.version,
      packageFileName: d.path.slice(d.path.lastIndexOf("/") + 1),
      supplier: "Organization: Debian",
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      primaryPackagePurpose: shipped.has(d.sha256) ? "LIBRARY" : "INSTALL",
      checksums: [{ algorithm: "SHA256", checksumValue: d.sha256 }],
      licenseConcluded: NOASSERTION,
      licenseDeclared: NOASSERTION,
      copyrightText: NOASSERTION,
      externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: debPurl(d) }],
      sourceInfo: `pinned .deb (archive ${d.archive}, ${d.path}) installed in a build stage`,
    });
    rel(debId(d), "BUILD_TOOL_OF", imageId);
  }

  const files = o.files.map((f, i) => {
    const id = `SPDXRef-File-${i + 1}`;
    rel(imageId, "CONTAINS", id);
    if (f.origin.kind === "deb") rel(debId(f.origin.pin), "CONTAINS", id, `the package's /${f.origin.debPath}, same content`);
    if (f.origin.kind === "stage") for (const s of f.origin.sources) rel(id, "GENERATED_FROM", sourceId(s));
    if (f.origin.kind === "source") rel(sourceId(f.origin.source), "CONTAINS", id, "the source's file, copied as it is");
    return {
      SPDXID: id,
      fileName: `.${f.path}`,
      fileTypes: [f.symlink !== undefined ? "OTHER" : f.origin.kind === "caisson" ? "TEXT" : "BINARY"],
      checksums: [
        { algorithm: "SHA1", checksumValue: f.sha1 },
        { algorithm: "SHA256", checksumValue: f.sha256 },
      ],
      licenseConcluded: NOASSERTION,
      copyrightText: NOASSERTION,
      comment: fileOrigin(f),
    };
  });

  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: `${o.name}-${o.version}-${o.platform.replace(/\//g, "-")}`,
    documentNamespace: `urn:caisson:spdx:${encodeURIComponent(o.name)}:${encodeURIComponent(o.version)}:${o.platform.replace(/\//g, "-")}:${o.manifestDigest.replace(/^sha256:/, "")}`,
    creationInfo: { created: o.created, creators: [`Tool: caisson-${o.caissonVersion}`], comment: "From the definition, its lockfiles and the image's files; nothing was scanned." },
    documentDescribes: [imageId],
    packages,
    files,
    relationships,
  };
}
