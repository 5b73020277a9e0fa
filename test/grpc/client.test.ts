import http2 from "node:http2";
import net from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { frameMessage, GrpcError, statusFromTrailers, GrpcClient, unframeMessages } from "../../src/grpc/index.js";
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
