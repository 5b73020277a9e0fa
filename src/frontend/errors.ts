// Frontend failures as the google.rpc.Status BuildKit expects in
// ReturnRequest.error, with source ranges the client prints.
import { create, toJsonString } from "@bufbuild/protobuf";
import { AnySchema, type Any } from "@bufbuild/protobuf/wkt";
import { LineIndex, type Diagnostic } from "../diag/index.js";
import { SourceSchema as ErrdefsSourceSchema } from "../gen/buildkit/errdefs/errdefs_pb.js";
import { PositionSchema, RangeSchema, SourceInfoSchema } from "../gen/buildkit/pb/ops_pb.js";
import { StatusSchema, type Status } from "../gen/google/rpc/status_pb.js";

/**
 * The type URL BuildKit registers errdefs.Source under (containerd typeurl:
 * path.Join("github.com/moby/buildkit", "errdefs.Source+json")). The "+json"
 * means the Any's value is the JSON encoding of the message, not protobuf.
 */
export const SOURCE_TYPE_URL = "github.com/moby/buildkit/errdefs.Source+json";

/** gRPC codes the frontend uses. */
export const Code = { UNKNOWN: 2, INVALID_ARGUMENT: 3, NOT_FOUND: 5, UNIMPLEMENTED: 12, INTERNAL: 13 } as const;

/** At most this many source snippets go along with an error (the message lists all). */
export const MAX_SOURCE_DETAILS = 10;

/** `file:line:col: error[code]: message`, plus the hint in parentheses. */
export function diagnosticLine(d: Diagnostic, index: LineIndex | undefined): string {
  const at = index ? index.position(d.span.start) : undefined;
  const where = at ? `${d.span.file}:${at.line}:${at.column}` : d.span.file;
  return `${where}: ${d.severity}[${d.code}]: ${d.message}${d.hint ? ` (help: ${d.hint})` : ""}`;
}

/** An errdefs.Source detail pointing at a diagnostic's span, packed as BuildKit packs it. */
export function sourceDetail(d: Diagnostic, file: string, data: Uint8Array, index: LineIndex, language = "yaml"): Any {
  const start = index.position(d.span.start);
  const end = index.position(Math.max(d.span.start, d.span.end));
  const src = create(ErrdefsSourceSchema, {
    info: create(SourceInfoSchema, { filename: file, data, language }),
    ranges: [
      create(RangeSchema, {
        start: create(PositionSchema, { line: start.line, character: start.character }),
        end: create(PositionSchema, { line: end.line, character: end.character }),
      }),
    ],
  });
  return create(AnySchema, { typeUrl: SOURCE_TYPE_URL, value: new TextEncoder().encode(toJsonString(ErrdefsSourceSchema, src)) });
}

/**
 * The status for a definition that does not compile: one `file:line:col:
 * error[code]: message` line per error (warnings follow the errors), and one
 * errdefs.Source detail per error (in any file whose text is known: the
 * definition and the definitions it imports) so `docker buildx build` prints
 * the offending lines.
 */
export function diagnosticsStatus(
  file: string,
  text: string,
  diagnostics: readonly Diagnostic[],
  otherTexts: ReadonlyMap<string, string> = new Map(),
): Status {
  const texts = new Map(otherTexts);
  texts.set(file, text);
  const indexes = new Map<string, { index: LineIndex; data: Uint8Array }>();
  const indexOf = (f: string) => {
    const t = texts.get(f);
    if (t === undefined) return undefined;
    let i = indexes.get(f);
    if (!i) indexes.set(f, (i = { index: new LineIndex(t), data: new TextEncoder().encode(t) }));
    return i;
  };
  const errors = diagnostics.filter((d) => d.severity === "error");
  const ordered = [...errors, ...diagnostics.filter((d) => d.severity !== "error")];
  const lines = ordered.map((d) => diagnosticLine(d, indexOf(d.span.file)?.index));
  const n = errors.length;
  const head = n === 1 ? `${file}: 1 error` : `${file}: ${n} errors`;
  // buildx prints the details in reverse order of the list: reverse it so the
  // snippets come out in the order of the message's lines.
  const details: Any[] = [];
  for (const d of errors) {
    const i = indexOf(d.span.file);
    if (i && details.length < MAX_SOURCE_DETAILS) details.push(sourceDetail(d, d.span.file, i.data, i.index));
  }
  return create(StatusSchema, { code: Code.UNKNOWN, message: `${head}\n${lines.join("\n")}`, details: details.reverse() });
}

/** A status for any other failure (keeps a daemon status and its details when there is one). */
export function errorStatus(err: unknown): Status {
  if (err && typeof err === "object" && "status" in err) {
    const st = (err as { status: unknown }).status;
    if (st && typeof st === "object" && "$typeName" in st && (st as Status).$typeName === "google.rpc.Status") {
      return st as Status;
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  return create(StatusSchema, { code: Code.UNKNOWN, message: `caisson frontend: ${message}` });
}
