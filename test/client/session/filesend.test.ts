// A tar export whose file cannot be opened (a missing folder, /proc) fails
// the export with the reason, however late the open fails: never an
// unhandled 'error' event that ends the process.
import { createWriteStream } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { fileSendHandler } from "../../../src/client/session/filesend.js";
import type { ServerCall } from "../../../src/client/session/server.js";
import { BytesMessageSchema } from "../../../src/gen/buildkit/filesync/filesync_pb.js";

function call(chunks: number, gapMs: number): ServerCall {
  return {
    metadata: new Map() as unknown as ServerCall["metadata"],
    messages: (async function* () {
      for (let i = 0; i < chunks; i++) {
        await sleep(gapMs); // the open fails while we wait for the engine
        yield toBinary(BytesMessageSchema, create(BytesMessageSchema, { data: new Uint8Array(16) }));
      }
    })(),
    send: () => Promise.resolve(),
  };
}

describe("tar export to a path that cannot be opened", () => {
  it.each([
    ["under /proc", "/proc/self/caisson-no/x.tar"],
    ["in a missing folder", "/nonexistent-caisson/x.tar"],
  ])("%s: the export fails with the reason", async (_n, path) => {
    const failures: Error[] = [];
    const [, handler] = fileSendHandler({ type: "tar", open: () => createWriteStream(path, { flags: "wx" }) }, (e) => failures.push(e));
    for (const gap of [0, 20]) {
      await expect(handler(call(3, gap))).rejects.toThrow(/export to the output: .*ENOENT/);
    }
    expect(failures).toHaveLength(2);
  });
});
