// Validates a CycloneDX 1.5 JSON document against the official JSON schema
// (bom-1.5 and the spdx and jsf schemas it refers to, as the CycloneDX
// project publishes them; they come with the devDependency
// @cyclonedx/cyclonedx-library, used for nothing else), then for what a
// schema cannot say: every bom-ref unique, every reference (dependencies,
// caisson's own properties) naming one.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

type Obj = Record<string, unknown>;

// ajv-formats is CommonJS: its default export is the plugin, under `default` once more when imported as a module.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

const SCHEMAS = join(dirname(createRequire(import.meta.url).resolve("@cyclonedx/cyclonedx-library/package.json")), "res", "schema");
const BASE = "http://cyclonedx.org/schema/";

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (compiled) return compiled;
  const read = (file: string) => JSON.parse(readFileSync(join(SCHEMAS, file), "utf8")) as Obj;
  // strictRequired off: the 1.5 schema requires names in oneOf branches that declare them elsewhere.
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
  ajv.addKeyword("meta:enum"); // the schema's annotation of enum values, not a check
  addFormats(ajv); // date-time, uri
  // The two draft 2019 formats the schema uses that ajv-formats lacks, checked for what matters here.
  ajv.addFormat("iri-reference", (v: string) => !/[\s<>"{}|\\^`\u0000-\u001f\u007f]/u.test(v) && URL.canParse(v, "file:///"));
  ajv.addFormat("idn-email", /^[^\s@]+@[^\s@]+$/u);
  // bom-1.5 refers to these by file name, relative to its own $id.
  for (const file of ["spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json"]) ajv.addSchema(read(file), BASE + file);
  const bom = read("bom-1.5.SNAPSHOT.schema.json");
  if (bom["$id"] !== `${BASE}bom-1.5.schema.json`) throw new Error(`${SCHEMAS}: not the CycloneDX 1.5 schema (its $id is ${String(bom["$id"])})`);
  compiled = ajv.compile(bom);
  return compiled;
}

function message(e: ErrorObject): string {
  const params = Object.entries(e.params as Obj)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join(", ");
  return `${e.instancePath || "document"} ${e.message ?? e.keyword}${params ? ` (${params})` : ""}`;
}

/** What does not conform to CycloneDX 1.5 (empty when the document does). */
export function checkCycloneDx15(doc: unknown): string[] {
  const validate = validator();
  if (!validate(doc)) return [...new Set((validate.errors ?? []).map(message))];
  const problems: string[] = [];
  const d = doc as Obj;
  if (d["specVersion"] !== "1.5") problems.push(`specVersion is ${JSON.stringify(d["specVersion"])}, not "1.5"`);
  const refs = new Set<string>();
  const visit = (c: Obj, where: string) => {
    const ref = c["bom-ref"];
    if (typeof ref === "string") {
      if (refs.has(ref)) problems.push(`${where}: bom-ref ${ref} is not unique`);
      refs.add(ref);
    }
    for (const [i, sub] of ((c["components"] ?? []) as Obj[]).entries()) visit(sub, `${where}.components[${i}]`);
  };
  const metadata = (d["metadata"] ?? {}) as Obj;
  if (metadata["component"]) visit(metadata["component"] as Obj, "metadata.component");
  for (const [i, c] of ((d["components"] ?? []) as Obj[]).entries()) visit(c, `components[${i}]`);
  for (const [i, dep] of ((d["dependencies"] ?? []) as Obj[]).entries()) {
    for (const r of [dep["ref"], ...((dep["dependsOn"] ?? []) as unknown[])]) if (!refs.has(String(r))) problems.push(`dependencies[${i}]: ${String(r)} names no bom-ref`);
  }
  for (const [i, c] of ((d["components"] ?? []) as Obj[]).entries()) {
    for (const p of (c["properties"] ?? []) as { name: string; value: string }[]) {
      if ((p.name === "caisson:file.from" || p.name === "caisson:patch.applied-to") && !refs.has(p.value)) problems.push(`components[${i}]: ${p.name} ${p.value} names no bom-ref`);
    }
  }
  return problems;
}
