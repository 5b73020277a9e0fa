// Registry credentials: CAISSON_REGISTRY_USER / CAISSON_REGISTRY_PASSWORD
// first (a CI secret), else docker's config.json ($DOCKER_CONFIG, or
// ~/.docker), as `docker login` writes it (`auths.<host>.auth`).
import { readFileSync } from "node:fs";
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
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }>; credsStore?: string; credHelpers?: Record<string, string> };
  try {
    config = JSON.parse(text) as typeof config;
  } catch (e) {
    throw new RegistryError(`${file}: not valid JSON (${(e as Error).message})`, "auth");
  }
  const entry = config.auths?.[host] ?? config.auths?.[`https://${host}`];
  if (entry?.auth) {
    const plain = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = plain.indexOf(":");
    if (colon <= 0) throw new RegistryError(`${file}: auths."${host}".auth is not base64 of user:password`, "auth");
    return { username: plain.slice(0, colon), password: plain.slice(colon + 1), from: file };
  }
  if (entry?.username && entry.password !== undefined) return { username: entry.username, password: entry.password, from: file };
  const helper = config.credHelpers?.[host] ?? config.credsStore;
  if (helper) throw new RegistryError(`${file}: credentials for ${host} are kept by the helper docker-credential-${helper}, which caisson does not run; set CAISSON_REGISTRY_USER and CAISSON_REGISTRY_PASSWORD`, "auth");
  return undefined;
}
