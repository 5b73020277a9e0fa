// A stage's `packages:` (Debian binary packages): each entry parsed, each
// listed once, and one moving reference per build architecture — the whole
// closure is pinned by content in the lockfile (src/lock).
import type { YamlNode } from "../load/index.js";
import type { DebianPackage, FromRef, Span, StagePackages } from "../model/index.js";
import type { Context } from "./context.js";
import { items, map, str } from "./nodes.js";
import { parseDebianPackage } from "./refs.js";

/**
 * A stage's `packages:`, the list form or the map by build architecture.
 * Packages written without a version become moving references (pinned by
 * the lockfile); entries the schema rejected are left out. `onTarget` (the
 * `packages` key, for a stage `on: target`): the map form must then list
 * every target platform's architecture, where the stage runs.
 */
export function stagePackages(ctx: Context, n: YamlNode, stage: string, from: string, onTarget?: Span): StagePackages | undefined {
  const list = (node: YamlNode | undefined, buildArch: string | undefined): DebianPackage[] => {
    const out: DebianPackage[] = [];
    const seen = new Map<string, Span>();
    for (const it of items(node)) {
      const t = str(it);
      if (t === undefined) continue;
      const r = parseDebianPackage(t);
      if (!r.ok) continue; // the schema reported it
      const key = r.value.arch === undefined ? r.value.name : `${r.value.name}:${r.value.arch}`;
      const first = seen.get(key);
      if (first) {
        ctx.err("duplicate_package", `${key} is listed twice in stage "${stage}"${buildArch ? ` for ${buildArch}` : ""}`, it.span, "list each package once", [
          { span: first, message: "first listed here" },
        ]);
        continue;
      }
      seen.set(key, it.span);
      out.push({ name: r.value.name, ...(r.value.arch !== undefined ? { arch: r.value.arch } : {}), version: r.value.version ?? "", span: it.span });
    }
    return out;
  };
  // Each build architecture's closure is pinned by content in the lockfile: a moving reference each.
  const closure = (buildArch: string, pkgs: readonly DebianPackage[], span: Span): void => {
    if (pkgs.length === 0) return;
    const request = pkgs.map((p) => `${p.name}${p.arch !== undefined ? `:${p.arch}` : ""}${p.version !== "" ? `=${p.version}` : ""}`);
    ctx.moving.push({ kind: "debian", stage, buildArch, request, from, span });
  };
  if (n.kind === "seq") {
    const all = list(n, undefined);
    // The list form serves any build platform: pinned for the architectures of the definition's platforms.
    for (const a of ctx.targetArches) closure(a, all, n.span);
    return { all, span: n.span };
  }
  const m = map(n);
  if (!m) return undefined;
  const byBuildArch: Record<string, DebianPackage[]> = {};
  for (const e of m.entries) {
    byBuildArch[e.key] = list(e.value, e.key);
    closure(e.key, byBuildArch[e.key] as DebianPackage[], e.value?.span ?? n.span);
  }
  const missing = onTarget ? ctx.targetArches.filter((a) => !Object.hasOwn(byBuildArch, a)) : [];
  if (onTarget && missing.length > 0) {
    const listed = Object.keys(byBuildArch);
    ctx.err(
      "no_packages_for_build_arch",
      `stage "${stage}" runs on each target platform (on: target), and its packages list none for ${missing.join(", ")}` +
        (listed.length > 0 ? ` (only for ${listed.join(", ")})` : ""),
      onTarget,
      `add a list for ${missing.join(" and ")} (${missing.map((a) => `${a}: [...]`).join(", ")}; an empty one installs nothing), or write one list for every platform (packages: [...])`,
    );
  }
  return { all: [], byBuildArch, span: n.span };
}

/** What a stage's Debian closure is resolved on top of, as the lockfile records it. */
export function fromKey(from: FromRef): string {
  switch (from.kind) {
    case "image":
      return from.ref;
    case "stage":
      return `stage:${from.name}`;
    case "import":
      return `import:${from.name}`;
    case "scratch":
      return "scratch";
  }
}
