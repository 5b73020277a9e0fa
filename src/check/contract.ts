// The runtime contract of an image, as `docker run` flags, a compose service
// and a Kubernetes securityContext: an image config cannot force a read-only
// root or dropped capabilities, so caisson states them.

import type { OciImageConfig } from "./oci.js";

/** What the contract is made of. `RuntimeImage` from src/model fits this shape. */
export interface ContractConfig {
  /** `{ uid, gid }`, or a User string "uid[:gid]". */
  readonly user: { readonly uid: number; readonly gid: number } | string;
  readonly volumes: readonly string[];
  readonly runtime?: {
    readonly readOnly?: boolean;
    readonly capabilities?: readonly string[];
    readonly noNewPrivileges?: boolean;
  };
}

export interface ContractOptions {
  /** Image reference to print (default `IMAGE`). */
  readonly image?: string;
  /** Service / volume name prefix (default `app`). */
  readonly name?: string;
  /** Volumes to mount as tmpfs instead of named volumes (default: those under /tmp, /run, /var/run, /var/tmp, /var/cache, /var/lock). */
  readonly tmpfs?: readonly string[];
}

const TMPFS_DIRS = ["/tmp", "/run", "/var/run", "/var/tmp", "/var/cache", "/var/lock"];

/** The contract an OCI image config states: User, Volumes and caisson's `caisson.runtime.*` labels. */
export function contractFromImageConfig(cfg: OciImageConfig): ContractConfig {
  const c = cfg.config ?? {};
  const labels = c.Labels ?? {};
  const caps = labels["caisson.runtime.capabilities"];
  return {
    user: c.User ?? "",
    volumes: Object.keys(c.Volumes ?? {}).sort(),
    runtime: {
      readOnly: labels["caisson.runtime.read-only"] !== "false",
      noNewPrivileges: labels["caisson.runtime.no-new-privileges"] !== "false",
      capabilities: caps && caps !== "none" ? caps.split(",").filter(Boolean) : [],
    },
  };
}

function isOciConfig(x: ContractConfig | OciImageConfig): x is OciImageConfig {
  return !("volumes" in x);
}

function ids(user: ContractConfig["user"]): { uid: string; gid: string; numeric: boolean } {
  if (typeof user !== "string") return { uid: String(user.uid), gid: String(user.gid), numeric: true };
  const [u = "", g] = user.split(":");
  const uid = u === "" ? "0" : u;
  const gid = g ?? (/^[0-9]+$/.test(uid) ? "0" : uid);
  return { uid, gid, numeric: /^[0-9]+$/.test(uid) && /^[0-9]+$/.test(gid) };
}

function slug(s: string): string {
  return s.replace(/^\/+|\/+$/g, "").replace(/[^a-zA-Z0-9]+/g, "-").toLowerCase() || "root";
}

/**
 * The `docker run` flags, a compose service and a Kubernetes securityContext
 * (with volume mounts) that run the image as its contract says: its user,
 * read-only root, all capabilities dropped (plus those it declares), no new
 * privileges, seccomp RuntimeDefault, and its volumes mounted writable.
 */
export function runtimeContract(config: ContractConfig | OciImageConfig, opts: ContractOptions = {}): string {
  const c = isOciConfig(config) ? contractFromImageConfig(config) : config;
  const image = opts.image ?? "IMAGE";
  const name = opts.name ?? "app";
  const { uid, gid, numeric } = ids(c.user);
  const readOnly = c.runtime?.readOnly ?? true;
  const nnp = c.runtime?.noNewPrivileges ?? true;
  const caps = (c.runtime?.capabilities ?? []).map((x) => x.replace(/^CAP_/i, "").toUpperCase());
  const isTmpfs = (v: string): boolean => (opts.tmpfs ? opts.tmpfs.includes(v) : TMPFS_DIRS.some((d) => v === d || v.startsWith(d + "/")));
  const vols = c.volumes.map((v) => ({ path: v, tmpfs: isTmpfs(v), name: `${name}-${slug(v)}` }));
  const tmpfsOpts = numeric ? `:uid=${uid},gid=${gid},mode=0700` : "";

  const run: string[] = [];
  if (readOnly) run.push("--read-only");
  run.push("--cap-drop ALL");
  for (const cap of caps) run.push(`--cap-add ${cap}`);
  if (nnp) run.push("--security-opt no-new-privileges");
  run.push(`--user ${uid}:${gid}`);
  for (const v of vols) run.push(v.tmpfs ? `--tmpfs ${v.path}${tmpfsOpts}` : `-v ${v.name}:${v.path}`);

  const out: string[] = [];
  out.push("# docker run");
  out.push(`docker run ${run.join(" \\\n    ")} \\\n    ${image}`);
  out.push("");
  out.push("# docker compose");
  out.push("services:");
  out.push(`  ${name}:`);
  out.push(`    image: ${image}`);
  out.push(`    user: "${uid}:${gid}"`);
  out.push(`    read_only: ${readOnly}`);
  out.push("    cap_drop: [ALL]");
  if (caps.length) out.push(`    cap_add: [${caps.join(", ")}]`);
  if (nnp) out.push(`    security_opt: ["no-new-privileges:true"]`);
  const tmpfsVols = vols.filter((v) => v.tmpfs);
  const namedVols = vols.filter((v) => !v.tmpfs);
  if (tmpfsVols.length) {
    out.push("    tmpfs:");
    for (const v of tmpfsVols) out.push(`      - "${v.path}${tmpfsOpts}"`);
  }
  if (namedVols.length) {
    out.push("    volumes:");
    for (const v of namedVols) out.push(`      - ${v.name}:${v.path}`);
    out.push("volumes:");
    for (const v of namedVols) out.push(`  ${v.name}: {}`);
  }
  out.push("");
  out.push("# Kubernetes: container spec");
  out.push("securityContext:");
  out.push(`  runAsNonRoot: ${uid !== "0" && uid !== "root"}`);
  if (numeric) {
    out.push(`  runAsUser: ${uid}`);
    out.push(`  runAsGroup: ${gid}`);
  }
  out.push(`  readOnlyRootFilesystem: ${readOnly}`);
  out.push(`  allowPrivilegeEscalation: ${!nnp}`);
  out.push("  capabilities:");
  out.push("    drop: [ALL]");
  if (caps.length) out.push(`    add: [${caps.join(", ")}]`);
  out.push("  seccompProfile:");
  out.push("    type: RuntimeDefault");
  if (vols.length) {
    out.push("volumeMounts:");
    for (const v of vols) out.push(`  - { name: ${v.name}, mountPath: ${v.path} }`);
    out.push("# pod spec");
    if (numeric) out.push(`securityContext: { fsGroup: ${gid} }`);
    out.push("volumes:");
    for (const v of vols) out.push(`  - { name: ${v.name}, ${v.tmpfs ? "emptyDir: { medium: Memory }" : "persistentVolumeClaim: { claimName: " + v.name + " }"} }`);
  }
  return out.join("\n") + "\n";
}
