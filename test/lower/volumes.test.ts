// The runtime filesystem's volumes: each owned by the image's user, every
// directory above one owned by root (caisson check's fs.user-owned rule).
import { describe, expect, it } from "vitest";
import { compileDefinition } from "../../src/compile/index.js";
import { definitionBytes, dumpDefinition } from "../../src/llb/index.js";

const definition = (volumes: string[]) => `
name: vols
platforms: [linux/amd64]
image:
  from: scratch
  volumes: [${volumes.join(", ")}]
`;

/** The mkdir actions of the compiled definition, in order: "path uid". */
async function mkdirs(volumes: string[]): Promise<string[]> {
  const { results, diagnostics } = await compileDefinition("vols/image.yaml", definition(volumes), {
    buildPlatform: { os: "linux", architecture: "amd64" },
    platforms: [{ os: "linux", architecture: "amd64" }],
    sourceMirror: "http://127.0.0.1:8080",
    readContext: async () => "",
    loadLock: async () => undefined,
  });
  if (!results) throw new Error(JSON.stringify(diagnostics));
  const out: string[] = [];
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) for (const y of x) walk(y);
    else if (x && typeof x === "object") {
      const o = x as { mkdir?: { path: string; owner?: { user?: { byID?: number } } } };
      if (o.mkdir) out.push(`${o.mkdir.path} ${o.mkdir.owner?.user?.byID ?? 0}`);
      for (const y of Object.values(x)) walk(y);
    }
  };
  walk(dumpDefinition(results[0]!.definition));
  expect(out.shift()).toBe("/etc 0"); // passwd and group
  expect(definitionBytes(results[0]!.definition).length).toBeGreaterThan(0);
  return out;
}

describe("volumes in the runtime filesystem", () => {
  it("gives a top-level volume to the user, as before", async () => {
    expect(await mkdirs(["/data"])).toEqual(["/data 65532"]);
  });

  it("gives the directories above a nested volume to root, created first", async () => {
    expect(await mkdirs(["/run/haproxy", "/var/cache/nginx"])).toEqual(["/run 0", "/run/haproxy 65532", "/var/cache 0", "/var/cache/nginx 65532"]);
  });

  it("creates outer volumes before inner ones, and leaves a volume inside another to the user", async () => {
    expect(await mkdirs(["/srv/app/tmp", "/srv/app"])).toEqual(["/srv 0", "/srv/app 65532", "/srv/app/tmp 65532"]);
  });
});
