import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { credentialsFor, dockerConfigPath } from "../../../src/client/session/auth.js";

const tmp = mkdtempSync(join(tmpdir(), "caisson-auth-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const saved = { DOCKER_CONFIG: process.env["DOCKER_CONFIG"], PATH: process.env["PATH"] };
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

let n = 0;
function config(cfg: unknown): string {
  const d = join(tmp, `c${n++}`);
  mkdirSync(d);
  writeFileSync(join(d, "config.json"), JSON.stringify(cfg));
  return d;
}
const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("registry credentials from docker's config.json", () => {
  it("reads auths by host, base64 user:password (the password may hold colons) or username and password", async () => {
    const d = config({ auths: { "reg.example:5000": { auth: b64("alice:pa:ss") }, "other.example": { username: "bob", password: "pw" } } });
    const file = join(d, "config.json");
    expect(await credentialsFor("reg.example:5000", file)).toEqual({ username: "alice", secret: "pa:ss" });
    expect(await credentialsFor("other.example", file)).toEqual({ username: "bob", secret: "pw" });
    expect(await credentialsFor("unknown.example", file)).toEqual({ username: "", secret: "" });
  });

  it("matches keys written as URLs, and Docker Hub's registry host to its index key", async () => {
    const file = join(config({ auths: { "https://reg.example/v1/": { auth: b64("u:p") }, "https://index.docker.io/v1/": { auth: b64("hub:tok") } } }), "config.json");
    expect(await credentialsFor("reg.example", file)).toEqual({ username: "u", secret: "p" });
    expect(await credentialsFor("registry-1.docker.io", file)).toEqual({ username: "hub", secret: "tok" });
  });

  it("sends an identity token as the secret with no user name", async () => {
    const file = join(config({ auths: { r: { auth: b64("u:p"), identitytoken: "idt" } } }), "config.json");
    expect(await credentialsFor("r", file)).toEqual({ username: "", secret: "idt" });
  });

  it("honours DOCKER_CONFIG, and a missing or broken file means no credentials", async () => {
    const d = config({ auths: { r: { auth: b64("env:x") } } });
    process.env["DOCKER_CONFIG"] = d;
    expect(dockerConfigPath()).toBe(join(d, "config.json"));
    expect(await credentialsFor("r")).toEqual({ username: "env", secret: "x" });
    process.env["DOCKER_CONFIG"] = join(tmp, "nowhere");
    expect(await credentialsFor("r")).toEqual({ username: "", secret: "" });
    const broken = join(tmp, "broken.json");
    writeFileSync(broken, "{not json");
    expect(await credentialsFor("r", broken)).toEqual({ username: "", secret: "" });
  });

  it("asks a credential helper (credHelpers before credsStore), as docker does", async () => {
    const bin = join(tmp, "bin");
    mkdirSync(bin);
    const helper = (name: string, body: string) => {
      writeFileSync(join(bin, `docker-credential-${name}`), `#!/bin/sh\n[ "$1" = get ] || exit 1\nread host\n${body}\n`);
      chmodSync(join(bin, `docker-credential-${name}`), 0o755);
    };
    helper("store", `printf '{"ServerURL":"%s","Username":"from-store","Secret":"s-%s"}' "$host" "$host"`);
    helper("special", `printf '{"Username":"<token>","Secret":"tok"}'`);
    helper("broken", "exit 1");
    process.env["PATH"] = `${bin}:${process.env["PATH"] ?? ""}`;
    const file = join(config({ credsStore: "store", credHelpers: { "special.example": "special", "bad.example": "broken" } }), "config.json");
    expect(await credentialsFor("reg.example", file)).toEqual({ username: "from-store", secret: "s-reg.example" });
    expect(await credentialsFor("registry-1.docker.io", file)).toEqual({ username: "from-store", secret: "s-https://index.docker.io/v1/" });
    expect(await credentialsFor("special.example", file)).toEqual({ username: "", secret: "tok" });
    expect(await credentialsFor("bad.example", file)).toEqual({ username: "", secret: "" });
  });
});
