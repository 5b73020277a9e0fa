// The runtime image, assembled with file operations only, so nothing runs
// for the target: /etc/passwd and /etc/group for its user (FROM scratch), the
// copies owned by root, the libraries collected for binaries copied with
// `libraries: true`, the volumes owned by the user, everything dated at the
// epoch.
import { formatPlatform, type FileAction, type SourceLocation, type State } from "../llb/index.js";
import type { ImageDefinition, Platform, Span } from "../model/index.js";
import { dpkgArch, gnuTriple, multiarchDir } from "../platform/index.js";
import { COLLECT_LIBS_SCRIPT } from "./scripts.js";
import { EPOCH, joinPath, type SourceState } from "./sources.js";

/** Where the library collector writes; also the mount it gets. */
const COLLECT_DIR = "/caisson-out";

/** /etc/passwd and /etc/group of an image FROM scratch: root, and the runtime user unless it is root. */
export function etcFiles(u: { readonly uid: number; readonly gid: number; readonly name: string }): { passwd: string; group: string } {
  const passwd =
    u.uid === 0
      ? "root:x:0:0:root:/root:/sbin/nologin\n"
      : `root:x:0:0:root:/root:/sbin/nologin\n${u.name}:x:${u.uid}:${u.gid}:${u.name}:/nonexistent:/sbin/nologin\n`;
  const group = u.gid === 0 ? "root:x:0:\n" : `root:x:0:\n${u.name}:x:${u.gid}:\n`;
  return { passwd, group };
}

/** The runtime image's filesystem for `target`, on top of `base` (its `from`). */
export function runtimeImage(
  def: ImageDefinition,
  target: Platform,
  base: State,
  o: {
    readonly at: (span: Span) => SourceLocation[];
    /** A source's lowered state, by name. */
    readonly source: (name: string) => SourceState;
    /** A stage's lowered state, by name. */
    readonly stage: (name: string) => State;
    readonly stageSpan: (name: string) => Span;
  },
): State {
  const img = def.image;
  const at = o.at;
  const user = { uid: img.user.uid, gid: img.user.gid };
  const root = { uid: 0, gid: 0 };
  const actions: FileAction[] = [];
  if (img.from.kind === "scratch") {
    const { passwd, group } = etcFiles(img.user);
    actions.push(
      { kind: "mkdir", path: "/etc", mode: 0o755, makeParents: true, owner: root, timestamp: EPOCH },
      { kind: "mkfile", path: "/etc/passwd", mode: 0o644, data: passwd, owner: root, timestamp: EPOCH },
      { kind: "mkfile", path: "/etc/group", mode: 0o644, data: group, owner: root, timestamp: EPOCH },
    );
  }

  // One library collection per stage that binaries with `libraries: true` come from.
  const needLibs = new Map<string, string[]>();
  for (const c of img.copy) {
    if (c.libraries && c.fromKind === "stage") needLibs.set(c.from, [...(needLibs.get(c.from) ?? []), c.src]);
  }

  for (const c of img.copy) {
    const from = c.fromKind === "source" ? o.source(c.from) : { state: o.stage(c.from), root: "/" };
    actions.push({
      kind: "copy",
      source: from.state.output,
      src: joinPath(from.root, c.src),
      dest: c.dest,
      owner: root,
      ...(c.mode !== undefined ? { mode: c.mode } : {}),
      followSymlink: true,
      createDestPath: true,
      allowWildcard: true,
      timestamp: EPOCH,
    });
  }
  for (const [stageName, bins] of needLibs) {
    const collected = o
      .stage(stageName)
      .withNetwork("none")
      .run(["/bin/sh", "-c", COLLECT_LIBS_SCRIPT, "collect-libs", multiarchDir(target), gnuTriple(target), dpkgArch(target), ...bins], {
        mounts: [{ type: "bind", dest: COLLECT_DIR }],
        customName: `[${formatPlatform(target)}] ${stageName}: collect the libraries of ${bins.join(", ")}`,
        locations: at(o.stageSpan(stageName)),
      })
      .mount(COLLECT_DIR);
    actions.push({
      kind: "copy",
      source: collected.output,
      src: "/",
      dest: "/",
      owner: root,
      dirCopyContents: true,
      followSymlink: true,
      createDestPath: true,
      timestamp: EPOCH,
    });
  }
  // A volume belongs to the user, the directories above it to root (a user
  // owning /run could replace /run/app); those inside another volume are the user's.
  // Outer volumes first: an inner one's makeParents must not create them as the user's.
  const inVolume = (p: string) => img.volumes.some((v) => p === v || p.startsWith(`${v}/`));
  const depth = (p: string) => p.split("/").length;
  for (const v of [...img.volumes].sort((a, b) => depth(a) - depth(b))) {
    const parent = v.slice(0, v.lastIndexOf("/"));
    if (parent !== "" && !inVolume(parent)) actions.push({ kind: "mkdir", path: parent, mode: 0o755, makeParents: true, owner: root, timestamp: EPOCH });
    actions.push({ kind: "mkdir", path: v, mode: 0o755, makeParents: true, owner: user, timestamp: EPOCH });
  }
  if (img.workdir && !img.volumes.includes(img.workdir)) {
    actions.push({ kind: "mkdir", path: img.workdir, mode: 0o755, makeParents: true, owner: root, timestamp: EPOCH });
  }

  return actions.length > 0
    ? base.file(actions, { customName: `[${formatPlatform(target)}] image: assemble the runtime filesystem`, locations: at(img.span) })
    : base;
}
