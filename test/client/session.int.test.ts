// The client session on the real engine: local sources sent with filters,
// exports received into a directory and as a tar, a secret mount, two builds
// at once, over Docker's /session upgrade and the Control.Session tunnel.
// Needs the engine (hack/engine.sh) and the base image (hack/base-image.sh);
// under CI=true a missing engine fails the tests.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createServer } from "node:net";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connectBuilder, type Builder } from "../../src/client/connect.js";
import { createSession, newSessionId, type SessionOptions } from "../../src/client/session/index.js";
import { Control } from "../../src/gen/buildkit/control/control_pb.js";
import { definitionBytes, imageSource, localSource, marshal, State, type LocalOptions } from "../../src/llb/index.js";
import { IN_CI } from "../support/ci.js";

const engineError = await connectBuilder().then(
  async (b) => {
    await b.close();
    return undefined;
  },
  (e: unknown) => (e instanceof Error ? e.message : String(e)),
);

const tmp = mkdtempSync(join(tmpdir(), "caisson-session-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function dir(name: string, files: Record<string, string> = {}): string {
  const d = join(tmp, `${name}-${n++}`);
  mkdirSync(d, { recursive: true });
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(d, p, ".."), { recursive: true });
    writeFileSync(join(d, p), text);
  }
  return d;
}

/** Every path under `d`, `/`-separated, sorted. */
function tree(d: string): string[] {
  return (readdirSync(d, { recursive: true }) as string[]).map((p) => p.split("\\").join("/")).sort();
}

/** The local source `context`, copied alone into an empty filesystem. */
function contextOnly(sessionId: string, opts: LocalOptions = {}): State {
  const src = State.of(localSource("context", { sessionId, sharedKeyHint: "context", ...opts }));
  return State.scratch().file([{ kind: "copy", source: src.output, src: "/", dest: "/", dirCopyContents: true, createDestPath: true, allowWildcard: true }]);
}

/** What to solve: the graph made for the session's id, or a frontend of the engine's. */
type Job = ((sessionId: string) => State) | { frontend: string };

/** Solves `job` with one exporter, the session attached the way `how` says; gives the LLB it sent. */
async function solve(job: Job, session: SessionOptions, exporter: { type: string; attrs?: Record<string, string> }, how: "auto" | "tunnel" = "auto") {
  const s = createSession(session);
  const builder: Builder = await connectBuilder();
  try {
    await builder.attach(s, how);
    const def = typeof job === "function" ? marshal(job(s.id)) : undefined;
    const solved = builder.control.call(Control.method.solve, {
      Ref: `session-test-${s.id}`,
      ...(def ? { Definition: def } : { Frontend: (job as { frontend: string }).frontend }),
      Session: s.id,
      Exporters: [{ Type: exporter.type, Attrs: exporter.attrs ?? {} }],
    });
    await Promise.race([solved, s.errors]);
    return { llb: def ? definitionBytes(def) : new Uint8Array() };
  } finally {
    await s.close();
    await builder.close();
  }
}

describe.skipIf(engineError !== undefined && !IN_CI)("client session on the real engine", () => {
  it("is reachable", () => {
    expect(engineError).toBeUndefined();
  });

  it("sends a local source through the engine's exclude patterns and the client's own, and the local exporter writes exactly it", async () => {
    const ctx = dir("ctx", {
      "a.txt": "a",
      "notes.log": "log",
      "keep/b.txt": "b",
      "keep/deep/c.log": "c",
      "keep/deep/d.txt": "d",
      "node_modules/x/index.js": "x",
      "secret.key": "k",
    });
    symlinkSync("../../etc/passwd", join(ctx, "escape"));
    const out = dir("out");
    await solve(
      (id) => contextOnly(id, { excludePatterns: ["**/*.log", "node_modules", "!keep/deep/c.log"] }),
      { locals: { context: { dir: ctx, excludes: ["secret.key"] } }, export: { type: "dir", dir: out } },
      { type: "local" },
    );
    expect(tree(out)).toEqual(["a.txt", "escape", "keep", "keep/b.txt", "keep/deep", "keep/deep/c.log", "keep/deep/d.txt"]);
    expect(readFileSync(join(out, "keep/deep/d.txt"), "utf8")).toBe("d");
    expect(readdirSync(out, { withFileTypes: true }).find((e) => e.name === "escape")?.isSymbolicLink()).toBe(true);
  });

  it("sends only the included paths and the directories above them", async () => {
    const ctx = dir("inc", { "src/main.c": "int main(){}", "src/util/u.c": "u", "docs/readme": "r", "top.txt": "t" });
    const out = dir("out");
    await solve((id) => contextOnly(id, { includePatterns: ["src/util", "top.txt"] }), { locals: { context: { dir: ctx } }, export: { type: "dir", dir: out } }, { type: "local" });
    expect(tree(out)).toEqual(["src", "src/util", "src/util/u.c", "top.txt"]);
  });

  it("rebuilds the same directory with what changed: an edited file, a new one, a removed one", async () => {
    const ctx = dir("warm", { "same.txt": "same", "edit.txt": "v1", "gone.txt": "bye", "sub/deep.txt": "deep" });
    const build = async () => {
      const out = dir("out");
      await solve((id) => contextOnly(id), { locals: { context: { dir: ctx } }, export: { type: "dir", dir: out } }, { type: "local" });
      return out;
    };
    await build();
    expect(tree(await build()), "an unchanged rebuild").toEqual(["edit.txt", "gone.txt", "same.txt", "sub", "sub/deep.txt"]);
    writeFileSync(join(ctx, "edit.txt"), "v2 is longer");
    writeFileSync(join(ctx, "sub/new.txt"), "new");
    rmSync(join(ctx, "gone.txt"));
    const out = await build();
    expect(tree(out)).toEqual(["edit.txt", "same.txt", "sub", "sub/deep.txt", "sub/new.txt"]);
    expect(readFileSync(join(out, "edit.txt"), "utf8")).toBe("v2 is longer");
  });

  it("serves BuildKit's Dockerfile frontend: the Dockerfile through a symlink (follow paths), the context through .dockerignore", async () => {
    const ctx = dir("df", {
      "docker/Dockerfile.real": "FROM scratch\nCOPY . /\n",
      ".dockerignore": "*.log\n!keep.log\nbuild/\n**/*.tmp\n",
      "a.log": "",
      "keep.log": "",
      "build/out.o": "",
      "src/x.c": "",
      "src/y.tmp": "",
    });
    symlinkSync("docker/Dockerfile.real", join(ctx, "Dockerfile"));
    const out = dir("out");
    await solve({ frontend: "dockerfile.v0" }, { locals: { context: { dir: ctx }, dockerfile: { dir: ctx } }, export: { type: "dir", dir: out } }, { type: "local" });
    expect(tree(out)).toEqual([".dockerignore", "Dockerfile", "docker", "docker/Dockerfile.real", "keep.log", "src", "src/x.c"]);
  });

  it("works through the Control.Session tunnel as through /session", async () => {
    const ctx = dir("tun", { "f.txt": "tunnelled" });
    const out = dir("out");
    await solve((id) => contextOnly(id), { locals: { context: { dir: ctx } }, export: { type: "dir", dir: out } }, { type: "local" }, "tunnel");
    expect(readFileSync(join(out, "f.txt"), "utf8")).toBe("tunnelled");
  });

  it("keeps the files of two builds of different contexts apart when they run at once", async () => {
    const files = (tag: string) => Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`d${i % 4}/f${i}.txt`, `${tag}-${i}`]));
    const ctxA = dir("concA", { ...files("A"), "only-a": "a" });
    const ctxB = dir("concB", { ...files("B"), "only-b": "b" });
    const outA = dir("outA");
    const outB = dir("outB");
    await Promise.all([
      solve((id) => contextOnly(id), { locals: { context: { dir: ctxA } }, export: { type: "dir", dir: outA } }, { type: "local" }),
      solve((id) => contextOnly(id), { locals: { context: { dir: ctxB } }, export: { type: "dir", dir: outB } }, { type: "local" }),
    ]);
    expect(tree(outA)).toEqual(tree(ctxA));
    expect(tree(outB)).toEqual(tree(ctxB));
    expect(readFileSync(join(outA, "d1/f5.txt"), "utf8")).toBe("A-5");
    expect(readFileSync(join(outB, "d1/f5.txt"), "utf8")).toBe("B-5");
  });

  it("hands a secret to a secret mount without it reaching the LLB or the image", async () => {
    const value = `caisson-secret-${createHash("sha256").update(tmp).digest("hex").slice(0, 16)}`;
    const expected = createHash("sha256").update(value).digest("hex");
    const base = State.of(imageSource("docker.io/caisson/debian:bookworm", { resolveMode: "local" }));
    // The secret is no part of the cache key: a fresh command makes the step run again.
    const ran = base.withNetwork("none").run(["/bin/sh", "-c", `: ${newSessionId()}; mkdir -p /out && sha256sum /run/secrets/token | cut -d' ' -f1 > /out/digest`], {
      mounts: [{ type: "secret", dest: "/run/secrets/token", id: "token" }],
    });
    const image = State.scratch().file([{ kind: "copy", source: ran.output, src: "/out/digest", dest: "/digest" }]);
    const tarPath = join(tmp, "secret.tar");
    const { llb } = await solve(() => image, { secrets: { token: new TextEncoder().encode(value) }, export: { type: "tar", open: () => createWriteStream(tarPath) } }, { type: "tar" });
    const tar = readFileSync(tarPath);
    expect(tar.includes(expected), "the command read the secret").toBe(true);
    expect(tar.includes(value)).toBe(false);
    expect(Buffer.from(llb).includes(value)).toBe(false);
  });

  it("receives the oci exporter's archive as a tar stream", async () => {
    const tarPath = join(tmp, "image.oci.tar");
    const img = State.scratch().file([{ kind: "mkfile", path: "/f", mode: 0o644, data: "oci" }]);
    await solve(() => img, { export: { type: "tar", open: () => createWriteStream(tarPath) } }, { type: "oci" });
    const names = execFileSync("tar", ["-tf", tarPath], { encoding: "utf8" }).split("\n");
    expect(names).toContain("oci-layout");
    expect(names).toContain("index.json");
  });

  it("fails the build with the engine's NotFound when a secret is unknown", async () => {
    const base = State.of(imageSource("docker.io/caisson/debian:bookworm", { resolveMode: "local" }));
    const ran = base.withNetwork("none").run(["/bin/true"], { mounts: [{ type: "secret", dest: "/run/secrets/x", id: "missing" }] });
    await expect(solve(() => ran, { secrets: {} }, { type: "tar", attrs: {} })).rejects.toThrow(/secret missing|not found/i);
  });

  it("refuses a name that is not UTF-8 when it would be sent, naming it; sends the rest when it is excluded; leaves a socket out", async () => {
    const ctx = dir("bytes", { "a.txt": "a", "other/x": "x" });
    writeFileSync(Buffer.concat([Buffer.from(join(ctx, "other", "bad")), Buffer.from([0xff]), Buffer.from("name")]), "");
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(ctx, "s.sock"), resolve));
    try {
      await expect(
        solve((id) => contextOnly(id), { locals: { context: { dir: ctx } }, export: { type: "dir", dir: dir("out") } }, { type: "local" }),
      ).rejects.toThrow(/a file name that is not UTF-8: other\/bad\\xffname; rename it or exclude it/);
      const out = dir("out");
      await solve((id) => contextOnly(id, { excludePatterns: ["other/bad*"] }), { locals: { context: { dir: ctx } }, export: { type: "dir", dir: out } }, { type: "local" });
      expect(tree(out)).toEqual(["a.txt", "other", "other/x"]);
    } finally {
      server.close();
    }
  });

  it("reports an unwritable export directory through the session's errors", async () => {
    const ctx = dir("unw", { "f.txt": "x" });
    await expect(
      solve((id) => contextOnly(id), { locals: { context: { dir: ctx } }, export: { type: "dir", dir: join(tmp, "does-not-exist") } }, { type: "local" }),
    ).rejects.toThrow(/does-not-exist/);
  });

  describe("registry credentials", () => {
    let registry: ChildProcess | undefined;
    let host = "";
    const user = "caisson";
    const password = `pw-${newSessionId()}`;

    afterAll(() => {
      registry?.kill();
    });

    /** Debian's docker-registry on a loopback port, behind htpasswd basic auth. */
    async function startRegistry(): Promise<void> {
      const port = await new Promise<number>((resolve) => {
        const s = createServer().listen(0, "127.0.0.1", () => {
          const a = s.address();
          s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
        });
      });
      host = `127.0.0.1:${port}`;
      const d = dir("registry");
      writeFileSync(join(d, "htpasswd"), execFileSync("htpasswd", ["-Bbn", user, password], { encoding: "utf8" }));
      writeFileSync(
        join(d, "config.yml"),
        [
          "version: 0.1",
          "log: { level: error }",
          `storage: { filesystem: { rootdirectory: ${join(d, "data")} } }`,
          `http: { addr: "${host}" }`,
          `auth: { htpasswd: { realm: caisson-test, path: ${join(d, "htpasswd")} } }`,
          "",
        ].join("\n"),
      );
      registry = spawn("docker-registry", ["serve", join(d, "config.yml")], { stdio: "ignore" });
      for (let i = 0; i < 100; i++) {
        const up = await fetch(`http://${host}/v2/`).then(
          (r) => r.status,
          () => 0,
        );
        if (up === 401) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`docker-registry did not start on ${host}`);
    }

    const image = () => State.scratch().file([{ kind: "mkfile", path: "/hello", mode: 0o644, data: "pushed with the session's credentials" }]);
    const push = (ref: string) => ({ type: "image", attrs: { name: ref, push: "true", "registry.insecure": "true", store: "false" } });

    it("lets the engine push to a registry with basic auth, with the credentials of docker's config.json", async () => {
      await startRegistry();
      const cfg = join(dir("dockercfg"), "config.json");
      writeFileSync(cfg, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString("base64") } } }));
      await solve(image, { auth: { configFile: cfg } }, push(`${host}/caisson-session/push:1`));
      const tags = await fetch(`http://${host}/v2/caisson-session/push/tags/list`, {
        headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` },
      }).then((r) => r.json() as Promise<{ tags?: string[] }>);
      expect(tags.tags).toEqual(["1"]);
    });

    it("fails the push without credentials", async () => {
      expect(host, "the registry started").not.toBe("");
      await expect(solve(image, { auth: false }, push(`${host}/caisson-session/push:2`))).rejects.toThrow(/401|unauthorized|authoriz/i);
    });
  });
});
