// Mirrors: URL prefix rewrites for http sources (`--mirror from=to`). The
// checksum is unchanged, so a mirror can only serve the same bytes.
import type { ImageDefinition, SourceSpec } from "../model/index.js";

export interface Mirror {
  readonly from: string;
  readonly to: string;
}

/** Parses `<from-prefix>=<to-prefix>`; throws Error with a readable message. */
export function parseMirror(spec: string): Mirror {
  const eq = spec.indexOf("=");
  const from = eq < 0 ? "" : spec.slice(0, eq);
  const to = eq < 0 ? "" : spec.slice(eq + 1);
  if (!from || !to) throw new Error(`--mirror ${spec}: write <from-prefix>=<to-prefix>, e.g. https://github.com/=http://mirror.local/github/`);
  for (const u of [from, to]) {
    if (!/^https?:\/\/[^\s]+$/.test(u)) throw new Error(`--mirror ${spec}: "${u}" is not an http:// or https:// URL prefix`);
  }
  return { from, to };
}

/** The URLs to try for `url`, in order: each mirror whose prefix matches (longest first), then the URL itself. */
export function mirrorUrls(url: string, mirrors: readonly Mirror[]): string[] {
  const out = [...mirrors]
    .filter((m) => url.startsWith(m.from))
    .sort((a, b) => b.from.length - a.from.length)
    .map((m) => m.to + url.slice(m.from.length));
  return [...out, url];
}

/** `def` with each http source's URL rewritten to its first mirror. */
export function applyMirrors(def: ImageDefinition, mirrors: readonly Mirror[]): ImageDefinition {
  if (mirrors.length === 0) return def;
  const sources = def.sources.map((s): SourceSpec => (s.kind === "http" && s.url !== undefined ? { ...s, url: mirrorUrls(s.url, mirrors)[0] as string } : s));
  return { ...def, sources };
}
