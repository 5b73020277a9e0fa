// Fuzzing load → validate → compile with fast-check over mutated definitions
// (test/fixtures/valid/*, images/*/image.yaml). Cheap mutations — byte
// flips to hostile characters, line deletions/duplications/swaps, token
// swaps, deep nesting and long runs injected, truncation — so a CI run does
// 100,000 cases in about a minute. The property: nothing but diagnostics
// ever comes out (no exception escapes compileDefinition), and what would be
// printed is bounded and shows nothing invisible raw.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { compileDefinition } from "../../src/compile/index.js";
import { formatDiagnostics, toJsonDiagnostics } from "../../src/diag/index.js";

const repo = join(import.meta.dirname, "..", "..");

export interface Seed {
  readonly file: string;
  readonly text: string;
  readonly lines: readonly string[];
}

/** The seeds: every valid fixture and image definition (not the bootstrap one, which has its own validator). */
export function seeds(): Seed[] {
  const out: Seed[] = [];
  for (const root of ["test/fixtures/valid", "images"]) {
    for (const d of readdirSync(join(repo, root)).sort()) {
      for (const name of ["image.yaml", "image.json"]) {
        const file = join(root, d, name);
        if (!existsSync(join(repo, file)) || d === "debian") continue;
        const text = readFileSync(join(repo, file), "utf8");
        out.push({ file, text, lines: text.split("\n") });
      }
    }
  }
  return out;
}

// Characters that break things: controls, invisible and bidi characters, YAML and JSON syntax, a byte that was not UTF-8.
const HOSTILE = [
  "\u0000", "\u001b", "\t", "\r", "\n", "\u007f", "\u0085", "\u009b", "\u200b", "\u202e", "\u2028", "\ufeff", "\udc80", "\ud800", "é", "😀",
  "'", '"', "\\", "[", "]", "{", "}", ",", ":", "-", "#", "&", "*", "!", "|", ">", "?", "%", "@", "`", " ", "0", "9", "a", "Z", ".", "/", "$",
];
// Tokens swapped in for a word: keys, names, numbers at the edges of their ranges, YAML oddities.
const TOKENS = [
  "from", "run", "copy", "stages", "image", "sources", "imports", "scratch", "build", "name", "platforms", "user", "env", "labels", "entrypoint",
  "true", "false", "null", "~", "0", "-1", "1e100", "4294967296", "9007199254740993", "0x10", "0755", "7.0", '""', "[]", "{}", "*a", "&a", "!!str",
  "!!binary", "!x", "linux/s390x", "windows/amd64", "SIGRTMAX+1", "65532:", "/", "..", "../../etc/passwd", "ext::sh", "-u", "file:///", "http://",
  "https://u:p@h/x", "sha256:", "a".repeat(64), "${X}", "$(id)", "\u202eevil", "x\u0000y", "<<",
];

export type Mutation =
  | { kind: "flip"; at: number; ch: number }
  | { kind: "deleteLine" | "duplicateLine"; line: number }
  | { kind: "swapLines"; a: number; b: number }
  | { kind: "token"; word: number; token: number }
  | { kind: "nest"; at: number; depth: number; flow: boolean }
  | { kind: "long"; at: number; length: number }
  | { kind: "indent"; line: number; delta: number }
  | { kind: "truncate"; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), ch: fc.nat(HOSTILE.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom("deleteLine" as const, "duplicateLine" as const), line: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("swapLines" as const), a: fc.nat(), b: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("token" as const), word: fc.nat(), token: fc.nat(TOKENS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("nest" as const), at: fc.nat(), depth: fc.integer({ min: 1, max: 3000 }), flow: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("long" as const), at: fc.nat(), length: fc.integer({ min: 100, max: 5_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("indent" as const), line: fc.nat(), delta: fc.integer({ min: -4, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
);

/** Applies one mutation; positions wrap around the text so every one lands somewhere. */
export function mutate(text: string, m: Mutation): string {
  const n = Math.max(1, text.length);
  switch (m.kind) {
    case "flip": {
      const i = m.at % n;
      return text.slice(0, i) + (HOSTILE[m.ch] ?? "") + text.slice(i + 1);
    }
    case "deleteLine":
    case "duplicateLine":
    case "swapLines":
    case "indent": {
      const lines = text.split("\n");
      const L = lines.length;
      if (m.kind === "deleteLine") lines.splice(m.line % L, 1);
      else if (m.kind === "duplicateLine") lines.splice(m.line % L, 0, lines[m.line % L] ?? "");
      else if (m.kind === "swapLines") {
        const a = m.a % L;
        const b = m.b % L;
        [lines[a], lines[b]] = [lines[b] ?? "", lines[a] ?? ""];
      } else if (m.kind === "indent") {
        const i = m.line % L;
        const l = lines[i] ?? "";
        lines[i] = m.delta > 0 ? " ".repeat(m.delta) + l : l.slice(Math.min(-m.delta, l.length - l.trimStart().length));
      }
      return lines.join("\n");
    }
    case "token": {
      const words = [...text.matchAll(/[A-Za-z0-9_./:-]+/g)];
      const w = words[m.word % Math.max(1, words.length)];
      if (!w) return text;
      return text.slice(0, w.index) + (TOKENS[m.token] ?? "") + text.slice(w.index + w[0].length);
    }
    case "nest": {
      const i = m.at % n;
      // Block nesting grows quadratically with its indentation: at most 150 levels (past the limit of 64 all the same).
      const depth = m.flow ? m.depth : 1 + (m.depth % 150);
      const open = m.flow ? "[".repeat(depth) : Array.from({ length: depth }, (_, k) => `\n${" ".repeat(2 * k + 2)}a:`).join("");
      return text.slice(0, i) + open + (m.flow ? "]".repeat(depth) : " x") + text.slice(i);
    }
    case "long": {
      const i = m.at % n;
      return text.slice(0, i) + "x".repeat(m.length) + text.slice(i);
    }
    case "truncate":
      return text.slice(0, m.at % n);
  }
}

export const caseArbitrary = (count: number): fc.Arbitrary<{ seed: number; mutations: Mutation[] }> =>
  fc.record({ seed: fc.nat(count - 1), mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }) });

// What must never reach a terminal raw.
const INVISIBLE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]|[\ud800-\udfff]/u;
const amd64 = { os: "linux", architecture: "amd64" } as const;

/** One case: compile the mutated text; throws only on a real failure (an exception, or unsafe output). */
export async function runCase(file: string, text: string): Promise<void> {
  const r = await compileDefinition(file, text, {
    buildPlatform: amd64,
    platforms: [amd64],
    sourceMirror: "http://127.0.0.1:1",
    readContext: () => Promise.reject(new Error("no build context in the fuzzer")),
  });
  if (r.diagnostics.length === 0) return;
  const printed = formatDiagnostics(r.diagnostics, r.texts);
  if (Buffer.byteLength(printed) > 64 * 1024) throw new Error(`printed ${Buffer.byteLength(printed)} bytes`);
  const raw = INVISIBLE.exec(printed);
  if (raw) throw new Error(`printed U+${raw[0].codePointAt(0)?.toString(16)} raw:\n${printed.slice(0, 2000)}`);
  toJsonDiagnostics(r.diagnostics, r.texts);
}

/** How many cases: 100,000 under CI=true (split over the fuzz test files), fewer on a workstation. */
export function totalRuns(): number {
  if (process.env["FUZZ_RUNS"]) return Number(process.env["FUZZ_RUNS"]);
  return process.env["CI"] === "true" ? 100_000 : 4_000;
}
