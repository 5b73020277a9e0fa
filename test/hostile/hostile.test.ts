// The hostile-input corpus (test/hostile/cases, expectations in expect.txt;
// scale, symlink and FIFO cases from generated.ts), run through the CLI in
// process: `caisson validate` and `caisson compile --platform linux/amd64`.
// Every case: never exit 70, at most 64 KiB printed, nothing invisible
// printed raw. A refused case exits 1 with FILE:L:C: error[CODE] and a hint;
// a valid one exits 0 from both commands.
import { openSync, closeSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { generated } from "./generated.js";

const here = import.meta.dirname;
const repo = join(here, "..", "..");
const MAX_OUTPUT = 64 * 1024;
// What must never reach a terminal raw: C0 but LF, DEL, C1, bidi controls, zero-width and other format characters, separators.
const INVISIBLE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]|[\u{e0000}-\u{e007f}]|[\ud800-\udfff]/u;

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  readonly bytes: number;
}

/** Runs the CLI in this process, capturing what it writes. */
async function run(args: readonly string[]): Promise<Run> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const capture =
    (sink: Buffer[]) =>
    (chunk: string | Uint8Array, enc?: BufferEncoding | ((e?: Error | null) => void), cb?: (e?: Error | null) => void): boolean => {
      sink.push(typeof chunk === "string" ? Buffer.from(chunk, typeof enc === "string" ? enc : "utf8") : Buffer.from(chunk));
      const done = typeof enc === "function" ? enc : cb;
      if (done) queueMicrotask(() => done(null));
      return true;
    };
  const ow = process.stdout.write;
  const ew = process.stderr.write;
  process.stdout.write = capture(out) as typeof process.stdout.write;
  process.stderr.write = capture(err) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(["node", "caisson", ...args]);
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
  const o = Buffer.concat(out);
  const e = Buffer.concat(err);
  return { code, out: o.toString("utf8"), err: e.toString("utf8"), bytes: o.length + e.length };
}

interface Expectation {
  readonly kind: "valid" | "error" | "compile-error";
  readonly codes: readonly string[];
  readonly line: number;
  readonly col: number;
}

function parseExpectation(s: string): Expectation {
  const t = s.trim().split(/\s+/);
  if (t[0] === "valid" && t.length === 1) return { kind: "valid", codes: [], line: 0, col: 0 };
  const m = /^(\d+):(\d+)$/.exec(t[2] ?? "");
  if ((t[0] === "error" || t[0] === "compile-error") && t[1] && m && t.length === 3) {
    return { kind: t[0], codes: t[1].split("|"), line: Number(m[1]), col: Number(m[2]) };
  }
  throw new Error(`bad expectation: ${s}`);
}

/** The printed block of the diagnostic at file:line:col with one of the codes, if any. */
function findDiagnostic(text: string, file: string, e: Expectation): string | undefined {
  const blocks = text.split("\n\n");
  return blocks.find((b) => e.codes.some((c) => b.startsWith(`${file}:${e.line}:${e.col}: error[${c}]:`)));
}

/** A hint: text after the carets, or a `= help:` line. */
function hasHint(block: string): boolean {
  return block.split("\n").some((l) => /^\s*\|\s*\^+\s+\S/.test(l) || /^\s*= help: \S/.test(l));
}

function headline(r: Run): string {
  return `exit ${r.code}; first lines:\n${r.err.split("\n").slice(0, 6).join("\n").slice(0, 2000)}`;
}

const work = mkdtempSync(join(tmpdir(), "caisson-hostile-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;

/** `opts.at`: the file the diagnostic is in, when not the definition (cue.mod/module.cue, a file of a CUE package). */
async function check(file: string, context: string, expectation: string, opts: { secret?: string; fifo?: string; at?: string } = {}): Promise<void> {
  const e = parseExpectation(expectation);
  const out = join(work, `out-${n++}.pb`);
  const validate = await run(["validate", "--no-frozen", file]);
  let unblock: NodeJS.Timeout | undefined;
  let hung = false;
  if (opts.fifo) {
    // A compile that blocks on the FIFO would hang the suite: open its other end after a while, and fail the case.
    const fifo = join(context, opts.fifo);
    unblock = setTimeout(() => {
      hung = true;
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader: nothing is blocked
      }
    }, 10_000);
  }
  const compile = await run(["compile", file, "--platform", "linux/amd64", "--no-frozen", "--context", context, "--source-mirror", "http://127.0.0.1:1", "-o", out]);
  clearTimeout(unblock);
  expect(hung, "compile blocked on a FIFO").toBe(false);
  for (const [name, r] of [["validate", validate], ["compile", compile]] as const) {
    expect(r.code, `${name}: internal error\n${headline(r)}`).not.toBe(70);
    expect(r.bytes, `${name}: printed ${r.bytes} bytes`).toBeLessThanOrEqual(MAX_OUTPUT);
    const raw = INVISIBLE.exec(r.err);
    expect(raw, `${name}: printed U+${raw?.[0]?.codePointAt(0)?.toString(16).padStart(4, "0")} raw`).toBeNull();
    if (opts.secret) expect(r.err.includes(opts.secret) || r.out.includes(opts.secret), `${name}: printed what is outside the context`).toBe(false);
  }
  const where = `${opts.at ?? file}:${e.line}:${e.col}: error[${e.codes.join("|")}]`;
  if (e.kind === "valid") {
    expect(validate.code, `validate: ${headline(validate)}`).toBe(0);
    expect(compile.code, `compile: ${headline(compile)}`).toBe(0);
    return;
  }
  if (e.kind === "error") {
    expect(validate.code, `validate should refuse with ${where}: ${headline(validate)}`).toBe(1);
    const d = findDiagnostic(validate.err, opts.at ?? file, e);
    expect(d, `validate should print ${where}: ${headline(validate)}`).toBeDefined();
    expect(hasHint(d ?? ""), `validate: no hint for\n${d}`).toBe(true);
  } else {
    expect(validate.code, `validate: ${headline(validate)}`).toBe(0);
  }
  expect(compile.code, `compile should refuse with ${where}: ${headline(compile)}`).toBe(1);
  const d = findDiagnostic(compile.err, opts.at ?? file, e);
  expect(d, `compile should print ${where}: ${headline(compile)}`).toBeDefined();
  expect(hasHint(d ?? ""), `compile: no hint for\n${d}`).toBe(true);
}

const expectFile = join(here, "expect.txt");
const listed = readFileSync(expectFile, "utf8")
  .split("\n")
  .map((l) => l.replace(/\s+#.*$/, "").replace(/^#.*$/, "").trim())
  .filter(Boolean)
  .map((l) => {
    const i = l.search(/\s/);
    return { path: l.slice(0, i), expectation: l.slice(i + 1).trim() };
  });

describe("hostile corpus", () => {
  it("lists every case file once, and only case files", () => {
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(relative(join(here, "cases"), p));
      }
    };
    walk(join(here, "cases"));
    expect(listed.map((c) => c.path).sort()).toEqual(files.sort());
    expect(listed.length + generated.length).toBeGreaterThanOrEqual(150);
    for (const c of listed) expect(() => parseExpectation(c.expectation), c.path).not.toThrow();
  });

  for (const c of listed) {
    it(`${c.path}: ${c.expectation}`, async () => {
      const abs = join(here, "cases", c.path);
      await check(relative(repo, abs), dirname(abs), c.expectation);
    });
  }

  for (const g of generated) {
    it(`${g.cls}/${g.name} (generated)`, async () => {
      const dir = mkdtempSync(join(work, `${g.name}-`));
      const { file, expect: expectation, at } = g.make(dir);
      await check(file, dirname(file), expectation, { ...(g.secret ? { secret: g.secret } : {}), ...(g.fifo ? { fifo: g.fifo } : {}), ...(at ? { at } : {}) });
    }, 180_000);
  }
});
