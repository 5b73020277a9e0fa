// Validates an SPDX 2.3 JSON document: against spdx-2.3.schema.json (a JSON
// Schema written here from the specification's clauses; none is packaged by
// Debian or on npm), then for what a schema cannot say: every SPDXID unique,
// every relationship and documentDescribes entry naming an element of the
// document (or an external document, NONE, NOASSERTION), and something
// described.
import { readFileSync } from "node:fs";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";

type Obj = Record<string, unknown>;

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(new URL("./spdx-2.3.schema.json", import.meta.url), "utf8")) as Obj;
    // strictRequired off: the filesAnalyzed conditional requires a field its parent declares.
    compiled = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(schema);
  }
  return compiled;
}

/** `/packages/0/SPDXID` as `packages[0].SPDXID`; the document itself as `document`. */
function where(pointer: string): string {
  if (pointer === "") return "document";
  return pointer
    .slice(1)
    .split("/")
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join("");
}

function message(e: ErrorObject): string | undefined {
  const at = where(e.instancePath);
  const p = e.params as Obj;
  if (e.schemaPath.includes("/contains/")) return undefined; // each item's reason for not being the SHA1 one
  switch (e.keyword) {
    case "required":
      return `${at}: ${String(p["missingProperty"])} is required${p["missingProperty"] === "packageVerificationCode" ? " (or filesAnalyzed: false)" : ""}`;
    case "additionalProperties":
      return `${at}: ${String(p["additionalProperty"])} is not an SPDX 2.3 field here`;
    case "const":
      return `${at} must be ${JSON.stringify(p["allowedValue"])}`;
    case "enum":
      return `${at} must be one of ${(p["allowedValues"] as unknown[]).join(", ")}`;
    case "pattern":
      return `${at} must match ${String(p["pattern"])}`;
    case "contains":
      return `${at} must include a SHA1 checksum`;
    case "false schema":
      return `${at} must be absent: the package's filesAnalyzed is false`;
    case "if":
    case "allOf":
      return undefined; // the failing branch's own errors say what is wrong
    default:
      return `${at} ${e.message ?? e.keyword}`;
  }
}

/** The SPDX identifiers the document defines, with where each is defined more than once. */
function identifiers(doc: Obj, problems: string[]): Set<string> {
  const ids = new Set<string>(["SPDXRef-DOCUMENT"]);
  for (const section of ["packages", "files", "snippets"]) {
    const list = doc[section];
    if (!Array.isArray(list)) continue;
    list.forEach((el: unknown, i) => {
      const id = (el as Obj | null)?.["SPDXID"];
      if (typeof id !== "string") return;
      if (ids.has(id)) problems.push(`${section}[${i}].SPDXID ${id} is already used by another element`);
      ids.add(id);
    });
  }
  return ids;
}

/** Every way `doc` breaks SPDX 2.3 (empty when it meets it). */
export function checkSpdx23(doc: Obj): string[] {
  const validate = validator();
  const problems = validate(doc) ? [] : [...new Set((validate.errors ?? []).flatMap((e) => message(e) ?? []))];
  if (typeof doc !== "object" || doc === null) return problems;

  const ids = identifiers(doc, problems);
  const resolves = (v: unknown) => typeof v === "string" && (ids.has(v) || v === "NONE" || v === "NOASSERTION" || v.startsWith("DocumentRef-"));
  const relationships = Array.isArray(doc["relationships"]) ? (doc["relationships"] as Obj[]) : [];
  relationships.forEach((r, i) => {
    for (const k of ["spdxElementId", "relatedSpdxElement"]) {
      if (typeof r?.[k] === "string" && !resolves(r[k])) problems.push(`relationships[${i}].${k} ${String(r[k])} names no element of the document`);
    }
  });
  const described = Array.isArray(doc["documentDescribes"]) ? (doc["documentDescribes"] as unknown[]) : [];
  described.forEach((d, i) => {
    if (typeof d === "string" && !ids.has(d)) problems.push(`documentDescribes[${i}] ${d} names no element of the document`);
  });
  const describes = relationships.some((r) => r?.["spdxElementId"] === "SPDXRef-DOCUMENT" && r["relationshipType"] === "DESCRIBES");
  if (described.length === 0 && !describes) problems.push("document: nothing is described (no documentDescribes and no SPDXRef-DOCUMENT DESCRIBES relationship)");
  return problems;
}
