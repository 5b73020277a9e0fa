// The SPDX 2.3 rules a JSON document must meet, written from the
// specification's clauses (document creation information, package, file and
// relationship information): no SPDX JSON schema is packaged by Debian or on
// npm, so the required fields and enumerations are checked here by hand.

const ID = /^SPDXRef-[A-Za-z0-9.-]+$/;
const CHECKSUM_LENGTHS: Record<string, number> = { SHA1: 40, SHA224: 56, SHA256: 64, SHA384: 96, SHA512: 128, MD5: 32 };
const PURPOSES = ["APPLICATION", "FRAMEWORK", "LIBRARY", "CONTAINER", "OPERATING-SYSTEM", "DEVICE", "FIRMWARE", "SOURCE", "ARCHIVE", "FILE", "INSTALL", "OTHER"];
const FILE_TYPES = ["SOURCE", "BINARY", "ARCHIVE", "APPLICATION", "AUDIO", "IMAGE", "TEXT", "VIDEO", "DOCUMENTATION", "SPDX", "OTHER"];
const REF_CATEGORIES = ["SECURITY", "PACKAGE-MANAGER", "PERSISTENT-ID", "OTHER"];
const RELATIONSHIPS = [
  "DESCRIBES", "DESCRIBED_BY", "CONTAINS", "CONTAINED_BY", "DEPENDS_ON", "DEPENDENCY_OF", "DEPENDENCY_MANIFEST_OF", "BUILD_DEPENDENCY_OF",
  "DEV_DEPENDENCY_OF", "OPTIONAL_DEPENDENCY_OF", "PROVIDED_DEPENDENCY_OF", "TEST_DEPENDENCY_OF", "RUNTIME_DEPENDENCY_OF", "EXAMPLE_OF",
  "GENERATES", "GENERATED_FROM", "ANCESTOR_OF", "DESCENDANT_OF", "VARIANT_OF", "DISTRIBUTION_ARTIFACT", "PATCH_FOR", "PATCH_APPLIED",
  "COPY_OF", "FILE_ADDED", "FILE_DELETED", "FILE_MODIFIED", "EXPANDED_FROM_ARCHIVE", "DYNAMIC_LINK", "STATIC_LINK", "DATA_FILE_OF",
  "TEST_CASE_OF", "BUILD_TOOL_OF", "DEV_TOOL_OF", "TEST_OF", "TEST_TOOL_OF", "DOCUMENTATION_OF", "OPTIONAL_COMPONENT_OF", "METAFILE_OF",
  "PACKAGE_OF", "AMENDS", "PREREQUISITE_FOR", "HAS_PREREQUISITE", "REQUIREMENT_DESCRIPTION_FOR", "SPECIFICATION_FOR", "OTHER",
];

type Obj = Record<string, unknown>;
const str = (v: unknown): v is string => typeof v === "string" && v.length > 0;

function checksums(v: unknown, where: string, problems: string[], needSha1: boolean): void {
  if (v === undefined && !needSha1) return;
  if (!Array.isArray(v) || v.length === 0) {
    problems.push(`${where}: checksums must be a non-empty array`);
    return;
  }
  for (const c of v as Obj[]) {
    const len = CHECKSUM_LENGTHS[String(c["algorithm"])];
    if (!len) problems.push(`${where}: unknown checksum algorithm ${String(c["algorithm"])}`);
    else if (!new RegExp(`^[0-9a-f]{${len}}$`).test(String(c["checksumValue"]))) problems.push(`${where}: ${String(c["algorithm"])} value is not ${len} hex digits`);
  }
  if (needSha1 && !(v as Obj[]).some((c) => c["algorithm"] === "SHA1")) problems.push(`${where}: a file's checksums must include SHA1`);
}

/** Every way `doc` breaks SPDX 2.3's required fields and enumerations (empty when it meets them). */
export function checkSpdx23(doc: Obj): string[] {
  const problems: string[] = [];
  if (doc["spdxVersion"] !== "SPDX-2.3") problems.push("spdxVersion must be SPDX-2.3");
  if (doc["dataLicense"] !== "CC0-1.0") problems.push("dataLicense must be CC0-1.0");
  if (doc["SPDXID"] !== "SPDXRef-DOCUMENT") problems.push("SPDXID must be SPDXRef-DOCUMENT");
  if (!str(doc["name"])) problems.push("name is required");
  const ns = doc["documentNamespace"];
  if (!str(ns) || ns.includes("#") || !/^[a-z][a-z0-9+.-]*:\S+$/i.test(ns)) problems.push("documentNamespace must be a URI without #");
  const ci = doc["creationInfo"] as Obj | undefined;
  if (!ci || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(String(ci["created"]))) problems.push("creationInfo.created must be YYYY-MM-DDThh:mm:ssZ");
  const creators = ci?.["creators"];
  if (!Array.isArray(creators) || creators.length === 0 || !creators.every((c) => /^(Tool|Organization|Person): \S/.test(String(c)))) problems.push("creationInfo.creators must name at least one Tool:, Organization: or Person:");

  const ids = new Set<string>(["SPDXRef-DOCUMENT"]);
  const addId = (id: unknown, where: string) => {
    if (!str(id) || !ID.test(id)) problems.push(`${where}: SPDXID ${String(id)} is not SPDXRef-[A-Za-z0-9.-]+`);
    else if (ids.has(id)) problems.push(`${where}: SPDXID ${id} is not unique`);
    else ids.add(id);
  };
  for (const [i, p] of ((doc["packages"] ?? []) as Obj[]).entries()) {
    const where = `packages[${i}]`;
    addId(p["SPDXID"], where);
    if (!str(p["name"])) problems.push(`${where}: name is required`);
    if (!str(p["downloadLocation"])) problems.push(`${where}: downloadLocation is required (a URL, NONE or NOASSERTION)`);
    if (p["filesAnalyzed"] !== false && !p["packageVerificationCode"]) problems.push(`${where}: packageVerificationCode is required unless filesAnalyzed is false`);
    if (p["primaryPackagePurpose"] !== undefined && !PURPOSES.includes(String(p["primaryPackagePurpose"]))) problems.push(`${where}: primaryPackagePurpose ${String(p["primaryPackagePurpose"])}`);
    if (p["supplier"] !== undefined && !/^(NOASSERTION|(Person|Organization): \S)/.test(String(p["supplier"]))) problems.push(`${where}: supplier`);
    checksums(p["checksums"], where, problems, false);
    for (const r of (p["externalRefs"] ?? []) as Obj[]) {
      if (!REF_CATEGORIES.includes(String(r["referenceCategory"])) || !str(r["referenceType"]) || !str(r["referenceLocator"])) problems.push(`${where}: externalRefs need a known referenceCategory, a referenceType and a referenceLocator`);
    }
  }
  for (const [i, f] of ((doc["files"] ?? []) as Obj[]).entries()) {
    const where = `files[${i}]`;
    addId(f["SPDXID"], where);
    if (!str(f["fileName"])) problems.push(`${where}: fileName is required`);
    checksums(f["checksums"], where, problems, true);
    for (const t of (f["fileTypes"] ?? []) as unknown[]) if (!FILE_TYPES.includes(String(t))) problems.push(`${where}: fileType ${String(t)}`);
  }
  for (const [i, r] of ((doc["relationships"] ?? []) as Obj[]).entries()) {
    const where = `relationships[${i}]`;
    if (!RELATIONSHIPS.includes(String(r["relationshipType"]))) problems.push(`${where}: relationshipType ${String(r["relationshipType"])}`);
    for (const k of ["spdxElementId", "relatedSpdxElement"]) {
      const v = String(r[k]);
      if (!ids.has(v) && v !== "NONE" && v !== "NOASSERTION") problems.push(`${where}: ${k} ${v} names no element of the document`);
    }
  }
  for (const d of (doc["documentDescribes"] ?? []) as unknown[]) if (!ids.has(String(d))) problems.push(`documentDescribes: ${String(d)} names no element`);
  return problems;
}
