// Hostile cases made at run time: too big to commit (scale), or things git
// cannot hold (symlinks out of the context, FIFOs). Each writes its files
// under `dir` and returns the definition's path and its expectation, in the
// same form as expect.txt.
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cueCases, cueModuleCases } from "./cue.js";

export interface GeneratedCase {
  readonly name: string;
  readonly cls: string;
  /** Writes the case under `dir`; returns the definition file and the expectation (`valid`, `error CODE L:C`, `compile-error CODE L:C`). */
  readonly make: (dir: string) => { file: string; expect: string; at?: string };
  /** Text the output must not contain (e.g. a file outside the context). */
  readonly secret?: string;
  /** A FIFO the compile may block on: the test unblocks it after a while and fails the case. */
  readonly fifo?: string;
}

const head = "name: scale\nplatforms: [linux/amd64]\n";
const tail = "image:\n  from: scratch\n  copy: [{ from: build, src: /out, dest: /app }]\n  entrypoint: [/app]\n";
const simple = `${head}stages:\n  build:\n    from: scratch\n    run: ["echo hi > /out"]\n${tail}`;

/** `L:C` (1-based, columns in code points) of a UTF-16 index. */
function at(text: string, index: number): string {
  const before = text.slice(0, index).split("\n");
  return `${before.length}:${[...(before[before.length - 1] ?? "")].length + 1}`;
}

function write(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

export const generated: readonly GeneratedCase[] = [
  {
    cls: "scale",
    name: "chain-10000-stages",
    make: (dir) => {
      const l = [head.trimEnd(), "stages:"];
      for (let i = 0; i < 10_000; i++) l.push(`  s${i}:`, `    from: ${i === 0 ? "scratch" : `s${i - 1}`}`, `    run: ["echo ${i} > /f${i}"]`);
      l.push("image:", "  from: scratch", "  copy: [{ from: s9999, src: /f0, dest: /f0 }]", "  entrypoint: [/f0]");
      return { file: write(dir, "chain.yaml", l.join("\n") + "\n"), expect: "valid" };
    },
  },
  {
    cls: "scale",
    name: "run-10000-commands",
    make: (dir) => {
      const l = [head.trimEnd(), "stages:", "  build:", "    from: scratch", "    run:"];
      for (let i = 0; i < 10_000; i++) l.push(`      - "echo ${i} >> /out"`);
      return { file: write(dir, "runs.yaml", l.join("\n") + "\n" + tail), expect: "valid" };
    },
  },
  {
    cls: "scale",
    name: "line-2mb-with-error",
    make: (dir) => {
      const pre = `${simple}  labels: { a: "${"x".repeat(2 * 1024 * 1024)}", b: `;
      const text = `${pre}[1] }\n`;
      return { file: write(dir, "line.yaml", text), expect: `error wrong_type ${at(text, pre.length)}` };
    },
  },
  {
    cls: "scale",
    name: "line-2mb-valid",
    make: (dir) => ({ file: write(dir, "line-valid.yaml", `${simple}  labels: { a: "${"x".repeat(2 * 1024 * 1024)}" }\n`), expect: "valid" }),
  },
  {
    cls: "scale",
    name: "file-9mib",
    make: (dir) => {
      const line = `# ${"y".repeat(1021)}\n`; // 1,024 bytes
      const text = simple + line.repeat(9 * 1024);
      return { file: write(dir, "big.yaml", text), expect: `error too_large ${at(text, 8 * 1024 * 1024)}` };
    },
  },
  {
    cls: "scale",
    name: "nodes-250k-yaml",
    make: (dir) => {
      // Nodes in document order: the root map, `x`, the list, then its items; the 250,001st is item 249,998.
      const text = `x: [${"1,".repeat(250_010)}1]\n`;
      return { file: write(dir, "nodes.yaml", text), expect: `error too_large ${at(text, 4 + 2 * 249_997)}` };
    },
  },
  {
    cls: "scale",
    name: "nodes-250k-json",
    make: (dir) => {
      const text = `{"x": [${"1,".repeat(250_010)}1]}`;
      return { file: write(dir, "nodes.json", text), expect: `error too_large ${at(text, 7 + 2 * 249_997)}` };
    },
  },
  {
    cls: "scale",
    name: "unknown-keys-5000",
    make: (dir) => {
      const text = simple + Array.from({ length: 5_000 }, (_, i) => `bogus${i}: 1\n`).join("");
      return { file: write(dir, "keys.yaml", text), expect: `error unknown_key ${at(text, simple.length)}` };
    },
  },
  {
    cls: "scale",
    name: "duplicate-keys-20000",
    make: (dir) => {
      const text = simple + "name: again\n".repeat(20_000);
      return { file: write(dir, "dups.yaml", text), expect: `error duplicate_key ${at(text, simple.length)}` };
    },
  },
  {
    cls: "scale",
    name: "errors-3000-escapes",
    make: (dir) => {
      // Three thousand bad keys full of escape sequences: output capped, every one escaped.
      const text = simple + Array.from({ length: 3_000 }, (_, i) => `"\\e[31mk${i}\\e]0;t\\a\\u202e": 1\n`).join("");
      return { file: write(dir, "escapes.yaml", text), expect: `error unknown_key ${at(text, simple.length)}` };
    },
  },
  {
    cls: "imports",
    name: "symlink-out-of-context",
    secret: "caisson-hostile-secret",
    make: (dir) => {
      const ctx = join(dir, "ctx");
      mkdirSync(ctx);
      writeFileSync(join(dir, "secret.yaml"), `name: caisson-hostile-secret\n${simple.slice(simple.indexOf("platforms"))}`);
      symlinkSync("../secret.yaml", join(ctx, "base.yaml"));
      const pre = `${head}imports:\n  base: `;
      const text = `${pre}base.yaml\nstages:\n  build:\n    from: base\n    run: ["echo hi > /out"]\n${tail}`;
      return { file: write(ctx, "image.yaml", text), expect: `compile-error invalid_path|unreadable_import ${at(text, pre.length - 6)}` };
    },
  },
  {
    cls: "imports",
    name: "symlink-absolute",
    secret: "root:x:0:0",
    make: (dir) => {
      const ctx = join(dir, "ctx2");
      mkdirSync(ctx);
      symlinkSync("/etc/passwd", join(ctx, "passwd.yaml"));
      const pre = `${head}imports:\n  base: `;
      const text = `${pre}passwd.yaml\nstages:\n  build:\n    from: base\n    run: ["echo hi > /out"]\n${tail}`;
      return { file: write(ctx, "image.yaml", text), expect: `compile-error invalid_path|unreadable_import ${at(text, pre.length - 6)}` };
    },
  },
  {
    cls: "imports",
    name: "fifo-import",
    fifo: "fifo.yaml",
    make: (dir) => {
      const ctx = join(dir, "ctx3");
      mkdirSync(ctx);
      execFileSync("mkfifo", [join(ctx, "fifo.yaml")]);
      const pre = `${head}imports:\n  base: `;
      const text = `${pre}fifo.yaml\nstages:\n  build:\n    from: base\n    run: ["echo hi > /out"]\n${tail}`;
      return { file: write(ctx, "image.yaml", text), expect: `compile-error invalid_path|unreadable_import ${at(text, pre.length - 6)}` };
    },
  },
  {
    cls: "imports",
    name: "directory-import",
    make: (dir) => {
      const ctx = join(dir, "ctx4");
      mkdirSync(join(ctx, "dir.yaml"), { recursive: true });
      const pre = `${head}imports:\n  base: `;
      const text = `${pre}dir.yaml\nstages:\n  build:\n    from: base\n    run: ["echo hi > /out"]\n${tail}`;
      return { file: write(ctx, "image.yaml", text), expect: `compile-error unreadable_import|invalid_path ${at(text, pre.length - 6)}` };
    },
  },
  ...cueCases,
  ...cueModuleCases,
];
