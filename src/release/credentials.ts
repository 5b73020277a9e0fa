// Registry credentials: CAISSON_REGISTRY_USER / CAISSON_REGISTRY_PASSWORD
// first (a CI secret), else docker's config.json ($DOCKER_CONFIG, or
// ~/.docker), as `docker login` writes it (`auths.<host>.auth`).
import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { RegistryError } from "./registry.js";

export interface Credentials {
  readonly username: string;
  readonly password: string;
  /** Where they were found, for messages (never the secret itself). */
  readonly from: string;
}

/** The credentials for `host`, or undefined when none are configured. */
export function findCredentials(host: string, env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  const user = env["CAISSON_REGISTRY_USER"];
  const password = env["CAISSON_REGISTRY_PASSWORD"];
  if (user !== undefined || password !== undefined) {
    if (!user || password === undefined) throw new RegistryError("set both CAISSON_REGISTRY_USER and CAISSON_REGISTRY_PASSWORD, or neither", "auth");
    return { username: user, password, from: "CAISSON_REGISTRY_USER/PASSWORD" };
  }
  const file = join(env["DOCKER_CONFIG"] ?? join(homedir(), ".docker"), "config.json");
  const text = readConfig(file);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new RegistryError(`${file}: not valid JSON (${(e as Error).message})`, "auth");
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  const malformed = (what: string) => new RegistryError(`${file}: ${what}; fix it as \`docker login\` writes it, or set CAISSON_REGISTRY_USER and CAISSON_REGISTRY_PASSWORD`, "auth");
  if (!isObject(parsed)) throw malformed("not a JSON object");
  const config = parsed as { auths?: unknown; credsStore?: unknown; credHelpers?: unknown };
  if (config.auths !== undefined && config.auths !== null && !isObject(config.auths)) throw malformed("auths is not an object");
  const auths = (config.auths ?? {}) as Record<string, unknown>;
  const key = Object.hasOwn(auths, host) ? host : Object.hasOwn(auths, `https://${host}`) ? `https://${host}` : undefined;
  const entry = key === undefined ? undefined : auths[key];
  if (entry !== undefined && !isObject(entry)) throw malformed(`auths."${key}" is not an object`);
  if (entry?.["auth"] !== undefined && entry["auth"] !== "") {
    if (typeof entry["auth"] !== "string") throw malformed(`auths."${key}".auth is not a string`);
    const plain = Buffer.from(entry["auth"], "base64").toString("utf8");
    const colon = plain.indexOf(":");
    if (colon <= 0) throw new RegistryError(`${file}: auths."${host}".auth is not base64 of user:password`, "auth");
    return { username: plain.slice(0, colon), password: plain.slice(colon + 1), from: file };
  }
  if (entry?.["username"] !== undefined || entry?.["password"] !== undefined) {
    if (typeof entry["username"] !== "string" || typeof entry["password"] !== "string") throw malformed(`auths."${key}".username and .password are not both strings`);
    if (entry["username"]) return { username: entry["username"], password: entry["password"], from: file };
  }
  const helpers = isObject(config.credHelpers) ? config.credHelpers : {};
  const named = Object.hasOwn(helpers, host) ? helpers[host] : config.credsStore;
  const helper = typeof named === "string" && named !== "" ? JSON.stringify(named).slice(1, -1) : undefined;
  if (helper) throw new RegistryError(`${file}: credentials for ${host} are kept by the helper docker-credential-${helper}, which caisson does not run; set CAISSON_REGISTRY_USER and CAISSON_REGISTRY_PASSWORD`, "auth");
  return undefined;
}

/** docker's config.json, when it is a regular file (a FIFO there would block every release); undefined when there is none. */
function readConfig(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw new RegistryError(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); fix its permissions, or set DOCKER_CONFIG to another folder`, "auth");
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new RegistryError(`${file}: not a regular file; make it docker's config.json (as \`docker login\` writes it), or set DOCKER_CONFIG to another folder`, "auth");
    if (st.size > 4 << 20) throw new RegistryError(`${file}: ${st.size} bytes, more than a docker config.json holds (4 MiB at most); set DOCKER_CONFIG to another folder`, "auth");
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}
