// Release tags: the definition's `release: tags:` templates, or by default
// the version, major.minor, major and latest (those a version cannot give are
// left out). A tag naming {version} or {patch} names one release: immutable.
import type { ImageDefinition } from "../model/index.js";
import { DEFAULT_RELEASE_TAGS, expandReleaseTag } from "../validate/index.js";

export function releaseTags(def: Pick<ImageDefinition, "version" | "release">): { tags: string[]; immutable: string[] } {
  const expanded = def.release
    ? def.release.tags
    : DEFAULT_RELEASE_TAGS.flatMap((t) => {
        const x = expandReleaseTag(t, def.version);
        return x.ok ? [x] : [];
      });
  const tags = [...new Set(expanded.map((t) => t.tag))];
  return { tags: tags.length > 0 ? tags : ["latest"], immutable: expanded.filter((t) => t.immutable).map((t) => t.tag) };
}
