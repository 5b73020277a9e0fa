// Name resolution: `from:` (scratch, a stage, an import or an image
// reference), the source or stage a mount or copy names, the source a patch
// comes from — with did-you-mean suggestions — recording each dependency.
import { closest } from "../diag/index.js";
import { child } from "../load/index.js";
import type { MapNode, YamlNode } from "../load/index.js";
import type { FromRef, Span } from "../model/index.js";
import type { Context } from "./context.js";
import { map, str } from "./nodes.js";
import { parseImageRef } from "./refs.js";

/** Names of images, sources, stages, imports and caches. */
export const NAME = /^[a-z0-9][a-z0-9._-]*$/;

/** Resolves `from:` of a stage (`owner`) or of the image (owner undefined). */
export function resolveFrom(ctx: Context, n: YamlNode | undefined, fallback: Span, owner: string | undefined): FromRef | undefined {
  if (n === undefined) return { kind: "scratch", span: fallback };
  const t = str(n);
  if (t === undefined) return undefined;
  const span = n.span;
  if (t === "scratch") return { kind: "scratch", span };
  if (ctx.stages.has(t)) {
    ctx.use(owner, t, span);
    return { kind: "stage", name: t, span };
  }
  if (ctx.imports.has(t)) {
    ctx.use(owner, t, span);
    return { kind: "import", name: t, span };
  }
  if (NAME.test(t) && !/[/:@]/.test(t)) {
    const names = [...ctx.stages.keys()];
    const imports = [...ctx.imports.keys()];
    const guess = closest(t, [...names, ...imports]);
    const isSource = ctx.sources.has(t);
    const needs = imports.length ? "a stage, an import or an image" : "a stage or an image";
    const known = [names.length ? `stages are ${names.join(", ")}` : "", imports.length ? `imports are ${imports.join(", ")}` : ""].filter(Boolean).join("; ");
    ctx.err(
      "unknown_stage",
      isSource ? `"${t}" is a source, not a stage; \`from\` needs ${needs}` : imports.length ? `no stage or import named "${t}"` : `stage "${t}" not found`,
      span,
      guess !== undefined
        ? `did you mean "${guess}"?`
        : isSource
          ? `mount the source instead: mounts: { /src: ${t} }`
          : `to use an image, give its tag and digest: ${t}:<tag>@sha256:<digest>${known ? `; ${known}` : ""}`,
    );
    return undefined;
  }
  const r = parseImageRef(t);
  if (!r.ok) {
    ctx.err(r.code, r.message, span, r.hint);
    return undefined;
  }
  if (r.value.digest === undefined) {
    ctx.warn("unpinned_image", `image "${t}" is not pinned by digest`, span, `pin it: ${t}@sha256:<digest>, or run \`caisson lock <file>\` to pin it in the lockfile`);
    ctx.moving.push({ kind: "image", ref: r.value.ref, span });
  }
  return { kind: "image", ref: r.value.ref, span };
}

/** A source or stage name referred to by a mount or copy. */
export function resolveRef(ctx: Context, n: YamlNode | undefined, owner: string | undefined): { from: string; fromKind: "source" | "stage" } | undefined {
  const t = str(n);
  if (t === undefined || n === undefined) return undefined;
  if (ctx.stages.has(t)) {
    ctx.use(owner, t, n.span);
    return { from: t, fromKind: "stage" };
  }
  if (ctx.sources.has(t)) {
    ctx.use(owner, t, n.span);
    return { from: t, fromKind: "source" };
  }
  if (ctx.imports.has(t)) {
    ctx.err(
      "unknown_source_or_stage",
      `"${t}" is an import, not a source or stage`,
      n.span,
      `start a stage from it (from: ${t}) and use that stage here`,
    );
    return undefined;
  }
  const guess = closest(t, [...ctx.sources.keys(), ...ctx.stages.keys()]);
  ctx.err("unknown_source_or_stage", `no source or stage named "${t}"`, n.span, guess !== undefined ? `did you mean "${guess}"?` : knownNames(ctx));
  return undefined;
}

/** The source a patch comes from; patches cannot come from stages (they are pinned files of an input). */
export function patchSource(ctx: Context, n: YamlNode | undefined, owner: string): string | undefined {
  const t = str(n);
  if (t === undefined || n === undefined) return undefined;
  if (ctx.sources.has(t)) {
    ctx.use(owner, t, n.span);
    return t;
  }
  if (ctx.stages.has(t) || ctx.imports.has(t)) {
    const what = ctx.stages.has(t) ? "a stage" : "an import";
    ctx.err(
      "patch_needs_source",
      `a patch must come from a source; "${t}" is ${what}`,
      n.span,
      ctx.stages.has(t)
        ? `keep the patch in a source (e.g. sources: { patches: { path: patches } }), or copy it in with copy: [{ from: ${t}, src: …, dest: … }] and apply it in run:`
        : "keep the patch in a source, e.g. sources: { patches: { path: patches } }",
    );
    return undefined;
  }
  const names = [...ctx.sources.keys()];
  const guess = closest(t, names);
  ctx.err(
    "unknown_source",
    `no source named "${t}"`,
    n.span,
    guess !== undefined ? `did you mean "${guess}"?` : names.length ? `sources are ${names.join(", ")}` : "define it under sources:",
  );
  return undefined;
}

export function knownNames(ctx: Context): string | undefined {
  const s = [...ctx.sources.keys()];
  const t = [...ctx.stages.keys()];
  if (s.length + t.length === 0) return "define it under sources: or stages:";
  return [s.length ? `sources are ${s.join(", ")}` : "", t.length ? `stages are ${t.join(", ")}` : ""].filter(Boolean).join("; ");
}

/** Declares the sources, imports and stages (one namespace), reporting reserved names and clashes. */
export function declareNames(ctx: Context, root: MapNode): void {
  for (const e of map(child(root, "sources"))?.entries ?? []) ctx.sources.set(e.key, e);
  for (const e of map(child(root, "imports"))?.entries ?? []) {
    ctx.imports.set(e.key, e);
    if (e.key === "scratch") ctx.err("reserved_name", `"scratch" cannot name an import`, e.keySpan, "it means the empty image; choose another name");
    const src = ctx.sources.get(e.key);
    if (src) {
      ctx.err("name_conflict", `"${e.key}" names both a source and an import`, e.keySpan, "rename one of them; sources, stages and imports share one namespace", [
        { span: src.keySpan, message: "source defined here" },
      ]);
    }
  }
  for (const e of map(child(root, "stages"))?.entries ?? []) {
    ctx.stages.set(e.key, e);
    if (e.key === "scratch") ctx.err("reserved_name", `"scratch" cannot name a stage`, e.keySpan, "it means the empty image; choose another name");
    const src = ctx.sources.get(e.key);
    if (src) {
      ctx.err("name_conflict", `"${e.key}" names both a source and a stage`, e.keySpan, "rename one of them", [
        { span: src.keySpan, message: "source defined here" },
      ]);
    }
    const imp = ctx.imports.get(e.key);
    if (imp) {
      ctx.err("name_conflict", `"${e.key}" names both an import and a stage`, e.keySpan, "rename one of them; sources, stages and imports share one namespace", [
        { span: imp.keySpan, message: "import defined here" },
      ]);
    }
  }
}
