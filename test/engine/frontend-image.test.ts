// The frontend image is assembled from this machine's Node and the libraries
// it loads: when those cannot be listed (no ldd on PATH), assembling fails
// with a named error instead of loading an image that cannot start.
import { afterEach, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { EngineError } from "../../src/engine/index.js";
import { elfInterpreter, sharedLibraries } from "../../src/engine/frontend-image.js";

describe("frontend image inputs", () => {
  const path = process.env["PATH"];
  afterEach(() => {
    process.env["PATH"] = path;
  });

  it("finds node's loader and lists it among its libraries", () => {
    const interp = elfInterpreter(readFileSync(process.execPath));
    expect(interp).toMatch(/^\/.*ld-linux.*\.so/);
    expect([...sharedLibraries(process.execPath).keys()]).toContain(interp);
  });

  it("without ldd on PATH: a named EngineError, not an image without its loader", () => {
    process.env["PATH"] = "/nonexistent";
    let err: unknown;
    try {
      sharedLibraries(process.execPath);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).fault).toBe("frontend-image");
    expect((err as Error).message).toMatch(/cannot assemble the frontend image: .* is dynamically linked \(loader \/.*\) and its libraries cannot be listed: ldd is not on PATH/);
  });

  it("a static or non-ELF file has no loader", () => {
    expect(elfInterpreter(Buffer.from("#!/bin/sh\n"))).toBeUndefined();
  });
});
