// docker's config.json as a hostile or broken file: every shape caisson
// cannot use is refused by name (a RegistryError, exit 2), never a crash,
// and a FIFO there is refused instead of blocking the release.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findCredentials, RegistryError } from "../../src/release/index.js";

const dir = mkdtempSync(join(tmpdir(), "caisson-creds-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const host = "127.0.0.1:5000";

function withConfig(text: string): () => unknown {
  writeFileSync(join(dir, "config.json"), text);
  return () => findCredentials(host, { DOCKER_CONFIG: dir });
}

describe("findCredentials with a malformed config.json", () => {
  it.each([
    ["null", /not a JSON object/],
    ["[]", /not a JSON object/],
    ['"x"', /not a JSON object/],
    ['{"auths": []}', /auths is not an object/],
    ['{"auths": {"127.0.0.1:5000": 1}}', /auths\."127\.0\.0\.1:5000" is not an object/],
    ['{"auths": {"127.0.0.1:5000": {"auth": 123}}}', /auth is not a string/],
    ['{"auths": {"127.0.0.1:5000": {"username": 5, "password": {}}}}', /not both strings/],
  ])("%s is refused by name", (text, message) => {
    const f = withConfig(text);
    expect(f).toThrow(RegistryError);
    expect(f).toThrow(message);
  });

  it("a host named like an Object property is not found on the prototype", () => {
    expect(withConfig('{"auths": {}}')).not.toThrow();
    expect(findCredentials("constructor", { DOCKER_CONFIG: dir })).toBeUndefined();
  });

  it("a helper name with control characters is shown escaped", () => {
    expect(withConfig(JSON.stringify({ credsStore: "x\u001b[31m" }))).toThrow(/docker-credential-x\\u001b\[31m,/);
  });

  it("a FIFO or a folder named config.json is refused, not read", () => {
    const fifoDir = join(dir, "fifo");
    mkdirSync(fifoDir);
    execFileSync("mkfifo", [join(fifoDir, "config.json")]);
    expect(() => findCredentials(host, { DOCKER_CONFIG: fifoDir })).toThrow(/config\.json: not a regular file/);
    const dirDir = join(dir, "dir");
    mkdirSync(join(dirDir, "config.json"), { recursive: true });
    expect(() => findCredentials(host, { DOCKER_CONFIG: dirDir })).toThrow(/not a regular file/);
    expect(findCredentials(host, { DOCKER_CONFIG: join(dir, "none") })).toBeUndefined();
  });
});
