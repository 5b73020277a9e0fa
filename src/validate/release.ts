// A source's `release:` rule: where `caisson outdated` finds newer releases.
import type { MapNode } from "../load/index.js";
import { child, entry } from "../load/index.js";
import type { ReleaseRule, ReleaseTag, Span } from "../model/index.js";
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


/** The default release tags: the version, major.minor, major and latest. */
export const DEFAULT_RELEASE_TAGS = ["{version}", "{major}.{minor}", "{major}", "latest"];

/** A tag template expanded by `version`, or why it cannot be (a tag must start with a letter, digit or `_`). */
export function expandReleaseTag(template: string, version: string | undefined): { ok: true; tag: string; immutable: boolean } | { ok: false; message: string; hint: string } {
  const semver = version === undefined ? undefined : /^v?(\d+)\.(\d+)\.(\d+)$/.exec(version);
  const parts: Record<string, string | undefined> = { version, major: semver?.[1], minor: semver?.[2], patch: semver?.[3] };
  let missing: string | undefined;
  const tag = template.replace(/\{(version|major|minor|patch)\}/g, (_, k: string) => {
    const v = parts[k];
    if (v === undefined) missing ??= k;
    return v ?? "";
  });
  if (missing === "version") return { ok: false, message: `release tag ${JSON.stringify(template)} needs the definition's version`, hint: "add `version:` to the definition" };
  if (missing) return { ok: false, message: `release tag ${JSON.stringify(template)} needs a MAJOR.MINOR.PATCH version for {${missing}}, not ${JSON.stringify(version)}`, hint: "use {version}, or write the tag out" };
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) return { ok: false, message: `release tag ${JSON.stringify(template)} gives ${JSON.stringify(tag)}, which is not a tag`, hint: "a tag starts with a letter, digit or _ and has at most 128 characters" };
  return { ok: true, tag, immutable: /\{(version|patch)\}/.test(template) };
}

/** The definition's `release:` section: undefined when absent or invalid (reported). */
export function releaseSection(ctx: Context, root: MapNode, version: string | undefined): { tags: ReleaseTag[]; span: Span } | undefined {
  const e = entry(root, "release");
  const m = map(e?.value);
  if (!e || !m) return undefined;
  const seq = child(m, "tags");
  if (seq?.kind !== "seq") return undefined;
  const tags: ReleaseTag[] = [];
  const seen = new Map<string, Span>();
  for (const it of seq.items) {
    const t = str(it);
    if (t === undefined) return undefined; // the schema reported it
    if (!/^(?:[A-Za-z0-9_.-]|\{(?:version|major|minor|patch)\})+$/.test(t) || t.length > 128) continue; // so did it this one
    const x = expandReleaseTag(t, version);
    if (!x.ok) {
      ctx.err("invalid_release_tag", x.message, it.span, x.hint);
      continue;
    }
    const first = seen.get(x.tag);
    if (first) {
      ctx.err("duplicate_release_tag", `release tags ${JSON.stringify(t)} and an earlier one both give ${JSON.stringify(x.tag)}`, it.span, "remove one", [{ span: first, message: "first given here" }]);
      continue;
    }
    seen.set(x.tag, it.span);
    tags.push({ template: t, tag: x.tag, immutable: x.immutable, span: it.span });
  }
  return { tags, span: e.span };
}
