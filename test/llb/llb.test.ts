import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DefinitionSchema, OpSchema } from "../../src/gen/buildkit/pb/ops_pb.js";
import {
  State,
  checkStructure,
  decodeDefinition,
  definitionBytes,
  diff,
  digestOf,
  dumpDefinition,
  gitSource,
  httpSource,
  imageSource,
  localSource,
  marshal,
  merge,
  LlbError,
} from "../../src/llb/index.js";

const amd64 = { os: "linux", architecture: "amd64" } as const;
const file = { filename: "image.yaml", data: new TextEncoder().encode("a: 1\n") };

function sample(): State {
  const base = State.of(imageSource("docker.io/library/debian:bookworm", { platform: amd64 })).withPlatform(amd64);
  const src = State.of(httpSource("http://127.0.0.1/x.tar.gz", "a".repeat(64), { filename: "x.tar.gz" }));
  const git = State.of(gitSource("http://127.0.0.1:9418/repo.git", "b".repeat(40), { keepGitDir: true }));
  const ctx = State.of(localSource("context", { excludePatterns: ["*.o"], sharedKeyHint: "context" }));
  const built = base
    .withEnv("CC", "gcc")
    .withDir("/src")
    .run(["/bin/sh", "-c", "make"], {
      customName: "make",
      locations: [{ file, start: { line: 1, character: 0 }, end: { line: 1, character: 4 } }],
      mounts: [
        { type: "bind", dest: "/src", source: src.output!, readonly: true },
        { type: "bind", dest: "/git", source: git.output!, readonly: true },
        { type: "bind", dest: "/ctx", source: ctx.output!, readonly: true },
        { type: "bind", dest: "/out" },
        { type: "cache", dest: "/root/.cache", id: "cc", sharing: "locked" },
        { type: "tmpfs", dest: "/tmp" },
      ],
    });
  const out = built.mount("/out");
  const runtime = State.scratch().file([
    { kind: "mkdir", path: "/etc", mode: 0o755, makeParents: true, timestamp: 0n },
    { kind: "mkfile", path: "/etc/passwd", mode: 0o644, data: "caisson:x:65532:65532::/:/sbin/nologin\n" },
    { kind: "copy", source: out.output, src: "/hello", dest: "/hello", owner: { uid: 0, gid: 0 }, createDestPath: true },
  ]);
  return merge([runtime, diff(base, built.withOutput(built.output))]);
}

describe("llb", () => {
  it("marshals a structurally valid definition", () => {
    const bytes = definitionBytes(marshal(sample()));
    const { ops } = decodeDefinition(bytes);
    expect(ops.length).toBeGreaterThan(5);
    const terminal = ops[ops.length - 1]!.op;
    expect(terminal.op.case).toBeUndefined();
    expect(terminal.inputs).toHaveLength(1);
  });

  it("gives identical bytes every time", () => {
    const first = definitionBytes(marshal(sample()));
    for (let i = 0; i < 100; i++) expect(definitionBytes(marshal(sample()))).toEqual(first);
  });

  it("is independent of attribute insertion order", () => {
    const a = imageSource("docker.io/library/x:1", { resolveMode: "local" });
    const attrsShuffled = Object.fromEntries(Object.entries({ ...a.attrs, "z.extra": "1", "a.extra": "2" }).reverse());
    const attrsInOrder = { ...a.attrs, "a.extra": "2", "z.extra": "1" };
    const m1 = new (a.constructor as typeof import("../../src/llb/source.js").SourceVertex)(a.identifier, attrsShuffled, {});
    const m2 = new (a.constructor as typeof import("../../src/llb/source.js").SourceVertex)(a.identifier, attrsInOrder, {});
    expect(definitionBytes(marshal(State.of(m1)))).toEqual(definitionBytes(marshal(State.of(m2))));
  });

  it("round-trips through protobuf", () => {
    const def = marshal(sample());
    const back = fromBinary(DefinitionSchema, toBinary(DefinitionSchema, def));
    expect(equals(DefinitionSchema, back, def)).toBe(true);
  });

  it("encodes -1 sentinels as 10-byte varints and numbers writable mounts only", () => {
    const { ops } = decodeDefinition(definitionBytes(marshal(sample())));
    const exec = ops.find((o) => o.op.op.case === "exec")!.op;
    if (exec.op.case !== "exec") throw new Error("no exec");
    const byDest = Object.fromEntries(exec.op.value.mounts.map((m) => [m.dest, m]));
    expect(exec.op.value.mounts.map((m) => m.dest)).toEqual(["/", "/ctx", "/git", "/out", "/root/.cache", "/src", "/tmp"]);
    expect(byDest["/"]!.output).toBe(0n);
    expect(byDest["/out"]!.output).toBe(1n);
    expect(byDest["/out"]!.input).toBe(-1n);
    expect(byDest["/src"]!.output).toBe(-1n);
    expect(byDest["/tmp"]!.input).toBe(-1n);
    expect(exec.op.value.meta?.removeMountStubsRecursive).toBe(true);
    const bytes = toBinary(OpSchema, exec);
    // field 4 (output), varint of -1: 0x20 then ten bytes ending 0x01
    const hex = Buffer.from(bytes).toString("hex");
    expect(hex).toContain("20ffffffffffffffffff01");
  });

  it("keeps inputs before dependants and puts metadata under digests", () => {
    const def = marshal(sample());
    checkStructure(def);
    const names = Object.values(def.metadata).map((m) => m.description["llb.customname"]);
    expect(names).toContain("make");
    expect(def.Source?.infos[0]?.filename).toBe("image.yaml");
    for (const key of Object.keys(def.metadata)) expect(def.def.some((b) => digestOf(b) === key)).toBe(true);
  });

  it("deduplicates identical vertices", () => {
    const a = State.of(imageSource("docker.io/library/x:1"));
    const b = State.of(imageSource("docker.io/library/x:1"));
    const def = marshal(merge([a, b]));
    expect(def.def).toHaveLength(3);
  });

  it("dumps readably", () => {
    const dump = dumpDefinition(marshal(sample()));
    expect(JSON.stringify(dump)).toContain("caisson:x:65532");
  });

  it("names a git source by host and path, for URLs and scp-like remotes alike", () => {
    const c = "c".repeat(40);
    const id = (url: string) => {
      const { ops } = decodeDefinition(definitionBytes(marshal(State.of(gitSource(url, c)))));
      const op = ops[0]?.op.op;
      return op?.case === "source" ? [op.value.identifier, op.value.attrs["git.fullurl"]] : [];
    };
    expect(id("https://h.example/org/r.git")).toEqual([`git://h.example/org/r.git#${c}`, "https://h.example/org/r.git"]);
    expect(id("ssh://git@h.example:2222/org/r.git/")).toEqual([`git://h.example:2222/org/r.git#${c}`, "ssh://git@h.example:2222/org/r.git/"]);
    expect(id("git@h.example:org/r.git")).toEqual([`git://h.example/org/r.git#${c}`, "git@h.example:org/r.git"]);
    expect(() => gitSource("no-colon-here", c)).toThrow(LlbError);
  });

  it("rejects what BuildKit would reject", () => {
    expect(() => imageSource("debian")).toThrow(LlbError);
    expect(() => gitSource("http://x/y", "abc")).toThrow(LlbError);
    expect(() => httpSource("http://x/y", "ABC")).toThrow(LlbError);
    expect(() => marshal(State.scratch())).toThrow(LlbError);
    expect(() => State.scratch().run([])).toThrow(LlbError);
    expect(() => create(DefinitionSchema)).not.toThrow();
  });
});
