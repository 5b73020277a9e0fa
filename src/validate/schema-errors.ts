import type { ErrorObject } from "ajv/dist/2020.js";
import { branchErrors } from "./ajv.js";
import { closest, error } from "../diag/index.js";
import type { Diagnostic } from "../diag/index.js";
import { resolvePointer } from "../load/index.js";
import type { YamlNode } from "../load/index.js";
import type { Span } from "../model/index.js";
import { describeNode, describePath, describeTypes } from "./describe.js";
import { parseDebianPackage, parseDebianSource } from "./refs.js";

/** The value at a JSON Pointer in a plain value. */
function valueAt(data: unknown, pointer: string): unknown {
  if (pointer === "") return data;
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split("/")) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (cur === null || typeof cur !== "object" || !Object.prototype.hasOwnProperty.call(cur, seg)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * Ajv reports every failing branch of a oneOf, and errors inside $ref'd
 * branches do not say which branch they belong to. For each failed union,
 * re-validate its value against each branch separately and keep only the
 * errors of the branch the author most plausibly meant: the one whose type
 * matched, with the fewest unknown or missing keys. Outer unions first; a
 * union whose branches all mismatch in type stays as one error.
 */
function pruneBranches(errors: readonly ErrorObject[], data: unknown): ErrorObject[] {
  let errs = [...errors];
  const done = new Set<string>();
  for (;;) {
    const u = errs
      .filter((e) => e.keyword === "oneOf" && !done.has(`${e.instancePath}\0${e.schemaPath}`))
      .sort((a, b) => a.instancePath.length - b.instancePath.length)[0];
    if (!u) return errs;
    done.add(`${u.instancePath}\0${u.schemaPath}`);
    const P = u.instancePath;
    const value = valueAt(data, P);
    const oneOf = (u.parentSchema as { oneOf?: unknown[] } | undefined)?.oneOf;
    const count = Array.isArray(oneOf) ? oneOf.length : 0;
    const score = (list: readonly ErrorObject[]): number =>
      list.reduce((s, e) => {
        const here = e.instancePath === "";
        if (here && e.keyword === "type") return s + 1000;
        // Missing the key that tells the branches apart (its first required key, e.g. url, debian, git): not this branch.
        const first = (e.parentSchema as { required?: unknown[] } | undefined)?.required?.[0];
        if (here && e.keyword === "required" && first === e.params["missingProperty"]) return s + 100;
        if (here && (e.keyword === "additionalProperties" || e.keyword === "required")) return s + 10;
        return s + 1;
      }, 0);
    let best: ErrorObject[] | undefined;
    let bestScore = Infinity;
    for (let i = 0; i < count; i++) {
      const list = branchErrors(u.parentSchema as object, i, value);
      if (!list) continue;
      const sc = score(list);
      if (sc < bestScore) {
        bestScore = sc;
        // A branch validated on its own reports schema paths relative to it: put back the $defs it refers to (patternCode needs it).
        const target = (oneOf?.[i] as { $ref?: unknown } | undefined)?.$ref;
        best = list.map((e) =>
          typeof target === "string" && target.startsWith("#/$defs/") && !e.schemaPath.includes("$defs/") ? { ...e, schemaPath: `${target}${e.schemaPath.slice(1)}` } : e,
        );
      }
    }
    if (!best || bestScore === 0) continue; // cannot tell, or several branches matched: keep ajv's errors
    const others = errs.filter((e) => !under(e.instancePath, P) || e === u);
    if (bestScore >= 1000) {
      errs = others; // every branch has the wrong type: the union's own error says it once
    } else {
      errs = [...others.filter((e) => e !== u), ...best.map((e) => ({ ...e, instancePath: `${P}${e.instancePath}` }))];
    }
  }
}

/** closest(), or else a property the key extends or abbreviates (filename → file). */
function guessKey(key: string, props: readonly string[]): string | undefined {
  return closest(key, props) ?? props.find((p) => p.length >= 3 && key !== p && (key.startsWith(p) || p.startsWith(key)));
}

function keySpanAt(root: YamlNode, pointer: string, key: string): Span | undefined {
  const { node } = resolvePointer(root, pointer);
  return node.kind === "map" ? node.entries.find((e) => e.key === key)?.keySpan : undefined;
}

/** The span to blame for an error at `pointer`: the value, or for a whole mapping its key. */
function spanAt(root: YamlNode, pointer: string, preferKey: boolean): Span {
  const r = resolvePointer(root, pointer);
  if (preferKey && r.entry && r.node.kind !== "scalar") return r.entry.keySpan;
  return r.node.span;
}

function lastSegment(pointer: string): string {
  const s = pointer.slice(pointer.lastIndexOf("/") + 1);
  return s.replace(/~1/g, "/").replace(/~0/g, "~");
}

/** A diagnostic code for a pattern failure, from the schema definition or property it came from. */
function patternCode(err: ErrorObject): string {
  const def = /\$defs\/(\w+)\//.exec(err.schemaPath)?.[1];
  const prop = lastSegment(err.instancePath);
  if (err.propertyName !== undefined) return def === "envMap" ? "invalid_env_name" : "invalid_name";
  switch (def) {
    case "sha256":
      return "malformed_sha256";
    case "commit":
      return "malformed_commit";
    case "duration":
      return "invalid_duration";
    case "name":
      return "invalid_name";
    case "user":
      return "invalid_user";
    case "httpSource":
      return "invalid_url";
    case "debianSource":
      return "invalid_debian_source";
    case "debianPackage":
      return "invalid_debian_package";
    case "copy":
      return "invalid_mode";
    case "runtime":
      return "unknown_capability";
    default:
      break;
  }
  if (/^\d+$/.test(prop) && err.instancePath.includes("/expose/")) return "invalid_port";
  if (prop === "stopSignal") return "invalid_signal";
  if (prop === "user") return "invalid_user";
  return "invalid_value";
}

/** Specific wording for hashes and commits: say what is wrong with the value and how to fix it. */
function hashMessage(code: string, value: string, what: string): { message: string; hint?: string; code: string } {
  const len = code === "malformed_sha256" ? 64 : 40;
  const hexLike = /^[0-9a-fA-F]+$/.test(value);
  if (hexLike && /[A-F]/.test(value) && value.length === len) {
    return { code, message: `${what} "${value}" must be lower-case hex`, hint: `write "${value.toLowerCase()}"` };
  }
  if (code === "malformed_commit") {
    if (hexLike && value.length < len) {
      return {
        code: "unpinned_source",
        message: `commit "${value}" is abbreviated; a full 40-hex commit id is required`,
        hint: `use the full id (git rev-parse ${value})`,
      };
    }
    if (!hexLike) {
      return {
        code: "unpinned_source",
        message: `commit "${value}" is not a commit id (a branch or tag can move)`,
        hint: `write ref: ${value} instead and run \`caisson lock\` to pin the commit it points to (or give the commit: git ls-remote <url> ${value})`,
      };
    }
    return { code, message: `commit "${value}" must be 40 hex digits, found ${value.length}` };
  }
  if (value.startsWith("sha256:")) return { code, message: `${what} must be the bare hex digest`, hint: `write "${value.slice(7)}"` };
  return {
    code,
    message: `${what} "${value.length > 70 ? `${value.slice(0, 67)}...` : value}" must be 64 lower-case hex digits${hexLike ? `, found ${value.length}` : ""}`,
    hint: "compute it with sha256sum <file>",
  };
}

/** Maps ajv errors (allErrors, verbose) to diagnostics pointing at the YAML nodes. */
export function schemaDiagnostics(root: YamlNode, data: unknown, errors: readonly ErrorObject[]): Diagnostic[] {
  const errs = pruneBranches(errors, data).filter((e) => e.keyword !== "propertyNames" && e.keyword !== "if");
  const out: Diagnostic[] = [];
  const seen = new Set<string>();

  // Unknown keys that look like a misspelt missing key: report once, as the unknown key.
  const typoFor = new Map<string, string>(); // `${path}\0${missing}` → unknown key
  for (const e of errs) {
    if (e.keyword !== "additionalProperties") continue;
    const key = String(e.params["additionalProperty"]);
    const props = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
    const guess = guessKey(key, props);
    if (guess !== undefined) typoFor.set(`${e.instancePath}\0${guess}`, key);
  }

  for (const e of errs) {
    const path = e.instancePath;
    const where = describePath(path);
    const inWhere = path === "" ? "at the top level" : `in ${where}`;
    const parent = e.parentSchema as Record<string, unknown> | undefined;
    let d: Diagnostic | undefined;
    switch (e.keyword) {
      case "additionalProperties": {
        const key = String(e.params["additionalProperty"]);
        const props = Object.keys((parent?.["properties"] as object | undefined) ?? {});
        const guess = guessKey(key, props);
        const span = keySpanAt(root, path, key) ?? spanAt(root, path, false);
        const both = /^\/sources\/[^/]+$/.test(path) && ((key === "debian" && props.includes("url")) || (key === "url" && props.includes("debian")));
        d = error("unknown_key", `unknown key "${key}" ${inWhere}`, span, {
          hint: both
            ? "a file source has either url (a download) or debian (a file of a Debian source package), not both"
            : guess !== undefined
              ? `did you mean "${guess}"?`
              : props.length > 0
                ? `expected one of: ${props.filter((p) => p !== "$schema").join(", ")}`
                : undefined,
        });
        break;
      }
      case "required": {
        const key = String(e.params["missingProperty"]);
        if (typoFor.has(`${path}\0${key}`)) break;
        const span = spanAt(root, path, true);
        const m = /^\/sources\/([^/]+)$/.exec(path);
        const name = m?.[1]?.replace(/~1/g, "/").replace(/~0/g, "~");
        const patch = /^\/stages\/([^/]+)\/patches\/\d+$/.test(path);
        if (name !== undefined && key === "sha256") {
          const debian = (valueAt(data, path) as Record<string, unknown> | undefined)?.["debian"] !== undefined;
          d = error("unpinned_source", `source "${name}" is not pinned: it has ${debian ? "a Debian source package file" : "a url"} but no sha256`, span, {
            hint: debian ? "add sha256: <hex digest of the file> (its Checksums-Sha256 line in the .dsc, or sha256sum <file>)" : "add sha256: <hex digest of the file> (sha256sum <file>)",
          });
        } else if (patch && key === "sha256") {
          const file = (valueAt(data, path) as Record<string, unknown> | undefined)?.["path"];
          d = error("unpinned_patch", `patch ${where} is not pinned: it has no sha256`, span, {
            hint: `add sha256: <hex digest of the patch file> (sha256sum ${typeof file === "string" ? (file.split("/").pop() ?? file) : "<file>"})`,
          });
        } else {
          d = error("missing_key", `missing key "${key}" ${inWhere}`, span, {
            hint: typeof (parent?.["properties"] as Record<string, { description?: string }> | undefined)?.[key]?.description === "string"
              ? `${key}: ${(parent?.["properties"] as Record<string, { description: string }>)[key]?.description ?? ""}`
              : undefined,
          });
        }
        break;
      }
      case "type": {
        const r = resolvePointer(root, path);
        const expected = describeTypes(e.params["type"] as string | string[]);
        let hint: string | undefined;
        const prop = lastSegment(path);
        if (r.node.kind === "scalar" && typeof r.node.value === "string" && ["entrypoint", "cmd", "test"].includes(prop)) {
          const words = r.node.value.trim().split(/\s+/).filter(Boolean);
          hint = `exec form, there is no shell in the image: write [${words.map((w) => (/^[\w./:=-]+$/.test(w) ? w : JSON.stringify(w))).join(", ")}]`;
        } else if (r.node.kind === "scalar" && typeof r.node.value === "string" && expected === "a list") {
          hint = `write a list: [${r.node.value}]`;
        }
        d = error("wrong_type", `${where === "the top level" ? "the definition" : where} must be ${expected}, found ${describeNode(r.node)}`, r.node.span, { hint });
        break;
      }
      case "pattern": {
        const value = e.propertyName ?? String(e.data);
        const span = e.propertyName !== undefined ? (keySpanAt(root, path, e.propertyName) ?? spanAt(root, path, false)) : spanAt(root, path, false);
        const code = patternCode(e);
        const what = e.propertyName !== undefined ? `key "${value}" ${inWhere}` : where;
        if (code === "malformed_sha256" || code === "malformed_commit") {
          const h = hashMessage(code, value, where);
          d = error(h.code, h.message, span, { hint: h.hint });
        } else if (code === "invalid_debian_source") {
          const r = parseDebianSource(value);
          d = r.ok
            ? error(code, `invalid ${where} ${JSON.stringify(value)}`, span)
            : error(code, `invalid ${where}: ${r.message}`, span, { hint: r.hint });
        } else if (code === "invalid_debian_package") {
          const r = parseDebianPackage(value);
          d = r.ok
            ? error(code, `invalid ${where} ${JSON.stringify(value)}`, span)
            : error(code, `invalid ${where}: ${r.message}`, span, r.hint !== undefined ? { hint: r.hint } : {});
        } else {
          const why = typeof parent?.["patternErrorMessage"] === "string" ? parent["patternErrorMessage"] : `must match ${String(e.params["pattern"])}`;
          d = error(code, `${e.propertyName !== undefined ? `invalid ${what}` : `invalid ${where} ${JSON.stringify(value)}`}: ${why}`, span);
        }
        break;
      }
      case "enum":
      case "const": {
        if (e.propertyName !== undefined) {
          // A key out of a fixed set (propertyNames: { enum }), e.g. a build architecture.
          const allowed = (e.params["allowedValues"] as unknown[] | undefined)?.map((v) => String(v)) ?? [];
          const guess = closest(e.propertyName, allowed);
          d = error("invalid_value", `invalid key "${e.propertyName}" ${inWhere}: must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`, keySpanAt(root, path, e.propertyName) ?? spanAt(root, path, false), {
            hint: guess !== undefined ? `did you mean "${guess}"?` : path.endsWith("/packages") ? "build architectures are dpkg names: x86_64 is amd64, aarch64 is arm64" : undefined,
          });
          break;
        }
        const r = resolvePointer(root, path);
        const allowed = (e.keyword === "enum" ? (e.params["allowedValues"] as unknown[]) : [e.params["allowedValue"]]).map((v) => String(v));
        const val = r.node.kind === "scalar" ? r.node.text : "";
        const guess = closest(val, allowed);
        d = error("invalid_value", `${where} must be ${allowed.length === 1 ? JSON.stringify(allowed[0]) : `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`}, found ${describeNode(r.node)}`, r.node.span, {
          hint: guess !== undefined ? `did you mean "${guess}"?` : undefined,
        });
        break;
      }
      case "minItems":
      case "minLength": {
        const r = resolvePointer(root, path);
        const min = Number(e.params["limit"]);
        if (e.propertyName !== undefined) {
          // A key of the map (propertyNames): blame the key itself, not the map.
          d = error("empty_value", `a key in ${where} must not be empty`, keySpanAt(root, path, e.propertyName) ?? r.node.span, {
            hint: "write a key, or remove the entry",
          });
          break;
        }
        d = error("empty_value", `${where} must not be empty`, r.node.span, {
          hint: min > 1 ? `give at least ${min}` : typeof parent?.["description"] === "string" ? String(parent["description"]) : undefined,
        });
        break;
      }
      case "minimum":
      case "maximum":
      case "exclusiveMinimum":
      case "exclusiveMaximum":
      case "maxLength":
      case "maxItems": {
        const r = resolvePointer(root, path);
        d = error("out_of_range", `${where} ${String(e.message ?? "is out of range")}`, r.node.span);
        break;
      }
      case "oneOf":
      case "anyOf": {
        const r = resolvePointer(root, path);
        d = error("wrong_type", `${where} has the wrong shape: found ${describeNode(r.node)}`, r.node.span, {
          hint: typeof parent?.["description"] === "string" ? String(parent["description"]) : undefined,
        });
        break;
      }
      default: {
        const r = resolvePointer(root, path);
        d = error("invalid_value", `${where} ${e.message ?? "is invalid"}`, r.node.span);
      }
    }
    if (!d) continue;
    if (d.hint === undefined) d = { ...d, hint: fallbackHint(d.code, e.propertyName ?? valueAt(data, path)) };
    const k = `${d.code}\0${d.span.start}\0${d.span.end}\0${d.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(d);
  }
  return out;
}

/** A name the name rule accepts, made from a rejected one (lower case, runs of anything else as "-"). */
function nameLike(value: string): string {
  const n = value.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "").replace(/-+$/, "").slice(0, 40);
  return n === "" ? "app" : n;
}

/** Every schema error says how to fix it: the generic fix for errors that have no specific one. */
function fallbackHint(code: string, value: unknown): string {
  switch (code) {
    case "invalid_name":
      return `rename it, e.g. "${nameLike(typeof value === "string" ? value : String(value))}"`;
    case "invalid_env_name":
      return "environment variable names are letters, digits and _, not starting with a digit (e.g. MY_VAR)";
    case "wrong_type":
      return "see docs/format.md for what this key takes";
    case "out_of_range":
      return "see docs/format.md for the allowed range";
    default:
      return "see docs/format.md for the allowed values";
  }
}
