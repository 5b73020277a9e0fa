// A tiny, real, signed Debian repository on loopback for the Debian resolver
// and fetcher tests: .deb files built with dpkg-deb, Packages and Release
// indexes, an InRelease clear-signed with a throwaway key from a temporary
// GNUPGHOME, served by node:http on 127.0.0.1 under /debian (so the archive's
// name is `debian`). Needs dpkg-deb and gpg.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { serveHttp, type LoopbackServer } from "./loopback.js";

export interface TestPackage {
  readonly name: string;
  readonly version: string;
  /** amd64, arm64 or all; default all. */
  readonly arch?: string;
  readonly depends?: string;
  readonly priority?: string;
  readonly essential?: boolean;
  readonly source?: string;
  /** Multi-Arch field: same, foreign, allowed. */
  readonly multiArch?: string;
  /** Files of the package, path (relative, no leading slash) → content. */
  readonly files?: Readonly<Record<string, string | Uint8Array>>;
  /** Symbolic links of the package, path → target. */
  readonly links?: Readonly<Record<string, string>>;
}

export interface DebRepo {
  /** Archive URI: `http://127.0.0.1:<port>/debian`. */
  readonly url: string;
  /** A deb822 sources file for this archive (archive name `debian`). */
  readonly sourcesFile: string;
  /** The public key (binary keyring) the InRelease verifies with. */
  readonly keyring: string;
  readonly suite: string;
  /** Paths requested so far (server paths, e.g. /debian/pool/…). */
  readonly requests: string[];
  /** Adds (or replaces) a package and re-signs the indexes. */
  add(pkg: TestPackage): void;
  /** Removes a package version (its index entries and its pool file). */
  remove(name: string, version: string): void;
  /** The bytes served at a path of the archive (`pool/…`), if any. */
  file(path: string): Buffer | undefined;
  /** Pool path (Packages `Filename`) of a package. */
  poolPath(name: string, version: string, arch?: string): string;
  close(): Promise<void>;
}

export interface DebRepoOptions {
  readonly suite?: string;
  readonly packages?: readonly TestPackage[];
  /** Architectures of the Release file (arch `all` packages are listed in each); default amd64, arm64. */
  readonly architectures?: readonly string[];
  /** "bad": InRelease content altered after signing; "unknown-key": signed with a key that is not in `keyring`. */
  readonly signature?: "good" | "bad" | "unknown-key";
}

/** True when dpkg-deb, gpg and apt are installed (tests must fail without them under CI=true). */
export function haveDebTools(): boolean {
  return ["dpkg-deb", "gpg", "apt-get", "apt-cache"].every((t) => spawnSync(t, ["--version"], { stdio: "ignore" }).status === 0);
}

function sh(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, input?: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env }, ...(input !== undefined ? { input } : {}) });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.error?.message ?? ""}${r.stderr}`);
  return r.stdout;
}

function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

interface Built {
  readonly pkg: TestPackage;
  readonly arch: string;
  readonly path: string;
  readonly bytes: Buffer;
}

/** Builds a .deb of `pkg` with dpkg-deb (in a scratch directory under `workDir`) and returns its bytes. */
export function buildDeb(pkg: TestPackage, workDir: string = tmpdir()): Buffer {
  const arch = pkg.arch ?? "all";
  const dir = mkdtempSync(join(workDir, "build-"));
  try {
    mkdirSync(join(dir, "DEBIAN"));
    const control = [
      `Package: ${pkg.name}`,
      `Version: ${pkg.version}`,
      `Architecture: ${arch}`,
      "Maintainer: caisson tests <tests@caisson.invalid>",
      ...(pkg.source ? [`Source: ${pkg.source}`] : []),
      ...(pkg.essential ? ["Essential: yes"] : []),
      ...(pkg.multiArch ? [`Multi-Arch: ${pkg.multiArch}`] : []),
      `Priority: ${pkg.priority ?? "optional"}`,
      "Section: misc",
      ...(pkg.depends ? [`Depends: ${pkg.depends}`] : []),
      `Description: ${pkg.name}, a package of caisson's tests`,
    ];
    writeFileSync(join(dir, "DEBIAN", "control"), `${control.join("\n")}\n`);
    for (const [p, content] of Object.entries(pkg.files ?? { [`usr/share/doc/${pkg.name}/README`]: `${pkg.name} ${pkg.version}\n` })) {
      mkdirSync(dirname(join(dir, p)), { recursive: true });
      writeFileSync(join(dir, p), content);
    }
    for (const [p, target] of Object.entries(pkg.links ?? {})) {
      mkdirSync(dirname(join(dir, p)), { recursive: true });
      symlinkSync(target, join(dir, p));
    }
    const out = join(dir, "..", `${dir.split("/").pop()}.deb`);
    sh("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", dir, out]);
    const bytes = readFileSync(out);
    rmSync(out, { force: true });
    return bytes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function makeDebRepo(options: DebRepoOptions = {}): Promise<DebRepo> {
  const suite = options.suite ?? "stable";
  const architectures = options.architectures ?? ["amd64", "arm64"];
  const root = mkdtempSync(join(tmpdir(), "caisson-debrepo-"));
  const gnupg = join(root, "gnupg");
  mkdirSync(gnupg, { mode: 0o700 });
  const genv = { GNUPGHOME: gnupg };
  const uid = (n: string) => `caisson test ${n} <${n}@caisson.invalid>`;
  const key = (n: string) => {
    sh("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", uid(n), "ed25519", "sign", "never"], genv);
    return sh("gpg", ["--batch", "--with-colons", "--list-secret-keys", uid(n)], genv).split("\n").find((l) => l.startsWith("fpr:"))!.split(":")[9]!;
  };
  const signer = key("archive");
  const keyring = join(root, "archive-keyring.gpg");
  writeFileSync(keyring, spawnSync("gpg", ["--batch", "--export", signer], { env: { ...process.env, ...genv } }).stdout);
  const signWith = options.signature === "unknown-key" ? key("stranger") : signer;

  const files = new Map<string, Buffer>(); // server path → bytes
  const built = new Map<string, Built>(); // name_version_arch → package
  const poolPath = (name: string, version: string, arch = "all") => {
    const src = name.startsWith("lib") ? name.slice(0, 4) : name.slice(0, 1);
    return `pool/main/${src}/${name}/${name}_${version.replace(/^\d+:/, "")}_${arch}.deb`;
  };

  const build = (pkg: TestPackage): Built => {
    const arch = pkg.arch ?? "all";
    return { pkg, arch, path: poolPath(pkg.name, pkg.version, arch), bytes: buildDeb(pkg, root) };
  };

  const paragraph = (b: Built): string => {
    const p = b.pkg;
    return [
      `Package: ${p.name}`,
      ...(p.source ? [`Source: ${p.source}`] : []),
      `Version: ${p.version}`,
      "Installed-Size: 1",
      "Maintainer: caisson tests <tests@caisson.invalid>",
      `Architecture: ${b.arch}`,
      ...(p.essential ? ["Essential: yes"] : []),
      ...(p.multiArch ? [`Multi-Arch: ${p.multiArch}`] : []),
      ...(p.depends ? [`Depends: ${p.depends}`] : []),
      `Description: ${p.name}, a package of caisson's tests`,
      "Section: misc",
      `Priority: ${p.priority ?? "optional"}`,
      `Filename: ${b.path}`,
      `Size: ${b.bytes.length}`,
      `MD5sum: ${createHash("md5").update(b.bytes).digest("hex")}`,
      `SHA256: ${sha256(b.bytes)}`,
    ].join("\n");
  };

  const publish = () => {
    for (const k of [...files.keys()]) if (k.startsWith("/debian/dists/")) files.delete(k);
    const dist = `/debian/dists/${suite}`;
    const sums: string[] = [];
    for (const arch of architectures) {
      const list = [...built.values()].filter((b) => b.arch === arch || b.arch === "all").sort((a, b) => (a.path < b.path ? -1 : 1));
      const text = list.map(paragraph).join("\n\n") + (list.length > 0 ? "\n" : "");
      const rel = `main/binary-${arch}/Packages`;
      const bytes = Buffer.from(text);
      files.set(`${dist}/${rel}`, bytes);
      sums.push(` ${sha256(bytes)} ${String(bytes.length).padStart(8)} ${rel}`);
    }
    const release = [
      "Origin: caisson-test",
      "Label: caisson-test",
      `Suite: ${suite}`,
      `Codename: ${suite}`,
      `Date: ${new Date(Date.now() - 60_000).toUTCString()}`,
      `Architectures: ${architectures.join(" ")}`,
      "Components: main",
      "Description: caisson test archive",
      "SHA256:",
      ...sums,
    ].join("\n");
    const releaseFile = join(root, "Release");
    writeFileSync(releaseFile, `${release}\n`);
    const inRelease = join(root, "InRelease");
    rmSync(inRelease, { force: true });
    sh("gpg", ["--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "", "--digest-algo", "SHA256", "-u", signWith, "--clearsign", "-o", inRelease, releaseFile], genv);
    let signed = readFileSync(inRelease, "utf8");
    if (options.signature === "bad") signed = signed.replace("Label: caisson-test", "Label: caisson-tampered");
    files.set(`${dist}/InRelease`, Buffer.from(signed));
  };

  const add = (pkg: TestPackage) => {
    const b = build(pkg);
    built.set(`${pkg.name}_${pkg.version}_${b.arch}`, b);
    files.set(`/debian/${b.path}`, b.bytes);
    publish();
  };
  for (const p of options.packages ?? []) {
    const b = build(p);
    built.set(`${p.name}_${p.version}_${b.arch}`, b);
    files.set(`/debian/${b.path}`, b.bytes);
  }
  publish();

  const server: LoopbackServer = await serveHttp((req, res, path) => {
    const body = files.get(decodeURIComponent(path.split("?")[0]!));
    if (body === undefined || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  const url = `${server.url}/debian`;
  const sourcesFile = join(root, "test.sources");
  writeFileSync(sourcesFile, ["Types: deb", `URIs: ${url}`, `Suites: ${suite}`, "Components: main", `Signed-By: ${keyring}`, ""].join("\n"));

  return {
    url,
    sourcesFile,
    keyring,
    suite,
    requests: server.requests,
    add,
    remove(name, version) {
      for (const [k, b] of built) {
        if (b.pkg.name === name && b.pkg.version === version) {
          built.delete(k);
          files.delete(`/debian/${b.path}`);
        }
      }
      publish();
    },
    file: (path) => files.get(`/debian/${path}`),
    poolPath,
    async close() {
      await server.close();
      spawnSync("gpgconf", ["--kill", "all"], { env: { ...process.env, ...genv }, stdio: "ignore" });
      rmSync(root, { recursive: true, force: true });
    },
  };
}
