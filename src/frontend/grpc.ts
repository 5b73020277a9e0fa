// A minimal gRPC client for unary calls, over any byte stream.
//
// BuildKit talks to a gateway frontend over the container's stdin/stdout:
// cleartext HTTP/2 with prior knowledge, the frontend being the client.
// @grpc/grpc-js cannot dial a pair of pipes, but node:http2 accepts any
// Duplex as its connection, and unary gRPC is one length-prefixed message
// each way plus a status in the trailers. That is all the gateway needs.
import http2 from "node:http2";
import type { Duplex } from "node:stream";
import { create, fromBinary, toBinary, type DescMessage, type DescMethodUnary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { StatusSchema, type Status } from "../gen/google/rpc/status_pb.js";

/** A call that ended with a non-OK gRPC status; `status` keeps the daemon's typed details. */
export class GrpcError extends Error {
  override readonly name = "GrpcError";
  constructor(
    readonly method: string,
    readonly status: Status,
  ) {
    super(status.message || `gRPC status ${status.code}`);
  }
  get code(): number {
    return this.status.code;
  }
}

/** Largest message either side accepts (BuildKit's own server stops at 4 MiB on requests). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Frames one message: compressed flag 0, big-endian length, bytes. */
export function frameMessage(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + bytes.length);
  out[0] = 0;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

/** Splits a response body into its messages (unary: exactly one). */
export function unframeMessages(body: Buffer): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < body.length) {
    if (body.length - at < 5) throw new Error("truncated gRPC frame header");
    if (body[at] !== 0) throw new Error("compressed gRPC message (none was negotiated)");
    const len = body.readUInt32BE(at + 1);
    if (len > MAX_MESSAGE_BYTES) throw new Error(`gRPC message of ${len} bytes exceeds ${MAX_MESSAGE_BYTES}`);
    if (body.length - at - 5 < len) throw new Error("truncated gRPC message");
    out.push(body.subarray(at + 5, at + 5 + len));
    at += 5 + len;
  }
  return out;
}

/** The status a response's trailers (or trailers-only headers) carry. */
export function statusFromTrailers(h: http2.IncomingHttpHeaders): Status | undefined {
  const raw = h["grpc-status"];
  if (raw === undefined) return undefined;
  const code = Number(Array.isArray(raw) ? raw[0] : raw);
  const details = h["grpc-status-details-bin"];
  if (typeof details === "string" && details !== "") {
    try {
      const st = fromBinary(StatusSchema, Buffer.from(details, "base64"));
      if (st.code === code) return st;
    } catch {
      // fall through to the plain status
    }
  }
  const msg = h["grpc-message"];
  let message = typeof msg === "string" ? msg : "";
  try {
    message = decodeURIComponent(message);
  } catch {
    // keep it as sent
  }
  return create(StatusSchema, { code, message });
}

/** Unary gRPC calls over one HTTP/2 connection on `stream`. */
export class UnaryClient {
  private readonly session: http2.ClientHttp2Session;
  private failure: Error | undefined;

  constructor(stream: Duplex) {
    this.session = http2.connect("http://localhost", {
      createConnection: () => stream,
      maxSessionMemory: 64,
      settings: { maxHeaderListSize: 1 << 20 },
    });
    this.session.on("error", (err) => {
      this.failure = err;
    });
  }

  call<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    request: MessageInitShape<I>,
  ): Promise<MessageShape<O>> {
    const path = `/${method.parent.typeName}/${method.name}`;
    const body = frameMessage(toBinary(method.input, create(method.input, request)));
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const req = this.session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc+proto",
        te: "trailers",
      });
      const chunks: Buffer[] = [];
      let size = 0;
      let status: Status | undefined;
      let httpStatus = 0;
      req.on("response", (headers) => {
        httpStatus = Number(headers[":status"] ?? 0);
        status = statusFromTrailers(headers); // trailers-only response
      });
      req.on("trailers", (trailers) => {
        status = statusFromTrailers(trailers) ?? status;
      });
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_MESSAGE_BYTES + 5) {
          req.close(http2.constants.NGHTTP2_CANCEL);
          reject(new Error(`${path}: response exceeds ${MAX_MESSAGE_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      req.on("error", (err) => reject(err));
      req.on("close", () => {
        if (httpStatus !== 200 && !status) return reject(new Error(`${path}: HTTP status ${httpStatus}`));
        if (!status) return reject(new Error(`${path}: stream closed without a gRPC status`));
        if (status.code !== 0) return reject(new GrpcError(path, status));
        try {
          const msgs = unframeMessages(Buffer.concat(chunks));
          if (msgs.length !== 1) throw new Error(`${path}: want 1 response message, got ${msgs.length}`);
          resolve(fromBinary(method.output, msgs[0] as Uint8Array));
        } catch (err) {
          reject(err);
        }
      });
      req.end(body);
    });
  }

  /** Closes the connection once in-flight calls are done. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.session.closed || this.session.destroyed) return resolve();
      this.session.close(() => resolve());
    });
  }
}
