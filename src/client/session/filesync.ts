// FileSync.DiffCopy: a local source, sent to the engine with fsutil's
// protocol. The engine names the local (`dir-name`) and its filters
// (`include-patterns`, `exclude-patterns`, `followpaths`) in the call's
// metadata; we list every entry (STAT, ended by an empty STAT), send the
// contents of the files it asks for (REQ → DATA chunks, then an empty DATA),
// and answer its FIN with ours.
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { dirname, sep } from "node:path";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { GrpcCode } from "../../grpc/index.js";
import { FileSync } from "../../gen/buildkit/filesync/filesync_pb.js";
import { Packet_PacketType, PacketSchema } from "../../gen/fsutil/types/wire_pb.js";
import { PatternError } from "./patterns.js";
import { INVALID_ARGUMENT, methodPath, StatusError, type CallMetadata, type Handler, type ServerCall } from "./server.js";
import { isRegular } from "./stat.js";
import { bothFilters, patternFilter, resolveFollowPaths, walk } from "./walk.js";

/** A directory offered to the engine as `local://NAME`, with the client's own filters on top of the engine's. */
export interface LocalDir {
  dir: string;
  includes?: string[];
  excludes?: string[];
  followPaths?: string[];
}

/** Bytes of file content per DATA packet. */
const CHUNK = 256 * 1024;
/** Files sent at once. */
const SENDERS = 4;

/** Go's url.QueryUnescape: `+` is a space. */
function queryUnescape(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return s;
  }
}

/** The values of `key`, decoded when the engine marked them `<key>-encoded` (non-ASCII). */
export function metadataValues(md: CallMetadata, key: string): string[] {
  const values = [...(md.get(key) ?? [])];
  const flag = md.get(`${key}-encoded`)?.[0]?.toLowerCase();
  return flag === "1" || flag === "true" || flag === "t" ? values.map(queryUnescape) : values;
}

export type SendPacket = (p: MessageInitShape<typeof PacketSchema>) => Promise<void>;

export function packetSender(call: ServerCall): SendPacket {
  return (p) => call.send(toBinary(PacketSchema, create(PacketSchema, p)));
}

/**
 * Streams one regular file as DATA packets, then the empty one that ends it.
 * A file that is no longer a regular file inside the directory (replaced by
 * a symlink, or a directory on the way swapped for one, since the listing)
 * sends nothing but the end, as fsutil does for a file it cannot open.
 * Synchronous reads: a small file is a few system calls, where promises
 * would wait for the thread pool several times per file.
 */
async function sendFile(send: SendPacket, id: number, root: string, abs: string): Promise<void> {
  let fd: number | undefined;
  try {
    const parent = realpathSync(dirname(abs));
    if (parent === root || parent.startsWith(`${root}${sep}`)) {
      fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      if (!fstatSync(fd).isFile()) {
        closeSync(fd);
        fd = undefined;
      }
    }
  } catch {
    fd = undefined;
  }
  if (fd !== undefined) {
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const n = readSync(fd, buf, 0, CHUNK, null);
        if (n === 0) break;
        await send({ type: Packet_PacketType.PACKET_DATA, ID: id, data: buf.subarray(0, n) });
      }
    } finally {
      closeSync(fd);
    }
  }
  await send({ type: Packet_PacketType.PACKET_DATA, ID: id });
}

/** Sends `local` over one DiffCopy call, filtered by the client's and the call's patterns. */
async function sendLocal(call: ServerCall, local: LocalDir, onFailure: (err: Error) => void): Promise<void> {
  const send = packetSender(call);
  let root: string;
  try {
    root = await realpath(local.dir);
    if (!(await stat(root)).isDirectory()) throw new Error(`${local.dir} is not a directory`);
  } catch (err) {
    const e = new Error(`local source ${local.dir}: ${(err as Error).message}`);
    onFailure(e);
    throw e;
  }
  const md = call.metadata;
  let filter;
  try {
    filter = bothFilters(
      patternFilter({ ...local, followPaths: await resolveFollowPaths(root, local.followPaths ?? []) }),
      patternFilter({
        includes: metadataValues(md, "include-patterns"),
        excludes: metadataValues(md, "exclude-patterns"),
        followPaths: await resolveFollowPaths(root, metadataValues(md, "followpaths")),
      }),
    );
  } catch (err) {
    if (err instanceof PatternError) throw new StatusError(INVALID_ARGUMENT, err.message);
    throw err;
  }

  // A listing or read that fails ends the call at once (with an ERR packet,
  // as fsutil's sender does), even while the engine is waiting for data.
  let fail!: (err: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);

  const files = new Map<number, string>();
  // Files go out SENDERS at a time, their chunks interleaved, as from fsutil.
  const waiting: [number, string][] = [];
  const inFlight = new Set<Promise<void>>();
  const pump = () => {
    while (inFlight.size < SENDERS && waiting.length > 0) {
      const [id, abs] = waiting.shift() as [number, string];
      const sending: Promise<void> = sendFile(send, id, root, abs)
        .catch(fail)
        .finally(() => {
          inFlight.delete(sending);
          pump();
        });
      inFlight.add(sending);
    }
  };
  const walking = (async () => {
    let id = 0;
    await walk(root, filter, async (e) => {
      if (isRegular(e.stat.mode ?? 0)) files.set(id, e.abs);
      id++;
      await send({ type: Packet_PacketType.PACKET_STAT, stat: e.stat });
    });
    await send({ type: Packet_PacketType.PACKET_STAT });
  })();
  walking.catch(fail);

  const answer = async () => {
    for await (const bytes of call.messages) {
      const p = fromBinary(PacketSchema, bytes);
      switch (p.type) {
        case Packet_PacketType.PACKET_REQ: {
          const abs = files.get(p.ID);
          if (abs === undefined) throw new StatusError(INVALID_ARGUMENT, `invalid file id ${p.ID}`);
          files.delete(p.ID);
          waiting.push([p.ID, abs]);
        pump();
          break;
        }
        case Packet_PacketType.PACKET_FIN:
          await walking;
          while (inFlight.size > 0) await Promise.all(inFlight);
          await send({ type: Packet_PacketType.PACKET_FIN });
          return;
        case Packet_PacketType.PACKET_ERR:
          throw new Error(`error from the engine's receiver: ${Buffer.from(p.data).toString()}`);
        default:
          break;
      }
    }
  };
  try {
    await Promise.race([answer(), failed]);
  } catch (err) {
    if (err instanceof StatusError) throw err;
    const e = new Error(`local source ${local.dir}: ${(err as Error).message}`);
    onFailure(e);
    await send({ type: Packet_PacketType.PACKET_ERR, data: Buffer.from(e.message) }).catch(() => undefined);
    throw e;
  }
}

/** The FileSync service over `locals`; an unknown name is NotFound, as from BuildKit's client. */
export function fileSyncHandler(locals: Readonly<Record<string, LocalDir>>, onFailure: (err: Error) => void): [string, Handler] {
  return [
    methodPath(FileSync.method.diffCopy),
    async (call) => {
      const name = metadataValues(call.metadata, "dir-name")[0] ?? "";
      const local = Object.hasOwn(locals, name) ? locals[name] : undefined;
      if (!local) throw new StatusError(GrpcCode.NOT_FOUND, `no access allowed to dir "${name}"`);
      await sendLocal(call, local, onFailure);
    },
  ];
}
