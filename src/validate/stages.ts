// Stages: from, packages, copies, patches, mounts, environment, workdir and
// the commands, each resolved and checked.
import type { MapEntry, YamlNode } from "../load/index.js";
import { child, entry } from "../load/index.js";
import type { Located, MountSpec, Patch, Stage, StageCopy, Toolchain } from "../model/index.js";
import type { Context } from "./context.js";
import { patchSource, resolveFrom, resolveRef } from "./names.js";
import { bool, int, items, map, oneOfStr, scalar, str, text, type Mutable } from "./nodes.js";
import { fromKey, stagePackages } from "./packages.js";
import { checkAbsolutePath, parseUserSpec } from "./refs.js";

export function env(n: YamlNode | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const e of map(n)?.entries ?? []) {
    const v = text(e.value);
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.key) && v !== undefined) out.push([e.key, v]);
    else if (v !== undefined && e.value.kind === "scalar") continue;
  }
  return out;
}

export function stage(ctx: Context, e: MapEntry): Stage | undefined {
  const n = map(e.value);
  if (!n) return undefined;
  const name = e.key;
  const from = resolveFrom(ctx, child(n, "from"), e.keySpan, name);
  if (child(n, "from") === undefined) return undefined; // schema reported the missing key
  const mounts: MountSpec[] = [];
  let mountsOk = true;
  for (const m of map(child(n, "mounts"))?.entries ?? []) {
    const spec = mount(ctx, m, name);
    if (spec) mounts.push(spec);
    else mountsOk = false;
  }
  const copy: StageCopy[] = [];
  let copyOk = true;
  for (const it of items(child(n, "copy"))) {
    const c = stageCopy(ctx, it, name);
    if (c) copy.push(c);
    else copyOk = false;
  }
  const patches: Patch[] = [];
  let patchesOk = true;
  for (const it of items(child(n, "patches"))) {
    const p = patch(ctx, it, name);
    if (p) patches.push(p);
    else patchesOk = false;
  }
  const packagesNode = child(n, "packages");
  const on = oneOfStr(child(n, "on"), ["build", "target"], "build");
  const packages =
    packagesNode === undefined ? undefined : stagePackages(ctx, packagesNode, name, from === undefined ? "" : fromKey(from), on === "target" ? entry(n, "packages")?.keySpan : undefined);
  const workdirNode = child(n, "workdir");
  const workdir = workdirNode === undefined ? "/" : ctx.absPath(workdirNode, "workdir");
  const run: Located<string>[] = [];
  for (const it of items(child(n, "run"))) {
    const t = str(it);
    if (t !== undefined) run.push({ value: t, span: it.span });
  }
  const tcNode = map(child(n, "toolchain"));
  let toolchain: Toolchain | undefined;
  if (tcNode) {
    toolchain = {
      cc: "gcc",
      hardening: oneOfStr(child(tcNode, "hardening"), ["strict", "none"], "strict"),
      span: tcNode.span,
    };
  }
  const userOk = stageUserOk(ctx, child(n, "user"));
  if (!from || workdir === undefined || !mountsOk || !copyOk || !patchesOk || !userOk) return undefined;
  const stage: Mutable<Stage> = {
    name,
    from,
    on,
    env: env(child(n, "env")),
    workdir,
    network: oneOfStr(child(n, "network"), ["sandbox", "none"], "sandbox"),
    mounts,
    copy,
    patches,
    run,
    span: e.span,
  };
  if (packages && (packages.all.length > 0 || packages.byBuildArch !== undefined)) stage.packages = packages;
  if (toolchain) stage.toolchain = toolchain;
  const user = text(child(n, "user"));
  if (user !== undefined) stage.user = user;
  return stage;
}

export function stageCopy(ctx: Context, n: YamlNode, owner: string): StageCopy | undefined {
  const m = map(n);
  if (!m) return undefined;
  const r = resolveRef(ctx, child(m, "from"), owner);
  const src = ctx.absPath(child(m, "src"), "copy source");
  const dest = ctx.absPath(child(m, "dest"), "copy destination");
  if (!r || src === undefined || dest === undefined) return undefined;
  return { from: r.from, fromKind: r.fromKind, src, dest, span: n.span };
}

export function patch(ctx: Context, n: YamlNode, owner: string): Patch | undefined {
  const m = map(n);
  if (!m) return undefined;
  const from = patchSource(ctx, child(m, "from"), owner);
  const path = ctx.absPath(child(m, "path"), "patch path");
  const sha256 = str(child(m, "sha256"));
  const stripNode = child(m, "strip");
  const strip = stripNode === undefined ? 1 : int(stripNode);
  // A missing or malformed sha256 and a bad strip were reported by the schema.
  if (from === undefined || path === undefined || sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  if (strip === undefined || strip < 0 || strip > 9) return undefined;
  return { from, path, sha256, strip, span: n.span };
}

export function mount(ctx: Context, m: MapEntry, owner: string): MountSpec | undefined {
  const destCheck = checkAbsolutePath(m.key);
  let dest: string | undefined = m.key;
  if (!destCheck.ok) {
    ctx.err("invalid_path", `mount destination: ${destCheck.message}`, m.keySpan, destCheck.hint);
    dest = undefined;
  } else if (m.key === "/") {
    ctx.err("invalid_path", "cannot mount over /", m.keySpan, "mount at a sub-directory such as /src");
    dest = undefined;
  }
  const v = m.value;
  const span = m.span;
  if (v.kind === "scalar") {
    const r = resolveRef(ctx, v, owner);
    if (!r || dest === undefined) return undefined;
    return { kind: "bind", dest, from: r.from, fromKind: r.fromKind, path: "/", readonly: true, span };
  }
  const n = map(v);
  if (!n) return undefined;
  if (entry(n, "from")) {
    const r = resolveRef(ctx, child(n, "from"), owner);
    const pathNode = child(n, "path");
    const path = pathNode === undefined ? "/" : ctx.absPath(pathNode, "mount path");
    if (!r || dest === undefined || path === undefined) return undefined;
    return { kind: "bind", dest, from: r.from, fromKind: r.fromKind, path, readonly: bool(child(n, "readonly"), true), span };
  }
  if (entry(n, "cache")) {
    const id = str(child(n, "cache"));
    if (id === undefined || dest === undefined) return undefined;
    return { kind: "cache", dest, id, sharing: oneOfStr(child(n, "sharing"), ["shared", "private", "locked"], "locked"), span };
  }
  if (entry(n, "tmpfs")) {
    if (dest === undefined || scalar(child(n, "tmpfs"))?.value !== true) return undefined;
    return { kind: "tmpfs", dest, span };
  }
  return undefined;
}


/** A stage's `user`: name or uid, optionally :group or :gid (parseUserSpec); true when absent. */
function stageUserOk(ctx: Context, n: YamlNode | undefined): boolean {
  const s = scalar(n);
  if (n === undefined || s === undefined || s.value === null || typeof s.value === "boolean") return true; // absent, or the schema reported the type
  const r = parseUserSpec(text(s) ?? "");
  if (r.ok) return true;
  ctx.err(r.code, `stage user: ${r.message}`, s.span, r.hint);
  return false;
}
