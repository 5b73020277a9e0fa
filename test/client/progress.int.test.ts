// Progress of `caisson build` on the machine's engine: a terminal session
// recorded with script(1) shows the live view redrawn while a step runs; the
// json mode gives one status object per line.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { caisson, engineError, ensureDist, IN_CI, ROOT } from "../e2e/helpers.js";

const def = (nonce: string) => `name: progress
platforms: [linux/amd64]
stages:
  slow:
    from: caisson/debian:bookworm@sha256:d757fb0e12b1304ed12095dfc93b37afc7f33623a62f45707945b94262f96032
    run: ['for i in 1 2 3 4 5 6; do echo "tick $i ${nonce}"; sleep 0.5; done; mkdir -p /out && echo done > /out/x']
image:
  from: scratch
  copy: [{ from: slow, src: /out/x, dest: /x }]
  entrypoint: [/x]
`;

describe.skipIf(engineError !== undefined && !IN_CI)("build progress", () => {
  let dir: string;
  beforeAll(() => {
    if (engineError) throw new Error(`the Docker engine is required: ${engineError}`);
    ensureDist();
    dir = mkdtempSync(join(tmpdir(), "caisson-progress-"));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("on a terminal (recorded with script(1)): the view is redrawn in place while the step runs, with its log lines and times", () => {
    const nonce = `${process.pid}-${Date.now()}`;
    writeFileSync(join(dir, "image.yaml"), def(nonce));
    const typescript = join(dir, "typescript");
    const cmd = `${process.execPath} ${join(ROOT, "bin/caisson.js")} build ${join(dir, "image.yaml")} --context ${dir} -o local=${join(dir, "out")} --no-check`;
    const r = spawnSync("script", ["-qfec", cmd, typescript], { encoding: "utf8", env: { ...process.env, COLUMNS: "120", LINES: "40" }, timeout: 300_000 });
    expect(r.status, r.stdout.slice(-3000)).toBe(0);
    const rec = readFileSync(typescript, "utf8");
    const frames = rec.split(/\[\+\] Building /).slice(1);
    // Many frames, each redrawn over the last (cursor up), the elapsed time growing.
    expect(frames.length).toBeGreaterThan(5);
    expect(rec).toMatch(/\x1b\[\d+A/);
    const times = frames.map((f) => Number(/^(\d+\.\d)s/.exec(f)?.[1] ?? NaN));
    expect(times[times.length - 1]).toBeGreaterThan(times[0] as number);
    // While the step runs: its line with a running time, and its latest output under it.
    const running = frames.filter((f) => /=> slow 1\/1: .* +\d+\.\ds/.test(f) && new RegExp(`=> => # tick \\d ${nonce}`).test(f));
    expect(running.length).toBeGreaterThan(1);
    expect(frames[frames.length - 1]).toMatch(/FINISHED/);
  }, 300_000);

  it("Ctrl-C while a step runs cancels the build: named, the previous output intact, no temporary sibling left", async () => {
    const nonce = `${process.pid}-${Date.now()}-int`;
    writeFileSync(join(dir, "image.yaml"), def(nonce));
    const out = mkdtempSync(join(dir, "int-"));
    const dest = join(out, "image.oci.tar");
    writeFileSync(dest, "the previous archive\n");
    const child = spawn(process.execPath, [join(ROOT, "bin/caisson.js"), "build", join(dir, "image.yaml"), "--context", dir, "-o", `oci=${dest}`, "--progress", "plain", "--no-check"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
      if (stderr.includes(`tick 2 ${nonce}`) && !child.killed) child.kill("SIGINT");
    });
    const code = await new Promise<number | null>((r) => child.on("close", r));
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/failed \(exit 130\): interrupted: the build was cancelled; nothing was written/);
    expect(stderr).not.toContain(`tick 6 ${nonce}`);
    expect(readFileSync(dest, "utf8")).toBe("the previous archive\n");
    expect(readdirSync(out)).toEqual(["image.oci.tar"]);
  }, 300_000);

  it("--progress json: every line is one JSON object (status, and caisson's own messages)", async () => {
    const nonce = `${process.pid}-${Date.now()}-json`;
    writeFileSync(join(dir, "image.yaml"), def(nonce));
    const r = await caisson(["build", join(dir, "image.yaml"), "--context", dir, "-o", `local=${join(dir, "out-json")}`, "--no-check", "--progress", "json"]);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const lines = r.stderr.split("\n").filter((l) => l !== "");
    const all = lines.map((l) => JSON.parse(l) as { type: string; message?: string; vertexes?: { name?: string }[]; logs?: { msg: string }[] });
    expect(new Set(all.map((o) => o.type))).toEqual(new Set(["status", "log"]));
    expect(all.find((o) => o.type === "log")?.message).toMatch(/^building .*image\.yaml for linux\/amd64 into .*out-json \(local\)$/);
    expect(all[all.length - 1]).toMatchObject({ type: "log", message: expect.stringMatching(/^built in \d+\.\ds on /) });
    const objs = all.filter((o) => o.type === "status");
    expect(objs.length).toBeGreaterThan(3);
    expect(objs.some((o) => o.vertexes?.some((v) => v.name?.startsWith("slow 1/1")))).toBe(true);
    const logs = objs.flatMap((o) => o.logs ?? []).map((l) => Buffer.from(l.msg, "base64").toString("utf8")).join("");
    expect(logs).toContain(`tick 6 ${nonce}`);
  }, 300_000);
});
