// A source's `release:` rule: where `caisson outdated` finds newer releases.
import type { MapNode } from "../load/index.js";
import { child, entry } from "../load/index.js";
import type { ReleaseRule } from "../model/index.js";
import type { Context } from "./context.js";
import { map, str } from "./nodes.js";
import { checkHttpUrl } from "./refs.js";

/** A source's `release:` rule: undefined when absent, null when invalid (reported). */
export function releaseRule(ctx: Context, n: MapNode, kind: ReleaseRule["kind"]): ReleaseRule | undefined | null {
  const e = entry(n, "release");
  const m = map(e?.value);
  if (!e) return undefined;
  if (!m) return null; // the schema reported the type
  const patNode = child(m, kind === "git-tags" ? "tags" : "pattern");
  const pattern = str(patNode);
  if (pattern === undefined || patNode === undefined) return null;
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (err) {
    ctx.err("invalid_pattern", `release pattern ${JSON.stringify(pattern)} is not a regular expression: ${(err as Error).message}`, patNode.span);
    return null;
  }
  if (new RegExp(`${re.source}|`).exec("")?.length === 1) {
    ctx.err("invalid_pattern", `release pattern ${JSON.stringify(pattern)} has no group for the version`, patNode.span, "put the version in parentheses, e.g. v?(\\d+\\.\\d+\\.\\d+)");
    return null;
  }
  if (kind === "git-tags") return { kind, pattern, span: e.span };
  const listingNode = child(m, "listing");
  const listing = str(listingNode);
  if (listing === undefined || listingNode === undefined) return null;
  if (!/^https?:\/\/\S+$/.test(listing)) return null; // the schema reported it
  const u = checkHttpUrl(listing);
  if (!u.ok) {
    ctx.err(u.code, `release listing: ${u.message}`, listingNode.span, u.hint);
    return null;
  }
  return { kind, url: listing, pattern, span: e.span };
}

