// Auth.Credentials: registry credentials from docker's config.json, so the
// engine can pull from and push to registries that need a login. Only
// Credentials is served; the engine takes the Unimplemented answer to
// GetTokenAuthority as "fetch tokens yourself" with these credentials.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { Auth } from "../../gen/buildkit/auth/auth_pb.js";
import { unary, type Handler } from "./server.js";

export interface Credentials {
  username: string;
  secret: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** Docker Hub's registry host, which config.json keys by its old index URL. */
const HUB_HOST = "registry-1.docker.io";
const HUB_KEY = "https://index.docker.io/v1/";

/** config.json's path: the given file, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function dockerConfigPath(configFile?: string): string {
  return configFile ?? join(process.env["DOCKER_CONFIG"] || join(homedir(), ".docker"), "config.json");
}

/** A config key's host: `https://host/v1/` and `host` both name `host`. */
function keyHost(key: string): string {
  return key.replace(/^https?:\/\//, "").split("/")[0] as string;
}

function fromEntry(e: AuthEntry): Credentials {
  if (e.identitytoken) return { username: "", secret: e.identitytoken };
  if (e.auth) {
    const plain = Buffer.from(e.auth, "base64").toString();
    const colon = plain.indexOf(":");
    if (colon > 0) return { username: plain.slice(0, colon), secret: plain.slice(colon + 1) };
  }
  return { username: e.username ?? "", secret: e.password ?? "" };
}

/** `docker-credential-<helper> get`, as docker runs it; no answer means no credentials. */
function fromHelper(helper: string, host: string): Promise<Credentials> {
  return new Promise((resolve) => {
    const child = execFile(`docker-credential-${helper}`, ["get"], { timeout: 30_000 }, (err, stdout) => {
      if (err) return resolve({ username: "", secret: "" });
      try {
        const out = JSON.parse(stdout) as { Username?: string; Secret?: string };
        // A helper stores identity tokens under the user name "<token>".
        resolve(out.Username === "<token>" ? { username: "", secret: out.Secret ?? "" } : { username: out.Username ?? "", secret: out.Secret ?? "" });
      } catch {
        resolve({ username: "", secret: "" });
      }
    });
    child.stdin?.end(host);
  });
}

/** The credentials config.json holds for `host` (empty when none: the engine goes anonymous). */
export async function credentialsFor(host: string, configFile?: string): Promise<Credentials> {
  let cfg: DockerConfig;
  try {
    cfg = JSON.parse(await readFile(dockerConfigPath(configFile), "utf8")) as DockerConfig;
  } catch {
    return { username: "", secret: "" };
  }
  const key = host === HUB_HOST ? HUB_KEY : host;
  const helper = cfg.credHelpers?.[key] ?? cfg.credsStore;
  if (helper) return fromHelper(helper, key);
  const auths = cfg.auths ?? {};
  const entry = auths[key] ?? Object.entries(auths).find(([k]) => keyHost(k) === keyHost(key))?.[1];
  return entry ? fromEntry(entry) : { username: "", secret: "" };
}

export function authHandler(configFile: string | undefined): [string, Handler] {
  return unary(Auth.method.credentials, async (req) => {
    const c = await credentialsFor(req.Host, configFile);
    return { Username: c.username, Secret: c.secret };
  });
}
