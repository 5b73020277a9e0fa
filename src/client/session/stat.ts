// File metadata as fsutil puts it on the wire: Go's os.FileMode, not st_mode.
import { constants, type BigIntStats } from "node:fs";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StatSchema } from "../../gen/fsutil/types/stat_pb.js";

/** Go's os.FileMode type and permission-modifier bits. */
export const GoMode = {
  dir: 1 << 31,
  symlink: 1 << 27,
  device: 1 << 26,
  namedPipe: 1 << 25,
  socket: 1 << 24,
  setuid: 1 << 23,
  setgid: 1 << 22,
  charDevice: 1 << 21,
  sticky: 1 << 20,
  irregular: 1 << 19,
  /** Every type bit: a mode with none of them is a regular file. */
  type: (1 << 31) | (1 << 27) | (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19),
} as const;

/** st_mode → os.FileMode, unsigned (the directory bit is bit 31). Sockets lose their bit, as fsutil clears it. */
export function goFileMode(stMode: number): number {
  let m = stMode & 0o777;
  switch (stMode & constants.S_IFMT) {
    case constants.S_IFDIR:
      m |= GoMode.dir;
      break;
    case constants.S_IFLNK:
      m |= GoMode.symlink;
      break;
    case constants.S_IFBLK:
      m |= GoMode.device;
      break;
    case constants.S_IFCHR:
      m |= GoMode.device | GoMode.charDevice;
      break;
    case constants.S_IFIFO:
      m |= GoMode.namedPipe;
      break;
  }
  if (stMode & 0o4000) m |= GoMode.setuid;
  if (stMode & 0o2000) m |= GoMode.setgid;
  if (stMode & 0o1000) m |= GoMode.sticky;
  return m >>> 0;
}

/** os.FileMode → st_mode permission bits (0o7777), for files received from the engine. */
export function posixPermissions(goMode: number): number {
  let m = goMode & 0o777;
  if (goMode & GoMode.setuid) m |= 0o4000;
  if (goMode & GoMode.setgid) m |= 0o2000;
  if (goMode & GoMode.sticky) m |= 0o1000;
  return m;
}

/** Only regular files carry data in the protocol (fsutil's fileCanRequestData). */
export function isRegular(goMode: number): boolean {
  return (goMode & GoMode.type) === 0;
}

/**
 * The Stat of one entry. uid and gid are 0, as BuildKit's Go client sends
 * local files (the engine's copy must not depend on who ran the build);
 * xattrs are not sent (the engine's differ ignores them).
 */
export function wireStat(path: string, st: BigIntStats, linkname: string): MessageInitShape<typeof StatSchema> {
  const mode = goFileMode(Number(st.mode));
  const out: MessageInitShape<typeof StatSchema> = { path, mode, modTime: st.mtimeNs, linkname };
  if (!(mode & GoMode.dir)) out.size = st.size;
  if (mode & GoMode.device) {
    const rdev = st.rdev;
    out.devmajor = (rdev >> 8n) & 0xfffn;
    out.devminor = (rdev & 0xffn) | ((rdev >> 12n) & 0xfff00n);
  }
  return out;
}
