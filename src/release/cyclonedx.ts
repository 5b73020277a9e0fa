// The CycloneDX 1.5 JSON document per platform, from the same model as the
// SPDX one (sbom.ts): the image as metadata.component (type container), the
// sources (hashes, distribution URL or vcs commit) with the patches applied
// to them as pedigree.patches (each CVE id a resolved security issue), the
// patch files, every pinned Debian package (purl, .deb hash; scope
// "excluded" unless files of it ship), and every shipped file with its
// hashes and where it came from (properties). No clock and no random serial:
// the timestamp is SOURCE_DATE_EPOCH's, the serial number a UUID made from
// the document's own content, so a reproducible release stays bit-identical.
import { createHash } from "node:crypto";
import type { DebPin } from "../debian/index.js";
import type { PatchInfo } from "./patches.js";
import { debPurl, fileOrigin, imagePurl, patchFileName, shippedDebs, type SbomInput, type ShippedFile, type SourceInfo } from "./sbom.js";

export const CYCLONEDX_VERSION = "1.5";

type Obj = Record<string, unknown>;
type Property = { name: string; value: string };

/** RFC 4122's name space for URLs (any URI, here a urn:). */
const NAMESPACE_URL = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";

/** A name-based UUID (RFC 4122 version 5: SHA-1 of name space and name). */
export function uuidV5(name: string, namespace = NAMESPACE_URL): string {
  const b = createHash("sha1").update(Buffer.from(namespace.replace(/-/g, ""), "hex")).update(name).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const IMAGE = "image";
const sourceRef = (name: string) => `source:${name}`;
const patchRef = (i: number) => `patch:${i + 1}`;
const debRef = (p: DebPin) => `deb:${p.name}:${p.arch}:${p.sha256.slice(0, 12)}`;
const fileRef = (f: ShippedFile) => `file:${f.path}`;
const sha256 = (hex: string) => ({ alg: "SHA-256", content: hex });
const prop = (name: string, value: string): Property => ({ name: `caisson:${name}`, value });
const DEBIAN = { name: "Debian" };

/** The pedigree of a component the `patches` were applied to: each CVE id a resolved security issue. */
function pedigree(patches: readonly { p: PatchInfo; i: number }[]): Obj {
  if (patches.length === 0) return {};
  return {
    pedigree: {
      // Applied by the build from another source's files (a distribution's), not the component's own.
      patches: patches.map(({ p }) => ({
        type: "unofficial",
        ...(p.cves.length > 0 ? { resolves: p.cves.map((id) => ({ type: "security", id, source: { name: "NVD", url: `https://nvd.nist.gov/vuln/detail/${id}` } })) } : {}),
      })),
      notes: `Patches in the order of pedigree.patches: ${patches.map(({ p, i }) => `${patchRef(i)} ${p.path} (sha256 ${p.sha256}) from source "${p.source}", applied in stage "${p.stage}"`).join("; ")}.`,
    },
  };
}

function sourceComponent(s: SourceInfo, patches: readonly { p: PatchInfo; i: number }[]): Obj {
  const hashes = s.sha256 ? [sha256(s.sha256)] : undefined;
  const refs = s.git ? [{ type: "vcs", url: s.git.url, comment: `commit ${s.git.commit}` }] : s.url ? [{ type: "distribution", url: s.url, ...(hashes ? { hashes } : {}) }] : [];
  const props = [prop("role", "source"), ...(s.filename ? [prop("source.filename", s.filename)] : []), ...(s.debian ? [prop("source.debian-package", s.debian)] : []), ...(s.git ? [prop("source.git-commit", s.git.commit)] : [])];
  return {
    // A fetched file (an archive) is a file; a git checkout at a commit is the library it holds.
    type: s.git ? "library" : "file",
    "bom-ref": sourceRef(s.name),
    ...(s.debian ? { supplier: DEBIAN } : {}),
    name: s.name,
    ...(s.git ? { version: s.git.commit } : {}),
    description: s.debian ? `file of Debian's source package ${s.debian}` : s.git ? `git commit ${s.git.commit}` : s.url ? "source file the build stages use" : "local source of the build context",
    ...(hashes ? { hashes } : {}),
    ...(refs.length > 0 ? { externalReferences: refs } : {}),
    ...pedigree(patches),
    properties: props,
  };
}

function patchComponent(p: PatchInfo, i: number): Obj {
  return {
    type: "file",
    "bom-ref": patchRef(i),
    name: patchFileName(p),
    description: p.cves.length > 0 ? `patch fixing ${p.cves.join(", ")}` : "patch naming no CVE",
    hashes: [sha256(p.sha256)],
    properties: [
      prop("role", "patch"),
      prop("patch.path", p.path),
      prop("patch.from-source", p.source),
      prop("patch.stage", p.stage),
      ...p.appliedTo.map((t) => prop("patch.applied-to", sourceRef(t))),
      ...p.cves.map((c) => prop("patch.fixes", c)),
    ],
  };
}

function debComponent(d: DebPin, shipped: boolean): Obj {
  return {
    // Debian names library packages lib* (policy 8.1); the rest are programs and tools.
    type: shipped || d.name.startsWith("lib") ? "library" : "application",
    "bom-ref": debRef(d),
    supplier: DEBIAN,
    name: d.name,
    version: d.version,
    description: shipped ? "files of it ship in the image (a dpkg status.d entry names it)" : "installed in a build stage; none of its files ship",
    scope: shipped ? "required" : "excluded",
    hashes: [sha256(d.sha256)],
    purl: debPurl(d),
    properties: [prop("role", shipped ? "shipped-package" : "build-package"), prop("deb.archive", d.archive), prop("deb.path", d.path), prop("deb.arch", d.arch)],
  };
}

function fileComponent(f: ShippedFile): Obj {
  const from: Property[] = [];
  switch (f.origin.kind) {
    case "deb":
      from.push(prop("file.from", debRef(f.origin.pin)), prop("file.package-path", `/${f.origin.debPath}`));
      break;
    case "stage":
      from.push(prop("file.stage", f.origin.stage), ...f.origin.sources.map((s) => prop("file.from", sourceRef(s))));
      break;
    case "source":
      from.push(prop("file.from", sourceRef(f.origin.source)));
      break;
    case "caisson":
      break;
  }
  return {
    type: "file",
    "bom-ref": fileRef(f),
    name: f.path,
    hashes: [
      { alg: "SHA-1", content: f.sha1 },
      sha256(f.sha256),
    ],
    properties: [prop("role", "file"), prop("file.origin", f.origin.kind), prop("file.origin.description", fileOrigin(f)), ...from, ...(f.symlink !== undefined ? [prop("file.symlink", f.symlink)] : [])],
  };
}

/** The CycloneDX 1.5 document (JSON object) for one platform. */
export function cyclonedxDocument(o: SbomInput): Record<string, unknown> {
  const patchesOf = (source: string | undefined) => o.patches.flatMap((p, i) => ((source === undefined ? p.appliedTo.length === 0 : p.appliedTo.includes(source)) ? [{ p, i }] : []));
  const shipped = shippedDebs(o);
  const image = {
    type: "container",
    "bom-ref": IMAGE,
    name: o.name,
    version: o.version,
    description: `The ${o.platform} image built by caisson from its definition; the files it holds are listed with where each came from.`,
    hashes: [sha256(o.manifestDigest.replace(/^sha256:/, ""))],
    purl: imagePurl(o),
    // Patches applied to no source (to a stage's own files) are the image's.
    ...pedigree(patchesOf(undefined)),
    properties: [prop("platform", o.platform), prop("manifest-digest", o.manifestDigest)],
  };
  const body = {
    metadata: {
      timestamp: o.created,
      lifecycles: [{ phase: "build" }],
      tools: { components: [{ type: "application", name: "caisson", version: o.caissonVersion }] },
      component: image,
      properties: [prop("method", "From the definition, its lockfiles and the image's files; nothing was scanned.")],
    },
    components: [
      ...o.sources.map((s) => sourceComponent(s, patchesOf(s.name))),
      ...o.patches.map(patchComponent),
      ...o.debs.map((d) => debComponent(d, shipped.has(d.sha256))),
      ...o.files.map(fileComponent),
    ],
    dependencies: [{ ref: IMAGE, dependsOn: o.debs.filter((d) => shipped.has(d.sha256)).map(debRef) }],
  };
  // Same content, same serial number; any change to the content, another.
  const serial = uuidV5(`urn:caisson:cyclonedx:sha256:${createHash("sha256").update(JSON.stringify(body)).digest("hex")}`);
  return {
    $schema: "http://cyclonedx.org/schema/bom-1.5.schema.json",
    bomFormat: "CycloneDX",
    specVersion: CYCLONEDX_VERSION,
    serialNumber: `urn:uuid:${serial}`,
    version: 1,
    ...body,
  };
}
