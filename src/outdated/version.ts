// Version ordering for release tags and file names: semantic versions
// (any number of numeric components), a pre-release (anything after the
// numbers: 1.2.0-rc.1, 1.2.0rc1) sorting before its release.

export interface Version {
  readonly text: string;
  readonly numbers: readonly number[];
  /** Pre-release identifiers, empty for a release. */
  readonly pre: readonly string[];
}

/** Parses a version; undefined when it does not start with a number. */
export function parseVersion(text: string): Version | undefined {
  const m = /^(\d+(?:\.\d+)*)(.*)$/.exec(text.replace(/\+.*$/, ""));
  if (!m) return undefined;
  const [, main = "", rest = ""] = m;
  const pre = rest.replace(/^[-.~_]/, "");
  return { text, numbers: main.split(".").map(Number), pre: pre === "" ? [] : pre.split(/[.-]/).filter(Boolean) };
}

export function isPrerelease(v: Version): boolean {
  return v.pre.length > 0;
}

/** Semantic-version order: numbers, then a release after its pre-releases, then pre-release identifiers. */
export function compareVersions(a: Version, b: Version): number {
  const n = Math.max(a.numbers.length, b.numbers.length);
  for (let i = 0; i < n; i++) {
    const d = (a.numbers[i] ?? 0) - (b.numbers[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (a.pre.length === 0 && b.pre.length === 0) return 0;
  if (a.pre.length === 0) return 1;
  if (b.pre.length === 0) return -1;
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i];
    const y = b.pre[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) {
      const d = Number(x) - Number(y);
      if (d !== 0) return Math.sign(d);
    } else if (xn !== yn) return xn ? -1 : 1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The highest of `versions` (pre-releases only when `pre`), or undefined. */
export function latest<T extends { version: Version }>(items: readonly T[], pre = false): T | undefined {
  let best: T | undefined;
  for (const it of items) {
    if (!pre && isPrerelease(it.version)) continue;
    if (!best || compareVersions(it.version, best.version) > 0) best = it;
  }
  return best;
}
