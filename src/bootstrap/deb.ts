// Reading .deb control data and writing deb822 paragraphs.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { BootstrapError, run } from "./exec.js";

/** A deb822 paragraph: field names in their original order, values verbatim (continuation lines kept). */
export type Paragraph = ReadonlyArray<readonly [field: string, value: string]>;

/** Splits deb822 text into paragraphs. Values keep their continuation lines (joined with "\n"). */
export function parseDeb822(text: string): Paragraph[] {
  const paragraphs: Paragraph[] = [];
  let cur: Array<[string, string]> = [];
  const flush = (): void => {
    if (cur.length) paragraphs.push(cur);
    cur = [];
  };
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      flush();
      continue;
    }
    if (line.startsWith("#")) continue;
    if (line.startsWith(" ") || line.startsWith("\t")) {
      const last = cur[cur.length - 1];
      if (!last) throw new BootstrapError(`deb822: continuation line without a field: ${JSON.stringify(line)}`);
      last[1] += "\n" + line;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) throw new BootstrapError(`deb822: not a field: ${JSON.stringify(line)}`);
    cur.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  flush();
  return paragraphs;
}

/** The value of `field` (case-insensitive, as dpkg does), or undefined. */
export function field(p: Paragraph, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of p) if (k.toLowerCase() === lower) return v;
  return undefined;
}

export function formatParagraph(p: Paragraph): string {
  return p.map(([k, v]) => `${k}: ${v}\n`).join("");
}

/** One input .deb: its control paragraph and content identity. */
export interface DebFile {
  readonly path: string;
  readonly name: string;
  readonly version: string;
  readonly arch: string;
  readonly sha256: string;
  readonly size: number;
  readonly control: Paragraph;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** Reads a .deb's control paragraph (`dpkg-deb -f`), sha256 and size. */
export async function readDeb(path: string): Promise<DebFile> {
  const [ctl, sha256, st] = await Promise.all([run("dpkg-deb", ["-f", path]), sha256File(path), stat(path)]);
  const paragraphs = parseDeb822(ctl.toString("utf8"));
  const control = paragraphs[0];
  if (paragraphs.length !== 1 || !control) throw new BootstrapError(`${path}: expected one control paragraph`);
  const name = field(control, "Package");
  const version = field(control, "Version");
  const arch = field(control, "Architecture");
  if (!name || !version || !arch) throw new BootstrapError(`${path}: control lacks Package, Version or Architecture`);
  return { path, name, version, arch, sha256, size: st.size, control };
}

/** `name version arch` — how packages are named in errors. */
export function debId(p: { readonly name: string; readonly version: string; readonly arch: string }): string {
  return `${p.name} ${p.version} ${p.arch}`;
}
