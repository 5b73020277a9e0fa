// Runs caisson's CLI in this process (as bin/caisson.js would), with what it
// writes to stderr captured and stdout discarded: for tests of exit codes and
// messages that need no child process.
import { vi } from "vitest";
import { main } from "../../src/cli/main.js";

export async function runCli(...args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  // A write's callback is called, as the real stream would, so nothing waits on it.
  const done = (rest: unknown[]) => (rest.find((r) => typeof r === "function") as (() => void) | undefined)?.();
  const out = vi.spyOn(process.stdout, "write").mockImplementation((_chunk: unknown, ...rest: unknown[]) => (done(rest), true));
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown, ...rest: unknown[]) => ((stderr += String(chunk)), done(rest), true));
  try {
    return { code: await main(["node", "caisson", ...args]), stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
