// Writes the hostile-input corpus: test/hostile/cases/<class>/<name> and
// test/hostile/expect.txt, one line per case. Run it after changing a case
// here (`node test/hostile/make-cases.mjs`); the test reads only the files.
//
// In a case's text, ⟦ marks where the expected diagnostic starts (it is
// removed before writing); the line:col in expect.txt is derived from it.
// Cases that must be made at run time (scale, symlinks, FIFOs) live in
// generated.ts.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const here = dirname(new URL(import.meta.url).pathname);
const out = join(here, "cases");
rmSync(out, { recursive: true, force: true });

const MARK = "⟦";
const lines = [
  "# The hostile-input corpus: <case> <expectation>  [# owner or note]",
  "#   valid                  validate and compile --platform linux/amd64 both exit 0",
  "#   error CODE L:C         both exit 1 and print FILE:L:C: error[CODE] with a hint (CODE may be a|b)",
  "#   compile-error CODE L:C validate exits 0; compile exits 1 so",
  "# Every case: never exit 70, at most 64 KiB printed, no raw control/bidi/zero-width characters printed.",
  "# Generated at run time (test/hostile/generated.ts): scale cases, symlinks and FIFOs.",
];
let count = 0;
const perClass = new Map();

/** Writes one case; `text` is a string (UTF-8) with an optional ⟦ marker, or bytes with `at` given. */
function add(cls, name, text, expect, note = "", at) {
  const file = join(out, cls, name);
  mkdirSync(dirname(file), { recursive: true });
  let pos = at;
  let data;
  if (typeof text === "string") {
    const i = text.indexOf(MARK);
    if (i >= 0) {
      const before = text.slice(0, i);
      const ls = before.split("\n");
      pos = `${ls.length}:${[...(ls[ls.length - 1] ?? "")].length + 1}`;
      text = before + text.slice(i + MARK.length);
    }
    data = Buffer.from(text, "utf8");
  } else data = Buffer.from(text);
  writeFileSync(file, data);
  const exp = expect === "valid" ? "valid" : `${expect} ${pos}`;
  if (expect !== "valid" && !pos) throw new Error(`${cls}/${name}: no position`);
  lines.push(`${`${cls}/${name}`.padEnd(44)} ${exp}${note ? `  # ${note}` : ""}`);
  count++;
  perClass.set(cls, (perClass.get(cls) ?? 0) + 1);
}

// A definition that validates and compiles for linux/amd64 without network or context.
const def = ({ top = "", stage = "", image = "", name = "hostile" } = {}) =>
  `name: ${name}\nplatforms: [linux/amd64]\n${top}stages:\n  build:\n    from: scratch\n    run: ["echo hi > /out"]\n${stage}image:\n  from: scratch\n  copy: [{ from: build, src: /out, dest: /app }]\n  entrypoint: [/app]\n${image}`;
const json = (extra = "") =>
  `{\n  "name": "hostile",\n  "platforms": ["linux/amd64"],\n  "stages": { "build": { "from": "scratch", "run": ["echo hi > /out"] } },\n  "image": { "from": "scratch", "copy": [{ "from": "build", "src": "/out", "dest": "/app" }], "entrypoint": ["/app"]${extra} }\n}\n`;

// ── depth ────────────────────────────────────────────────────────────────
// The top-level map is level 1; `x: [` opens level 2, so the 64th `[` is level 65.
const nest = (open, n, mark) => Array.from({ length: n }, (_, i) => (i === mark ? MARK : "") + open).join("");
add("depth", "flow-seq-5000.yaml", `${def()}x: ${nest("[", 5000, 63)}${"]".repeat(5000)}\n`, "error too_deep");
add("depth", "flow-map-5000.yaml", `${def()}x: ${nest("{a: ", 5000, 63)}1${"}".repeat(5000)}\n`, "error too_deep");
add("depth", "flow-seq-65.yaml", `${def()}x: ${nest("[", 64, 63)}${"]".repeat(64)}\n`, "error too_deep");
{
  let t = `${def()}x:\n`;
  for (let i = 0; i < 100; i++) t += `${" ".repeat(2 * i + 2)}${i === 63 ? MARK : ""}a:\n`;
  add("depth", "block-map-100.yaml", t + `${" ".repeat(202)}b\n`, "error too_deep");
}
add("depth", "block-seq-compact-3000.yaml", `${def()}x:\n  ${nest("- ", 3000, 63)}a\n`, "error too_deep");
add("depth", "flow-in-block-1000.yaml", `${def()}x:\n  y:\n    z: ${nest("[", 1000, 61)}${"]".repeat(1000)}\n`, "error too_deep");
add("depth", "json-arrays-5000.json", `{"name": ${nest("[", 5000, 63)}${"]".repeat(5000)}}`, "error too_deep");
add("depth", "json-objects-5000.json", `{"name": ${nest('{"a": ', 5000, 63)}1${"}".repeat(5000)}}`, "error too_deep");
add("depth", "json-arrays-65.json", `{"x": ${nest("[", 64, 63)}${"]".repeat(64)}}`, "error too_deep");
// At the limit: 64 levels load, and the schema says what is wrong.
add("depth", "at-limit-64.yaml", `${def({ image: `  labels:\n    a: ${MARK}${"[".repeat(61)}${"]".repeat(61)}\n` })}`, "error wrong_type");
add("depth", "brackets-in-comment.yaml", `${def()}# ${"[".repeat(5000)}\n`, "valid");
add("depth", "brackets-in-string.yaml", def({ image: `  labels:\n    a: "${"[{".repeat(5000)}"\n` }), "valid");
add("depth", "deep-key.yaml", `${def()}? ${nest("[", 100, 63)}${"]".repeat(100)}\n: 1\n`, "error too_deep");
add("depth", "json-deep-in-string.json", json(`, "labels": { "a": "${"[".repeat(5000)}" }`), "valid");

// ── JSON ─────────────────────────────────────────────────────────────────
add("json", "trailing-comma-object.json", `{\n  "name": "x",\n  "platforms": ["linux/amd64"],\n${MARK}}\n`, "error json_syntax");
add("json", "trailing-comma-array.json", `{\n  "name": "x",\n  "platforms": ["linux/amd64", ${MARK}]\n}\n`, "error json_syntax");
add("json", "missing-colon.json", `{\n  "name" ${MARK}"x"\n}\n`, "error json_syntax");
add("json", "missing-comma.json", `{\n  "name": "x"\n  ${MARK}"platforms": []\n}\n`, "error json_syntax");
add("json", "single-quotes.json", `{\n  "name": ${MARK}'x'\n}\n`, "error json_syntax");
add("json", "line-comment.json", `{\n  ${MARK}// a comment\n  "name": "x"\n}\n`, "error json_syntax");
add("json", "block-comment.json", `{\n  "name": "x" ${MARK}/* a comment */\n}\n`, "error json_syntax");
add("json", "unterminated-string.json", `{\n  "name": "x${MARK}\n}\n`, "error json_syntax");
add("json", "unquoted-key.json", `{\n  ${MARK}name: "x"\n}\n`, "error json_syntax");
add("json", "nan.json", `{\n  "image": { "healthcheck": { "retries": ${MARK}NaN } }\n}\n`, "error json_syntax");
add("json", "infinity.json", `{\n  "x": ${MARK}Infinity\n}\n`, "error json_syntax");
add("json", "leading-zero.json", `{\n  "x": ${MARK}0755\n}\n`, "error json_syntax");
add("json", "plus-sign.json", `{\n  "x": ${MARK}+1\n}\n`, "error json_syntax");
add("json", "bare-fraction.json", `{\n  "x": ${MARK}.5\n}\n`, "error json_syntax");
add("json", "raw-tab-in-string.json", `{\n  "name": "a${MARK}\tb"\n}\n`, "error json_syntax");
add("json", "bad-escape.json", `{\n  "name": "a${MARK}\\xb"\n}\n`, "error json_syntax");
add("json", "short-unicode-escape.json", `{\n  "name": "a${MARK}\\u12"\n}\n`, "error json_syntax");
add("json", "lone-surrogate-escape.json", `{\n  "name": "a${MARK}\\ud800"\n}\n`, "error invalid_encoding");
add("json", "lone-low-surrogate-escape.json", `{\n  "name": "a${MARK}\\udc00b"\n}\n`, "error invalid_encoding");
add("json", "trailing-garbage.json", `${json()}${MARK}garbage\n`, "error json_syntax");
add("json", "two-values.json", `${json()}${MARK}{}\n`, "error json_syntax");
add("json", "empty.json", `${MARK}`, "error empty_definition");
add("json", "whitespace-only.json", `${MARK}\n   \n`, "error empty_definition");
add("json", "truncated.json", `{\n  "name": "x",\n  "platforms": [${MARK}`, "error json_syntax");
add("json", "duplicate-key.json", `{\n  "name": "x",\n  ${MARK}"name": "y"\n}\n`, "error duplicate_key");
add("json", "true-word-typo.json", `{\n  "x": ${MARK}True\n}\n`, "error json_syntax");
add("json", "valid-escapes.json", json(`, "labels": { "a": "caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\ \\/" }`), "valid");
add("json", "valid-compact.json", json().replace(/\n\s*/g, ""), "valid");
add("json", "valid-bom.json", "\ufeff" + json(), "valid");
add("json", "valid-version-number.json", json().replace('"name": "hostile",', '"name": "hostile", "version": 7.0,'), "valid");
add("json", "valid-proto-key.json", json(`, "labels": { "__proto__": "x", "constructor": "y" }`), "valid");

// ── YAML tags ────────────────────────────────────────────────────────────
const tag = (name, line, note) => add("tags", name, def({ image: line }), "error yaml_tag", note);
tag("python-object.yaml", `  cmd: [${MARK}!!python/object/apply:os.system ["id"]]\n`);
tag("python-name.yaml", `  labels: { a: ${MARK}!!python/name:os.system "" }\n`);
tag("binary.yaml", `  labels: { a: ${MARK}!!binary aGVsbG8= }\n`);
tag("timestamp.yaml", `  labels: { a: ${MARK}!!timestamp 2001-12-14 }\n`);
tag("float.yaml", `  expose: [${MARK}!!float 80]\n`);
tag("int.yaml", `  expose: [${MARK}!!int "80"]\n`);
tag("str.yaml", `  labels: { a: ${MARK}!!str 7 }\n`);
tag("bool.yaml", `  runtime: { readOnly: ${MARK}!!bool "true" }\n`);
tag("null.yaml", `  labels: { a: ${MARK}!!null "" }\n`);
tag("map.yaml", `  labels: ${MARK}!!map { a: b }\n`);
tag("seq-on-entrypoint.yaml", `  cmd: ${MARK}!!seq [a]\n`);
tag("custom.yaml", `  cmd: ${MARK}!foo [a]\n`);
tag("include.yaml", `  labels: { a: ${MARK}!include other.yaml }\n`);
tag("non-specific.yaml", `  labels: { a: ${MARK}! 7 }\n`);
tag("verbatim.yaml", `  labels: { a: ${MARK}!<tag:yaml.org,2002:str> 7 }\n`);
tag("on-key.yaml", `  labels: { ${MARK}!!str a: b }\n`);
tag("block-scalar.yaml", `  labels:\n    a: ${MARK}!!binary |\n      aGVsbG8=\n`);
add("tags", "tag-directive.yaml", `%TAG !e! tag:example.com,2000:\n---\n${def({ image: `  labels: { a: ${MARK}!e!thing x }\n` })}`, "error yaml_tag");
add("tags", "on-document.yaml", `${MARK}!!map\n${def()}`, "error yaml_tag");
add("tags", "bang-in-quoted-string.yaml", def({ image: `  labels: { a: "!!python/object x" }\n` }), "valid");

// ── anchors and aliases ──────────────────────────────────────────────────
add("anchors", "anchor-on-block-map.yaml", def({ stage: `  other:\n    from: scratch\n    env: ${MARK}&e\n      A: b\n` }), "error yaml_anchor", "the &e, not the map on the next line");
add("anchors", "alias-value.yaml", def({ image: `  labels: { a: &x b, c: ${MARK}*x }\n` }), "error yaml_alias", "the anchor is reported too, before it");
add("anchors", "alias-only.yaml", def({ image: `  cmd: ${MARK}*nothing\n` }), "error yaml_alias");
add("anchors", "merge-key.yaml", def({ image: `  labels:\n    <<: ${MARK}*base\n` }), "error yaml_alias");
add("anchors", "anchor-on-item.yaml", def({ image: `  cmd: [${MARK}&a x, y]\n` }), "error yaml_anchor");
add("anchors", "alias-as-key.yaml", def({ image: `  labels: { ${MARK}*k : v }\n` }), "error yaml_alias");
add("anchors", "billion-laughs.yaml", `${MARK}a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n`.replace(`${MARK}a: &a`, `a: ${MARK}&a`), "error yaml_anchor");

// ── encodings ────────────────────────────────────────────────────────────
const ascii = def();
const u16le = Buffer.from(ascii, "utf16le");
const u16be = Buffer.from(u16le).swap16();
const u32le = Buffer.alloc(ascii.length * 4);
for (let i = 0; i < ascii.length; i++) u32le.writeUInt32LE(ascii.charCodeAt(i), i * 4);
const u32be = Buffer.alloc(ascii.length * 4);
for (let i = 0; i < ascii.length; i++) u32be.writeUInt32BE(ascii.charCodeAt(i), i * 4);
add("encoding", "utf16le-bom.yaml", Buffer.concat([Buffer.from([0xff, 0xfe]), u16le]), "error invalid_encoding", "", "1:1");
add("encoding", "utf16be-bom.yaml", Buffer.concat([Buffer.from([0xfe, 0xff]), u16be]), "error invalid_encoding", "", "1:1");
add("encoding", "utf16le.yaml", u16le, "error invalid_encoding", "", "1:1");
add("encoding", "utf16be.yaml", u16be, "error invalid_encoding", "", "1:1");
add("encoding", "utf32le-bom.yaml", Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), u32le]), "error invalid_encoding", "", "1:1");
add("encoding", "utf32be-bom.yaml", Buffer.concat([Buffer.from([0, 0, 0xfe, 0xff]), u32be]), "error invalid_encoding", "", "1:1");
add("encoding", "utf16le-bom.json", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(json(), "utf16le")]), "error invalid_encoding", "", "1:1");
const withByte = (prefix, bytes, suffix) => Buffer.concat([Buffer.from(prefix, "utf8"), Buffer.from(bytes), Buffer.from(suffix, "utf8")]);
const posOf = (prefix) => {
  const ls = prefix.split("\n");
  return `${ls.length}:${[...(ls[ls.length - 1] ?? "")].length + 1}`;
};
{
  const p = `${def()}  labels: { a: caf`;
  add("encoding", "latin1-value.yaml", withByte(p, [0xe9], " }\n"), "error invalid_encoding", "", posOf(p));
  const p2 = `${def()}  labels: { caf`;
  add("encoding", "latin1-key.yaml", withByte(p2, [0xe9], ": x }\n"), "error invalid_encoding", "", posOf(p2));
  const p3 = `${def()}  labels: { a: x }\n# trailing `;
  add("encoding", "truncated-at-eof.yaml", withByte(p3, [0xe2, 0x82], ""), "error invalid_encoding", "", posOf(p3));
  const p4 = `${def()}  labels: { a: "`;
  add("encoding", "overlong-slash.yaml", withByte(p4, [0xc0, 0xaf], `" }\n`), "error invalid_encoding", "", posOf(p4));
  add("encoding", "encoded-surrogate.yaml", withByte(p4, [0xed, 0xa0, 0x80], `" }\n`), "error invalid_encoding", "", posOf(p4));
  add("encoding", "byte-f5.yaml", withByte(p4, [0xf5, 0x80, 0x80, 0x80], `" }\n`), "error invalid_encoding", "", posOf(p4));
  add("encoding", "above-10ffff.yaml", withByte(p4, [0xf4, 0x90, 0x80, 0x80], `" }\n`), "error invalid_encoding", "", posOf(p4));
  const p5 = `# a comment with a bad byte `;
  add("encoding", "bad-byte-in-comment.yaml", withByte(p5, [0xff], `\n${def()}`), "error invalid_encoding", "", posOf(p5));
  const p6 = `{\n  "name": "caf`;
  add("encoding", "latin1.json", withByte(p6, [0xe9], `"\n}\n`), "error invalid_encoding", "", posOf(p6));
  const p7 = `${def()}  labels: { a: "é`;
  add("encoding", "after-multibyte.yaml", withByte(p7, [0x80], `" }\n`), "error invalid_encoding", "column counts é as one", posOf(p7));
}
add("encoding", "utf8-bom.yaml", "\ufeff" + def(), "valid");
add("encoding", "utf8-multibyte.yaml", def({ image: `  labels: { "org.opencontainers.image.title": "café ☕ 😀 ünïcødé 日本語" }\n` }), "valid");
add("encoding", "bom-then-error.yaml", `\ufeff${def()}${MARK}bogus: 1\n`, "error unknown_key");

// ── line endings ─────────────────────────────────────────────────────────
add("line-endings", "lone-cr.yaml", def().replace("name: hostile\n", `name: hostile${MARK}\r`).replace(/\n/g, "\r"), "error line_endings");
add("line-endings", "cr-mid-line.yaml", def({ image: `  labels: { a: x${MARK}\ry }\n` }), "error line_endings");
add("line-endings", "crlf-with-lone-cr.yaml", def({ image: `  labels: { a: x }${MARK}\r` }).replace(/\n/g, "\r\n").replace("\r\r\n", "\r"), "error line_endings");
add("line-endings", "crlf.yaml", def().replace(/\n/g, "\r\n"), "valid");
add("line-endings", "mixed-lf-crlf.yaml", def().replace("name: hostile\n", "name: hostile\r\n"), "valid");
add("line-endings", "crlf-error-position.yaml", `${def()}${MARK}bogus: 1\n`.replace(/\n/g, "\r\n"), "error unknown_key");
add("line-endings", "lone-cr.json", json().replace(/\n/g, "\r").replace('{\r  "name"', `{${MARK}\r  "name"`), "error line_endings");

// ── raw control characters ───────────────────────────────────────────────
const ctl = (name, ch, where = "value") => {
  const t = where === "value" ? def({ image: `  labels: { a: "x${MARK}${ch}y" }\n` }) : where === "key" ? def({ image: `  labels: { "k${MARK}${ch}": y }\n` }) : `# comment ${MARK}${ch}\n${def()}`;
  add("control", name, t, "error control_character");
};
ctl("nul-in-value.yaml", "\u0000");
ctl("esc-in-value.yaml", "\u001b");
ctl("esc-in-key.yaml", "\u001b", "key");
ctl("esc-in-comment.yaml", "\u001b[2J\u001b[H", "comment");
ctl("bel.yaml", "\u0007");
ctl("backspace.yaml", "\u0008");
ctl("vertical-tab.yaml", "\u000b");
ctl("form-feed.yaml", "\u000c", "comment");
ctl("del.yaml", "\u007f");
ctl("c1-csi.yaml", "\u009b31m");
ctl("c1-nel.yaml", "\u0085");
ctl("u-fffe.yaml", "\ufffe");
add("control", "nul-at-start.yaml", `${MARK}\u0000${def()}`, "error control_character");
add("control", "esc-raw.json", json(`, "labels": { "a": "x${MARK}\u001by" }`), "error control_character");
add("control", "many-nuls.yaml", `${def()}# ${MARK}${"\u0000".repeat(5000)}\n`, "error control_character", "10 shown, the rest counted");
add("control", "tab-in-value.yaml", def({ image: `  labels: { a: "x\ty" }\n` }), "valid");

// ── terminal safety: invisible characters reach messages and frames escaped ──
add("terminal", "esc-escape-in-name.yaml", def({ name: `${MARK}"a\\e[31mred\\e[0m"` }), "error invalid_name");
add("terminal", "osc-title-in-name.yaml", def({ name: `${MARK}"x\\e]0;pwned\\a"` }), "error invalid_name");
add("terminal", "nul-escape-in-name.yaml", def({ name: `${MARK}"x\\0y"` }), "error invalid_name");
add("terminal", "bidi-in-name.yaml", def({ name: `${MARK}"abc\\u202edcb"` }), "error invalid_name");
add("terminal", "bidi-raw-key.yaml", `${def()}${MARK}nam\u202ee: x\n`, "error unknown_key");
add("terminal", "zero-width-key.yaml", `${def()}${MARK}na\u200bme: x\n`, "error unknown_key|duplicate_key");
add("terminal", "zwj-stage-name.yaml", def({ stage: `  ${MARK}b\u200duild: { from: scratch, run: ["x"] }\n` }), "error invalid_name");
add("terminal", "zero-width-from.yaml", def().replace("from: build, src", `from: ${MARK}"build\\u200b", src`), "error unknown_source_or_stage|unknown_stage");
add("terminal", "line-separator-key.yaml", `${def()}${MARK}a\u2028b: x\n`, "error unknown_key");
add("terminal", "tag-chars-key.yaml", `${def()}${MARK}a\u{e0041}\u{e0042}: x\n`, "error unknown_key");
add("terminal", "soft-hyphen-key.yaml", `${def()}${MARK}im\u00adage: x\n`, "error unknown_key");
add("terminal", "c1-escape-in-name.yaml", def({ name: `${MARK}"x\\x9b31m"` }), "error invalid_name");
add("terminal", "rtl-isolate-in-key.yaml", `${def()}${MARK}\u2067x\u2069: 1\n`, "error unknown_key");
add("terminal", "esc-in-unknown-stage.yaml", def({ stage: `  other:\n    from: ${MARK}"\\e[2Jbiuld"\n    run: [x]\n` }), "error unknown_stage|invalid_image_ref");

// ── positions ────────────────────────────────────────────────────────────
add("positions", "empty-label-key.yaml", def({ image: `  labels:\n    a: b\n    ${MARK}"": c\n` }), "error empty_value", "was reported at the key before it");
add("positions", "anchor-block-line.yaml", `name: hostile\nplatforms: [linux/amd64]\nstages: ${MARK}&s\n  build:\n    from: scratch\n    run: [x]\nimage:\n  from: scratch\n  copy: [{ from: build, src: /out, dest: /app }]\n  entrypoint: [/app]\n`, "error yaml_anchor", "was the line after");
add("positions", "json-error-mid-file.json", json().replace('"platforms": ["linux/amd64"]', `"platforms": ["linux/amd64" ${MARK}"linux/arm64"]`), "error json_syntax", "was the end of the file");
add("positions", "duplicate-key-second.yaml", `${def()}${MARK}name: again\n`, "error duplicate_key");
add("positions", "unclosed-flow.yaml", def({ image: `  cmd: [a, b\n` }) + `${MARK}`, "error yaml_syntax");
add("positions", "tab-indent.yaml", def({ image: `  labels:\n${MARK}\ta: b\n` }), "error yaml_tab");
add("positions", "second-document.yaml", `${def()}${MARK}---\nname: two\n`, "error multiple_documents");
add("positions", "long-line-error.yaml", def({ image: `  labels: { a: "${"x".repeat(5000)}", b: ${MARK}[1] }\n` }), "error wrong_type", "the frame is clipped around the error");

// ── strict values (validate: colleague's src/validate) ───────────────────
const stageUser = (name, v) => add("values", name, def({ stage: `  other:\n    from: build\n    user: ${MARK}${v}\n    run: [x]\n` }).replace("copy: [{ from: build,", "copy: [{ from: other,"), "error invalid_user|out_of_range", "strict values");
stageUser("user-minus-one.yaml", '"-1"');
stageUser("user-trailing-colon.yaml", '"65532:"');
stageUser("user-leading-colon.yaml", '":65532"');
stageUser("user-three-parts.yaml", '"1:2:3"');
stageUser("user-shell.yaml", '"root; rm -rf /"');
stageUser("user-2-pow-32.yaml", "4294967296");
stageUser("user-empty.yaml", '""');
stageUser("user-space.yaml", '" 1000"');
stageUser("user-negative-int.yaml", "-5");
stageUser("user-float.yaml", "1.5");
const imageUser = (name, v) => add("values", name, def({ image: `  user: ${MARK}${v}\n` }), "error invalid_user|out_of_range", "strict values");
imageUser("image-user-trailing-colon.yaml", '"65532:"');
imageUser("image-user-2-pow-32.yaml", '"4294967296:1"');
const signal = (name, v, code = "invalid_signal") => add("values", name, def({ image: `  stopSignal: ${MARK}${v}\n` }), `error ${code}`, "strict values");
signal("signal-rtmax-plus.yaml", "SIGRTMAX+1");
signal("signal-65.yaml", "65");
signal("signal-zero.yaml", '"0"');
signal("signal-huge.yaml", "99999999999999999999");
signal("signal-negative.yaml", '"-9"');
signal("signal-rtmin-minus.yaml", "SIGRTMIN-1");
add("values", "signal-number-valid.yaml", def({ image: "  stopSignal: 15\n" }), "valid", "docs allow a number");
add("values", "signal-rtmin-valid.yaml", def({ image: "  stopSignal: SIGRTMIN+3\n" }), "valid");
signal("signal-lower-case.yaml", "sigterm");
signal("signal-no-prefix.yaml", "TERM");
signal("signal-unknown-name.yaml", "SIGFOO");
const stageUserValid = (name, v) => add("values", name, def({ stage: `  other:\n    from: build\n    user: ${v}\n    run: [x]\n` }).replace("copy: [{ from: build,", "copy: [{ from: other,"), "valid");
stageUserValid("user-valid-names.yaml", '"app:staff"');
stageUserValid("user-valid-max-ids.yaml", '"4294967294:0"');
imageUser("image-user-name.yaml", "nobody");
imageUser("image-user-negative-int.yaml", "-1");
const ctlValue = (name, image) => add("values", name, def({ image }), "error control_character|invalid_value", "strict values");
ctlValue("entrypoint-esc.yaml", "  cmd: [${MARK}\"\\e[2J\"]\n".replace("${MARK}", MARK));
ctlValue("entrypoint-nul.yaml", `  cmd: [a, ${MARK}"b\\0c"]\n`);
add("values", "entrypoint-nul-main.yaml", def().replace("entrypoint: [/app]", `entrypoint: [${MARK}"/app\\0"]`), "error control_character|invalid_value", "strict values");
ctlValue("env-bel.yaml", `  env: { A: ${MARK}"x\\ay" }\n`);
ctlValue("env-carriage-return.yaml", `  env: { A: ${MARK}"x\\ry" }\n`);
ctlValue("label-value-osc.yaml", `  labels: { a: ${MARK}"\\e]8;;http://x\\e\\\\" }\n`);
ctlValue("label-key-esc.yaml", `  labels: { ${MARK}"a\\e[31m": x }\n`);
ctlValue("healthcheck-nul.yaml", `  healthcheck: { test: [${MARK}"/app\\0"] }\n`);
ctlValue("workdir-newline.yaml", `  workdir: ${MARK}"/a\\nb"\n`);
ctlValue("env-c1.yaml", `  env: { A: ${MARK}"\\x9b2J" }\n`);
add("values", "run-nul.yaml", def().replace('run: ["echo hi > /out"]', `run: [${MARK}"echo hi\\0 > /out"]`), "error control_character", "strict values");
add("values", "copy-src-esc.yaml", def().replace("src: /out", `src: ${MARK}"/out\\e"`), "error control_character", "strict values");
add("values", "multiline-values-valid.yaml", def({ image: '  cmd: ["a\\tb", "one\\ntwo"]\n  env: { A: "x\\ty" }\n' }), "valid");
add("values", "volume-root.yaml", def({ image: `  volumes: [${MARK}/]\n` }), "error invalid_path|invalid_value", "strict values");
add("values", "volume-double-slash.yaml", def({ image: `  volumes: [${MARK}//]\n` }), "error invalid_path|invalid_value", "strict values");
add("values", "volume-relative.yaml", def({ image: `  volumes: [${MARK}data]\n` }), "error invalid_path", "strict values");
add("values", "volume-dotdot.yaml", def({ image: `  volumes: [${MARK}/var/../data]\n` }), "error invalid_path", "strict values");
add("values", "volume-dot.yaml", def({ image: `  volumes: [${MARK}/.]\n` }), "error invalid_path|invalid_value", "strict values");
const hc = (name, extra, code = "invalid_duration|out_of_range") => add("values", name, def({ image: `  healthcheck: { test: [/app], ${extra} }\n` }), `error ${code}`, "strict values");
hc("healthcheck-interval-overflow.yaml", `interval: ${MARK}99999999999h`);
hc("healthcheck-timeout-overflow.yaml", `timeout: ${MARK}"9007199254740993ms"`);
hc("healthcheck-start-period-huge.yaml", `startPeriod: ${MARK}1e300s`);
hc("healthcheck-retries-1e100.yaml", `retries: ${MARK}1e100`, "out_of_range|wrong_type");
hc("healthcheck-retries-fraction.yaml", `retries: ${MARK}1.5`, "wrong_type|out_of_range");
hc("healthcheck-retries-2-pow-53.yaml", `retries: ${MARK}9007199254740993`, "out_of_range|wrong_type");
hc("healthcheck-interval-over-100-days.yaml", `interval: ${MARK}2401h`);
add("values", "healthcheck-valid-limits.yaml", def({ image: "  healthcheck: { test: [/app], interval: 2400h, timeout: 1ms, retries: 2147483647 }\n" }), "valid");
add("values", "healthcheck-valid.yaml", def({ image: "  healthcheck: { test: [/app, health], interval: 1m30s, timeout: 500ms, startPeriod: 1.5h, retries: 3 }\n" }), "valid");
const url = (name, u, code = "invalid_url") => add("values", name, def({ top: `sources:\n  s: { url: ${MARK}"${u}", sha256: ${"a".repeat(64)} }\n`, stage: "" }).replace('run: ["echo hi > /out"]', 'mounts: { /s: s }\n    run: ["echo hi > /out"]'), `error ${code}`, "strict values");
url("url-no-host.yaml", "http://");
url("url-empty-host-path.yaml", "https:///x.tar.gz");
url("url-port-no-host.yaml", "http://:80/x.tar.gz");
url("url-credentials.yaml", "https://user:secret@example.org/x.tar.gz", "url_credentials");
url("url-token.yaml", "https://ghp_token@example.org/x.tar.gz", "url_credentials");
url("url-user-no-host.yaml", "http://user@/x.tar.gz");
add("values", "url-valid-port-query.yaml", def({ top: `sources:\n  s: { url: "https://example.org:8443/x.tar.gz?dl=1", sha256: ${"a".repeat(64)} }\n`, stage: "" }).replace('run: ["echo hi > /out"]', 'mounts: { /s: s }\n    run: ["echo hi > /out"]'), "valid");
const git = (name, u, code = "invalid_url") => add("values", name, def({ top: `sources:\n  s: { git: ${MARK}"${u}", commit: ${"a".repeat(40)} }\n` }).replace('run: ["echo hi > /out"]', 'mounts: { /s: s }\n    run: ["echo hi > /out"]'), `error ${code}`, "strict values");
git("git-ext.yaml", "ext::sh -c touch% /tmp/pwned");
git("git-dash.yaml", "-uhelp");
git("git-upload-pack.yaml", "--upload-pack=touch /tmp/pwned");
git("git-file.yaml", "file:///etc");
git("git-bare-path.yaml", "/srv/repo.git");
git("git-relative-path.yaml", "../repo");
git("git-fd.yaml", "fd::3");
git("git-credentials.yaml", "https://user:secret@example.org/repo.git", "url_credentials");
git("git-scp-password.yaml", "git:secret@example.org:team/repo.git", "url_credentials");
git("git-remote-helper-in-scheme.yaml", "transport::https://example.org/repo.git");
git("git-rsync.yaml", "rsync://example.org/repo.git");
git("git-no-repository.yaml", "https://example.org");
git("git-scp-dash-path.yaml", "example.org:-repo");
const gitRef = (name, r) => add("values", name, def({ top: `sources:\n  s: { git: "https://example.org/repo.git", ref: ${MARK}"${r}" }\n` }).replace('run: ["echo hi > /out"]', 'mounts: { /s: s }\n    run: ["echo hi > /out"]'), "error invalid_ref", "strict values");
gitRef("git-ref-dash.yaml", "--upload-pack=touch /tmp/pwned");
gitRef("git-ref-dotdot.yaml", "main..evil");
const gitValid = (name, u) => add("values", name, def({ top: `sources:\n  s: { git: "${u}", commit: ${"a".repeat(40)} }\n` }).replace('run: ["echo hi > /out"]', 'mounts: { /s: s }\n    run: ["echo hi > /out"]'), "valid");
gitValid("git-valid-ssh.yaml", "ssh://git@example.org:2222/team/repo.git");
gitValid("git-valid-git-protocol.yaml", "git://example.org/team/repo.git");
add("values", "git-valid-scp.yaml", def({ top: `sources:\n  s: { git: "git@example.org:team/repo.git", commit: ${"a".repeat(40)} }\n` }).replace('run: ["echo hi > /out"]', 'mounts: { /s: s }\n    run: ["echo hi > /out"]'), "valid");

// ── valid but unusual ────────────────────────────────────────────────────
add("unusual", "flow-document.yaml", `{ name: hostile, platforms: [linux/amd64], stages: { build: { from: scratch, run: ["echo hi > /out"] } }, image: { from: scratch, copy: [{ from: build, src: /out, dest: /app }], entrypoint: [/app] } }\n`, "valid");
add("unusual", "document-markers.yaml", `---\n${def()}...\n`, "valid");
add("unusual", "quoted-keys.yaml", def().replace("name:", '"name":').replace("platforms:", "'platforms':"), "valid");
add("unusual", "yes-no-strings.yaml", def({ image: "  labels: { a: yes, b: no, c: on, d: off, e: ~x }\n" }), "valid");
add("unusual", "version-float.yaml", def().replace("platforms:", "version: 7.0\nplatforms:"), "valid");
add("unusual", "comments-everywhere.yaml", def().split("\n").map((l) => (l ? `${l}  # note` : l)).join("\n").replace('["echo hi > /out"]  # note', '["echo hi > /out"] # note'), "valid");
add("unusual", "long-label-100k.yaml", def({ image: `  labels: { a: "${"x".repeat(100_000)}" }\n` }), "valid");
add("unusual", "many-labels.yaml", def({ image: `  labels:\n${Array.from({ length: 2000 }, (_, i) => `    l${i}: v${i}\n`).join("")}` }), "valid");
add("unusual", "emoji-label.yaml", def({ image: '  labels: { "x.emoji": "🐳🚀" }\n' }), "valid");
add("unusual", "block-scalar-run.yaml", def().replace('run: ["echo hi > /out"]', "run:\n      - |\n        echo hi \\\n          > /out"), "valid");
add("unusual", "empty-lines-and-indent.yaml", `\n\n${def()}\n\n\n`, "valid");
add("unusual", "depth-10.yaml", def({ image: '  labels: { a: "[[[[[[[[[[" }\n' }), "valid");
add("unusual", "tilde-null-cmd.yaml", def({ image: "  cmd: [~x, \"~\"]\n" }), "valid");
add("unusual", "crlf.json", json().replace(/\n/g, "\r\n"), "valid");
add("unusual", "key-order.yaml", `image:\n  entrypoint: [/app]\n  copy: [{ dest: /app, src: /out, from: build }]\n  from: scratch\nstages:\n  build:\n    run: ["echo hi > /out"]\n    from: scratch\nplatforms: [linux/amd64]\nname: hostile\n`, "valid");

writeFileSync(join(here, "expect.txt"), lines.join("\n") + "\n");
console.log(`${count} cases: ${[...perClass].map(([c, n]) => `${c} ${n}`).join(", ")}`);
