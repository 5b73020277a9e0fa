import { describe, expect, it } from "vitest";
import { ciEnabled } from "./ci.js";

describe("CI detection", () => {
  it("any non-empty CI but false/0 means CI", () => {
    for (const v of ["true", "1", "yes", "TRUE", "on"]) expect(ciEnabled(v), v).toBe(true);
    for (const v of [undefined, "", "false", "0", "FALSE", " "]) expect(ciEnabled(v), String(v)).toBe(false);
  });
});
