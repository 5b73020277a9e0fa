// A failed solve, told in the definition's terms: BuildKit attaches the
// source-map locations of the failing vertex (errdefs.Source, from the LLB's
// source map) to its error; they become `file:line:col` with the code frame
// (src/diag), followed by the last lines the failing step printed.
import { fromJsonString } from "@bufbuild/protobuf";
import { error as diagError, formatDiagnostics, LineIndex, visible, type Diagnostic } from "../diag/index.js";
import { SourceSchema as ErrdefsSourceSchema } from "../gen/buildkit/errdefs/errdefs_pb.js";
import type { Status } from "../gen/google/rpc/status_pb.js";

/** BuildKit's type URL for errdefs.Source (JSON in the Any's value). */
const SOURCE_TYPE_URL = "github.com/moby/buildkit/errdefs.Source+json";

/** A location BuildKit reported, resolved against the file's text. */
export interface FailureLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly diagnostic: Diagnostic;
}

/** The errdefs.Source details of a status, as diagnostics on the file texts they carry (or the ones given). */
export function failureLocations(status: Status, message: string, texts: ReadonlyMap<string, string> = new Map()): { locations: FailureLocation[]; texts: Map<string, string> } {
  const all = new Map(texts);
  const locations: FailureLocation[] = [];
  const seen = new Set<string>();
  for (const d of status.details) {
    if (d.typeUrl !== SOURCE_TYPE_URL) continue;
    let src;
    try {
      src = fromJsonString(ErrdefsSourceSchema, new TextDecoder().decode(d.value), { ignoreUnknownFields: true });
    } catch {
      continue;
    }
    const file = src.info?.filename ?? "";
    if (!file) continue;
    if (!all.has(file) && src.info?.data.length) all.set(file, new TextDecoder().decode(src.info.data));
    const text = all.get(file);
    if (text === undefined) continue;
    const idx = new LineIndex(text);
    for (const r of src.ranges) {
      const start = idx.offsetOf(r.start?.line ?? 1, r.start?.character ?? 0);
      const end = Math.max(start, idx.offsetOf(r.end?.line ?? r.start?.line ?? 1, r.end?.character ?? 0));
      const key = `${file}\0${start}\0${end}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const pos = idx.position(start);
      locations.push({ file, line: pos.line, column: pos.column, diagnostic: diagError("build_failed", message, { file, start, end }) });
    }
  }
  return { locations, texts: all };
}

/** BuildKit's message without its wrapping (`failed to solve: `, the process line kept). */
export function shortMessage(message: string): string {
  return message.replace(/^(failed to solve: )+/, "").trim();
}

/**
 * The report of a failed build: the definition's lines (code frame) when the
 * error carries locations, then the failing step's last output lines.
 */
export function formatFailure(status: Status, o: { texts?: ReadonlyMap<string, string>; logs?: readonly string[]; logLines?: number } = {}): string {
  const message = shortMessage(status.message);
  const { locations, texts } = failureLocations(status, message, o.texts);
  const out: string[] = [];
  if (locations.length > 0) out.push(formatDiagnostics(locations.map((l) => l.diagnostic), texts).replace(/\n\naborting due to .*\n$/, "\n").trimEnd());
  else out.push(`error: ${visible(message)}`);
  const logs = (o.logs ?? []).slice(-(o.logLines ?? 15));
  if (logs.length > 0) {
    out.push(`last ${logs.length === 1 ? "line" : `${logs.length} lines`} of its output:`);
    for (const l of logs) out.push(`  ${visible(l)}`);
  }
  return out.join("\n") + "\n";
}
