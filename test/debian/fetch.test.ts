// fetchDebs and verifyStore against a signed loopback repository and a loopback snapshot mirror.
import { IN_CI } from "../support/ci.js";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  DebianFetchError,
  DebianStoreError,
  fetchDebs,
  openApt,
  poolUrl,
  readArchives,
  storeFile,
  verifyStore,
  type DebianArchive,
  type DebPin,
} from "../../src/debian/index.js";
import { serveFiles, type LoopbackServer } from "../support/loopback.js";
import { haveDebTools, makeDebRepo, type DebRepo } from "../support/debrepo.js";

const skip = !haveDebTools() && !IN_CI;

describe("store paths and URLs", () => {
  const pin: DebPin = { name: "libstdc++6", version: "1:2+b1", arch: "amd64", sha256: "a".repeat(64), size: 1, archive: "debian", path: "pool/main/g/gcc/libstdc++6_2+b1_amd64.deb" };
  it("stores by sha256 and file name", () => {
    expect(storeFile("/s", pin)).toBe(`/s/${"a".repeat(64)}/libstdc++6_2+b1_amd64.deb`);
    expect(() => storeFile("/s", { ...pin, sha256: "x" })).toThrow(/not a sha256/);
    expect(() => storeFile("/s", { ...pin, path: "pool/../.." })).toThrow(/does not name a .deb/);
  });
  it("percent-encodes pool paths as apt does", () => {
    expect(poolUrl("http://m/debian/", pin.path)).toBe("http://m/debian/pool/main/g/gcc/libstdc%2B%2B6_2%2Bb1_amd64.deb");
  });
});

describe.skipIf(skip)("fetchDebs", () => {
  let repo: DebRepo;
  let archives: DebianArchive[];
  let pins: DebPin[];
  let store: string;
  const servers: LoopbackServer[] = [];

  beforeAll(async () => {
    repo = await makeDebRepo({
      packages: [
        { name: "caisson-test-lib", version: "1.0-1", arch: "amd64" },
        { name: "caisson-test-hello", version: "1:1.0+x", arch: "amd64", depends: "caisson-test-lib" },
      ],
    });
    archives = await readArchives(repo.sourcesFile);
    const apt = await openApt({ archives, native: "amd64" });
    try {
      pins = await apt.resolve(["caisson-test-hello"]);
    } finally {
      await apt.close();
    }
  }, 120_000);
  afterAll(async () => {
    await repo?.close();
  });
  afterEach(async () => {
    rmSync(store, { recursive: true, force: true });
    for (const s of servers.splice(0)) await s.close();
  });
  const newStore = () => (store = mkdtempSync(join(tmpdir(), "caisson-debstore-")));

  it("downloads and verifies into <store>/<sha256>/<file>, then takes them from the store", async () => {
    newStore();
    const log: string[] = [];
    const got = await fetchDebs(pins, { store, archives, log: (m) => log.push(m) });
    expect(got.map((g) => g.from)).toEqual(["archive", "archive"]);
    for (const g of got) {
      expect(g.file).toBe(storeFile(store, g.pin));
      expect(createHash("sha256").update(readFileSync(g.file)).digest("hex")).toBe(g.pin.sha256);
      expect(readdirSync(join(store, g.pin.sha256))).toEqual([g.file.split("/").pop()]);
    }
    expect(log.some((l) => l.includes("caisson-test-hello 1:1.0+x amd64"))).toBe(true);
    const before = repo.requests.length;
    const again = await fetchDebs(pins, { store, archives });
    expect(again.map((g) => g.from)).toEqual(["store", "store"]);
    expect(repo.requests.length).toBe(before);
    expect((await verifyStore(pins, store)).length).toBe(2);
    // A file checked once is not hashed again while unchanged (a stamp per sha256); bytes changed in place (same size) are checked again.
    const hello = got.find((g) => g.pin.name === "caisson-test-hello")!;
    expect(readFileSync(join(store, ".checked", hello.pin.sha256), "utf8")).toContain(hello.pin.sha256);
    const bytes = readFileSync(hello.file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(hello.file, bytes);
    await expect(verifyStore(pins, store)).rejects.toThrow(/has sha256 [0-9a-f]{64}, not /);
  });

  it("refuses a store file with the wrong bytes, naming the package, the file and the hash found", async () => {
    newStore();
    const hello = pins.find((p) => p.name === "caisson-test-hello")!;
    const file = storeFile(store, hello);
    mkdirSync(join(store, hello.sha256));
    writeFileSync(file, "tampered");
    const found = createHash("sha256").update("tampered").digest("hex");
    const err = await fetchDebs(pins, { store, archives }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DebianStoreError);
    const msg = String((err as Error).message);
    for (const s of ["caisson-test-hello", "1:1.0+x", "amd64", file, found]) expect(msg).toContain(s);
    expect(readFileSync(file, "utf8")).toBe("tampered");
    await expect(verifyStore(pins, store)).rejects.toThrow(DebianStoreError);
  });

  it("refuses store entries that are not a directory holding one regular file: symlinks, FIFOs, directories, company", async () => {
    const hello = pins.find((p) => p.name === "caisson-test-hello")!;
    const cases: [string, () => void, RegExp][] = [
      ["a symlinked sha256 directory", () => symlinkSync(mkdtempSync(join(tmpdir(), "caisson-elsewhere-")), join(store, hello.sha256)), /is a symlink/],
      ["a FIFO", () => (mkdirSync(join(store, hello.sha256)), execFileSync("mkfifo", [storeFile(store, hello)])), /is not a regular file/],
      ["a directory in the file's place", () => mkdirSync(storeFile(store, hello), { recursive: true }), /is a directory/],
      ["a second file", () => (mkdirSync(join(store, hello.sha256)), writeFileSync(join(store, hello.sha256, "other.deb"), "x"), writeFileSync(storeFile(store, hello), "x")), /holds other files too/],
      ["a file for the directory", () => writeFileSync(join(store, hello.sha256), "x"), /not a directory/],
    ];
    for (const [what, make, message] of cases) {
      newStore();
      make();
      const err = await fetchDebs(pins, { store, archives }).catch((e: unknown) => e);
      expect(err, what).toBeInstanceOf(DebianStoreError);
      expect(String((err as Error).message), what).toMatch(message);
      rmSync(store, { recursive: true, force: true });
    }
  });

  it("refuses a .deb whose control fields are not the pin's name, version and architecture", async () => {
    newStore();
    const [lib, hello] = [pins.find((p) => p.name === "caisson-test-lib")!, pins.find((p) => p.name === "caisson-test-hello")!];
    // A lockfile that pairs the library's bytes (and file) with the program's name and version.
    const lying = { ...hello, sha256: lib.sha256, size: lib.size, path: lib.path };
    await fetchDebs([lib], { store, archives });
    const err = await fetchDebs([lying], { store, archives }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DebianStoreError);
    expect(String((err as Error).message)).toMatch(/is caisson-test-lib 1\.0-1 amd64, but the lockfile pins it as caisson-test-hello 1:1\.0\+x amd64/);
    // Downloaded fresh, the same: the right bytes for the sha256, the wrong package for the name.
    newStore();
    const err2 = await fetchDebs([lying], { store, archives }).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(DebianStoreError);
  });

  it("verifyStore downloads nothing and lists what is missing", async () => {
    newStore();
    const err = await verifyStore(pins, store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DebianFetchError);
    expect((err as DebianFetchError).missing.map((p) => p.name).sort()).toEqual(["caisson-test-hello", "caisson-test-lib"]);
    expect(readdirSync(store)).toEqual([]);
  });

  it("lists every place looked when a package is gone from the archive, and uses the snapshot mirror as the next place", async () => {
    newStore();
    const hello = pins.find((p) => p.name === "caisson-test-hello")!;
    const bytes = repo.file(hello.path)!;
    repo.remove("caisson-test-hello", "1:1.0+x");
    try {
      const err = await fetchDebs(pins, { store, archives }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DebianFetchError);
      const fe = err as DebianFetchError;
      expect(fe.missing.map((p) => p.name)).toEqual(["caisson-test-hello"]);
      expect(fe.message).toContain(`caisson-test-hello 1:1.0+x amd64 sha256 ${hello.sha256}`);
      expect(fe.message).toContain(`store ${storeFile(store, hello)}: missing`);
      expect(fe.message).toMatch(/archive "debian" http:\/\/127\.0\.0\.1:\d+\/debian\/pool\/\S+: HTTP 404/);
      // The library was fetched; nothing half-written is left for the other.
      const lib = pins.find((p) => p.name === "caisson-test-lib")!;
      expect(readdirSync(join(store, lib.sha256))).toEqual([lib.path.split("/").pop()]);
      expect(readdirSync(join(store, hello.sha256))).toEqual([]);

      // A snapshot mirror serving wrong bytes, then the right ones.
      const wrongSnap = await serveFiles(new Map([[`/snap/debian/${hello.path.split("/").map(encodeURIComponent).join("/")}`, "not a deb"]]));
      servers.push(wrongSnap);
      const err2 = await fetchDebs(pins, { store, archives, snapshot: `${wrongSnap.url}/snap/{archive}` }).catch((e: unknown) => e);
      expect(err2).toBeInstanceOf(DebianFetchError);
      expect((err2 as Error).message).toMatch(/snapshot http:\/\/127\.0\.0\.1:\d+\/snap\/debian\/pool\/\S+: wrong bytes: sha256 [0-9a-f]{64}/);
      expect(readdirSync(join(store, hello.sha256))).toEqual([]);

      const snap = await serveFiles(new Map([[`/snap/debian/${hello.path.split("/").map(encodeURIComponent).join("/")}`, bytes]]));
      servers.push(snap);
      const got = await fetchDebs(pins, { store, archives, snapshot: `${snap.url}/snap/{archive}/` });
      expect(got.find((g) => g.pin.name === "caisson-test-hello")?.from).toBe("snapshot");
      expect(got.find((g) => g.pin.name === "caisson-test-lib")?.from).toBe("store");
      expect(snap.requests).toEqual([`/snap/debian/${hello.path.split("/").map(encodeURIComponent).join("/")}`]);
    } finally {
      repo.add({ name: "caisson-test-hello", version: "1:1.0+x", arch: "amd64", depends: "caisson-test-lib" });
    }
  });

  it("names a pin's archive that is not in the apt sources", async () => {
    newStore();
    const odd = { ...pins[0]!, archive: "debian-elsewhere" };
    const err = await fetchDebs([odd], { store, archives }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DebianFetchError);
    expect((err as Error).message).toContain('archive "debian-elsewhere": no archive named "debian-elsewhere" in the apt sources');
  });
});
