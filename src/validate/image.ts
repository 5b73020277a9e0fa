// The runtime image: from, copies, user, workdir, volumes, ports, exec-form
// arguments, labels, healthcheck, stop signal, the runtime contract and the
// check's waivers.
import { closest } from "../diag/index.js";
import type { MapEntry, YamlNode } from "../load/index.js";
import { child, entry } from "../load/index.js";
import type { CopySpec, Hardening, Healthcheck, RuntimeImage, RuntimeUser, Span, Waiver } from "../model/index.js";
import { RULE_IDS } from "../check/rules.js";
import type { Context } from "./context.js";
import { resolveFrom, resolveRef } from "./names.js";
import { bool, int, items, map, scalar, str, text, type Mutable } from "./nodes.js";
import { CAPABILITIES, DURATION, MAX_DURATION_NS, parseDuration, parsePort, parseSignal, parseUserSpec, printable } from "./refs.js";
import { env } from "./stages.js";

const DEFAULT_UID = 65532;
const DEFAULT_USER_NAME = "caisson";

export function image(ctx: Context, e: MapEntry): RuntimeImage | undefined {
  const n = map(e.value);
  if (!n) return undefined;
  let ok = true;
  const from = resolveFrom(ctx, child(n, "from"), e.keySpan, undefined);
  if (!from) ok = false;

  const copy: CopySpec[] = [];
  for (const it of items(child(n, "copy"))) {
    const c = imageCopy(ctx, it);
    if (c) copy.push(c);
    else ok = false;
  }
  const user = runtimeUser(ctx, entry(n, "user"), e.keySpan);
  if (!user) ok = false;
  const workdirNode = child(n, "workdir");
  const workdir = workdirNode === undefined ? undefined : ctx.absPath(workdirNode, "workdir");
  if (workdirNode !== undefined && workdir === undefined) ok = false;

  const volumes: string[] = [];
  const seenVol = new Map<string, Span>();
  for (const it of items(child(n, "volumes"))) {
    const v = ctx.absPath(it, "volume");
    if (v === undefined) {
      ok = false;
      continue;
    }
    if (v === "/") {
      ctx.err("invalid_path", "a volume cannot be / (the whole file system)", it.span, "name the directories the image writes to, e.g. /data");
      ok = false;
      continue;
    }
    const first = seenVol.get(v);
    if (first) {
      ctx.err("duplicate_volume", `volume ${v} is listed twice`, it.span, "remove one", [{ span: first, message: "first listed here" }]);
      continue;
    }
    seenVol.set(v, it.span);
    volumes.push(v);
  }

  const expose: string[] = [];
  const seenPort = new Map<string, Span>();
  for (const it of items(child(n, "expose"))) {
    const t = text(it);
    if (t === undefined || typeof scalar(it)?.value === "boolean") continue;
    if (typeof scalar(it)?.value === "string" && !/^[0-9]+(\/(tcp|udp|sctp))?$/.test(t)) continue; // the schema reported it
    const p = ctx.check(parsePort(t), "invalid_port", it.span);
    if (p === undefined) {
      ok = false;
      continue;
    }
    const first = seenPort.get(p);
    if (first) {
      ctx.err("duplicate_port", `port ${p} is listed twice`, it.span, "remove one", [{ span: first, message: "first listed here" }]);
      continue;
    }
    seenPort.set(p, it.span);
    expose.push(p);
  }

  const args = (k: string): string[] | undefined => {
    const node = child(n, k);
    if (node?.kind !== "seq") return undefined;
    return node.items.map(text).filter((x): x is string => x !== undefined);
  };
  const healthcheck = healthcheckOf(ctx, child(n, "healthcheck"));
  if (healthcheck === null) ok = false;
  const stopNode = scalar(child(n, "stopSignal"));
  let stopSignal: string | undefined;
  if (stopNode && (typeof stopNode.value === "string" || Number.isInteger(stopNode.value))) {
    const r = parseSignal(text(stopNode) ?? "");
    if (r.ok) stopSignal = r.value;
    else {
      ctx.err("invalid_signal", `stopSignal: ${r.message}`, stopNode.span, r.hint);
      ok = false;
    }
  }

  const rt = map(child(n, "runtime"));
  const readOnly = bool(child(rt, "readOnly"), true);
  const noNewPrivileges = bool(child(rt, "noNewPrivileges"), true);
  if (rt && !readOnly) {
    const s = entry(rt, "readOnly")?.span ?? rt.span;
    ctx.warn("writable_root_fs", "the image is meant to run with a writable root file system", s, "declare writable paths as volumes and keep readOnly: true");
  }
  if (rt && !noNewPrivileges) {
    const s = entry(rt, "noNewPrivileges")?.span ?? rt.span;
    ctx.warn("new_privileges_allowed", "the image is meant to run without no-new-privileges", s, "keep noNewPrivileges: true unless a setuid binary must work");
  }
  const capabilities: string[] = [];
  for (const it of items(child(rt, "capabilities"))) {
    const t = str(it);
    if (t === undefined || !/^[A-Za-z_]+$/.test(t)) continue;
    const bare = t.toUpperCase().replace(/^CAP_/, "");
    if (!(CAPABILITIES as readonly string[]).includes(bare)) {
      const guess = closest(bare, CAPABILITIES);
      ctx.err("unknown_capability", `unknown capability "${t}"`, it.span, guess !== undefined ? `did you mean "${guess}"?` : "see capabilities(7)");
      ok = false;
      continue;
    }
    const cap = `CAP_${bare}`;
    if (capabilities.includes(cap)) continue;
    capabilities.push(cap);
    ctx.warn("capability_added", `the image needs capability ${cap}`, it.span, bare === "NET_BIND_SERVICE" ? "listening on a port ≥ 1024 needs no capability" : undefined);
  }

  const chk = map(child(n, "check"));
  const waivers: Waiver[] = [];
  for (const it of items(child(chk, "waivers"))) {
    const w = map(it);
    const rule = str(child(w, "rule"));
    const reason = str(child(w, "reason"));
    if (!w || rule === undefined || reason === undefined) continue;
    const ruleNode = child(w, "rule") ?? it;
    const known = RULE_IDS.has(rule) || (rule.endsWith("*") && [...RULE_IDS].some((id) => id.startsWith(rule.slice(0, -1))));
    if (!known) {
      const guess = closest(rule, RULE_IDS);
      ctx.err("unknown_rule", `no check rule "${rule}"`, ruleNode.span, guess !== undefined ? `did you mean "${guess}"? (docs/check.md lists the rules)` : "docs/check.md lists the rules");
      ok = false;
      continue;
    }
    if (rule === "fs.special") {
      // A FIFO or device cannot be carried into a release (or a layer caisson normalises): nothing to waive.
      ctx.err("unwaivable_rule", `check rule "fs.special" cannot be waived: a FIFO or device in the image cannot be released`, ruleNode.span, "leave it out of the source (exclude:) or remove it in the stage that makes it");
      ok = false;
      continue;
    }
    const path = str(child(w, "path"));
    if (path !== undefined && !path.startsWith("/")) {
      ctx.err("invalid_path", `waiver path "${path}" must be absolute (a path in the image)`, (child(w, "path") ?? it).span, `write "/${path.replace(/^\.?\/*/, "")}"`);
      ok = false;
      continue;
    }
    waivers.push({ rule, ...(path !== undefined ? { path } : {}), reason, span: it.span });
  }
  const hardening: Hardening = str(child(chk, "hardening")) === "none" ? "none" : "strict";

  if (!ok || !from || !user) return undefined;
  const img: Mutable<RuntimeImage> = {
    from,
    copy,
    user,
    volumes,
    expose,
    env: env(child(n, "env")),
    labels: (map(child(n, "labels"))?.entries ?? [])
      .map((x): [string, string | undefined] => [x.key, text(x.value)])
      .filter((x): x is [string, string] => x[1] !== undefined),
    runtime: { readOnly, capabilities, noNewPrivileges },
    check: { hardening, waivers },
    span: e.span,
  };
  if (workdir !== undefined) img.workdir = workdir;
  const entrypoint = args("entrypoint");
  if (entrypoint) img.entrypoint = entrypoint;
  const cmd = args("cmd");
  if (cmd) img.cmd = cmd;
  if (healthcheck) img.healthcheck = healthcheck;
  if (stopSignal !== undefined) img.stopSignal = stopSignal;
  return img;
}

export function imageCopy(ctx: Context, n: YamlNode): CopySpec | undefined {
  const m = map(n);
  if (!m) return undefined;
  const r = resolveRef(ctx, child(m, "from"), undefined);
  const srcNode = child(m, "src");
  const src = str(srcNode);
  let srcOk = src !== undefined;
  if (src !== undefined && srcNode) {
    if (!src.startsWith("/")) {
      ctx.err("invalid_path", `copy source: path "${src}" must be absolute (a path inside \`from\`)`, srcNode.span, `write "/${src.replace(/^\.?\/*/, "")}"`);
      srcOk = false;
    } else if (src.split("/").includes("..")) {
      ctx.err("invalid_path", `copy source: path "${src}" must not contain ".."`, srcNode.span);
      srcOk = false;
    }
  }
  const dest = ctx.absPath(child(m, "dest"), "copy destination");
  let mode: number | undefined;
  const modeNode = scalar(child(m, "mode"));
  if (modeNode && modeNode.value !== null) {
    const t = text(modeNode) ?? "";
    if (/^0?[0-7]{3}$/.test(t)) mode = parseInt(t, 8);
    else {
      if (typeof modeNode.value === "number") {
        ctx.err("invalid_mode", `mode ${t} is not octal permission bits`, modeNode.span, 'write it as a quoted octal string such as "0755" (digits are read as octal)');
      }
      return undefined;
    }
  }
  if (!r || !srcOk || src === undefined || dest === undefined) return undefined;
  const c: Mutable<CopySpec> = { from: r.from, fromKind: r.fromKind, src, dest, libraries: bool(child(m, "libraries"), false), span: n.span };
  if (mode !== undefined) c.mode = mode;
  return c;
}

export function runtimeUser(ctx: Context, e: MapEntry | undefined, imageKey: Span): RuntimeUser | undefined {
  if (!e) return { uid: DEFAULT_UID, gid: DEFAULT_UID, name: DEFAULT_USER_NAME, span: imageKey };
  const n = e.value;
  const span = n.span;
  let uid: number | undefined;
  let gid: number | undefined;
  let name = DEFAULT_USER_NAME;
  let rootReason: string | undefined;
  if (n.kind === "scalar") {
    if (n.value === null || typeof n.value === "boolean") return undefined; // the schema reported the type
    const r = parseUserSpec(text(n) ?? "");
    if (!r.ok) {
      ctx.err(r.code, `image user: ${r.message}`, span, r.hint);
      return undefined;
    }
    const { user: u, group: g } = r.value;
    if (!/^[0-9]+$/.test(u) || (g !== undefined && !/^[0-9]+$/.test(g))) {
      ctx.err(
        "invalid_user",
        `the image's user is written as numeric uid[:gid], found "${printable(text(n) ?? "")}"`,
        span,
        `the image has no user database to look a name up in: write user: { uid: <uid>, gid: <gid>, name: ${/^[0-9]+$/.test(u) ? DEFAULT_USER_NAME : u} }`,
      );
      return undefined;
    }
    uid = Number(u);
    gid = g !== undefined ? Number(g) : uid;
  } else if (n.kind === "map") {
    uid = int(child(n, "uid"));
    gid = int(child(n, "gid"));
    name = str(child(n, "name")) ?? DEFAULT_USER_NAME;
    rootReason = str(child(n, "rootReason"));
  }
  if (uid === undefined || gid === undefined) return undefined;
  if (uid === 0 && rootReason === undefined) {
    ctx.err("root_user", "the image would run as root (uid 0) without a stated reason", span, 'to run as root, write user: { uid: 0, gid: 0, rootReason: "…" }');
    return undefined;
  }
  const u: Mutable<RuntimeUser> = { uid, gid, name, span };
  if (rootReason !== undefined) u.rootReason = rootReason;
  return u;
}

/** undefined when absent, null when invalid. */
export function healthcheckOf(ctx: Context, n: YamlNode | undefined): Healthcheck | undefined | null {
  const m = map(n);
  if (!m) return n === undefined ? undefined : null;
  const testNode = child(m, "test");
  const test = items(testNode).map(text).filter((x): x is string => x !== undefined);
  if (test.length === 0) return null;
  const head = test[0];
  if (head?.trim() === "") {
    ctx.err("invalid_healthcheck", "healthcheck.test has an empty command", items(testNode)[0]?.span ?? m.span, 'give the program to run and its arguments, e.g. test: [/app, --health]');
    return null;
  }
  if (head === "CMD" || head === "CMD-SHELL" || head === "NONE") {
    ctx.err("invalid_healthcheck", `healthcheck.test is the command itself, without "${head}"`, items(testNode)[0]?.span ?? m.span, head === "CMD" ? 'remove "CMD"' : "write the command in exec form; images FROM scratch have no shell");
    return null;
  }
  const hc: Mutable<Healthcheck> = { test };
  let ok = true;
  for (const k of ["interval", "timeout", "startPeriod"] as const) {
    const node = child(m, k);
    const t = str(node);
    if (t === undefined || node === undefined) continue;
    const r = parseDuration(t);
    if (!r.ok) {
      // A malformed duration is the schema pattern's to report; one too long to count is ours.
      if (DURATION.test(t)) ctx.err("invalid_duration", `healthcheck.${k}: ${r.message}`, node.span, "durations are at most 2400h (100 days)");
      ok = false;
      continue;
    }
    if (r.value < 1e6) {
      ctx.err("invalid_duration", `healthcheck.${k} must be at least 1ms`, node.span);
      ok = false;
      continue;
    }
    if (r.value > MAX_DURATION_NS) {
      ctx.err("invalid_duration", `healthcheck.${k} is longer than 100 days`, node.span, "durations are at most 2400h (100 days)");
      ok = false;
      continue;
    }
    hc[k] = r.value;
  }
  const retries = int(child(m, "retries"));
  if (retries !== undefined && retries >= 0) hc.retries = retries;
  return ok ? hc : null;
}

