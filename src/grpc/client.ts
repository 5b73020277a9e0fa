// A gRPC client over node:http2 on any byte stream: unary, server-streaming
// and bidirectional calls, with deadlines, cancellation and metadata.
//
// BuildKit is reached over connections @grpc/grpc-js cannot dial: a gateway
// frontend's stdin/stdout, the Docker engine's `/grpc` after an HTTP/1.1
// upgrade, a TLS socket without ALPN. node:http2 accepts any Duplex as its
// connection, and gRPC is length-prefixed messages each way plus a status in
// the trailers. That is all this module does.
import http2 from "node:http2";
import type { Duplex } from "node:stream";
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethodBiDiStreaming,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { StatusSchema, type Status } from "../gen/google/rpc/status_pb.js";

/** gRPC status codes this code names. */
export const GrpcCode = { OK: 0, CANCELLED: 1, UNKNOWN: 2, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, UNIMPLEMENTED: 12, UNAVAILABLE: 14 } as const;

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

/** Splits a whole response body into its messages. */
export function unframeMessages(body: Buffer): Uint8Array[] {
  const d = new Deframer();
  const out = d.push(body);
  if (d.pending) throw new Error(d.pending < 5 ? "truncated gRPC frame header" : "truncated gRPC message");
  return out;
}

/** Reassembles messages from the chunks a stream delivers, whatever their boundaries. */
export class Deframer {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes held that do not make a whole message yet. */
  get pending(): number {
    return this.buf.length;
  }
  push(chunk: Buffer): Uint8Array[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Uint8Array[] = [];
    while (this.buf.length >= 5) {
      if (this.buf[0] !== 0) throw new Error("compressed gRPC message (none was negotiated)");
      const len = this.buf.readUInt32BE(1);
      if (len > MAX_MESSAGE_BYTES) throw new Error(`gRPC message of ${len} bytes exceeds ${MAX_MESSAGE_BYTES}`);
      if (this.buf.length < 5 + len) break;
      out.push(this.buf.subarray(5, 5 + len));
      this.buf = this.buf.subarray(5 + len);
    }
    return out;
  }
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

/** Request metadata: a repeated key is sent as one header line per value. */
export type Metadata = Readonly<Record<string, string | readonly string[]>>;

export interface CallOptions {
  /** Sent as request headers (lower-case keys). */
  readonly metadata?: Metadata;
  /** Cancels the call (RST_STREAM CANCEL); the call fails with CANCELLED. */
  readonly signal?: AbortSignal;
  /** Milliseconds until the call is cancelled and fails with DEADLINE_EXCEEDED (also sent as grpc-timeout). */
  readonly timeoutMs?: number;
}

/** An open call: messages out, messages in, and how it ended. */
export interface Call<I extends DescMessage, O extends DescMessage> {
  send(msg: MessageInitShape<I>): void;
  /** Half-closes: no more messages from this side. */
  end(): void;
  /** Cancels the call. */
  cancel(): void;
  /** The response headers (e.g. BuildKit's buildkit-current-timestamp). */
  readonly headers: Promise<http2.IncomingHttpHeaders>;
  /** The messages as they arrive; throws the call's error after the last one. */
  readonly messages: AsyncIterable<MessageShape<O>>;
}

function statusError(path: string, code: number, message: string): GrpcError {
  return new GrpcError(path, create(StatusSchema, { code, message }));
}

/** gRPC calls over one HTTP/2 connection on `stream`. */
export class GrpcClient {
  private readonly session: http2.ClientHttp2Session;
  private failure: Error | undefined;

  /** `authority` is the :authority header (the server name for TLS daemons). */
  constructor(stream: Duplex, authority = "localhost") {
    this.session = http2.connect(`http://${authority}`, {
      createConnection: () => stream,
      maxSessionMemory: 64,
      settings: { maxHeaderListSize: 1 << 20, initialWindowSize: 4 << 20 },
    });
    this.session.on("error", (err) => {
      this.failure = err;
    });
  }

  /** Resolves when the server's SETTINGS arrived; rejects when the connection failed first. */
  connected(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.session.connecting) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.session.once("connect", () => resolve());
      this.session.once("error", reject);
      this.session.once("close", () => reject(this.failure ?? new Error("connection closed before HTTP/2 started")));
    });
  }

  /** Opens any call; unary and streaming calls are built on it. */
  open<I extends DescMessage, O extends DescMessage>(
    method: { parent: { typeName: string }; name: string; input: I; output: O },
    opts: CallOptions = {},
  ): Call<I, O> {
    const path = `/${method.parent.typeName}/${method.name}`;
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc+proto",
      te: "trailers",
    };
    for (const [k, v] of Object.entries(opts.metadata ?? {})) headers[k] = typeof v === "string" ? v : [...v];
    if (opts.timeoutMs !== undefined) headers["grpc-timeout"] = `${Math.max(1, Math.ceil(opts.timeoutMs))}m`;

    // Messages are queued for the consumer; `ended` is the final outcome.
    const queue: MessageShape<O>[] = [];
    let ended: { error?: Error } | undefined;
    let wake: (() => void) | undefined;
    const finish = (error?: Error) => {
      if (ended) return;
      ended = error ? { error } : {};
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      wake?.();
    };
    let resolveHeaders!: (h: http2.IncomingHttpHeaders) => void;
    let rejectHeaders!: (e: Error) => void;
    const headersP = new Promise<http2.IncomingHttpHeaders>((res, rej) => {
      resolveHeaders = res;
      rejectHeaders = rej;
    });
    headersP.catch(() => undefined);

    let req: http2.ClientHttp2Stream | undefined;
    const abort = (err: GrpcError) => {
      finish(err);
      rejectHeaders(err);
      if (req && !req.destroyed) req.close(http2.constants.NGHTTP2_CANCEL);
    };
    const onAbort = () => abort(statusError(path, GrpcCode.CANCELLED, `${path}: cancelled`));
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => abort(statusError(path, GrpcCode.DEADLINE_EXCEEDED, `${path}: no answer within ${(opts.timeoutMs as number) / 1000}s`)), opts.timeoutMs)
        : undefined;
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener("abort", onAbort);

    if (!ended) {
      try {
        if (this.failure) throw this.failure;
        req = this.session.request(headers);
      } catch (e) {
        finish(e as Error);
        rejectHeaders(e as Error);
      }
    }
    if (req) {
      const deframer = new Deframer();
      let status: Status | undefined;
      let httpStatus = 0;
      req.on("response", (h) => {
        httpStatus = Number(h[":status"] ?? 0);
        status = statusFromTrailers(h); // trailers-only response
        resolveHeaders(h);
      });
      req.on("trailers", (t) => {
        status = statusFromTrailers(t) ?? status;
      });
      req.on("data", (chunk: Buffer) => {
        if (ended) return;
        try {
          for (const m of deframer.push(chunk)) queue.push(fromBinary(method.output, m));
        } catch (e) {
          abort(statusError(path, GrpcCode.UNKNOWN, `${path}: ${(e as Error).message}`));
          return;
        }
        wake?.();
      });
      req.on("error", (err) => {
        finish(this.failure ?? err);
        rejectHeaders(err);
      });
      // The server's status ends the call even while this side is still sending (a server may end a
      // call early): finish it, and reset the stream as grpc-go's client does instead of waiting for the server to.
      const settle = () => {
        if (ended) return;
        if (!status) {
          const why = this.failure ? `connection failed: ${this.failure.message}` : httpStatus && httpStatus !== 200 ? `HTTP status ${httpStatus}` : "stream closed without a gRPC status";
          const err = statusError(path, GrpcCode.UNAVAILABLE, `${path}: ${why}`);
          rejectHeaders(err);
          return finish(err);
        }
        if (status.code !== GrpcCode.OK) return finish(new GrpcError(path, status));
        if (deframer.pending) return finish(statusError(path, GrpcCode.UNKNOWN, `${path}: truncated gRPC message`));
        finish();
      };
      req.on("end", () => {
        if (!status) return; // no status yet: 'close' decides
        settle();
        if (!req?.destroyed && !req?.writableEnded) req?.close(http2.constants.NGHTTP2_NO_ERROR);
      });
      req.on("close", settle);
    }

    const messages: AsyncIterable<MessageShape<O>> = {
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<MessageShape<O>>> => {
          for (;;) {
            const m = queue.shift();
            if (m !== undefined) return { value: m, done: false };
            if (ended) {
              if (ended.error) throw ended.error;
              return { value: undefined, done: true };
            }
            await new Promise<void>((r) => (wake = r));
            wake = undefined;
          }
        },
        return: async () => {
          if (!ended) abort(statusError(path, GrpcCode.CANCELLED, `${path}: cancelled`));
          return { value: undefined, done: true };
        },
      }),
    };
    return {
      send: (msg) => {
        if (!ended && req && !req.destroyed) req.write(frameMessage(toBinary(method.input, create(method.input, msg))));
      },
      end: () => {
        if (req && !req.destroyed && !req.writableEnded) req.end();
      },
      cancel: onAbort,
      headers: headersP,
      messages,
    };
  }

  /** One request, one response. */
  async call<I extends DescMessage, O extends DescMessage>(method: DescMethodUnary<I, O>, request: MessageInitShape<I>, opts?: CallOptions): Promise<MessageShape<O>> {
    const c = this.open(method, opts);
    c.send(request);
    c.end();
    const out: MessageShape<O>[] = [];
    for await (const m of c.messages) out.push(m);
    if (out.length !== 1) throw statusError(`/${method.parent.typeName}/${method.name}`, GrpcCode.UNKNOWN, `want 1 response message, got ${out.length}`);
    return out[0] as MessageShape<O>;
  }

  /** One request, a stream of responses. */
  serverStream<I extends DescMessage, O extends DescMessage>(method: DescMethodServerStreaming<I, O>, request: MessageInitShape<I>, opts?: CallOptions): Call<I, O> {
    const c = this.open(method, opts);
    c.send(request);
    c.end();
    return c;
  }

  /** Streams both ways. */
  bidi<I extends DescMessage, O extends DescMessage>(method: DescMethodBiDiStreaming<I, O>, opts?: CallOptions): Call<I, O> {
    return this.open(method, opts);
  }

  /** Closes the connection once in-flight calls are done. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.session.closed || this.session.destroyed) return resolve();
      this.session.close(() => resolve());
    });
  }

  /** Drops the connection now (in-flight calls fail). */
  destroy(): void {
    this.session.destroy();
  }
}
