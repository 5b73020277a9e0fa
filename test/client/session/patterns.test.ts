import { describe, expect, it } from "vitest";
import { matches, parsePatterns, PatternError, patternProblem } from "../../../src/client/session/patterns.js";

const m = (patterns: string[], path: string) => matches(parsePatterns(patterns), path);

describe(".dockerignore pattern rules", () => {
  it("keeps * and ? inside one segment", () => {
    expect(m(["*.log"], "a.log")).toBe(true);
    expect(m(["*.log"], "dir/a.log")).toBe(false);
    expect(m(["a?c"], "abc")).toBe(true);
    expect(m(["a?c"], "a/c")).toBe(false);
  });

  it("lets ** span segments, **/x match x itself, and a trailing ** match everything below", () => {
    expect(m(["**/*.log"], "a.log")).toBe(true);
    expect(m(["**/*.log"], "x/y/a.log")).toBe(true);
    expect(m(["**/node_modules"], "node_modules")).toBe(true);
    expect(m(["**/node_modules"], "a/node_modules/b")).toBe(true);
    expect(m(["foo/**"], "foo/bar/baz")).toBe(true);
    expect(m(["foo/**"], "foo")).toBe(false);
    expect(m(["a/**/z"], "a/z")).toBe(true);
    expect(m(["a/**/z"], "a/b/c/z")).toBe(true);
    expect(m(["**foo"], "xfoo"), "a leading ** before plain text is a suffix test").toBe(true);
    expect(m(["**"], "anything/at/all")).toBe(true);
  });

  it("matches a path when one of its parents matches", () => {
    expect(m(["node_modules"], "node_modules/x/y.js")).toBe(true);
    expect(m(["src/gen"], "src/gen/a/b.ts")).toBe(true);
    expect(m(["src/gen"], "src/generated")).toBe(false);
  });

  it("applies patterns in order, ! re-including what an earlier one matched", () => {
    expect(m(["*.md", "!README.md"], "README.md")).toBe(false);
    expect(m(["*.md", "!README.md"], "CHANGES.md")).toBe(true);
    expect(m(["docs", "!docs/keep"], "docs/keep/x")).toBe(false);
    expect(m(["docs", "!docs/keep"], "docs/other")).toBe(true);
    expect(m(["!a", "a"], "a"), "a later pattern wins").toBe(true);
  });

  it("has character classes and escapes", () => {
    expect(m(["[ab].txt"], "a.txt")).toBe(true);
    expect(m(["[ab].txt"], "c.txt")).toBe(false);
    expect(m(["[^a].txt"], "b.txt")).toBe(true);
    expect(m(["[^a].txt"], "a.txt")).toBe(false);
    expect(m(["\\*"], "*")).toBe(true);
    expect(m(["\\*"], "x")).toBe(false);
    expect(m(["a.b"], "axb"), "a dot is a dot").toBe(false);
    expect(m(["a+(b)"], "a+(b)")).toBe(true);
  });

  it("cleans patterns like paths and drops blank ones", () => {
    expect(m(["./a/../b/"], "b")).toBe(true);
    expect(m(["  x  "], "x")).toBe(true);
    expect(parsePatterns(["", "   "])).toEqual([]);
    expect(m(["/abs"], "abs"), "a leading / is kept, as upstream, and matches no relative path").toBe(false);
  });

  it("refuses what BuildKit refuses, naming the pattern", () => {
    expect(() => parsePatterns(["!"])).toThrow(PatternError);
    expect(() => parsePatterns(["a[b"])).toThrow(/invalid pattern "a\[b"/);
    expect(() => parsePatterns(["[z-a]"])).toThrow(/the range "z-a" runs backwards/);
  });

  it("says what is wrong with a pattern, by Go's filepath.Match rules and BuildKit's ranges", () => {
    for (const bad of ["!", " ! ", "[", "[^", "a[b", "[z-a]", "[]", "[]a]", "[a-]", "[-a]", "[^]", "a\\", "[a\\", "x/[9-0].txt", "![z-a]"]) {
      expect(patternProblem(bad), bad).toBeDefined();
    }
    for (const good of ["*.yaml", "[a-z]*.o", "[^.]*", "!keep", "keep\\[1].txt", "[\\]]", "[a-a]", "**/x", "[[:alpha:]]", "", "a\\\\"]) {
      expect(patternProblem(good), good).toBeUndefined();
    }
    expect(patternProblem("!")).toMatch(/"!" followed by a pattern/);
    expect(patternProblem("[")).toMatch(/unclosed "\["/);
    expect(patternProblem("a\\")).toMatch(/trailing "\\"/);
  });
});
