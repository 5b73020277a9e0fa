import type { ImageDefinition, Platform } from "../model/index.js";

/** The OCI image configuration BuildKit's exporters take as `containerimage.config`. */
export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  config: {
    User: string;
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    WorkingDir?: string;
    ExposedPorts?: Record<string, Record<string, never>>;
    Volumes?: Record<string, Record<string, never>>;
    Labels?: Record<string, string>;
    StopSignal?: string;
    Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  };
}

function sortedObject<T>(entries: Iterable<readonly [string, T]>): Record<string, T> {
  return Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The image config for one platform. It also states the runtime contract in
 * labels, since a config cannot enforce read-only roots or dropped capabilities.
 */
export function imageConfig(def: ImageDefinition, platform: Platform): ImageConfig {
  const img = def.image;
  const labels = new Map<string, string>();
  labels.set("org.opencontainers.image.title", def.name);
  if (def.version) labels.set("org.opencontainers.image.version", def.version);
  labels.set("caisson.runtime.user", `${img.user.uid}:${img.user.gid}`);
  labels.set("caisson.runtime.read-only", String(img.runtime.readOnly));
  labels.set("caisson.runtime.no-new-privileges", String(img.runtime.noNewPrivileges));
  labels.set("caisson.runtime.capabilities", img.runtime.capabilities.join(",") || "none");
  for (const [k, v] of img.labels) labels.set(k, v);

  const config: ImageConfig["config"] = { User: `${img.user.uid}:${img.user.gid}` };
  if (img.env.length > 0) config.Env = img.env.map(([k, v]) => `${k}=${v}`);
  if (img.entrypoint) config.Entrypoint = [...img.entrypoint];
  if (img.cmd) config.Cmd = [...img.cmd];
  if (img.workdir) config.WorkingDir = img.workdir;
  if (img.expose.length > 0) config.ExposedPorts = sortedObject(img.expose.map((p) => [p, {}] as const));
  if (img.volumes.length > 0) config.Volumes = sortedObject(img.volumes.map((v) => [v, {}] as const));
  config.Labels = sortedObject(labels);
  if (img.stopSignal) config.StopSignal = img.stopSignal;
  if (img.healthcheck) {
    const h = img.healthcheck;
    config.Healthcheck = {
      Test: ["CMD", ...h.test],
      ...(h.interval !== undefined ? { Interval: h.interval } : {}),
      ...(h.timeout !== undefined ? { Timeout: h.timeout } : {}),
      ...(h.startPeriod !== undefined ? { StartPeriod: h.startPeriod } : {}),
      ...(h.retries !== undefined ? { Retries: h.retries } : {}),
    };
  }
  return {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config,
  };
}
