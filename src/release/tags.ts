// Release tags: the version, major.minor, major and latest by default.

/** The default tags of a version: `7.0.15` → 7.0.15, 7.0, 7, latest; another version → itself and latest. */
export function defaultTags(version: string): string[] {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!m) return [...new Set([version, "latest"])];
  return [version, `${m[1]}.${m[2]}`, m[1] as string, "latest"];
}
