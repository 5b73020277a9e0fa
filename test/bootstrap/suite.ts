// The real-mmdebstrap checks of the base-image bootstrap, for any source of
// pinned .debs (see debs.ts): two bootstraps from two work directories give
// the same rootfs tarball, which holds nothing of the build machine, and the
// OCI archive made of it loads into the engine under the digest it
// announces and runs with exactly the input packages installed.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapRootfs, buildBaseImage, listTar, readDeb, SOURCES_LIST_NOTE, type BaseImageResult, type DebianArch } from "../../src/bootstrap/index.js";
import { checkEngine, dockerBinary } from "../../src/engine/index.js";
import type { DebSource } from "./debs.js";
import { IN_CI } from "../support/ci.js";


const DOCKER = dockerBinary();
const EPOCH = 1735689600;

function docker(args: readonly string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(DOCKER, args, { encoding: "utf8", maxBuffer: 64 << 20 });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** Preconditions that are not about packages: root, mmdebstrap, the engine. */
async function missingTools(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "mmdebstrap --mode=root needs root";
  if (spawnSync("mmdebstrap", ["--version"]).status !== 0) return "mmdebstrap is not installed (hack/engine.sh)";
  return checkEngine(DOCKER).then(
    () => undefined,
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  );
}

export function bootstrapSuite(source: DebSource, arch: DebianArch): void {
  describe(`bootstrap ${arch} from pinned .debs (real mmdebstrap)`, () => {
    const tmp = mkdtempSync(join(tmpdir(), "caisson-bootstrap-int-"));
    const ref = `docker.io/caisson-test/debian:bootstrap-${arch}-${process.pid}`;
    let debs: readonly string[] | undefined;
    let skip: string | undefined;
    let first = "";
    let second = "";
    let image: BaseImageResult | undefined;
    const baseOpts = (d: readonly string[]) => ({
      arches: [arch],
      debs: async () => d,
      suite: "bookworm" as const,
      variant: "minbase" as const,
      sourceDateEpoch: EPOCH,
      workDir: join(tmp, "one"),
      ref,
      out: join(tmp, "image.oci.tar"),
      reuse: true,
    });

    beforeAll(async () => {
      const tools = await missingTools();
      if (tools) {
        if (IN_CI) throw new Error(`the bootstrap test needs ${tools}`);
        skip = tools;
        return;
      }
      debs = await source(arch);
      if (!debs) throw new Error(`no pinned .debs for ${arch}`);
      const built = await buildBaseImage(baseOpts(debs));
      first = built.rootfs[0]!.tar;
      image = built;
      second = await bootstrapRootfs({
        debs: [...debs].reverse(),
        arch,
        suite: "bookworm",
        variant: "minbase",
        sourceDateEpoch: EPOCH,
        workDir: join(tmp, "a-second", "work dir"),
      });
    });
    afterAll(() => {
      docker(["image", "rm", ref]);
      rmSync(tmp, { recursive: true, force: true });
    });

    it("gives the same rootfs tarball from two work directories", (ctx) => {
      if (skip) return ctx.skip(skip);
      expect(readFileSync(second).equals(readFileSync(first))).toBe(true);
    });

    it("keeps nothing of the build machine in /etc and /var", async (ctx) => {
      if (skip) return ctx.skip(skip);
      const members = await listTar(first);
      const paths = new Set(members.map((m) => m.path));
      for (const p of ["./etc/hostname", "./etc/resolv.conf", "./var/log/dpkg.log", "./var/log/apt/history.log", "./var/cache/apt/pkgcache.bin"]) {
        expect(paths.has(p), p).toBe(false);
      }
      expect([...paths].filter((p) => p.startsWith("./dev/") && p !== "./dev/")).toEqual([]);
      expect([...paths].filter((p) => p.startsWith("./etc/apt/sources.list.d/") && p !== "./etc/apt/sources.list.d/")).toEqual([]);
      const sources = members.find((m) => m.path === "./etc/apt/sources.list")!;
      expect(readFileSync(first).subarray(sources.offset, sources.offset + sources.size).toString("utf8")).toBe(SOURCES_LIST_NOTE);
    });

    it("loads into the engine as the digest it announces, with exactly the input packages", async (ctx) => {
      if (skip) return ctx.skip(skip);
      if (!image) throw new Error("no image");
      const load = docker(["load", "-i", image.archive]);
      expect(load.code, load.stderr).toBe(0);
      expect(docker(["image", "inspect", "--format", "{{.Id}}", ref]).stdout.trim()).toBe(image.digest);
      const run = docker(["run", "--rm", "--network", "none", "--platform", `linux/${arch}`, ref, "dpkg-query", "-W", "-f", "${Package} ${Version} ${Architecture}\\n"]);
      expect(run.code, run.stderr).toBe(0);
      const want = (await Promise.all(debs!.map(readDeb))).map((d) => `${d.name} ${d.version} ${d.arch}`).sort();
      expect(run.stdout.trim().split("\n").sort()).toEqual(want);
    });

    it("reuses the rootfs when the inputs are unchanged, for the same digest", async (ctx) => {
      if (skip) return ctx.skip(skip);
      const t0 = Date.now();
      const again = await buildBaseImage(baseOpts(debs!));
      expect(Date.now() - t0).toBeLessThan(60_000);
      expect(again.digest).toBe(image!.digest);
    });
  });
}
