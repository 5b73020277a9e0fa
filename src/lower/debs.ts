// Debian packages in a stage: the pinned .deb files, fetched by sha256 and
// installed by apt from the files alone, as root with no network.
import { error } from "../diag/index.js";
import { State, httpSource, type FileAction, type SourceLocation } from "../llb/index.js";
import type { DebPin, Span } from "../model/index.js";
import { LowerError } from "./errors.js";
import { installDebsScript } from "./scripts.js";
import { EPOCH } from "./sources.js";

/** Where the engine downloads a pinned .deb: the content-addressed mirror, else its archive by pool path. */
export function debUrl(pin: DebPin, opts: { readonly sourceMirror?: string; readonly debianArchives?: Readonly<Record<string, string>> }, stage: string, span: Span): string {
  if (opts.sourceMirror) return `${opts.sourceMirror.replace(/\/+$/, "")}/sha256/${pin.sha256}`;
  const archive = opts.debianArchives?.[pin.archive];
  if (archive === undefined) {
    throw new LowerError(
      error("no_debian_archive", `stage "${stage}": ${pin.name} ${pin.version} comes from the Debian archive "${pin.archive}", which no apt source names`, span, {
        hint:
          "`caisson build` serves pinned .debs from its source store; `caisson compile` takes the archives from this machine's apt sources (or --debian-sources FILE); " +
          "through the frontend, give --build-arg CAISSON_DEBIAN_ARCHIVES=debian=<URI>,debian-security=<URI>",
      }),
    );
  }
  // Each segment percent-encoded, as apt and the fetcher request it (`+` in versions).
  return `${archive.replace(/\/+$/, "")}/${pin.path.split("/").map(encodeURIComponent).join("/")}`;
}

/** Where the pinned .deb files are mounted while they are installed. */
const DEB_DIR = "/var/cache/caisson/debs";

/**
 * Installs exactly `pins` into `state`: each .deb an http source pinned by
 * sha256 (the engine verifies every byte), gathered into one directory and
 * installed by apt from the files alone, as root with no network — no
 * package index is read, so nothing but the pins can go in.
 */
export function installDebs(
  state: State,
  pins: readonly DebPin[],
  arch: string,
  o: { customName: string; locations: SourceLocation[] | undefined; url: (pin: DebPin) => string },
): State {
  const files = pins.map((p) => ({ pin: p, file: p.path.slice(p.path.lastIndexOf("/") + 1) }));
  const debs = State.scratch().file(
    files.map(({ pin, file }): FileAction => ({
      kind: "copy",
      source: State.of(httpSource(o.url(pin), pin.sha256, { filename: file, customName: `deb ${pin.name}_${pin.version}_${pin.arch}`, ...(o.locations ? { locations: o.locations } : {}) })).output,
      src: `/${file}`,
      dest: `/${file}`,
      timestamp: EPOCH,
    })),
    { customName: `${o.customName}: gather`, ...(o.locations ? { locations: o.locations } : {}) },
  );
  const foreign = [...new Set(pins.map((p) => p.arch).filter((a) => a !== "all" && a !== arch))].sort();
  const script = installDebsScript(
    foreign,
    files.map(({ file }) => `${DEB_DIR}/${file}`),
  );
  return state
    .withUser("root")
    .withNetwork("none")
    .run(["/bin/sh", "-c", script], {
      customName: o.customName,
      ...(o.locations ? { locations: o.locations } : {}),
      mounts: [{ type: "bind", dest: DEB_DIR, ...(debs.output ? { source: debs.output } : {}), readonly: true }],
    });
}
