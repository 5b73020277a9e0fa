// Include and exclude patterns with .dockerignore rules, as BuildKit sends
// them for a local source and as fsutil applies them on the client.
//
// A pattern is cleaned like a path; `*` and `?` stay inside one path
// segment, `**` spans any number of segments (`**/x` also matches `x`), a
// trailing `**` matches everything below, `[...]` is a character class and
// `\` escapes. A path matches when it or one of its parents matches. Patterns
// apply in order: a leading `!` re-includes what an earlier pattern matched.
import { posix } from "node:path";

/** A pattern BuildKit would refuse (a bare `!`, an unclosed `[`). */
export class PatternError extends Error {
  override readonly name = "PatternError";
  constructor(readonly pattern: string, reason: string) {
    super(`invalid pattern ${JSON.stringify(pattern)}: ${reason}`);
  }
}

export interface Pattern {
  /** The cleaned pattern, without its `!`. */
  readonly text: string;
  readonly exclusion: boolean;
  readonly test: (path: string) => boolean;
}

function escapeRegExp(ch: string): string {
  return /[.+()|{}$]/.test(ch) ? `\\${ch}` : ch;
}

function compile(original: string, text: string): (path: string) => boolean {
  // A leading `**` followed by plain text is a suffix test (`**/foo` also matching `foo`).
  const rest = text.slice(2);
  if (text.startsWith("**") && rest !== "" && !/[*?[\]\\]/.test(rest)) {
    return (path) => path.endsWith(rest) || (rest.startsWith("/") && path === rest.slice(1));
  }
  let re = "";
  let literal = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === "*") {
      literal = false;
      if (text[i + 1] === "*") {
        i++;
        if (text[i + 1] === "/") i++;
        re += i + 1 >= text.length ? ".*" : "(.*/)?";
      } else {
        re += "[^/]*";
      }
    } else if (ch === "?") {
      literal = false;
      re += "[^/]";
    } else if (ch === "\\") {
      literal = false;
      re += i + 1 < text.length ? (text[++i] as string).replace(/[\\^$.*+?()[\]{}|]/, "\\$&") : "\\\\";
    } else if (ch === "[" || ch === "]") {
      literal = false;
      re += ch;
    } else {
      re += escapeRegExp(ch);
    }
  }
  if (literal) return (path) => path === text;
  let rx: RegExp;
  try {
    rx = new RegExp(`^${re}$`, "u");
  } catch {
    throw new PatternError(original, "not a valid pattern (an unclosed [ or a stray escape?)");
  }
  return (path) => rx.test(path);
}

/**
 * Why BuildKit would refuse a pattern (it checks each with Go's
 * filepath.Match, then compiles it to a regular expression), or undefined
 * for a good one: a bare `!`, an unclosed or empty `[...]` class, a `-` or
 * `]` where a class needs a character, a range backwards (`[z-a]`), a
 * trailing `\`. Said with the fix.
 */
export function patternProblem(raw: string): string | undefined {
  let p = raw.trim();
  if (p === "") return undefined;
  if (p === "!") return 'a bare "!" re-includes nothing: write "!" followed by a pattern, e.g. "!keep.txt"';
  if (p.startsWith("!")) p = p.slice(1);
  const cs = [...p];
  const esc = (i: number): { ch: string; next: number } | string => {
    const c = cs[i];
    if (c === undefined) return 'an unclosed "[": end the class with "]" (or write "\\[" for a literal bracket)';
    if (c === "-" || c === "]") return `"${c}" where a character class needs a character: escape it as "\\${c}"`;
    if (c === "\\") {
      const e = cs[i + 1];
      if (e === undefined) return 'an unclosed "[": end the class with "]"';
      return { ch: e, next: i + 2 };
    }
    return { ch: c, next: i + 1 };
  };
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i];
    if (c === "\\") {
      if (i + 1 >= cs.length) return 'a trailing "\\" escapes nothing: remove it, or write "\\\\" for a backslash';
      i++;
    } else if (c === "[") {
      i++;
      if (cs[i] === "^") i++;
      for (let ranges = 0; ; ranges++) {
        if (cs[i] === "]" && ranges > 0) break;
        const lo = esc(i);
        if (typeof lo === "string") return lo;
        i = lo.next;
        let hi = lo;
        if (cs[i] === "-") {
          const h = esc(i + 1);
          if (typeof h === "string") return h;
          hi = h;
          i = h.next;
        }
        if (cs[i] === undefined) return 'an unclosed "[": end the class with "]" (or write "\\[" for a literal bracket)';
        if ((lo.ch.codePointAt(0) as number) > (hi.ch.codePointAt(0) as number)) return `the range "${lo.ch}-${hi.ch}" runs backwards: write "${hi.ch}-${lo.ch}"`;
      }
    }
  }
  return undefined;
}

/** Parses patterns in order; blank ones are dropped. */
export function parsePatterns(patterns: readonly string[]): Pattern[] {
  const out: Pattern[] = [];
  for (const raw of patterns) {
    let p = raw.trim();
    if (p === "") continue;
    const problem = patternProblem(p);
    if (problem !== undefined) throw new PatternError(raw, problem);
    let exclusion = false;
    if (p.startsWith("!")) {
      exclusion = true;
      p = p.slice(1);
    }
    const text = posix.normalize(p).replace(/(.)\/+$/, "$1");
    out.push({ text, exclusion, test: compile(raw, text) });
  }
  return out;
}

/** Whether `path` (relative, `/`-separated) or one of its parents matches the patterns, later ones winning. */
export function matches(patterns: readonly Pattern[], path: string): boolean {
  let matched = false;
  const parts = path.split("/");
  for (const p of patterns) {
    if (p.exclusion !== matched) continue;
    let hit = p.test(path);
    for (let i = 1; !hit && i < parts.length; i++) hit = p.test(parts.slice(0, i).join("/"));
    if (hit) matched = !p.exclusion;
  }
  return matched;
}

/** The pattern without a trailing `/**` or `/*`: what a directory must be a prefix of for the pattern to reach inside it. */
function stem(p: Pattern): string {
  return p.text.replace(/\/\*\*$/, "").replace(/\/\*$/, "");
}

/** Whether the pattern's stem (above) holds glob characters. */
export function isPrefixOnly(p: Pattern): boolean {
  return !/[*[\]?^\\]/.test(stem(p));
}

/** Whether some pattern of the given kind may match below directory `dir`: its stem lies under `dir/`. */
export function reachesInto(patterns: readonly Pattern[], exclusion: boolean, dir: string): boolean {
  return patterns.some((p) => p.exclusion === exclusion && `${stem(p)}/`.startsWith(`${dir}/`));
}
