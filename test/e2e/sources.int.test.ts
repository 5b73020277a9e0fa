// Sources pinned by sha256 on the real engine, through `caisson build`:
// bytes that do not match fail the build with a message naming the source
// and export nothing; a Debian-style store-only source builds from
// --source-store DIR (<sha256>/<file>) and, when the store lacks it, fails
// before the engine is involved, naming the source.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { caisson, engineError, ensureDist, IN_CI, requireEngine, run, serveFiles, sha256, type HttpFixtureServer } from "./helpers.js";

describe.skipIf(engineError !== undefined && !IN_CI)("sha256-pinned sources and the source store", () => {
  const nonce = `${process.pid}-${Date.now()}`;
  let tmp = "";
  let http: HttpFixtureServer | undefined;
  const served = `what the server really sends (${nonce})\n`;
  const pinned = `what the definition was pinned to (${nonce})\n`;

  /** Writes a definition into its own context folder under tmp; returns its path. */
  function definition(name: string, text: string): string {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "image.yaml"), text);
    return join(dir, "image.yaml");
  }

  /** Nothing at `dest`, and no temporary sibling left behind by the exporter. */
  function nothingExported(dest: string): void {
    expect(existsSync(dest), `${dest} exists`).toBe(false);
    const parent = join(dest, "..");
    expect(readdirSync(parent).filter((f) => f.includes("caisson-tmp"))).toEqual([]);
  }

  beforeAll(async () => {
    requireEngine();
    ensureDist();
    tmp = mkdtempSync(join(tmpdir(), "caisson-e2e-sources-"));
    http = await serveFiles(new Map([["/note.txt", served]]));
  });

  afterAll(async () => {
    await http?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("an http source whose bytes do not match its sha256 fails, naming the source; nothing is exported", async () => {
    const file = definition(
      "mismatch",
      [
        "name: e2e-mismatch",
        "platforms: [linux/amd64, linux/arm64]",
        "sources:",
        `  tampered: { url: "${http?.url}/note.txt", sha256: ${sha256(pinned)} }`,
        "image:",
        "  copy:",
        "    - { from: tampered, src: /note.txt, dest: /note.txt }",
        "",
      ].join("\n"),
    );
    for (const output of ["oci", "local"]) {
      const dest = join(tmp, `mismatch-out-${output}${output === "oci" ? ".tar" : ""}`);
      const r = await caisson(["build", file, "--context", join(file, ".."), "-o", `${output}=${dest}`, "--progress", "plain"]);
      expect(r.code, r.stderr).toBe(1);
      // BuildKit checked the download against the pin: the vertex is the source, by its name.
      // The step's own ERROR line (other steps' lines may come between, as the engine reports them).
      expect(r.stderr).toMatch(/^#(\d+) source tampered\n(?:#\d+ .*\n)*?#\1 ERROR: digest mismatch sha256:/m);
      expect(r.stderr).toContain(`digest mismatch sha256:${sha256(served)}: sha256:${sha256(pinned)}`);
      // …with the definition's line for it.
      expect(r.stderr).toMatch(/^\s+4 \|\s+tampered: \{ url:/m); // the definition's line, as caisson prints a failure
      expect(r.stderr).toContain(`caisson: build of ${file} failed`);
      nothingExported(dest);
    }
    // The server was asked (through caisson's store server redirecting to it).
    expect(http?.requests).toContain("/note.txt");
  });

  it("a patch whose bytes do not match its sha256 fails, naming the patch; nothing is exported", async () => {
    const file = definition(
      "bad-patch",
      [
        "name: e2e-bad-patch",
        "platforms: [linux/amd64]",
        "sources:",
        "  patches: { path: patches }",
        "stages:",
        "  build:",
        "    from: caisson/debian:bookworm@sha256:d757fb0e12b1304ed12095dfc93b37afc7f33623a62f45707945b94262f96032",
        `    patches: [{ from: patches, path: /fix.patch, sha256: ${sha256("not the patch")} }]`,
        `    run: ["echo ${nonce} > /built"]`,
        "image:",
        "  copy: [{ from: build, src: /built, dest: /built }]",
        "",
      ].join("\n"),
    );
    mkdirSync(join(tmp, "bad-patch/patches"));
    writeFileSync(join(tmp, "bad-patch/patches/fix.patch"), "--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+x\n");
    const dest = join(tmp, "bad-patch-out");
    const r = await caisson(["build", file, "--context", join(tmp, "bad-patch"), "-o", `local=${dest}`, "--progress", "plain"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain("caisson: patch /fix.patch does not match its sha256");
    expect(r.stderr).toMatch(/\|\s+patches: \[\{ from: patches, path: \/fix\.patch/);
    nothingExported(dest);
  });

  describe("a Debian-style store-only source", () => {
    const file = "e2e-hello_1.0-1.debian.tar.gz";
    let tarball: Buffer = Buffer.alloc(0);
    let def = "";

    beforeAll(() => {
      mkdirSync(join(tmp, "pkg/debian"), { recursive: true });
      writeFileSync(join(tmp, "pkg/debian/changelog"), `e2e-hello (1.0-1) unstable; urgency=medium\n\n  * ${nonce}\n`);
      run("tar", ["-czf", join(tmp, file), "-C", join(tmp, "pkg"), "debian"]);
      tarball = readFileSync(join(tmp, file));
      def = definition(
        "store",
        [
          "name: e2e-store",
          "platforms: [linux/amd64]",
          "sources:",
          "  packaging:",
          "    debian: e2e-hello=1.0-1",
          `    file: ${file}`,
          `    sha256: ${sha256(tarball)}`,
          "    extract: true",
          "image:",
          "  copy:",
          "    - { from: packaging, src: /debian/changelog, dest: /changelog }",
          "",
        ].join("\n"),
      );
    });

    it("fails before building, naming the source, when the store lacks it; nothing is exported", async () => {
      const empty = join(tmp, "store-empty");
      mkdirSync(empty);
      const dest = join(tmp, "store-missing-out");
      const r = await caisson(["build", def, "--context", join(def, ".."), "--source-store", empty, "-o", `local=${dest}`, "--progress", "plain"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`these sources can only come from the source store, which lacks them (looked in ${empty})`);
      expect(r.stderr).toContain(`packaging: ${file} (sha256 ${sha256(tarball)}), from Debian's e2e-hello=1.0-1`);
      expect(r.stderr).toContain("hack/fetch-sources.sh");
      // Refused before the engine was asked.
      expect(r.stderr).not.toContain("#0 building with");
      nothingExported(dest);
    });

    it("a store file with the wrong bytes is refused by the engine, naming the source (before any good build caches the hash)", async () => {
      const store = join(tmp, "store-tampered");
      mkdirSync(join(store, sha256(tarball)), { recursive: true });
      writeFileSync(join(store, sha256(tarball), file), Buffer.concat([tarball, Buffer.from("tampered")]));
      const dest = join(tmp, "store-tampered-out.tar");
      const r = await caisson(["build", def, "--context", join(def, ".."), "--source-store", store, "-o", `oci=${dest}`, "--progress", "plain"]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^#(\d+) source packaging\n(?:#\d+ .*\n)*?#\1 ERROR: digest mismatch/m);
      nothingExported(dest);
    });
    it("builds when --source-store holds <sha256>/<file>", async () => {
      const store = join(tmp, "store-full");
      mkdirSync(join(store, sha256(tarball)), { recursive: true });
      writeFileSync(join(store, sha256(tarball), file), tarball);
      const dest = join(tmp, "store-out");
      // --no-check: a file without an entrypoint, which caisson check refuses (it reads the image config too).
      const r = await caisson(["build", def, "--context", join(def, ".."), "--source-store", store, "-o", `local=${dest}`, "--progress", "plain", "--no-check"]);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(join(dest, "changelog"), "utf8")).toContain(`* ${nonce}`);
      expect(r.stderr).toMatch(/^#\d+ source packaging$/m);
    });
  });
});
