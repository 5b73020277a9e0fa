// Hostile CUE definitions (run with the generated cases: each evaluation
// starts CUE's WebAssembly build, so they get the generated cases' time).
// CUE's own errors come at CUE's positions; the limits (size before CUE
// runs, time, memory and output while it runs) as diagnostics at the file's
// first line; caisson's diagnostics at the CUE line that set the value.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { GeneratedCase } from "./generated.js";

/** A valid definition; the cases below edit it (their positions count its comment line). */
const VALID = readFileSync(join(import.meta.dirname, "../fixtures/cue/minimal.cue"), "utf8");

const cases: readonly [name: string, text: string | Buffer, expect: string][] = [
  ["valid", VALID, "valid"],
  ["unterminated-string", 'package h\nname: "x\n', "error cue_syntax 2:7"],
  ["unclosed-brace", "package h\nimage: {\n", "error cue_syntax 3:1"],
  ["conflict", 'package h\nname: "a"\nname: "b"\n', "error cue_conflict 3:7"],
  ["conflict-in-template", VALID.replace("#T", "") + '#T: {image: user: "65532:65532"}\nimage: #T.image\nimage: user: "1000"\n', "error cue_conflict 16:14"],
  ["incomplete", VALID.replace('name:      "hostile"', "name:      string"), "error cue_incomplete 4:12"],
  ["structural-cycle", 'package h\nname: "x"\nimage: a: image\n', "error cue_cycle 3:11"],
  ["reference-cycle", "package h\na: b\nb: a\nname: a\n", "error cue_cycle|cue_incomplete 1:1"],
  ["closed-definition", 'package h\n#A: {a: int}\nv: #A & {b: 1}\n', "error cue_not_allowed 3:10"],
  ["missing-import", 'package h\nimport "example.local/nope"\nname: nope.x\n', "error cue_import 2:8"],
  ["empty", "", "error missing_key 1:1"],
  ["top-level-list", "[1, 2]\n", "error wrong_type 1:1"],
  ["unknown-key", VALID.replace("entrypoint:", 'entrypont: ["/hi"]\n\tentrypoint:'), "error unknown_key 12:14"],
  ["root-user", VALID.replace('entrypoint: ["/hi"]', 'entrypoint: ["/hi"]\n\tuser: "root"'), "error invalid_user 13:8"],
  ["latin1", Buffer.from('package h\nname: "caf\xe9"\n', "latin1"), "error invalid_encoding 2:11"],
  ["utf16", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('package h\nname: "x"\n', "utf16le")]), "error invalid_encoding 1:1"],
  ["huge", `package h\n${"// padding\n".repeat(900_000)}name: "x"\n`, "error too_large 1:1"],
  ["deep-nesting", `package h\nname: ${"{a: ".repeat(5000)}1${"}".repeat(5000)}\n`, "error too_deep 2:519"],
  ["exponential-list", 'package h\nimport "list"\nname: "x"\nx: list.Range(0, 100000000, 1)\n', "error cue_memory|cue_timeout|too_large 1:1"],
  ["recursive-definition", 'package h\n#F: {n: int, next: #F & {n: n + 1}}\nname: #F & {n: 0}\n', "error cue_cycle|cue_memory|cue_timeout|too_large|cue_incomplete 1:1"],
];

export const cueCases: readonly GeneratedCase[] = cases.map(([name, text, expect]) => ({
  cls: "cue",
  name,
  make: (dir: string) => {
    const file = join(dir, `${name}.cue`);
    writeFileSync(file, text);
    return { file, expect };
  },
}));

/** A module of files (a string: a file; `-> target`: a symlink), and its package folder `pkg` as the definition. */
function module(dir: string, layout: Record<string, string>): string {
  const mod = join(dir, "mod");
  for (const [p, text] of Object.entries(layout)) {
    const file = join(mod, p);
    mkdirSync(join(file, ".."), { recursive: true });
    if (text.startsWith("-> ")) symlinkSync(text.slice(3), file);
    else writeFileSync(file, text);
  }
  return join(mod, "pkg");
}

const M = 'module: "example.com/m"\n';

/** Package folders in a module: cue.mod/module.cue, symlinked files, CUE's messages about the evaluator's own paths. */
export const cueModuleCases: readonly GeneratedCase[] = [
  {
    cls: "cue",
    name: "module-not-a-string",
    make: (dir) => {
      const file = module(dir, { "cue.mod/module.cue": "module: 42\n", "pkg/image.cue": VALID });
      return { file, expect: "error cue_module 1:1", at: join(file, "..", "cue.mod", "module.cue") };
    },
  },
  {
    cls: "cue",
    name: "module-syntax",
    make: (dir) => {
      const file = module(dir, { "cue.mod/module.cue": "// the module\ngarbage {{{\n", "pkg/image.cue": VALID });
      return { file, expect: "error cue_module 2:9", at: join(file, "..", "cue.mod", "module.cue") };
    },
  },
  {
    cls: "cue",
    name: "import-climbing-out",
    secret: "%!(",
    make: (dir) => {
      const file = module(dir, { "cue.mod/module.cue": M, "pkg/image.cue": 'package h\nimport "example.com/m/../../../etc"\nname: "x"\n' });
      return { file, expect: "error cue_import 2:8", at: join(file, "image.cue") };
    },
  },
  {
    cls: "cue",
    name: "two-packages-one-folder",
    secret: "caisson-cue-mount",
    make: (dir) => {
      const file = module(dir, { "cue.mod/module.cue": M, "pkg/a.cue": 'package h\nname: "x"\n', "pkg/b.cue": "package other\n" });
      return { file, expect: "error cue_error 1:1", at: join(file, "a.cue") };
    },
  },
  {
    cls: "cue",
    name: "symlink-outside-the-module",
    secret: "TOPSECRET",
    make: (dir) => {
      writeFileSync(join(dir, "secret.cue"), 'package h\nleak: "TOPSECRET"\n');
      const file = module(dir, { "cue.mod/module.cue": M, "pkg/image.cue": VALID, "pkg/leak.cue": "-> ../../secret.cue" });
      return { file, expect: "error cue_symlink 1:1", at: join(file, "leak.cue") };
    },
  },
  {
    cls: "cue",
    name: "symlink-inside-the-module",
    make: (dir) => ({ file: module(dir, { "cue.mod/module.cue": M, "shared/real.cue": VALID, "pkg/image.cue": "-> ../shared/real.cue" }), expect: "valid" }),
  },
];
