// FileSend.DiffCopy: what an exporter sends back to the client.
//
// The oci, docker and tar exporters stream a tar as BytesMessage chunks,
// ended by the engine's half-close. The local exporter sends fsutil Packets
// on the same method, as the sender: we are the receiver, asking for each
// regular file (REQ) and ending with FIN. Every path is checked before it is
// written: relative, clean, no `..`, its parent a directory this stream
// created, so nothing is written outside the target, whatever the engine sends.
import { closeSync, constants, lstatSync, mkdirSync, openSync, rmSync, symlinkSync, linkSync, chmodSync, utimesSync, lutimesSync, writeSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { once } from "node:events";
import { posix, join } from "node:path";
import { finished } from "node:stream/promises";
import { fromBinary } from "@bufbuild/protobuf";
import { GrpcCode } from "../../grpc/index.js";
import { FileSend, BytesMessageSchema } from "../../gen/buildkit/filesync/filesync_pb.js";
import { Packet_PacketType, PacketSchema } from "../../gen/fsutil/types/wire_pb.js";
import type { Stat } from "../../gen/fsutil/types/stat_pb.js";
import { packetSender } from "./filesync.js";
import { INVALID_ARGUMENT, methodPath, StatusError, type Handler, type ServerCall } from "./server.js";
import { GoMode, isRegular, posixPermissions } from "./stat.js";

/** Where an export goes: a tar stream (oci, docker, tar exporters) or a directory (local exporter). */
export type ExportTarget = { type: "tar"; open: () => NodeJS.WritableStream } | { type: "dir"; dir: string };

/** A path the engine sent that would land outside the target, or in a place this stream did not make. */
export class UnsafePathError extends Error {
  override readonly name = "UnsafePathError";
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`refusing exported path ${JSON.stringify(path)}: ${reason}`);
  }
}

/** Checks one exported path: relative, `/`-separated, clean, no `..`, no NUL. */
export function checkExportPath(path: string): void {
  if (path === "" || path === ".") throw new UnsafePathError(path, "empty");
  if (path.includes("\0")) throw new UnsafePathError(path, "contains NUL");
  if (path.startsWith("/")) throw new UnsafePathError(path, "absolute");
  if (path.split("/").includes("..")) throw new UnsafePathError(path, "climbs out with ..");
  if (posix.normalize(path) !== path || path.endsWith("/")) throw new UnsafePathError(path, "not a clean path");
}

async function receiveTar(call: ServerCall, open: () => NodeJS.WritableStream): Promise<void> {
  const out = open();
  // Listened for before anything else: the stream opens its file later, and
  // a failure then (a missing folder, /proc) would be an unhandled 'error'.
  let failed: Error | undefined;
  out.on("error", (e: Error) => (failed ??= e));
  try {
    for await (const bytes of call.messages) {
      if (failed) throw failed;
      const { data } = fromBinary(BytesMessageSchema, bytes);
      if (data.length > 0 && !out.write(data)) await once(out, "drain");
    }
    if (failed) throw failed;
    out.end();
    await finished(out);
  } catch (err) {
    (out as NodeJS.WritableStream & { destroy?: (e?: Error) => void }).destroy?.(err as Error);
    throw err;
  }
}

interface Incoming {
  path: string;
  stat: Stat;
  fd: number | undefined;
}

/** Receives a local export into `dir` (which must exist), as fsutil's receiver with merge. */
export async function receiveDir(call: ServerCall, dir: string): Promise<void> {
  const root = await realpath(dir);
  const send = packetSender(call);
  const dirs = new Map<string, Stat>(); // directories made here, in creation order
  const regular = new Set<string>(); // files made here, for hard links
  const seen = new Set<string>();
  const pending = new Map<number, Incoming>();
  let nextId = 0;
  let listed = false;
  let finSent = false;

  const at = (path: string) => join(root, path);
  /** Clears whatever is at `path` (never a directory made here) so it can be created afresh. */
  const clear = (path: string) => {
    const st = lstatSync(at(path), { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      if (dirs.has(path)) throw new UnsafePathError(path, "replaces a directory already received");
      rmSync(at(path), { recursive: true });
    } else {
      rmSync(at(path));
    }
  };
  const setTimes = (path: string, s: Stat, link = false) => {
    const t = Number(s.modTime) / 1e9;
    (link ? lutimesSync : utimesSync)(at(path), t, t);
  };

  const entry = async (s: Stat, id: number) => {
    const path = s.path;
    checkExportPath(path);
    if (seen.has(path)) throw new UnsafePathError(path, "sent twice");
    const parent = posix.dirname(path);
    if (parent !== "." && !dirs.has(parent)) throw new UnsafePathError(path, "its parent is not a directory sent before it");
    seen.add(path);
    const mode = s.mode >>> 0;
    if (mode & GoMode.dir) {
      const st = lstatSync(at(path), { throwIfNoEntry: false });
      if (!st?.isDirectory()) {
        if (st) clear(path);
        mkdirSync(at(path), 0o700);
      }
      dirs.set(path, s);
    } else if (mode & GoMode.symlink) {
      clear(path);
      symlinkSync(s.linkname, at(path));
      setTimes(path, s, true);
    } else if (isRegular(mode) && s.linkname !== "") {
      checkExportPath(s.linkname);
      if (!regular.has(s.linkname)) throw new UnsafePathError(path, `hard link to ${JSON.stringify(s.linkname)}, not a file sent before it`);
      clear(path);
      linkSync(at(s.linkname), at(path));
      regular.add(path);
    } else if (isRegular(mode)) {
      clear(path);
      // Made now, filled when its data comes: a hard link to it may come first.
      closeSync(openSync(at(path), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
      pending.set(id, { path, stat: s, fd: undefined });
      regular.add(path);
      await send({ type: Packet_PacketType.PACKET_REQ, ID: id });
    }
    // Devices, pipes and sockets are not made: that needs privileges the client does not have.
  };


  const finish = async () => {
    for (const [path, s] of [...dirs].reverse()) {
      chmodSync(at(path), posixPermissions(s.mode));
      setTimes(path, s);
    }
    finSent = true;
    await send({ type: Packet_PacketType.PACKET_FIN });
  };

  try {
    for await (const bytes of call.messages) {
      const p = fromBinary(PacketSchema, bytes);
      switch (p.type) {
        case Packet_PacketType.PACKET_STAT:
          if (listed) throw new StatusError(INVALID_ARGUMENT, "entry after the end of the listing");
          if (p.stat) {
            await entry(p.stat, nextId++);
          } else {
            listed = true;
            if (pending.size === 0) await finish();
          }
          break;
        case Packet_PacketType.PACKET_DATA: {
          const f = pending.get(p.ID);
          if (!f) throw new StatusError(INVALID_ARGUMENT, `invalid file request ${p.ID}`);
          f.fd ??= openSync(at(f.path), constants.O_WRONLY | constants.O_NOFOLLOW);
          if (p.data.length > 0) {
            writeSync(f.fd, p.data);
            break;
          }
          closeSync(f.fd);
          pending.delete(p.ID);
          chmodSync(at(f.path), posixPermissions(f.stat.mode));
          setTimes(f.path, f.stat);
          if (listed && pending.size === 0) await finish();
          break;
        }
        case Packet_PacketType.PACKET_FIN:
          if (!finSent) throw new StatusError(INVALID_ARGUMENT, "the engine ended the export before sending every file");
          return;
        case Packet_PacketType.PACKET_ERR:
          throw new Error(`error from the engine's sender: ${Buffer.from(p.data).toString()}`);
        default:
          throw new StatusError(INVALID_ARGUMENT, `unexpected packet type ${p.type} from the sender`);
      }
    }
  } catch (err) {
    // The engine may drop the call once our FIN is out: the export is complete.
    if (finSent && err instanceof StatusError && err.code === GrpcCode.CANCELLED) return;
    throw err;
  } finally {
    for (const f of pending.values()) if (f.fd !== undefined) closeSync(f.fd);
  }
  if (!finSent) throw new StatusError(INVALID_ARGUMENT, "the export ended before the listing was complete");
}

/**
 * The FileSend service: each export goes to the target of its exporter (the
 * `buildkit-attachable-exporter-id` the engine sends: the exporter's index in
 * the SolveRequest), or to the one target given; a failure on our side is also
 * reported through `onFailure`.
 */
export function fileSendHandler(targets: ExportTarget | Readonly<Record<number, ExportTarget>>, onFailure: (err: Error) => void): [string, Handler] {
  return [
    methodPath(FileSend.method.diffCopy),
    async (call) => {
      let target: ExportTarget | undefined;
      if ("type" in targets && typeof targets.type === "string") target = targets as ExportTarget;
      else {
        const id = call.metadata.get("buildkit-attachable-exporter-id")?.[0] ?? "0";
        target = (targets as Readonly<Record<number, ExportTarget>>)[Number(id)];
      }
      try {
        if (!target) throw new Error("the engine sent an export no output was asked for");
        if (target.type === "tar") await receiveTar(call, target.open);
        else await receiveDir(call, target.dir);
      } catch (err) {
        if (err instanceof StatusError && err.code === GrpcCode.CANCELLED) throw err; // the engine gave up, and says why
        const e = new Error(`export to ${target?.type === "dir" ? target.dir : "the output"}: ${(err as Error).message}`);
        onFailure(e);
        throw e;
      }
    },
  ];
}
