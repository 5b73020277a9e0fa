import { randomBytes } from "node:crypto";
import { realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative } from "node:path";
import { formatDiagnostics, hasErrors, toJsonDiagnostics, visible, type Diagnostic } from "../diag/index.js";
import { decodeUtf8, LIMITS } from "../load/index.js";
import { readRegularFile } from "../fsread/index.js";

/** A problem with how the command was called: printed without a trace, exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * Reads a definition file as UTF-8 without losing a byte: a BOM is kept and
 * bytes that are not UTF-8 are kept for the loader to report with their
 * position (see decodeUtf8). At most LIMITS.fileBytes + 1 bytes are read; the
 * loader reports a larger file. I/O failures become a one-line message.
 */
export async function readText(file: string): Promise<string> {
  try {
    return decodeUtf8(await readRegularFile(file, LIMITS.fileBytes + 1));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "EISDIR"
        ? "is a directory (give the definition file, e.g. images/redis/image.yaml)"
        : code === "ENOTREG"
          ? "is not a regular file (give the definition file itself, not a pipe, socket or device)"
          : code === "ENOENT"
            ? "no such file"
            : fsReason(e);
    throw new UsageError(`cannot read ${visible(file)}: ${visible(why)}`);
  }
}

/** The most a lockfile may hold (a bootstrap lockfile of several architectures is well under 1 MiB). */
export const LOCKFILE_MAX = 64 << 20;

/**
 * Reads a lockfile as UTF-8, or undefined when there is none. Only a regular
 * file is read (a FIFO would block, a device never end); anything else, an
 * unreadable file or one over LOCKFILE_MAX is a UsageError naming the path.
 */
export async function readLockText(path: string): Promise<string | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(path, LOCKFILE_MAX + 1);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    const why =
      code === "EISDIR" || code === "ENOTREG"
        ? `${code === "EISDIR" ? "is a directory" : "is not a regular file"} (the lockfile beside a definition must be a file: remove it, then caisson lock writes a new one)`
        : fsReason(e);
    throw new UsageError(`cannot read the lockfile ${visible(path)}: ${visible(why)}`);
  }
  if (bytes.length > LOCKFILE_MAX) throw new UsageError(`cannot read the lockfile ${visible(path)}: it is larger than ${LOCKFILE_MAX >> 20} MiB`);
  return bytes.toString("utf8");
}

/**
 * Reads a file of the build context (an imported definition, a lockfile
 * beside it) the way the engine would see it: the path, with every symlink
 * resolved, must stay inside the context, and it must be a regular file (a
 * FIFO would block, a device never end). Rejects with a one-line reason.
 */
export async function readContextFile(context: string, path: string): Promise<string> {
  const root = await realpath(context);
  let real: string;
  try {
    real = await realpath(join(root, path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === "ENOENT" ? "no such file" : String((e as Error).message));
  }
  const rel = relative(root, real);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) throw new Error(`it resolves to ${visible(real)}, outside the build context ${visible(root)}`);
  const st = await stat(real);
  if (!st.isFile()) throw new Error(st.isDirectory() ? "is a directory" : "is not a regular file");
  return readText(real);
}

/** A file system error as a short reason, without Node's `CODE: …, syscall 'path'` wording. */
export function fsReason(e: unknown): string {
  switch ((e as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return "no such file or directory";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    case "EISDIR":
      return "is a directory";
    case "ENOTREG":
      return "is not a regular file (a pipe, socket or device)";
    case "EEXIST":
      return "already exists";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "the file system is read-only";
    case "ENOSPC":
      return "no space left on the device";
    case "ENAMETOOLONG":
      return "the path is too long";
    case "ELOOP":
      return "too many levels of symbolic links";
    default:
      return (e as Error).message;
  }
}

/** Writes a file whole or not at all: to a temporary sibling, then renamed over. */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    const dir = await stat(dirname(path)).catch((e: unknown) => {
      throw new UsageError(`cannot write ${visible(path)}: its folder ${visible(dirname(path))}: ${visible(fsReason(e))}`);
    });
    if (!dir.isDirectory()) throw new UsageError(`cannot write ${visible(path)}: ${visible(dirname(path))} is not a directory`);
    if ((await stat(path).catch(() => undefined))?.isDirectory()) throw new UsageError(`cannot write ${visible(path)}: is a directory (give a file name)`);
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot write ${visible(path)}: ${visible(fsReason(e))}`);
  }
}

/**
 * Refuses, before any work, a file-valued option that names the wrong kind
 * of thing: --debian-sources (or $CAISSON_DEBIAN_SOURCES) must be a regular
 * file (a FIFO would block its read), --source-store a directory. A path
 * that does not exist is left to the command, which says what it needs.
 */
export async function checkPathOptions(opts: { readonly debianSources?: unknown; readonly sourceStore?: unknown }): Promise<void> {
  const kind = async (path: string): Promise<"file" | "dir" | "other" | undefined> => {
    try {
      const st = await stat(path);
      return st.isFile() ? "file" : st.isDirectory() ? "dir" : "other";
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new UsageError(`cannot read ${visible(path)}: ${visible(fsReason(e))}`);
    }
  };
  const sources = typeof opts.debianSources === "string" ? opts.debianSources : process.env["CAISSON_DEBIAN_SOURCES"] || undefined;
  if (sources !== undefined) {
    const k = await kind(sources);
    if (k !== undefined && k !== "file") {
      throw new UsageError(`--debian-sources ${visible(sources)}: ${k === "dir" ? "is a directory" : "is not a regular file"} (give an apt sources file, e.g. /etc/apt/sources.list.d/debian.sources)`);
    }
  }
  if (typeof opts.sourceStore === "string") {
    const k = await kind(opts.sourceStore);
    if (k !== undefined && k !== "dir") throw new UsageError(`--source-store ${visible(opts.sourceStore)}: is not a directory (give the folder of source files named by sha256)`);
  }
}

/** Writes to stdout and resolves once the data is flushed (so exit codes follow output). */
export function writeStdout(data: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/** How diagnostics are printed: readable text, or JSON for tools. */
export type Format = "text" | "json";

/** Prints diagnostics to stderr in the chosen form; returns whether any is an error. */
export function report(diagnostics: readonly Diagnostic[], sources: ReadonlyMap<string, string>, format: Format): boolean {
  if (diagnostics.length > 0) {
    if (format === "json") process.stderr.write(JSON.stringify(toJsonDiagnostics(diagnostics, sources), null, 2) + "\n");
    else process.stderr.write(formatDiagnostics(diagnostics, sources) + "\n");
  }
  return hasErrors(diagnostics);
}
