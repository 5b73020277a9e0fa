import http2 from "node:http2";
import net from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Deframer, frameMessage, GrpcCode, GrpcError, statusFromTrailers, GrpcClient, unframeMessages } from "../../src/grpc/index.js";
import { BytesMessageSchema, Control, StatusResponseSchema } from "../../src/gen/buildkit/control/control_pb.js";
import { LLBBridge, ReadFileRequestSchema, ReadFileResponseSchema } from "../../src/gen/buildkit/gateway/gateway_pb.js";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";

describe("gRPC framing", () => {
  it("frames and unframes", () => {
    const f = frameMessage(new Uint8Array([1, 2, 3]));
    expect([...f]).toEqual([0, 0, 0, 0, 3, 1, 2, 3]);
    expect(unframeMessages(Buffer.concat([f, frameMessage(new Uint8Array())])).map((m) => [...m])).toEqual([[1, 2, 3], []]);
    expect(() => unframeMessages(f.subarray(0, 6))).toThrow(/truncated/);
    expect(() => unframeMessages(Buffer.from([1, 0, 0, 0, 0]))).toThrow(/compressed/);
  });

  it("reads statuses from trailers, preferring grpc-status-details-bin", () => {
    expect(statusFromTrailers({})).toBeUndefined();
    expect(statusFromTrailers({ "grpc-status": "5", "grpc-message": "no%20such%20ref" })).toMatchObject({ code: 5, message: "no such ref" });
    const rich = create(StatusSchema, { code: 3, message: "rich", details: [{ typeUrl: "t", value: new Uint8Array([1]) }] });
    const st = statusFromTrailers({ "grpc-status": "3", "grpc-message": "plain", "grpc-status-details-bin": Buffer.from(toBinary(StatusSchema, rich)).toString("base64") });
    expect(st?.message).toBe("rich");
    expect(st?.details[0]?.typeUrl).toBe("t");
  });
});

describe("GrpcClient against an h2c gRPC server", () => {
  let server: http2.Http2Server;
  let port = 0;
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    server = http2.createServer();
    server.on("connection", (s: net.Socket) => sockets.add(s));
    server.on("stream", (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        expect(headers["content-type"]).toMatch(/^application\/grpc/);
        expect(headers["te"]).toBe("trailers");
        const req = fromBinary(ReadFileRequestSchema, unframeMessages(Buffer.concat(chunks))[0] as Uint8Array);
        if (req.FilePath === "missing") {
          stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "5", "grpc-message": "not found: missing" }, { endStream: true });
          return;
        }
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        const data = new TextEncoder().encode(`${headers[":path"]} ${req.Ref}:${req.FilePath}`);
        stream.end(frameMessage(toBinary(ReadFileResponseSchema, create(ReadFileResponseSchema, { Data: data }))));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("calls methods by their full gRPC path and decodes the answer", async () => {
    const client = new GrpcClient(net.connect(port, "127.0.0.1"));
    const [a, b] = await Promise.all([
      client.call(LLBBridge.method.readFile, { Ref: "r1", FilePath: "image.yaml" }),
      client.call(LLBBridge.method.readFile, { Ref: "r2", FilePath: "x" }),
    ]);
    expect(new TextDecoder().decode(a.Data)).toBe("/moby.buildkit.v1.frontend.LLBBridge/ReadFile r1:image.yaml");
    expect(new TextDecoder().decode(b.Data)).toBe("/moby.buildkit.v1.frontend.LLBBridge/ReadFile r2:x");
    const err = await client.call(LLBBridge.method.readFile, { Ref: "r", FilePath: "missing" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrpcError);
    expect((err as GrpcError).code).toBe(5);
    expect((err as GrpcError).message).toBe("not found: missing");
    await client.close();
  });
});

describe("GrpcClient streaming, deadlines and cancellation against an h2c server", () => {
  // /moby.buildkit.v1.Control/Status: three messages, then OK; Session: echoes every message
  // upper-cased until the client half-closes; Solve: never answers (for deadlines and cancellation).
  let server: http2.Http2Server;
  let port = 0;
  const sockets = new Set<net.Socket>();
  const seen: { path: string; metadata: string[] }[] = [];
  beforeAll(async () => {
    server = http2.createServer();
    server.on("connection", (s: net.Socket) => sockets.add(s));
    server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, raw: string[]) => {
      const path = String(headers[":path"]);
      const md: string[] = [];
      for (let i = 0; i < raw.length; i += 2) if (raw[i] === "x-docker-expose-session-grpc-method") md.push(raw[i + 1] as string);
      seen.push({ path, metadata: md });
      const d = new Deframer();
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.on("error", () => undefined);
      if (path.endsWith("/Status")) {
        for (const v of ["a", "b", "c"]) stream.write(frameMessage(toBinary(StatusResponseSchema, create(StatusResponseSchema, { vertexes: [{ digest: v }] }))));
        stream.end();
      } else if (path.endsWith("/Session")) {
        stream.on("data", (c: Buffer) => {
          for (const m of d.push(c)) {
            const text = new TextDecoder().decode(fromBinary(BytesMessageSchema, m).data).toUpperCase();
            stream.write(frameMessage(toBinary(BytesMessageSchema, create(BytesMessageSchema, { data: new TextEncoder().encode(text) }))));
          }
        });
        stream.on("end", () => stream.end());
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("reads a server stream to its end, and streams both ways with repeated metadata values", async () => {
    const client = new GrpcClient(net.connect(port, "127.0.0.1"));
    const got: string[] = [];
    for await (const m of client.serverStream(Control.method.status, { Ref: "r" }).messages) got.push(m.vertexes[0]?.digest ?? "");
    expect(got).toEqual(["a", "b", "c"]);

    const call = client.bidi(Control.method.session, { metadata: { "x-docker-expose-session-grpc-method": ["/a/B", "/c/D"] } });
    const echoed: string[] = [];
    const reading = (async () => {
      for await (const m of call.messages) echoed.push(new TextDecoder().decode(m.data));
    })();
    call.send({ data: new TextEncoder().encode("one") });
    call.send({ data: new TextEncoder().encode("two") });
    call.end();
    await reading;
    expect(echoed.join("")).toBe("ONETWO");
    expect(seen.find((s) => s.path.endsWith("/Session"))?.metadata).toEqual(["/a/B", "/c/D"]);
    await client.close();
  });

  it("fails a call past its deadline with DEADLINE_EXCEEDED, and a cancelled one with CANCELLED", async () => {
    const client = new GrpcClient(net.connect(port, "127.0.0.1"));
    const late = await client.call(Control.method.solve, { Ref: "x" }, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(GrpcError);
    expect((late as GrpcError).code).toBe(GrpcCode.DEADLINE_EXCEEDED);
    expect((late as GrpcError).message).toMatch(/Solve: no answer within 0.2s/);
    const ac = new AbortController();
    const p = client.call(Control.method.solve, { Ref: "y" }, { signal: ac.signal }).catch((e: unknown) => e);
    setTimeout(() => ac.abort(), 50);
    expect(((await p) as GrpcError).code).toBe(GrpcCode.CANCELLED);
    client.destroy();
  });

  it("names a connection that fails", async () => {
    const dead = net.connect(1, "127.0.0.1");
    dead.on("error", () => undefined);
    const client = new GrpcClient(dead);
    await expect(client.connected()).rejects.toThrow(/ECONNREFUSED/);
    const err = (await client.call(Control.method.info, {}).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/ECONNREFUSED|connection/);
  });
});
