// The parts of the base-image bootstrap that need no packages: the OCI
// archive builder (deterministic, loadable layout, gzip without name or time),
// the dpkg-status verification, the flat repository index and the
// machine-specific-content check on rootfs tarballs.

import { createHash } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { readOciArchive } from "../../src/check/oci.js";
import {
  gzipLayer,
  listTar,
  machineSpecificProblems,
  ociArchive,
  packagesIndex,
  parseDeb822,
  rfc3339,
  StatusMismatchError,
  tagOf,
  verifyDpkgStatus,
  writeFlatRepo,
  type DebFile,
  type TarMember,
} from "../../src/bootstrap/index.js";
import { writeTar, type TarSource } from "../../src/bootstrap/tar.js";

const tmp = mkdtempSync(join(tmpdir(), "caisson-bootstrap-unit-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const d = join(tmp, String(n++));
  mkdirSync(d, { recursive: true });
  return d;
};

const EPOCH = 1735689600;
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

async function makeTar(path: string, entries: readonly TarSource[]): Promise<string> {
  const ws = createWriteStream(path);
  const done = new Promise<void>((res, rej) => ws.on("finish", res).on("error", rej));
  await writeTar(ws, entries, EPOCH);
  ws.end();
  await done;
  return path;
}

/** A small root file system tarball whose bytes depend on `arch`. */
function rootfsEntries(arch: string): TarSource[] {
  const filler = Buffer.alloc(300_000);
  for (let i = 0; i < filler.length; i++) filler[i] = (i * 7 + (i >> 9)) % 251;
  return [
    { type: "dir", path: "./" },
    { type: "dir", path: "./etc/" },
    { type: "file", path: "./etc/os-release", data: Buffer.from(`PRETTY_NAME="test ${arch}"\n`) },
    { type: "dir", path: "./usr/" },
    { type: "file", path: "./usr/filler", data: filler },
  ];
}

describe("ociArchive", () => {
  async function build(dir: string) {
    const amd64 = await makeTar(join(dir, "rootfs-amd64.tar"), rootfsEntries("amd64"));
    const arm64 = await makeTar(join(dir, "rootfs-arm64.tar"), rootfsEntries("arm64"));
    return ociArchive({
      rootfs: [
        { arch: "amd64", tar: amd64 },
        { arch: "arm64", tar: arm64 },
      ],
      ref: "docker.io/caisson-test/debian:bookworm",
      sourceDateEpoch: EPOCH,
      history: "test bootstrap",
      out: join(dir, "out", "image.oci.tar"),
    });
  }

  it("gives the same bytes and digest from two work directories", async () => {
    const a = fresh();
    const b = fresh();
    mkdirSync(join(a, "out"));
    mkdirSync(join(b, "out"));
    const ra = await build(a);
    const rb = await build(b);
    expect(ra.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(rb.digest).toBe(ra.digest);
    expect(sha(readFileSync(rb.archive))).toBe(sha(readFileSync(ra.archive)));
    expect(ra.archive).toBe(join(a, "out", "image.oci.tar"));
  });

  it("writes an OCI layout docker load accepts: named index, blobs by digest, one manifest per arch", async () => {
    const dir = fresh();
    mkdirSync(join(dir, "out"));
    const r = await build(dir);
    const members = await listTar(r.archive);
    expect(members.map((m) => m.path).slice(0, 4)).toEqual(["oci-layout", "index.json", "blobs/", "blobs/sha256/"]);
    const bytes = readFileSync(r.archive);
    const read = (m: TarMember): Buffer => bytes.subarray(m.offset, m.offset + m.size);
    const byPath = new Map(members.map((m) => [m.path, m]));
    const json = (p: string): any => JSON.parse(read(byPath.get(p)!).toString("utf8"));
    const blob = (digest: string): Buffer => read(byPath.get(`blobs/sha256/${digest.slice(7)}`)!);

    expect(json("oci-layout")).toEqual({ imageLayoutVersion: "1.0.0" });
    for (const m of members.filter((m) => m.path.startsWith("blobs/sha256/") && m.type === "0")) {
      expect(`blobs/sha256/${sha(read(m))}`).toBe(m.path);
    }
    const top = json("index.json");
    expect(top.manifests).toHaveLength(1);
    expect(top.manifests[0]).toMatchObject({
      mediaType: "application/vnd.oci.image.index.v1+json",
      digest: r.digest,
      annotations: { "io.containerd.image.name": "docker.io/caisson-test/debian:bookworm", "org.opencontainers.image.ref.name": "bookworm" },
    });
    const index = JSON.parse(blob(r.digest).toString("utf8"));
    expect(top.manifests[0].size).toBe(blob(r.digest).length);
    expect(index.manifests.map((m: any) => m.platform)).toEqual([
      { architecture: "amd64", os: "linux" },
      { architecture: "arm64", os: "linux" },
    ]);
    for (const [i, desc] of index.manifests.entries()) {
      const arch = desc.platform.architecture as string;
      expect(blob(desc.digest).length).toBe(desc.size);
      const manifest = JSON.parse(blob(desc.digest).toString("utf8"));
      expect(manifest.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
      const config = JSON.parse(blob(manifest.config.digest).toString("utf8"));
      expect(config).toMatchObject({
        architecture: arch,
        os: "linux",
        created: "2025-01-01T00:00:00Z",
        config: { Cmd: ["bash"] },
        history: [{ created: "2025-01-01T00:00:00Z", created_by: "test bootstrap" }],
      });
      const layer = blob(manifest.layers[0].digest);
      expect(manifest.layers[0]).toMatchObject({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", size: layer.length });
      // gzip header: no FNAME, mtime 0
      expect([...layer.subarray(0, 8)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
      const rootfs = readFileSync(join(dir, `rootfs-${arch}.tar`));
      expect(gunzipSync(layer).equals(rootfs)).toBe(true);
      expect(config.rootfs).toEqual({ type: "layers", diff_ids: [`sha256:${sha(rootfs)}`] });
      expect(r.manifests[i]).toMatchObject({ arch, digest: desc.digest, diffId: `sha256:${sha(rootfs)}` });
    }
    // every member at the epoch, owned by root
    const hdr = bytes.subarray(0, 512);
    expect(parseInt(hdr.toString("ascii", 136, 147), 8)).toBe(EPOCH);

    // caisson check's own OCI reader sees both platforms
    const img = await readOciArchive(r.archive);
    expect(img.images.map((i) => i.platform.architecture).sort()).toEqual(["amd64", "arm64"]);
  });

  it("refuses a reference without a tag and an architecture given twice", async () => {
    const dir = fresh();
    const t = await makeTar(join(dir, "r.tar"), rootfsEntries("amd64"));
    const base = { sourceDateEpoch: EPOCH, history: "h", out: join(dir, "o.tar") };
    await expect(ociArchive({ ...base, rootfs: [{ arch: "amd64", tar: t }], ref: "docker.io/caisson-test/debian" })).rejects.toThrow(/no tag/);
    await expect(
      ociArchive({ ...base, rootfs: [{ arch: "amd64", tar: t }, { arch: "amd64", tar: t }], ref: "docker.io/x/y:z" }),
    ).rejects.toThrow(/twice/);
  });

  it("names and dates like the shell version did", () => {
    expect(rfc3339(EPOCH)).toBe("2025-01-01T00:00:00Z");
    expect(tagOf("docker.io/caisson/debian:bookworm")).toBe("bookworm");
    expect(tagOf("localhost:5000/caisson/debian")).toBeUndefined();
    expect(tagOf("localhost:5000/caisson/debian:t@sha256:00")).toBe("t");
  });
});

describe("layer gzip", () => {
  // The layer digests of the base image depend on these bytes. If this fails
  // after a Node upgrade, Node's bundled zlib compresses differently: the
  // base image's layer and manifest digests will change too (its diff_ids
  // will not), so re-pin the image digest along with this vector.
  it("is the same for streamed and one-shot compression, with a pinned vector", async () => {
    const dir = fresh();
    const input = Buffer.alloc(2_000_000);
    let x = 12345;
    for (let i = 0; i < input.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      input[i] = i % 3 === 0 ? 0x41 + ((x >>> 16) % 26) : (i >> 8) & 0xff;
    }
    writeFileSync(join(dir, "in"), input);
    const r = await gzipLayer(join(dir, "in"), join(dir, "in.gz"));
    const streamed = readFileSync(join(dir, "in.gz"));
    expect(streamed.equals(gzipSync(input, { level: 6 }))).toBe(true);
    expect(r.diffId).toBe(`sha256:${sha(input)}`);
    expect(r.digest).toBe(`sha256:${sha(streamed)}`);
    expect({ zlib: process.versions.zlib, digest: r.digest }).toEqual({ zlib: process.versions.zlib, digest: GZIP_VECTOR });
  });
});
const GZIP_VECTOR = "sha256:e35754041b070c4a5e7ae6924a37086247598770ea0a1cf7ac18cd60c9010348"; // zlib 1.3.1-e00f703 (Node 20.20)

describe("verifyDpkgStatus", () => {
  const status = (pkgs: ReadonlyArray<[string, string, string, string?]>): string =>
    pkgs
      .map(
        ([name, version, arch, st]) =>
          `Package: ${name}\nStatus: ${st ?? "install ok installed"}\nPriority: required\nArchitecture: ${arch}\nVersion: ${version}\nDescription: x\n more\n`,
      )
      .join("\n");
  const input = [
    { name: "base-files", version: "12.4+deb12u15", arch: "amd64" },
    { name: "bash", version: "5.2.15-2+b7", arch: "amd64" },
    { name: "adduser", version: "3.134", arch: "all" },
  ];

  it("accepts exactly the input set", () => {
    expect(() =>
      verifyDpkgStatus(
        status([
          ["adduser", "3.134", "all"],
          ["bash", "5.2.15-2+b7", "amd64"],
          ["base-files", "12.4+deb12u15", "amd64"],
        ]),
        input,
      ),
    ).not.toThrow();
  });

  it("names every difference", () => {
    let err: unknown;
    try {
      verifyDpkgStatus(
        status([
          ["bash", "5.2.15-2+b8", "amd64"],
          ["adduser", "3.134", "all", "install ok half-configured"],
          ["usrmerge", "37~deb12u1", "all"],
        ]),
        input,
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StatusMismatchError);
    const e = err as StatusMismatchError;
    expect(e.missing).toEqual([{ name: "base-files", version: "12.4+deb12u15", arch: "amd64" }]);
    expect(e.unexpected.map((p) => p.name)).toEqual(["usrmerge"]);
    expect(e.changed).toEqual([
      { expected: input[1], installed: { name: "bash", version: "5.2.15-2+b8", arch: "amd64", status: "install ok installed" } },
    ]);
    expect(e.notInstalled.map((p) => p.name)).toEqual(["adduser"]);
    expect(e.message).toContain("missing:       base-files 12.4+deb12u15 amd64");
    expect(e.message).toContain("not in input:  usrmerge 37~deb12u1 all");
    expect(e.message).toContain("differs:       bash 5.2.15-2+b7 amd64 in input, bash 5.2.15-2+b8 amd64 installed");
    expect(e.message).toContain("not installed: adduser 3.134 all (Status: install ok half-configured)");
  });

  it("rejects an architecture mismatch", () => {
    expect(() => verifyDpkgStatus(status([["bash", "5.2.15-2+b7", "arm64"]]), [input[1]!])).toThrow(
      /bash 5.2.15-2\+b7 amd64 in input, bash 5.2.15-2\+b7 arm64 installed/,
    );
  });
});

describe("flat repository", () => {
  const deb = (name: string, version: string, arch: string, extra: ReadonlyArray<[string, string]> = []): DebFile => {
    const path = `/store/${name}_${version}_${arch}.deb`;
    return {
      path,
      name,
      version,
      arch,
      sha256: sha(Buffer.from(path)),
      size: path.length * 10,
      control: [["Package", name], ["Version", version], ["Architecture", arch], ...extra, ["Description", "one\n two\n ."]],
    };
  };

  it("indexes packages sorted by name, file fields from the files, control verbatim", () => {
    const text = packagesIndex([deb("zlib1g", "1:1.2.13.dfsg-1", "amd64"), deb("bash", "5.2.15-2+b7", "amd64", [["Essential", "yes"]])]);
    const paras = parseDeb822(text);
    expect(paras.map((p) => p[0])).toEqual([
      ["Package", "bash"],
      ["Package", "zlib1g"],
    ]);
    expect(paras[0]).toContainEqual(["Essential", "yes"]);
    expect(paras[0]).toContainEqual(["Description", "one\n two\n ."]);
    expect(paras[1]).toContainEqual(["Filename", `pool/${sha(Buffer.from("/store/zlib1g_1:1.2.13.dfsg-1_amd64.deb"))}/zlib1g_1:1.2.13.dfsg-1_amd64.deb`]);
    expect(text).not.toContain("/store/");
  });

  it("refuses two versions of a package and a foreign architecture", async () => {
    const dir = fresh();
    const opts = { arch: "amd64", suite: "bookworm", sourceDateEpoch: EPOCH };
    await expect(writeFlatRepo(dir, [deb("bash", "1", "amd64"), deb("bash", "2", "amd64")], opts)).rejects.toThrow(/two files for package bash/);
    await expect(writeFlatRepo(dir, [deb("bash", "1", "arm64")], opts)).rejects.toThrow(/not for amd64/);
  });
});

describe("machineSpecificProblems", () => {
  it("finds the build machine's files, apt state, logs and work paths in a rootfs tarball", async () => {
    const dir = fresh();
    const work = join(dir, "work-xyz");
    const bad = await makeTar(join(dir, "bad.tar"), [
      { type: "dir", path: "./" },
      { type: "file", path: "./etc/hostname", data: Buffer.from("vm\n") },
      { type: "file", path: "./etc/resolv.conf", data: Buffer.from("nameserver 10.0.0.1\n") },
      { type: "file", path: "./etc/machine-id", data: Buffer.from("0123456789abcdef0123456789abcdef\n") },
      { type: "file", path: "./etc/apt/sources.list", data: Buffer.from(`deb [trusted=yes] copy://${work}/repo ./\n`) },
      { type: "file", path: "./etc/apt/sources.list.d/debian.sources", data: Buffer.from("Types: deb\n") },
      { type: "file", path: "./var/lib/apt/lists/_repo_Packages", data: Buffer.from("Package: x\n") },
      { type: "file", path: "./var/cache/apt/pkgcache.bin", data: Buffer.from("x") },
      { type: "file", path: "./var/log/dpkg.log", data: Buffer.from("2026-12-02 02:00:00 startup\n") },
      { type: "file", path: "./tmp/leftover", data: Buffer.from("x") },
    ]);
    const problems = await machineSpecificProblems(bad, await listTar(bad), [work]);
    expect(problems).toEqual([
      "etc/hostname (from the build machine)",
      "etc/resolv.conf (from the build machine)",
      "etc/machine-id is not empty",
      "etc/apt/sources.list.d/debian.sources: an apt source",
      "var/lib/apt/lists/_repo_Packages: apt lists",
      "var/cache/apt/pkgcache.bin: apt cache",
      "var/log/dpkg.log: a log",
      "tmp/leftover: temporary file",
      "etc/apt/sources.list names an apt source",
      `the work path ${work} occurs in the tarball`,
    ]);
    const good = await makeTar(join(dir, "good.tar"), [
      { type: "dir", path: "./" },
      { type: "file", path: "./etc/apt/sources.list", data: Buffer.from("# pinned packages only\n") },
      { type: "file", path: "./etc/machine-id", data: Buffer.alloc(0) },
      { type: "dir", path: "./var/lib/apt/lists/partial/" },
      { type: "file", path: "./var/lib/apt/lists/lock", data: Buffer.alloc(0) },
      { type: "file", path: "./var/log/wtmp", data: Buffer.alloc(0) },
      { type: "dir", path: "./run/lock/" },
    ]);
    expect(await machineSpecificProblems(good, await listTar(good), [work])).toEqual([]);
  });
});
