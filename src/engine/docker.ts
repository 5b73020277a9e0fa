// Running the Docker CLI (the Debian one when installed: /usr/local/bin/docker
// may be an unrelated client).
import { spawn, type SpawnOptions } from "node:child_process";
import { existsSync } from "node:fs";

/** The docker client to run: $CAISSON_DOCKER, else /usr/bin/docker, else `docker` from PATH. */
export function dockerBinary(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env["CAISSON_DOCKER"] ?? env["DOCKER"];
  if (fromEnv) return fromEnv;
  return existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker";
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the docker CLI and captures its output. `input` is written to stdin;
 * `stderr: "inherit"` streams stderr (progress) instead of capturing it.
 */
export function runDocker(
  args: readonly string[],
  opts: { input?: Uint8Array; stderr?: "capture" | "inherit" | ((chunk: Buffer) => void); docker?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = {
      stdio: ["pipe", "pipe", opts.stderr === "inherit" ? "inherit" : "pipe"],
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.env ? { env: opts.env } : {}),
    };
    const child = spawn(opts.docker ?? dockerBinary(), args, spawnOpts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => {
      if (typeof opts.stderr === "function") opts.stderr(b);
      err.push(b);
    });
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      }),
    );
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(opts.input ? Buffer.from(opts.input.buffer, opts.input.byteOffset, opts.input.byteLength) : undefined);
  });
}

/** Thrown when the engine is missing or a docker command fails. */
export class EngineError extends Error {
  override readonly name = "EngineError";
  constructor(
    message: string,
    readonly exitCode = 1,
    /** A fault caisson has named (its message says what happened), as opposed to the build's own error. */
    readonly fault?: "output" | "engine-stopped" | "engine-unavailable" | "frontend-image",
  ) {
    super(message);
  }
}

/** True when the daemon answers `docker info` within `timeoutMs`. */
export async function engineAnswers(docker = dockerBinary(), timeoutMs = 10_000): Promise<boolean> {
  const info = runDocker(["info", "--format", "{{.ServerVersion}}"], { docker }).then(
    (r) => r.code === 0 && r.stdout.trim() !== "",
    () => false,
  );
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([info, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Fails with a clear message when the daemon or buildx cannot be reached. */
export async function checkEngine(docker = dockerBinary()): Promise<void> {
  let r: RunResult;
  try {
    r = await runDocker(["buildx", "version"], { docker });
  } catch (err) {
    throw new EngineError(`cannot run ${docker}: ${err instanceof Error ? err.message : String(err)}`, 1, "engine-unavailable");
  }
  if (r.code !== 0) throw new EngineError(`docker buildx is not available (${docker} buildx version: ${r.stderr.trim()})`, 1, "engine-unavailable");
  const info = await runDocker(["info", "--format", "{{.ServerVersion}}"], { docker });
  if (info.code !== 0 || info.stdout.trim() === "") {
    throw new EngineError(`the Docker engine is not running (${docker} info: ${info.stderr.trim().split("\n").pop() ?? ""})`, 1, "engine-unavailable");
  }
}
