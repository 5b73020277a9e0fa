/**
 * Offsets in a Span are UTF-8 byte offsets into the definition's text (what
 * BuildKit, a Go program, indexes the embedded source with). JavaScript
 * strings index UTF-16 code units; this module converts between the two and
 * derives line/column positions only when something is printed.
 */

/** A position derived from a byte offset. */
export interface Position {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column, counted in Unicode code points (what an editor shows). */
  readonly column: number;
  /** 0-based column in code points (for LLB source-map ranges). */
  readonly character: number;
}

/** True when every char is ASCII, so byte and UTF-16 offsets coincide. */
function isAscii(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text);
}

/** UTF-8 length of one code point. */
function utf8Len(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/** Maps a text's line starts and converts between UTF-16 indices and UTF-8 byte offsets. */
export class LineIndex {
  readonly text: string;
  /** Byte length of the text in UTF-8. */
  readonly byteLength: number;
  private readonly ascii: boolean;
  /** Byte offset at each UTF-16 index (only when not ASCII), length text.length + 1. */
  private readonly byteAt: Uint32Array | undefined;
  /** Byte offsets where each line starts. */
  private readonly lineStarts: number[];

  constructor(text: string) {
    this.text = text;
    this.ascii = isAscii(text);
    if (this.ascii) {
      this.byteAt = undefined;
      this.byteLength = text.length;
    } else {
      const map = new Uint32Array(text.length + 1);
      let b = 0;
      for (let i = 0; i < text.length; ) {
        const cp = text.codePointAt(i) ?? 0;
        const units = cp > 0xffff ? 2 : 1;
        map[i] = b;
        if (units === 2) map[i + 1] = b;
        b += utf8Len(cp);
        i += units;
      }
      map[text.length] = b;
      this.byteAt = map;
      this.byteLength = b;
    }
    this.lineStarts = [0];
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) === 10) this.lineStarts.push(this.toByte(i + 1));
    }
  }

  /** UTF-16 index → UTF-8 byte offset (clamped to the text). */
  toByte(index: number): number {
    const i = Math.max(0, Math.min(this.text.length, Math.trunc(index)));
    return this.byteAt ? (this.byteAt[i] ?? this.byteLength) : i;
  }

  /** UTF-8 byte offset → UTF-16 index (clamped; a byte inside a character maps to its start). */
  toIndex(byte: number): number {
    const b = Math.max(0, Math.min(this.byteLength, Math.trunc(byte)));
    if (!this.byteAt) return b;
    let lo = 0;
    let hi = this.text.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.byteAt[mid] ?? 0) <= b) lo = mid;
      else hi = mid - 1;
    }
    while (lo > 0 && this.byteAt[lo - 1] === this.byteAt[lo]) lo--;
    return lo;
  }

  /** Number of lines (a trailing newline starts an empty last line). */
  get lineCount(): number {
    return this.lineStarts.length;
  }

  /** 0-based line containing the byte offset. */
  private lineOf(byte: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= byte) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Line and columns of a byte offset (clamped to the text). */
  position(byte: number): Position {
    const b = Math.max(0, Math.min(this.byteLength, Math.trunc(byte)));
    const line = this.lineOf(b);
    const startIdx = this.toIndex(this.lineStarts[line] ?? 0);
    const idx = this.toIndex(b);
    let character = idx - startIdx;
    for (let i = startIdx; i < idx; i++) {
      // A surrogate pair is one code point.
      if ((this.text.charCodeAt(i) & 0xfc00) === 0xd800 && (this.text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 && i + 1 < idx) {
        character--;
        i++;
      }
    }
    return { line: line + 1, column: character + 1, character };
  }

  /** Byte offset of a 1-based line and 0-based code-point column (an LLB source-map position), clamped to the line. */
  offsetOf(line: number, character: number): number {
    const start = this.lineStarts[Math.max(0, Math.min(this.lineStarts.length - 1, line - 1))] ?? 0;
    const text = this.lineText(Math.max(1, Math.min(this.lineStarts.length, line)));
    let i = 0;
    for (let n = 0; n < character && i < text.length; n++) i += (text.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
    return start + Buffer.byteLength(text.slice(0, i));
  }

  /** The text of a 1-based line, without its line break. */
  lineText(line: number): string {
    const start = this.lineStarts[line - 1];
    if (start === undefined) return "";
    const next = this.lineStarts[line];
    const s = this.toIndex(start);
    const e = next === undefined ? this.text.length : this.toIndex(next) - 1;
    return this.text.slice(s, e).replace(/\r$/, "");
  }

  /** The text between two byte offsets. */
  slice(start: number, end: number): string {
    return this.text.slice(this.toIndex(start), this.toIndex(end));
  }
}
