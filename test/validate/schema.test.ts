// schema/image.schema.json is imageSchema written out; UPDATE=1 rewrites it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { imageSchema } from "../../src/validate/index.js";

const file = join(import.meta.dirname, "..", "..", "schema", "image.schema.json");

describe("schema/image.schema.json", () => {
  it("matches imageSchema (UPDATE=1 rewrites it)", () => {
    const text = `${JSON.stringify(imageSchema, null, 2)}\n`;
    if (process.env["UPDATE"] === "1") {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
    expect(existsSync(file), `${file} is missing: UPDATE=1 writes it`).toBe(true);
    expect(readFileSync(file, "utf8")).toBe(text);
  });

  it("describes every property and closes every object", () => {
    const problems: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (node === null || typeof node !== "object") return;
      const o = node as Record<string, unknown>;
      if (o["properties"] && o["additionalProperties"] !== false) problems.push(`${path}: additionalProperties is not false`);
      if (o["type"] === "object" && !o["properties"] && o["additionalProperties"] === undefined) problems.push(`${path}: open object`);
      for (const [k, v] of Object.entries((o["properties"] as Record<string, unknown> | undefined) ?? {})) {
        if (typeof (v as { description?: unknown }).description !== "string") problems.push(`${path}/properties/${k}: no description`);
      }
      for (const [k, v] of Object.entries(o)) walk(v, `${path}/${k}`);
    };
    walk(imageSchema, "#");
    expect(problems).toEqual([]);
  });
});
