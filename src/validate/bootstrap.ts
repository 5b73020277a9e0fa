// A bootstrap definition: a Debian root filesystem assembled from packages
// pinned by content — the base image every other definition starts from.
//
//   name: debian
//   version: bookworm
//   platforms: [linux/amd64, linux/arm64]
//   bootstrap: { suite: bookworm, variant: minbase }
//
// `caisson lock` pins, per architecture, every .deb of the package set
// (mmdebstrap's minbase: Essential, Priority required, and apt) by sha256 in
// the lockfile beside it; `caisson bootstrap` assembles the image from
// exactly those files; `caisson outdated` reports newer packages.
import { error, hasErrors, sortDiagnostics, type Diagnostic } from "../diag/index.js";
import { child, loadDefinition, type YamlNode } from "../load/index.js";
import type { Span } from "../model/index.js";
import { dpkgArch, formatPlatform, parsePlatform, type Platform } from "../platform/index.js";

export interface BootstrapDefinition {
  readonly file: string;
  readonly text: string;
  readonly name: string;
  readonly version: string;
  readonly platforms: readonly Platform[];
  /** Debian release: bookworm. */
  readonly suite: "bookworm";
  /** The package set: `minbase` (Essential: yes, Priority: required, apt). */
  readonly variant: "minbase";
  /** dpkg architectures of the platforms, one closure each. */
  readonly arches: readonly string[];
  readonly span: Span;
}

const TOP = ["name", "version", "platforms", "bootstrap"];
const INNER = ["suite", "variant"];

/** Whether `text` is a bootstrap definition (has a top-level `bootstrap:`), without validating it. */
export function isBootstrap(file: string, text: string): boolean {
  const root = loadDefinition(file, text).doc.root;
  return root?.kind === "map" && root.entries.some((e) => e.key === "bootstrap");
}

/** Loads and checks a bootstrap definition, reporting every problem with its position. */
export function checkBootstrap(file: string, text: string): { definition?: BootstrapDefinition; diagnostics: Diagnostic[] } {
  const loaded = loadDefinition(file, text);
  const diagnostics = [...loaded.diagnostics];
  const root = loaded.doc.root;
  if (hasErrors(diagnostics) || !root) return { diagnostics: sortDiagnostics(diagnostics) };
  const whole: Span = { file, start: 0, end: text.length };
  if (root.kind !== "map") return { diagnostics: [error("invalid_type", "a bootstrap definition is a mapping", root.span, { hint: `keys: ${TOP.join(", ")}` })] };
  const unknown = (n: YamlNode & { kind: "map" }, allowed: readonly string[], where: string) => {
    for (const e of n.entries) {
      if (!allowed.includes(e.key)) diagnostics.push(error("unknown_key", `unknown key "${e.key}" ${where}`, e.keySpan, { hint: `allowed: ${allowed.join(", ")}` }));
    }
  };
  unknown(root, TOP, "in a bootstrap definition");
  const str = (n: YamlNode | undefined, what: string, span: Span, pattern: RegExp, example: string, rule = `a string like ${example}`): string | undefined => {
    if (n === undefined) {
      diagnostics.push(error("missing_key", `${what} is missing`, span, { hint: `e.g. ${example}` }));
      return undefined;
    }
    if (n.kind !== "scalar" || typeof n.value !== "string" || !pattern.test(n.value)) {
      diagnostics.push(error("invalid_value", `${what} must be ${rule}`, n.span, { hint: `e.g. ${example}` }));
      return undefined;
    }
    return n.value;
  };
  const name = str(child(root, "name"), "name", whole, /^[a-z0-9][a-z0-9._-]{0,63}$/, "debian");
  const version = str(child(root, "version"), "version", whole, /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "bookworm");
  const platforms: Platform[] = [];
  const pl = child(root, "platforms");
  if (pl?.kind !== "seq" || pl.items.length === 0) {
    diagnostics.push(error("invalid_value", "platforms must be a non-empty list", pl?.span ?? whole, { hint: "e.g. [linux/amd64, linux/arm64]" }));
  } else {
    for (const it of pl.items) {
      const p = it.kind === "scalar" && typeof it.value === "string" ? parsePlatform(it.value) : undefined;
      if (!p?.ok) diagnostics.push(error("invalid_platform", p ? p.message : "a platform is a string", it.span, { hint: "e.g. linux/amd64" }));
      else if (!["amd64", "arm64"].includes(dpkgArch(p.value))) {
        diagnostics.push(error("invalid_platform", `caisson bootstraps linux/amd64 and linux/arm64, not ${formatPlatform(p.value)}`, it.span, { hint: "e.g. [linux/amd64, linux/arm64]" }));
      }
      else platforms.push(p.value);
    }
  }
  const b = child(root, "bootstrap");
  let suite: string | undefined;
  let variant: string | undefined;
  if (b?.kind !== "map") {
    diagnostics.push(error("invalid_type", "bootstrap must be a mapping", b?.span ?? whole, { hint: "bootstrap: { suite: bookworm, variant: minbase }" }));
  } else {
    unknown(b, INNER, "in bootstrap");
    // The one release whose minbase set, merged-usr hooks and tooling caisson has verified.
    suite = str(child(b, "suite"), "bootstrap.suite", b.span, /^bookworm$/, "bookworm", "bookworm, the release caisson bootstraps (its apt sources must serve it)");
    variant = str(child(b, "variant"), "bootstrap.variant", b.span, /^minbase$/, "minbase", "minbase (Essential, Priority: required and apt; add packages in a stage)");
  }
  if (hasErrors(diagnostics) || !name || !version || suite !== "bookworm" || variant !== "minbase") return { diagnostics: sortDiagnostics(diagnostics) };
  return {
    definition: { file, text, name, version, platforms, suite, variant, arches: [...new Set(platforms.map(dpkgArch))], span: root.span },
    diagnostics: sortDiagnostics(diagnostics),
  };
}
