import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe("src/gen", () => {
  it("is what hack/gen.sh makes from proto/ (run `npm run gen` after editing a .proto)", () => {
    const out = mkdtempSync(join(tmpdir(), "caisson-gen-"));
    try {
      execFileSync("bash", ["hack/gen.sh", out], { stdio: ["ignore", "ignore", "inherit"] });
      expect(files(out)).toEqual(files("src/gen"));
      for (const f of files(out)) {
        expect(readFileSync(join(out, f), "utf8"), f).toBe(readFileSync(join("src/gen", f), "utf8"));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
