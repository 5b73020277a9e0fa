// What `caisson build` checks of a compiled definition before the engine is
// involved, where the engine would otherwise fail late and without a place:
// the image name the build tags by default, and each local source's folder
// in the build context.
import { lstat, realpath } from "node:fs/promises";
import type { Stats } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import { error, visible, type Diagnostic } from "../diag/index.js";
import type { ImageDefinition, Span } from "../model/index.js";
import { parseReference, TAG } from "../reference/index.js";

/** The name `caisson build` without `-o` tags the image with. */
export function defaultImageName(def: Pick<ImageDefinition, "name" | "version">): string {
  return `caisson/${def.name}:${def.version ?? "latest"}`;
}

/** Why the default image name is no image reference, at the `version:` (or `name:`) that makes it so; undefined when it is one. */
export function defaultNameProblem(def: ImageDefinition): Diagnostic | undefined {
  const name = defaultImageName(def);
  const parsed = parseReference(name);
  if (parsed.ok) return undefined;
  const top: Span = { file: def.file, start: 0, end: 0 };
  const give = "give the image a name with -o image=NAME:TAG (or write it elsewhere: -o oci=FILE, -o local=DIR)";
  if (def.version !== undefined && !TAG.test(def.version)) {
    return error(
      "invalid_image_ref",
      `without -o the image is tagged ${JSON.stringify(name)}, and version ${JSON.stringify(def.version)} cannot be a tag`,
      def.versionSpan ?? top,
      { hint: `${give}, or write a version a tag can hold: letters, digits, '_', '.' and '-', not starting with '.' or '-', at most 128 (e.g. 7.0.15)` },
    );
  }
  return error("invalid_image_ref", `without -o the image is tagged ${JSON.stringify(name)}, which is not an image reference: ${parsed.reason}`, def.nameSpan ?? top, {
    hint: `${give}, or write a name that is one (lower-case letters and digits, separated by '.', '_', '__' or '-')`,
  });
}

/** What a file system entry is, for messages. */
function kindOf(st: Stats): string {
  if (st.isFile()) return "a regular file";
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  if (st.isSymbolicLink()) return "a symlink";
  return "not a directory";
}

interface Problem {
  readonly message: string;
  readonly hint: string;
}

const inside = (root: string, p: string): string | undefined => {
  const rel = relative(root, p);
  return rel === "" ? "." : rel.startsWith("..") || isAbsolute(rel) ? undefined : rel;
};

/**
 * Why a local source's `path` (relative, normalised, no `..`) is not a folder
 * the build can send: missing, not a directory, or reached through a symlink
 * (the context is sent as it is, links as links, so the engine would find no
 * folder there, and a link out of the context would leave it).
 */
async function folderProblem(root: string, path: string): Promise<Problem | undefined> {
  if (path === "." || path === "") return undefined;
  const parts = path.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join("/");
    const here = i === parts.length ? "it" : `its part ${JSON.stringify(rel)}`;
    let st: Stats;
    try {
      st = await lstat(join(root, rel));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") {
        return { message: `does not exist in the build context ${visible(root)}${i < parts.length ? ` (${here} does not)` : ""}`, hint: "create the folder, or give --context the folder the path is relative to" };
      }
      return { message: `cannot be read: ${visible((e as Error).message)}`, hint: "make the folder readable" };
    }
    if (st.isSymbolicLink()) {
      let target: string | undefined;
      try {
        target = await realpath(join(root, rel));
      } catch {
        target = undefined;
      }
      if (target === undefined) return { message: `is a dangling symlink (${here} points to nothing)`, hint: "point path: at a folder inside the build context" };
      const within = inside(root, target);
      if (within === undefined) {
        return {
          message: `leads out of the build context ${visible(root)}: ${here} is a symlink to ${visible(target)}`,
          hint: "the build sends the context as it is, links as links: copy the files into the context, or give --context a folder that holds them",
        };
      }
      const rest = parts.slice(i).join("/");
      const real = rest ? `${within}/${rest}` : within;
      return { message: `goes through a symlink (${here} points to ${JSON.stringify(within)})`, hint: `the build sends links as links, not what they point to: write path: ${real}` };
    }
    if (!st.isDirectory()) {
      return {
        message: `is not a folder: ${here} is ${kindOf(st)}`,
        hint: "a local source is a folder of the build context: name the folder that holds it (and leave the rest out with exclude:)",
      };
    }
  }
  return undefined;
}

/** One diagnostic, at its `path:`, per local source of `defs` whose folder the build could not send. */
export async function localSourceProblems(defs: readonly ImageDefinition[], context: string): Promise<Diagnostic[]> {
  const root = await realpath(context);
  const out: Diagnostic[] = [];
  // Each folder is looked at once (an imported definition may share it).
  const seen = new Map<string, Problem | undefined>();
  for (const def of defs) {
    for (const s of def.sources) {
      if (s.kind !== "local") continue;
      if (!seen.has(s.path)) seen.set(s.path, await folderProblem(root, s.path));
      const p = seen.get(s.path);
      if (p) out.push(error("invalid_local_source", `source "${s.name}": path ${JSON.stringify(s.path)} ${p.message}`, s.pathSpan, { hint: p.hint }));
    }
  }
  return out;
}

