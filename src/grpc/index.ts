export { GrpcClient, GrpcError, GrpcCode, Deframer, frameMessage, unframeMessages, statusFromTrailers, MAX_MESSAGE_BYTES } from "./client.js";
export type { Call, CallOptions, Metadata } from "./client.js";
