// Running the host tools the bootstrap needs (mmdebstrap, dpkg-deb, tar),
// with their stderr streamed to an optional line logger.
import { spawn } from "node:child_process";

export type Log = (line: string) => void;

export class BootstrapError extends Error {
  override readonly name = "BootstrapError";
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: Log | undefined;
  readonly cwd?: string;
}

/** Runs `cmd args…`, returns stdout; a non-zero exit throws with the end of stderr. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: opts.env ?? process.env,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    const out: Buffer[] = [];
    const errTail: string[] = [];
    let partial = "";
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => {
      const lines = (partial + b.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) {
        opts.log?.(l);
        errTail.push(l);
        if (errTail.length > 40) errTail.shift();
      }
    });
    child.on("error", (e) => reject(new BootstrapError(`cannot run ${cmd}: ${e.message}`)));
    child.on("close", (code, signal) => {
      if (partial) {
        opts.log?.(partial);
        errTail.push(partial);
      }
      if (code === 0) resolve(Buffer.concat(out));
      else
        reject(
          new BootstrapError(
            `${cmd} ${args.slice(0, 3).join(" ")}… failed (${signal ?? `exit ${code}`}):\n${errTail.join("\n")}`,
          ),
        );
    });
  });
}
