// Control characters in a definition's strings. Every string value and key is
// looked at, wherever it is: NUL cannot be passed to a program or written to
// the image config, and the others (escape sequences, carriage returns, …)
// reach the image config, the build's logs and terminals unseen. Commands,
// exec-form arguments, env and label values and free-text reasons may hold
// tabs and newlines; names, paths and every other value may not.
import type { YamlNode } from "../load/index.js";
import type { Span } from "../model/index.js";
import type { Context } from "./context.js";
import { describePath } from "./describe.js";

/** Where a string may hold TAB and LF. */
const MULTILINE: readonly RegExp[] = [
  /^\/stages\/[^/]+\/run\/\d+$/,
  /^\/image\/(entrypoint|cmd)\/\d+$/,
  /^\/image\/healthcheck\/test\/\d+$/,
  /^\/(image|stages\/[^/]+)\/env\/[^/]+$/,
  /^\/image\/labels\/[^/]+$/,
  /^\/image\/user\/rootReason$/,
  /^\/image\/check\/waivers\/\d+\/reason$/,
];

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_BUT_TAB_LF = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

const NAMES: Readonly<Record<number, string>> = {
  0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x09: "TAB", 0x0a: "LF (newline)", 0x0b: "VT", 0x0c: "FF", 0x0d: "CR", 0x1b: "ESC", 0x7f: "DEL",
};

function describeChar(c: string): string {
  const code = c.charCodeAt(0);
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  return NAMES[code] !== undefined ? `${hex} ${NAMES[code]}` : hex;
}

function escapePointer(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** Reports every string (value or key) holding a control character it may not, at its node. */
export function checkControlCharacters(ctx: Context, root: YamlNode | undefined): void {
  if (!root) return;
  const report = (s: string, pointer: string, span: Span, isKey: boolean): void => {
    const multiline = !isKey && MULTILINE.some((re) => re.test(pointer));
    const m = (multiline ? CONTROL_BUT_TAB_LF : CONTROL).exec(s);
    if (!m) return;
    const where = isKey ? `a key in ${describePath(pointer.slice(0, pointer.lastIndexOf("/")))}` : describePath(pointer);
    const what = describeChar(m[0]);
    ctx.err(
      "control_character",
      `${where} contains the control character ${what} at character ${m.index + 1}`,
      span,
      m[0] === "\u0000"
        ? "remove it: a NUL cannot be passed to a program or stored in the image config"
        : multiline
          ? "remove it: only tabs and newlines are allowed here; control characters reach the image config and terminals unseen"
          : "remove it: names, paths and values here are printable text",
    );
  };
  // Iterative: the input's depth cannot overflow the stack.
  const stack: { node: YamlNode; pointer: string }[] = [{ node: root, pointer: "" }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { node, pointer } = top;
    switch (node.kind) {
      case "scalar":
        if (typeof node.value === "string") report(node.value, pointer, node.span, false);
        break;
      case "seq":
        for (let i = node.items.length - 1; i >= 0; i--) stack.push({ node: node.items[i]!, pointer: `${pointer}/${i}` });
        break;
      case "map":
        for (let i = node.entries.length - 1; i >= 0; i--) {
          const e = node.entries[i]!;
          const p = `${pointer}/${escapePointer(e.key)}`;
          report(e.key, p, e.keySpan, true);
          stack.push({ node: e.value, pointer: p });
        }
        break;
    }
  }
}
