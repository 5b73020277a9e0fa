// Reading a file that must be a regular file: opened without blocking (a
// FIFO would wait for a writer, a device never end), then refused unless
// fstat says it is a regular file, and read up to a limit.
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

/**
 * The first `limit` bytes of `path`. Rejects with the fs error (ENOENT, EACCES…),
 * or an error with code EISDIR for a directory and ENOTREG for anything else
 * that is not a regular file (a FIFO, socket or device).
 */
export async function readRegularFile(path: string, limit: number): Promise<Buffer> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = await fh.stat();
    if (st.isDirectory()) throw Object.assign(new Error(`${path}: is a directory`), { code: "EISDIR" });
    if (!st.isFile()) throw Object.assign(new Error(`${path}: is not a regular file`), { code: "ENOTREG" });
    const chunks: Buffer[] = [];
    let n = 0;
    while (n < limit) {
      const buf = Buffer.alloc(Math.min(1 << 20, limit - n));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      n += bytesRead;
    }
    return Buffer.concat(chunks, n);
  } finally {
    await fh?.close();
  }
}
