// Errors of the Debian resolver and fetcher, and the one process runner they share.
import { spawn } from "node:child_process";

/** A Debian package could not be resolved, or apt could not be asked; the message says which and why. */
export class DebianError extends Error {
  override readonly name: string = "DebianError";
}

/** An archive's Release file failed signature verification (`apt-get update`). */
export class DebianSignatureError extends DebianError {
  override readonly name: string = "DebianSignatureError";
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command, capturing output; never throws for a non-zero exit (a missing binary is a DebianError). */
export function run(cmd: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"], env: { ...process.env, ...options.env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (b: Buffer) => out.push(b));
    child.stderr!.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e: NodeJS.ErrnoException) =>
      reject(e.code === "ENOENT" ? new DebianError(`${cmd} is not installed (needed for Debian packages)`) : e),
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
  });
}

/** apt's error lines (`E: …`), or the last lines of its output, in one short line. */
export function aptReason(r: RunResult): string {
  const lines = `${r.stderr}\n${r.stdout}`.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const errors = lines.filter((l) => l.startsWith("E: ")).map((l) => l.slice(3));
  const picked = errors.length > 0 ? errors : lines.slice(-3);
  return picked.join("; ") || `exit status ${r.code}`;
}
