// Sources lowered to LLB: a file over http(s) pinned by sha256 (unpacked when
// asked), a git checkout pinned by commit, a folder of the build context.
import { error } from "../diag/index.js";
import { State, gitSource, httpSource, localSource, type SourceLocation } from "../llb/index.js";
import type { SourceSpec, Span } from "../model/index.js";
import { LowerError } from "./errors.js";

/** Files and directories in the runtime image are dated at the epoch, so builds reproduce. */
export const EPOCH = 0n;

/** A source's filesystem and the directory inside it that the source names. */
export interface SourceState {
  readonly state: State;
  readonly root: string;
}

/** `root` and `path` joined into one absolute, normalised path. */
export function joinPath(root: string, path: string): string {
  const parts = `${root}/${path}`.split("/").filter((p) => p !== "" && p !== ".");
  return "/" + parts.join("/");
}

/** The LLB of one source (see the file comment). */
export function sourceState(
  src: SourceSpec,
  o: { readonly sourceMirror?: string | undefined; readonly localSession?: string | undefined; readonly at: (span: Span) => SourceLocation[] },
): SourceState {
  const c = { customName: `source ${src.name}`, locations: o.at(src.span) };
  let result: SourceState;
  switch (src.kind) {
    case "http": {
      const url = o.sourceMirror ? `${o.sourceMirror.replace(/\/+$/, "")}/sha256/${src.sha256}` : src.url;
      if (url === undefined) {
        throw new LowerError(
          error("no_source_url", `source "${src.name}" (${src.filename}${src.debian ? ` of Debian's ${src.debian}` : ""}) has no URL`, src.span, {
            hint: "it can only come from a mirror that serves files by sha256: `caisson build` serves its source store (--source-store DIR) itself; `caisson compile` needs --source-mirror URL",
          }),
        );
      }
      const dl = State.of(httpSource(url, src.sha256, { ...c, filename: src.filename }));
      result = src.extract
        ? {
            state: State.scratch().file(
              [{ kind: "copy", source: dl.output, src: `/${src.filename}`, dest: "/", unpack: true, timestamp: EPOCH }],
              { customName: `source ${src.name}: unpack ${src.filename}`, locations: o.at(src.span) },
            ),
            root: "/",
          }
        : { state: dl, root: "/" };
      break;
    }
    case "git":
      result = { state: State.of(gitSource(src.url, src.commit, { ...c, keepGitDir: src.keepGitDir })), root: "/" };
      break;
    case "local": {
      const whole = src.path === "." || src.path === "";
      result = {
        state: State.of(
          localSource("context", {
            ...c,
            sharedKeyHint: "context",
            ...(o.localSession ? { sessionId: o.localSession } : {}),
            ...(whole ? {} : { includePatterns: [src.path] }),
            // BuildKit matches patterns against context paths: scope them to the source's folder.
            ...(src.exclude.length > 0
              ? { excludePatterns: src.exclude.map((p) => (whole ? p : p.startsWith("!") ? `!${joinPath(src.path, p.slice(1)).slice(1)}` : joinPath(src.path, p).slice(1))) }
              : {}),
          }),
        ),
        root: whole ? "/" : joinPath("/", src.path),
      };
      break;
    }
  }
  return result;
}
