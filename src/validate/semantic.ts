// Semantic pass: walks the tree (tolerating whatever the schema already
// reported), builds the normalised ImageDefinition and reports what a schema
// cannot: references, cycles, platforms, image refs, paths, ports, durations,
// root without a reason, weakened runtime settings, unused stages, sources and
// imports. Imported definitions are not read here (resolving them is I/O).
// By concern:
//   context.ts   diagnostics, declared names, dependency edges, moving refs
//   nodes.ts     typed access to the YAML nodes
//   names.ts     declarations, `from:` and name resolution, did-you-mean
//   graph.ts     stage cycles, unused names
//   sources.ts   sources (release.ts: their `release:` rules, and the definition's `release:` tags)
//   stages.ts    stages, mounts, copies, patches (packages.ts: Debian packages)
//   image.ts     the runtime image, its user, healthcheck, runtime and waivers
//   text.ts      control characters in any string
import type { Diagnostic } from "../diag/index.js";
import { child, entry } from "../load/index.js";
import type { LoadedDocument, MapEntry, YamlNode } from "../load/index.js";
import type { ImageDefinition, Import, Platform, SourceSpec, Span, Stage } from "../model/index.js";
import { dpkgArch, formatPlatform, parsePlatform } from "../platform/index.js";
import { Context } from "./context.js";
import { cycles, unused } from "./graph.js";
import { image } from "./image.js";
import { declareNames } from "./names.js";
import { map, str, text, type Mutable } from "./nodes.js";
import { checkImportPath } from "./refs.js";
import { releaseSection } from "./release.js";
import { source } from "./sources.js";
import { stage } from "./stages.js";
import { checkControlCharacters } from "./text.js";

function build(ctx: Context): ImageDefinition | undefined {
  const root = map(ctx.doc.root);
  if (!root) return undefined;
  declareNames(ctx, root);
  checkControlCharacters(ctx, root);

  const name = str(child(root, "name"));
  const version = text(child(root, "version"));
  const targets = platforms(ctx, child(root, "platforms"));
  ctx.targetArches = [...new Set((targets ?? []).map(dpkgArch))];
  const imports = [...ctx.imports.values()].map((e) => importEntry(ctx, e));
  const sources = [...ctx.sources.values()].map((e) => source(ctx, e));
  const stages = [...ctx.stages.values()].map((e) => stage(ctx, e));
  const imageEntry = entry(root, "image");
  const img = imageEntry ? image(ctx, imageEntry) : undefined;
  const release = releaseSection(ctx, root, version);
  cycles(ctx);
  unused(ctx);

  if (name === undefined || targets === undefined || img === undefined) return undefined;
  if (sources.some((s) => s === undefined) || stages.some((s) => s === undefined) || imports.some((s) => s === undefined)) return undefined;
  const def: Mutable<ImageDefinition> = {
    file: ctx.doc.file,
    text: ctx.doc.text,
    name,
    platforms: targets,
    imports: imports as Import[],
    sources: sources as SourceSpec[],
    stages: stages as Stage[],
    image: img,
  };
  const nameAt = child(root, "name")?.span;
  if (nameAt) def.nameSpan = nameAt;
  if (version !== undefined) {
    def.version = version;
    const at = child(root, "version")?.span;
    if (at) def.versionSpan = at;
  }
  if (release) def.release = release;
  if (ctx.moving.length > 0) def.moving = [...ctx.moving].sort((a, b) => a.span.start - b.span.start);
  return def;
}

function platforms(ctx: Context, n: YamlNode | undefined): Platform[] | undefined {
  if (n?.kind !== "seq") return undefined;
  const out: Platform[] = [];
  const seen = new Map<string, Span>();
  for (const it of n.items) {
    const t = str(it);
    if (t === undefined) continue;
    const p = ctx.check(parsePlatform(t), "invalid_platform", it.span);
    if (!p) continue;
    const key = formatPlatform(p);
    const first = seen.get(key);
    if (first) {
      ctx.err("duplicate_platform", `platform ${key} is listed twice`, it.span, "remove one", [{ span: first, message: "first listed here" }]);
      continue;
    }
    seen.set(key, it.span);
    out.push(p);
  }
  return out;
}

/** An import: only its path is checked; the imported file is read by the resolve step. */
function importEntry(ctx: Context, e: MapEntry): Import | undefined {
  const p = str(e.value);
  if (p === undefined) return undefined; // the schema reported the type
  const path = ctx.check(checkImportPath(p), "invalid_path", e.value.span);
  if (path === undefined) return undefined;
  return { name: e.key, path, span: e.span };
}

/** Builds the model and reports semantic problems (see the file comment). */
export function buildDefinition(doc: LoadedDocument): { definition?: ImageDefinition; diagnostics: Diagnostic[] } {
  const ctx = new Context(doc);
  const definition = build(ctx);
  return definition ? { definition, diagnostics: ctx.diagnostics } : { diagnostics: ctx.diagnostics };
}
