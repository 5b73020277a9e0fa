import { execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { chmodSync, linkSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { BigIntStats } from "node:fs";
import { GoMode, goFileMode, isRegular, posixPermissions, wireStat } from "../../../src/client/session/stat.js";
import { bothFilters, patternFilter, resolveFollowPaths, walk, type WalkEntry, type WalkFilter } from "../../../src/client/session/walk.js";

const tmp = mkdtempSync(join(tmpdir(), "caisson-walk-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

function tree(layout: Record<string, string | null>): string {
  const d = join(tmp, `t${n++}`);
  mkdirSync(d);
  for (const [p, content] of Object.entries(layout)) {
    if (content === null) mkdirSync(join(d, p), { recursive: true });
    else {
      mkdirSync(join(d, p, ".."), { recursive: true });
      writeFileSync(join(d, p), content);
    }
  }
  return d;
}

const all: WalkFilter = { decide: () => "keep" };

async function list(root: string, filter: WalkFilter = all): Promise<WalkEntry[]> {
  const out: WalkEntry[] = [];
  await walk(root, filter, async (e) => {
    out.push(e);
  });
  return out;
}
const paths = async (root: string, filter?: WalkFilter) => (await list(root, filter)).map((e) => e.path);

describe("file modes on the wire", () => {
  it("are Go's os.FileMode: type bits high, permissions low, unsigned", () => {
    expect(goFileMode(0o040755)).toBe(2 ** 31 + 0o755);
    expect(goFileMode(0o120777)).toBe(2 ** 27 + 0o777);
    expect(goFileMode(0o100644)).toBe(0o644);
    expect(goFileMode(0o104755)).toBe(2 ** 23 + 0o755);
    expect(goFileMode(0o102755)).toBe(2 ** 22 + 0o755);
    expect(goFileMode(0o041777)).toBe(2 ** 31 + 2 ** 20 + 0o777);
    expect(goFileMode(0o020666)).toBe(2 ** 26 + 2 ** 21 + 0o666);
    expect(goFileMode(0o060660)).toBe(2 ** 26 + 0o660);
    expect(goFileMode(0o010644)).toBe(2 ** 25 + 0o644);
    expect(goFileMode(0o140755), "fsutil clears the socket bit").toBe(0o755);
  });

  it("say which entries carry data, and map back to permission bits", () => {
    expect(isRegular(0o644)).toBe(true);
    expect(isRegular(goFileMode(0o040755))).toBe(false);
    expect(isRegular(goFileMode(0o120777))).toBe(false);
    expect(isRegular(goFileMode(0o010644))).toBe(false);
    expect(posixPermissions(goFileMode(0o106755))).toBe(0o6755);
    expect(posixPermissions(GoMode.dir | GoMode.sticky | 0o777)).toBe(0o1777);
  });
});

describe("device numbers on the wire", () => {
  it("are split from rdev as Linux encodes it, for devices only", () => {
    const rdev = (8n << 8n) | (300n & 0xffn) | ((300n & ~0xffn) << 12n);
    const dev = { mode: BigInt(0o020666), rdev, size: 0n, mtimeNs: 5n } as unknown as BigIntStats;
    expect(wireStat("dev/sda", dev, "")).toMatchObject({ mode: 2 ** 26 + 2 ** 21 + 0o666, devmajor: 8n, devminor: 300n, modTime: 5n });
    const file = { mode: BigInt(0o100644), rdev, size: 3n, mtimeNs: 5n } as unknown as BigIntStats;
    expect(wireStat("f", file, "").devmajor).toBeUndefined();
  });
});

describe("walking a local directory", () => {
  it("lists depth first, a directory before its children, siblings in byte order, without the root", async () => {
    const d = tree({ "a.b": "", "a-b": "", "a/x": "", B: "", "é": "", "a/y/z": "", c: null });
    expect(await paths(d)).toEqual(["B", "a", "a/x", "a/y", "a/y/z", "a-b", "a.b", "c", "é"]);
  });

  it("sends each entry's metadata: mode, size, modTime in ns, uid and gid 0", async () => {
    const d = tree({ "f.txt": "hello", "sub/g": "" });
    chmodSync(join(d, "f.txt"), 0o4750);
    const [f, sub] = await list(d);
    const st = lstatSync(join(d, "f.txt"), { bigint: true });
    expect(f?.stat).toMatchObject({ path: "f.txt", mode: 2 ** 23 + 0o750, size: 5n, modTime: st.mtimeNs, linkname: "" });
    expect(f?.stat.uid ?? 0).toBe(0);
    expect(f?.stat.gid ?? 0).toBe(0);
    expect(sub?.stat.mode).toBe(goFileMode(Number(lstatSync(join(d, "sub")).mode)));
    expect(sub?.stat.size, "directories have no size").toBeUndefined();
  });

  it("sends symlinks as symlinks and never follows them, even out of the directory", async () => {
    const d = tree({ "real/f": "x" });
    symlinkSync("/etc", join(d, "out"));
    symlinkSync("real", join(d, "in"));
    const entries = await list(d);
    expect(entries.map((e) => e.path)).toEqual(["in", "out", "real", "real/f"]);
    expect(entries[1]?.stat).toMatchObject({ linkname: "/etc", mode: 2 ** 27 + 0o777 });
  });

  it("sends a hard link seen again with the first listed path as linkname", async () => {
    const d = tree({ a: "same" });
    linkSync(join(d, "a"), join(d, "b"));
    expect((await list(d)).map((e) => [e.path, e.stat.linkname])).toEqual([
      ["a", ""],
      ["b", "a"],
    ]);
    const filtered = await list(d, patternFilter({ excludes: ["a"] }));
    expect(filtered.map((e) => [e.path, e.stat.linkname]), "a link to a filtered-out path is a file again").toEqual([["b", ""]]);
  });

  it("excludes with .dockerignore rules, pruning whole directories, and lists the directories above a re-included path", async () => {
    const d = tree({ "a.log": "", "keep.txt": "", "node_modules/m/i.js": "", "docs/x": "", "docs/keep/k": "" });
    expect(await paths(d, patternFilter({ excludes: ["*.log", "node_modules"] }))).toEqual(["docs", "docs/keep", "docs/keep/k", "docs/x", "keep.txt"]);
    expect(await paths(d, patternFilter({ excludes: ["docs", "!docs/keep/k"] }))).toEqual(["a.log", "docs", "docs/keep", "docs/keep/k", "keep.txt", "node_modules", "node_modules/m", "node_modules/m/i.js"]);
  });

  it("includes only matching paths and the directories above them", async () => {
    const d = tree({ "src/a.c": "", "src/lib/b.c": "", "src/lib/b.h": "", "docs/r": "", top: "" });
    expect(await paths(d, patternFilter({ includes: ["src/lib/*.c", "top"] }))).toEqual(["src", "src/lib", "src/lib/b.c", "top"]);
    expect(await paths(d, patternFilter({ includes: ["**/*.h"] }))).toEqual(["src", "src/lib", "src/lib/b.h"]);
  });

  it("lists a path only when the client's and the engine's filters both keep it", async () => {
    const d = tree({ a: "", b: "", "c/d": "" });
    const f = bothFilters(patternFilter({ excludes: ["a"] }), patternFilter({ includes: ["a", "c"] }));
    expect(await paths(d, f)).toEqual(["c", "c/d"]);
  });

  it("turns follow paths into include patterns, each symlink on the way kept and its target taken inside the root", async () => {
    const d = tree({ "real/dir/file": "", other: "" });
    symlinkSync("real/dir", join(d, "l"));
    symlinkSync("/real", join(d, "abs"));
    symlinkSync("../../../../other", join(d, "up"));
    expect(await resolveFollowPaths(d, ["l/file"])).toEqual(["l", "real/dir/file"]);
    expect(await resolveFollowPaths(d, ["abs/dir"])).toEqual(["abs", "real/dir"]);
    expect(await resolveFollowPaths(d, ["up"])).toEqual(["other", "up"]);
    expect(await resolveFollowPaths(d, ["real", "real/dir/file"]), "a path under another is dropped").toEqual(["real"]);
    expect(await resolveFollowPaths(d, ["."]), "the root means no filter").toBeUndefined();
    expect(await resolveFollowPaths(d, ["missing"])).toEqual(["missing"]);
    expect(await paths(d, patternFilter({ followPaths: await resolveFollowPaths(d, ["l/file"]) }))).toEqual(["l", "real", "real/dir", "real/dir/file"]);
  });
});

describe("entries the protocol cannot carry", () => {
  const badName = (d: string, rel: string) => Buffer.concat([Buffer.from(`${d}/${rel}`), Buffer.from([0xff]), Buffer.from("name")]);

  it("a name that is not UTF-8: refused when sent, with its bytes shown; skipped when excluded", async () => {
    const d = tree({ "other/x": "", keep: "" });
    writeFileSync(badName(d, "other/bad"), "");
    await expect(list(d)).rejects.toThrow("a file name that is not UTF-8: other/bad\\xffname; rename it or exclude it");
    expect(await paths(d, patternFilter({ excludes: ["other"] }))).toEqual(["keep"]);
    expect(await paths(d, patternFilter({ includes: ["keep"] }))).toEqual(["keep"]);
  });

  it("a folder whose name is not UTF-8: refused for what is sent below it, skipped when nothing is", async () => {
    const d = tree({ keep: "" });
    mkdirSync(badName(d, "dir-"));
    writeFileSync(Buffer.concat([badName(d, "dir-"), Buffer.from("/inner.c")]), "");
    await expect(paths(d, patternFilter({ includes: ["**/*.c"] }))).rejects.toThrow("not UTF-8: dir-\\xffname/inner.c;");
    expect(await paths(d, patternFilter({ excludes: ["dir-*"] }))).toEqual(["keep"]);
  });

  it("skips a socket (docker's context skips it; fsutil would send an empty file)", async () => {
    const d = tree({ keep: "" });
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(d, "s.sock"), resolve));
    try {
      expect(lstatSync(join(d, "s.sock")).isSocket()).toBe(true);
      expect(await paths(d)).toEqual(["keep"]);
    } finally {
      server.close();
    }
  });

  it("a path too long to read is reported in at most a few hundred characters", async () => {
    const d = tree({});
    execFileSync("perl", ["-e", 'for (1..2100) { mkdir "d" or die; chdir "d" or die }'], { cwd: d });
    const err = await list(d)
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      )
      .finally(() => execFileSync("rm", ["-rf", d])); // rmSync would recurse past the stack
    expect(err?.message).toMatch(/^cannot read d\/d\/.*…\(\d+ characters\)….*\/d: the path is too long$/);
    expect(err?.message.length).toBeLessThan(300);
  });
});
