// Test corpus for the ELF reader: system files picked deterministically, and
// binaries compiled on purpose with and without each mitigation, for amd64
// and (cross-compiled) arm64. Also runs Debian's checksec on them.
//
// Needs the Debian packages: checksec, binutils, file, gcc, libc6-dev,
// gcc-aarch64-linux-gnu, libc6-dev-arm64-cross.

import { execFile, execFileSync } from "node:child_process";
import { closeSync, lstatSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export { IN_CI } from "../support/ci.js";

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function startsWithElfMagic(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

/** First `n` regular (non-symlink) ELF files of `dir`, by sorted name. Not recursive. */
export function firstElfFiles(dir: string, n: number): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (out.length >= n) break;
    const p = join(dir, name);
    try {
      const st = lstatSync(p);
      if (st.isFile() && st.size > 0 && startsWithElfMagic(p)) out.push(p);
    } catch {
      // unreadable: not part of the corpus
    }
  }
  return out;
}

/** Always in the corpus: executable shared objects, where PIE rules disagree. */
const ALWAYS = ["/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"];

/**
 * System part of the corpus: first N ELF files of /usr/bin and of
 * /usr/lib/x86_64-linux-gnu (ELF_CORPUS_PER_DIR, default 150), plus libc and ld.so.
 */
export function systemCorpus(perDir = Number(process.env["ELF_CORPUS_PER_DIR"] ?? 150)): string[] {
  const picked = ["/usr/bin", "/usr/lib/x86_64-linux-gnu"].flatMap((d) => firstElfFiles(d, perDir));
  return [...picked, ...ALWAYS.filter((f) => !picked.includes(f))];
}

const SOURCE = String.raw`
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  char small[16];
  char big[256];
  strcpy(small, argc > 5 ? argv[1] : "hi");          /* __strcpy_chk */
  memcpy(big, argv[0], strlen(argv[0]) % 200);       /* __memcpy_chk */
  snprintf(big, sizeof big, "%s:%d", small, argc);   /* __snprintf_chk */
  printf("%s %s\n", small, big);                     /* __printf_chk */
  if (argc > 7) { char cwd[64]; getcwd(cwd, 100); puts(cwd); } /* __getcwd_chk */
  return 0;
}
`;

const LIB_SOURCE = String.raw`
#include <string.h>
int lib_copy(char *dst, const char *src) { char tmp[8]; strcpy(tmp, src); return (int) strlen(strcpy(dst, tmp)); }
`;

export interface Variant {
  readonly name: string;
  readonly flags: readonly string[];
  readonly source?: string;
}

/** Each variant drops or adds one mitigation relative to "hardened". */
export const HARDENED = ["-O2", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong", "-fPIE", "-pie", "-Wl,-z,relro,-z,now"];
export const VARIANTS: readonly Variant[] = [
  { name: "hardened", flags: HARDENED },
  { name: "no-pie", flags: [...HARDENED.filter((f) => f !== "-fPIE" && f !== "-pie"), "-fno-PIE", "-no-pie"] },
  { name: "norelro", flags: [...HARDENED.filter((f) => !f.startsWith("-Wl,-z")), "-Wl,-z,norelro"] },
  { name: "lazy", flags: [...HARDENED.filter((f) => !f.startsWith("-Wl,-z")), "-Wl,-z,relro,-z,lazy"] },
  { name: "no-canary", flags: [...HARDENED.filter((f) => !f.startsWith("-fstack-protector")), "-fno-stack-protector"] },
  { name: "execstack", flags: [...HARDENED, "-Wl,-z,execstack"] },
  { name: "no-fortify", flags: [...HARDENED.filter((f) => f !== "-D_FORTIFY_SOURCE=2"), "-U_FORTIFY_SOURCE"] },
  { name: "rpath", flags: [...HARDENED, "-Wl,--disable-new-dtags", "-Wl,-rpath,/opt/caisson/lib:$ORIGIN/../lib"] },
  { name: "runpath", flags: [...HARDENED, "-Wl,--enable-new-dtags", "-Wl,-rpath,/opt/caisson/lib"] },
  { name: "static", flags: [...HARDENED.filter((f) => f !== "-fPIE" && f !== "-pie"), "-static"] },
  { name: "static-pie", flags: [...HARDENED.filter((f) => f !== "-pie"), "-static-pie"] },
  { name: "shared-lib", flags: ["-O2", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong", "-fPIC", "-shared", "-Wl,-z,relro,-z,now"], source: LIB_SOURCE },
  { name: "object", flags: ["-O2", "-fstack-protector-strong", "-c"] },
];

export interface Toolchain {
  readonly arch: "amd64" | "arm64";
  readonly cc: string;
}
export const TOOLCHAINS: readonly Toolchain[] = [
  { arch: "amd64", cc: "gcc" },
  { arch: "arm64", cc: "aarch64-linux-gnu-gcc" },
];

/** Compiles every variant with every available toolchain into a fresh temp dir. */
export function compileFixtures(toolchains: readonly Toolchain[]): { dir: string; files: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "caisson-elf-"));
  writeFileSync(join(dir, "main.c"), SOURCE);
  writeFileSync(join(dir, "lib.c"), LIB_SOURCE);
  const files: string[] = [];
  for (const tc of toolchains) {
    for (const v of VARIANTS) {
      const out = join(dir, `${tc.arch}-${v.name}${v.name === "object" ? ".o" : v.name === "shared-lib" ? ".so" : ""}`);
      const src = join(dir, v.source === undefined ? "main.c" : "lib.c");
      execFileSync(tc.cc, [...v.flags, "-o", out, src], { stdio: ["ignore", "ignore", "pipe"] });
      files.push(out);
    }
    // Section headers removed: the reader must find .dynsym via the dynamic segment.
    const hardened = join(dir, `${tc.arch}-hardened`);
    const noShdr = join(dir, `${tc.arch}-no-section-headers`);
    writeFileSync(noShdr, withoutSectionHeaders(readFileSync(hardened)));
    files.push(noShdr);
  }
  return { dir, files };
}

/** Zeroes e_shoff, e_shnum and e_shstrndx of a 64-bit little-endian ELF file. */
function withoutSectionHeaders(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c.writeBigUInt64LE(0n, 40);
  c.writeUInt16LE(0, 60);
  c.writeUInt16LE(0, 62);
  return c;
}

/** checksec's JSON fields for a file (counts as numbers). */
export interface ChecksecJson {
  relro: string;
  canary: string;
  nx: string;
  pie: string;
  rpath: string;
  runpath: string;
  symbols: string;
  fortify_source: string;
  fortified: number;
  "fortify-able": number;
}

const ENTRY =
  /"([^"]+)": \{ "relro":"(\w+)","canary":"(\w+)","nx":"(\w+)","pie":"(\w+)","rpath":"(\w+)","runpath":"(\w+)","symbols":"(\w+)","fortify_source":"(\w+)","fortified":"(\d+)","fortify-able":"(\d+)"/g;

/**
 * Runs `checksec --listfile=… --output=json` over `files` in `jobs` parallel
 * batches. checksec 2.6.0's list output is not valid JSON (trailing commas),
 * so each file's line is parsed with a regex.
 */
export async function runChecksec(files: readonly string[], jobs = 4): Promise<Map<string, ChecksecJson>> {
  const dir = mkdtempSync(join(tmpdir(), "caisson-checksec-"));
  const batches: string[][] = Array.from({ length: jobs }, () => []);
  files.forEach((f, i) => batches[i % jobs]?.push(f));
  const outputs = await Promise.all(
    batches
      .filter((b) => b.length > 0)
      .map(async (batch, i) => {
        const list = join(dir, `list-${i}.txt`);
        writeFileSync(list, batch.join("\n") + "\n");
        const { stdout } = await run("checksec", [`--listfile=${list}`, "--output=json"], {
          maxBuffer: 64 << 20,
        });
        return stdout;
      }),
  );
  rmSync(dir, { recursive: true, force: true });
  const result = new Map<string, ChecksecJson>();
  // setuid files end with " } }" and no newline, so match entries anywhere.
  for (const m of outputs.join("\n").matchAll(ENTRY)) {
    const g = (i: number): string => m[i] ?? "";
    result.set(g(1), {
      relro: g(2),
      canary: g(3),
      nx: g(4),
      pie: g(5),
      rpath: g(6),
      runpath: g(7),
      symbols: g(8),
      fortify_source: g(9),
      fortified: Number(g(10)),
      "fortify-able": Number(g(11)),
    });
  }
  return result;
}

/** libc's fortifiable names exactly as checksec derives them from the host libc. */
export function hostLibcFortifiable(libc = "/lib/x86_64-linux-gnu/libc.so.6"): string[] {
  const out = execFileSync("sh", ["-c", `readelf -W -s ${libc} | sed -ne 's/.*__\\(.*_chk\\)@@.*/\\1/p'`], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  return [...new Set(out.split("\n").filter((l) => l !== "").map((l) => l.replaceAll("_chk", "")))].sort();
}
