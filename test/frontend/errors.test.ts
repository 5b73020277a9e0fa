import { fromBinary, fromJsonString } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { error, warning } from "../../src/diag/index.js";
import { Code, diagnosticsStatus, errorStatus, SOURCE_TYPE_URL } from "../../src/frontend/errors.js";
import { GrpcError } from "../../src/grpc/index.js";
import { SourceSchema } from "../../src/gen/buildkit/errdefs/errdefs_pb.js";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";
import { toBinary, create } from "@bufbuild/protobuf";

const TEXT = "name: x\nplatforms: [linux/amd64]\nstages:\n  build:\n    runs: [true]\n";
const at = (s: string) => TEXT.indexOf(s);

describe("diagnostics as a google.rpc.Status", () => {
  const diags = [
    warning("unused_stage", 'stage "build" is not used', { file: "image.yaml", start: at("build"), end: at("build") + 5 }),
    error("unknown_key", 'unknown key "runs" in stages.build', { file: "image.yaml", start: at("runs"), end: at("runs") + 4 }, { hint: 'did you mean "run"?' }),
    error("missing_key", 'missing key "image"', { file: "image.yaml", start: 0, end: 4 }),
  ];
  const st = diagnosticsStatus("image.yaml", TEXT, diags);

  it("lists file:line:col: severity[code]: message lines, errors first", () => {
    expect(st.code).toBe(Code.UNKNOWN);
    expect(st.message.split("\n")).toEqual([
      "image.yaml: 2 errors",
      'image.yaml:5:5: error[unknown_key]: unknown key "runs" in stages.build (help: did you mean "run"?)',
      'image.yaml:1:1: error[missing_key]: missing key "image"',
      'image.yaml:4:3: warning[unused_stage]: stage "build" is not used',
    ]);
  });

  it("attaches one errdefs.Source per error, JSON-encoded under BuildKit's type URL", () => {
    expect(st.details).toHaveLength(2);
    for (const d of st.details) expect(d.typeUrl).toBe("github.com/moby/buildkit/errdefs.Source+json");
    expect(SOURCE_TYPE_URL).toBe("github.com/moby/buildkit/errdefs.Source+json");
    const sources = st.details.map((d) => JSON.parse(new TextDecoder().decode(d.value)) as Record<string, unknown>);
    // Go's encoding/json shape: info.{filename,data(base64),language}, ranges[].{start,end}.{line,character}
    const runs = sources.find((s) => JSON.stringify(s).includes('"line":5'));
    expect(runs).toEqual({
      info: { filename: "image.yaml", data: Buffer.from(TEXT).toString("base64"), language: "yaml" },
      ranges: [{ start: { line: 5, character: 4 }, end: { line: 5, character: 8 } }],
    });
    const parsed = fromJsonString(SourceSchema, new TextDecoder().decode(st.details[0]?.value));
    expect(new TextDecoder().decode(parsed.info?.data)).toBe(TEXT);
  });

  it("survives the wire", () => {
    const back = fromBinary(StatusSchema, toBinary(StatusSchema, st));
    expect(back.details.map((d) => d.typeUrl)).toEqual(st.details.map((d) => d.typeUrl));
  });

  it("other failures: keeps a daemon status, wraps anything else", () => {
    const daemon = create(StatusSchema, { code: 9, message: "failed precondition" });
    expect(errorStatus(new GrpcError("/x", daemon))).toBe(daemon);
    expect(errorStatus(new Error("boom"))).toMatchObject({ code: Code.UNKNOWN, message: "caisson frontend: boom" });
  });
});
