import { error } from "../diag/index.js";
import type { Diagnostic } from "../diag/index.js";
import type { LineIndex } from "../diag/index.js";
import type { Span } from "../model/index.js";
import { LIMITS } from "./limits.js";

/**
 * Checks on a definition's text before it is parsed: size, encoding, line
 * endings and raw control characters. Files are decoded by `decodeUtf8`,
 * which keeps every byte that is not UTF-8 as a lone surrogate U+DC80–U+DCFF
 * (never U+FFFD), so the loader can say which byte, where, and what the file
 * probably is (UTF-16, UTF-32).
 */

/** Builds spans from UTF-16 ranges, trimming trailing blanks and converting to bytes. */
export class Spanner {
  constructor(
    readonly file: string,
    readonly text: string,
    readonly lines: LineIndex,
  ) {}
  span(start: number, end: number): Span {
    let s = Math.max(0, Math.min(this.text.length, start));
    let e = Math.max(s, Math.min(this.text.length, end));
    while (e > s && /\s/.test(this.text[e - 1] ?? "")) e--;
    if (s > e) s = e;
    return { file: this.file, start: this.lines.toByte(s), end: this.lines.toByte(e) };
  }
}

const CONTROL_NAMES: Record<number, string> = {
  0: "NUL", 7: "BEL", 8: "BS", 9: "TAB", 10: "LF", 11: "VT", 12: "FF", 13: "CR", 0x1b: "ESC", 0x7f: "DEL", 0x85: "NEL",
};

/** A character for a message: `"x"` when printable, else its code point (`U+001B (ESC)`); with `end`, the quoted text up to it. */
export function describeChar(text: string, at: number, end?: number): string {
  if (end !== undefined && end > at + 1) {
    const s = text.slice(at, Math.min(end, at + 40));
    return `"${s}${end > at + 40 ? "…" : ""}"`;
  }
  const cp = text.codePointAt(at);
  if (cp === undefined) return "the end of the file";
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0xfeff) {
    const name = CONTROL_NAMES[cp];
    return `U+${cp.toString(16).toUpperCase().padStart(4, "0")}${name ? ` (${name})` : ""}`;
  }
  return `"${String.fromCodePoint(cp)}"`;
}

/** `too_deep` at the collection that went one level past the limit. */
export function tooDeep(sp: Spanner, start: number, end: number, level: number): Diagnostic {
  return error("too_deep", `nesting deeper than ${LIMITS.depth} levels (the limit): this is level ${level}`, sp.span(start, Math.max(end, start + 1)), {
    hint: `a definition nests a few levels deep; flatten it (the limit is ${LIMITS.depth} levels of maps and lists)`,
  });
}

/** `too_large` at the node that went past the node limit. */
export function tooManyNodes(sp: Spanner, at: number): Diagnostic {
  return error("too_large", `more than ${LIMITS.nodes.toLocaleString("en-US")} values, keys, maps and lists (the limit)`, sp.span(at, at + 1), {
    hint: "split the definition, or generate fewer entries",
  });
}

const INVALID_BYTE = /[\udc80-\udcff]/;
// Raw characters YAML and JSON do not allow in a file: C0 controls but TAB/LF/CR, DEL, C1, U+FFFE/U+FFFF, lone surrogates.
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** UTF-16 or UTF-32, told from a byte-order mark or from NULs between ASCII characters. */
function wideEncoding(text: string): { name: string; bomLength: number } | undefined {
  const c = (i: number): number => text.charCodeAt(i);
  const byte = (i: number): number => {
    const u = c(i);
    // An invalid byte kept as U+DCxx, or U+FFFD when someone else decoded it lossily.
    return u >= 0xdc80 && u <= 0xdcff ? u - 0xdc00 : u === 0xfffd ? 0x100 : u;
  };
  const [b0, b1, b2, b3] = [byte(0), byte(1), byte(2), byte(3)];
  if (b0 === 0xff && b1 === 0xfe && b2 === 0 && b3 === 0) return { name: "UTF-32 (little-endian, with a byte-order mark)", bomLength: 4 };
  if (b0 === 0 && b1 === 0 && b2 === 0xfe && b3 === 0xff) return { name: "UTF-32 (big-endian, with a byte-order mark)", bomLength: 4 };
  if (b0 === 0xff && b1 === 0xfe) return { name: "UTF-16 (little-endian, with a byte-order mark)", bomLength: 2 };
  if (b0 === 0xfe && b1 === 0xff) return { name: "UTF-16 (big-endian, with a byte-order mark)", bomLength: 2 };
  if (b0 === 0x100 && b1 === 0x100 && (c(2) === 0 || c(3) === 0)) return { name: "UTF-16 or UTF-32 (with a byte-order mark)", bomLength: 2 };
  if (text.length >= 4) {
    if (b0 !== 0 && b1 === 0 && b2 === 0 && b3 === 0) return { name: "UTF-32 (little-endian)", bomLength: 0 };
    if (b0 === 0 && b1 === 0 && b2 === 0 && b3 !== 0) return { name: "UTF-32 (big-endian)", bomLength: 0 };
  }
  // Without a BOM: ASCII characters each followed (LE) or preceded (BE) by a NUL, twice.
  if (text.length >= 4) {
    const ascii = (b: number): boolean => b > 0 && b < 0x80;
    if (ascii(b0) && b1 === 0 && ascii(b2) && b3 === 0) return { name: "UTF-16 (little-endian)", bomLength: 0 };
    if (b0 === 0 && ascii(b1) && b2 === 0 && ascii(b3)) return { name: "UTF-16 (big-endian)", bomLength: 0 };
  }
  return undefined;
}

/**
 * Problems with the file as text: too large, not UTF-8, lone-CR line
 * endings, raw control characters. Any of them means the file is not parsed.
 */
export function checkText(text: string, sp: Spanner): Diagnostic[] {
  const lines = sp.lines;
  if (lines.byteLength > LIMITS.fileBytes) {
    const at = lines.toIndex(LIMITS.fileBytes);
    return [
      error("too_large", `the file is larger than ${LIMITS.fileBytes.toLocaleString("en-US")} bytes (8 MiB), the limit for a definition; it goes past it here`, sp.span(at, at + 1), {
        hint: "split the definition into imported ones, or check that this is the file you meant",
      }),
    ];
  }
  const wide = wideEncoding(text);
  if (wide) {
    return [
      error("invalid_encoding", `the file is ${wide.name}; definitions are UTF-8`, sp.span(0, Math.max(1, wide.bomLength)), {
        hint: "save it as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8 file > file.utf8`; most editors offer \"UTF-8\" on saving)",
      }),
    ];
  }
  const bad = INVALID_BYTE.exec(text);
  if (bad) {
    const i = bad.index;
    const b = text.charCodeAt(i) - 0xdc00;
    const more = (text.match(/[\udc80-\udcff]/g)?.length ?? 1) - 1;
    return [
      error("invalid_encoding", `invalid UTF-8: byte 0x${b.toString(16).padStart(2, "0")} at byte offset ${lines.toByte(i)}${more > 0 ? ` (and ${more} more invalid byte${more === 1 ? "" : "s"})` : ""}`, sp.span(i, i + 1), {
        hint: "save the file as UTF-8 (if it is Latin-1: `iconv -f LATIN1 -t UTF-8`)",
      }),
    ];
  }
  const cr = /\r(?!\n)/.exec(text);
  if (cr) {
    const crlf = text.indexOf("\r\n") >= 0;
    return [
      error("line_endings", `a line ends in a lone CR${crlf ? " (among CRLF line endings)" : " (classic Mac OS line endings)"}`, sp.span(cr.index, cr.index + 1), {
        hint: "save the file with LF (Unix) or CRLF (Windows) line endings, e.g. `sed -i 's/\\r$//; s/\\r/\\n/g' file`",
      }),
    ];
  }
  const out: Diagnostic[] = [];
  RAW_CONTROL.lastIndex = 0;
  let total = 0;
  const found: number[] = [];
  for (let m = RAW_CONTROL.exec(text); m; m = RAW_CONTROL.exec(text)) {
    total++;
    if (found.length < LIMITS.controlCharacters) found.push(m.index);
  }
  found.forEach((i, n) => {
    const more = n === found.length - 1 && total > found.length ? ` (and ${total - found.length} more in the file, not shown)` : "";
    out.push(
      error("control_character", `${describeChar(text, i)} in the file${more}`, sp.span(i, i + 1), {
        hint: 'YAML and JSON do not allow this character raw: remove it (in a double-quoted string, escapes such as "\\t" are allowed)',
      }),
    );
  });
  return out;
}

/**
 * Decodes a definition's bytes as UTF-8, keeping a BOM (so offsets stay
 * byte-exact) and every byte that is not part of valid UTF-8 as U+DC80–U+DCFF,
 * which `checkText` reports with its position. Never replaces with U+FFFD.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    // Slow path, only for files that are not UTF-8: decode by hand.
  }
  const parts: string[] = [];
  let run: number[] = [];
  const flush = (): void => {
    if (run.length > 0) parts.push(String.fromCharCode(...run));
    run = [];
  };
  const n = bytes.length;
  for (let i = 0; i < n; ) {
    const b = bytes[i] as number;
    let cp = -1;
    let len = 1;
    if (b < 0x80) cp = b;
    else {
      const need = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : 0;
      if (need > 0) {
        let v = need === 1 ? b & 0x1f : need === 2 ? b & 0x0f : b & 0x07;
        let ok = true;
        for (let k = 1; k <= need; k++) {
          const c = bytes[i + k];
          if (c === undefined || (c & 0xc0) !== 0x80) {
            ok = false;
            break;
          }
          v = (v << 6) | (c & 0x3f);
        }
        const min = need === 1 ? 0x80 : need === 2 ? 0x800 : 0x10000;
        if (ok && v >= min && v <= 0x10ffff && !(v >= 0xd800 && v <= 0xdfff)) {
          cp = v;
          len = need + 1;
        }
      }
    }
    if (cp < 0) cp = 0xdc00 + b;
    if (cp > 0xffff) {
      cp -= 0x10000;
      run.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else run.push(cp);
    if (run.length > 8192) flush();
    i += len;
  }
  flush();
  return parts.join("");
}
