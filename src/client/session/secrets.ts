// Secrets.GetSecret: a secret mount's value, by id. An unknown id is
// NotFound, which the engine reports as a missing secret (or skips, for an
// optional mount).
import { GrpcCode } from "../../grpc/index.js";
import { Secrets } from "../../gen/buildkit/secrets/secrets_pb.js";
import { StatusError, unary, type Handler } from "./server.js";

export function secretsHandler(secrets: Readonly<Record<string, Uint8Array>>): [string, Handler] {
  return unary(Secrets.method.getSecret, async (req) => {
    const data = Object.hasOwn(secrets, req.ID) ? secrets[req.ID] : undefined;
    if (!data) throw new StatusError(GrpcCode.NOT_FOUND, `secret ${req.ID} not found`);
    return { data };
  });
}
