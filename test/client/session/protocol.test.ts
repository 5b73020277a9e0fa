// The session's services over a real HTTP/2 connection, the test playing
// the engine's part (the gRPC client) with the project's own client.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, connect, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { createSession, newSessionId, type Session, type SessionOptions } from "../../../src/client/session/index.js";
import { checkExportPath } from "../../../src/client/session/filesend.js";
import { GoMode } from "../../../src/client/session/stat.js";
import { Auth } from "../../../src/gen/buildkit/auth/auth_pb.js";
import { FileSend, FileSync } from "../../../src/gen/buildkit/filesync/filesync_pb.js";
import { Secrets } from "../../../src/gen/buildkit/secrets/secrets_pb.js";
import type { Stat } from "../../../src/gen/fsutil/types/stat_pb.js";
import { Packet_PacketType as T, PacketSchema } from "../../../src/gen/fsutil/types/wire_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../../src/gen/grpc/health/v1/health_pb.js";
import { GrpcClient, GrpcError, type Metadata } from "../../../src/grpc/index.js";
import type { MessageInitShape } from "@bufbuild/protobuf";

const tmp = mkdtempSync(join(tmpdir(), "caisson-proto-"));
const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(tmp, { recursive: true, force: true });
});
let n = 0;
const fresh = (name: string) => {
  const d = join(tmp, `${name}-${n++}`);
  mkdirSync(d);
  return d;
};

/** A session served on one end of a unix socket, a client on the other. */
async function open(opts: SessionOptions): Promise<{ session: Session; client: GrpcClient }> {
  const session = createSession(opts);
  const sock = join(tmp, `s${n++}.sock`);
  const server = createServer((c) => session.serve(c));
  servers.push(server);
  await new Promise<void>((r) => server.listen(sock, r));
  const client = new GrpcClient(connect(sock));
  await client.connected();
  return { session, client };
}

type PacketInit = MessageInitShape<typeof PacketSchema>;
const asPackets = { parent: FileSend, name: FileSend.method.diffCopy.name, input: PacketSchema, output: PacketSchema };

/** The engine's side of FileSync.DiffCopy: every STAT, then a REQ for every regular file, then FIN. */
async function receive(client: GrpcClient, metadata: Metadata) {
  const call = client.bidi(FileSync.method.diffCopy, { metadata });
  const stats: Stat[] = [];
  const data = new Map<number, Buffer[]>();
  let open = 0;
  let finSeen = false;
  for await (const p of call.messages) {
    if (p.type === T.PACKET_STAT && p.stat) stats.push(p.stat);
    else if (p.type === T.PACKET_STAT) {
      stats.forEach((s, id) => {
        if ((s.mode & GoMode.type) === 0) {
          open++;
          data.set(id, []);
          call.send({ type: T.PACKET_REQ, ID: id });
        }
      });
      if (open === 0) call.send({ type: T.PACKET_FIN });
    } else if (p.type === T.PACKET_DATA) {
      if (p.data.length > 0) data.get(p.ID)?.push(Buffer.from(p.data));
      else if (--open === 0) call.send({ type: T.PACKET_FIN });
    } else if (p.type === T.PACKET_FIN) {
      finSeen = true;
      call.end();
    }
  }
  const files = Object.fromEntries([...data].map(([id, chunks]) => [stats[id]?.path, Buffer.concat(chunks).toString()]));
  return { paths: stats.map((s) => s.path), files, finSeen };
}

/** The local exporter's side of FileSend.DiffCopy: `entries`, answering each REQ with `contents[path]`. */
async function export_(client: GrpcClient, entries: PacketInit["stat"][], contents: Record<string, string> = {}) {
  const call = client.open(asPackets);
  for (const stat of entries) call.send({ type: T.PACKET_STAT, stat });
  call.send({ type: T.PACKET_STAT });
  for await (const p of call.messages) {
    if (p.type === T.PACKET_REQ) {
      const path = entries[p.ID]?.path ?? "";
      if (contents[path]) call.send({ type: T.PACKET_DATA, ID: p.ID, data: Buffer.from(contents[path]) });
      call.send({ type: T.PACKET_DATA, ID: p.ID });
    } else if (p.type === T.PACKET_FIN) {
      call.send({ type: T.PACKET_FIN });
      call.end();
    }
  }
}

const dirStat = (path: string, perm = 0o755) => ({ path, mode: (GoMode.dir | perm) >>> 0, modTime: 1_000_000_000n });
const fileStat = (path: string, size: number, perm = 0o644) => ({ path, mode: perm, size: BigInt(size), modTime: 2_500_000_000n });

describe("the session's identity", () => {
  it("has a 25-character base-36 id and lists exactly the methods it serves", () => {
    expect(newSessionId()).toMatch(/^[0-9a-z]{25}$/);
    expect(createSession({ auth: false }).methods).toEqual(["/grpc.health.v1.Health/Check"]);
    expect(createSession({ locals: {}, secrets: {}, export: { type: "dir", dir: "." } }).methods).toEqual([
      "/grpc.health.v1.Health/Check",
      "/moby.filesync.v1.FileSync/DiffCopy",
      "/moby.filesync.v1.FileSend/DiffCopy",
      "/moby.buildkit.secrets.v1.Secrets/GetSecret",
      "/moby.filesync.v1.Auth/Credentials",
    ]);
  });

  it("has a shared key that follows the local directories", () => {
    const a = fresh("ka");
    const b = fresh("kb");
    const key = (dir: string) => createSession({ locals: { context: { dir } } }).sharedKey;
    expect(key(a)).toBe(key(a));
    expect(key(a)).not.toBe(key(b));
  });
});

describe("the session's gRPC server", () => {
  it("answers the engine's health check", async () => {
    const { client } = await open({});
    expect((await client.call(Health.method.check, {})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("answers an unknown method with UNIMPLEMENTED", async () => {
    const { client } = await open({ auth: false });
    await expect(client.call(Auth.method.credentials, { Host: "x" })).rejects.toMatchObject({ code: 12 });
  });

  it("gives a secret by id, and NOT_FOUND for an unknown one", async () => {
    const { client } = await open({ secrets: { token: Buffer.from("s3cr3t") } });
    expect(Buffer.from((await client.call(Secrets.method.getSecret, { ID: "token" })).data).toString()).toBe("s3cr3t");
    const err = await client.call(Secrets.method.getSecret, { ID: "nope" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrpcError);
    expect(err).toMatchObject({ code: 5, message: "secret nope not found" });
    await expect(client.call(Secrets.method.getSecret, { ID: "clé 100%" }), "a status message survives its percent-encoding").rejects.toThrow("secret clé 100% not found");
  });
});

describe("FileSync.DiffCopy", () => {
  it("sends the named local through the patterns of the call's metadata, each value its own header", async () => {
    const d = fresh("ctx");
    for (const [p, c] of Object.entries({ "a.txt": "A", "b.log": "B", "sub/c.txt": "C".repeat(300_000), "sub/d.log": "D", "é.txt": "é" })) {
      mkdirSync(join(d, p, ".."), { recursive: true });
      writeFileSync(join(d, p), c);
    }
    const { client } = await open({ locals: { context: { dir: d } } });
    const r = await receive(client, { "dir-name": "context", "exclude-patterns": ["*.log", "sub/d.log"], "include-patterns": ["a.txt", "sub"] });
    expect(r.paths).toEqual(["a.txt", "sub", "sub/c.txt"]);
    expect(r.files["sub/c.txt"]).toHaveLength(300_000);
    expect(r.files["a.txt"]).toBe("A");
    expect(r.finSeen).toBe(true);
    const enc = await receive(client, { "dir-name": "context", "include-patterns": [encodeURIComponent("é.txt")], "include-patterns-encoded": "1" });
    expect(enc.paths, "non-ASCII patterns arrive query-escaped").toEqual(["é.txt"]);
  });

  it("refuses a local it was not given with NOT_FOUND, and a bad pattern with INVALID_ARGUMENT", async () => {
    const { client } = await open({ locals: { context: { dir: fresh("c") } } });
    await expect(receive(client, { "dir-name": "secret-stuff" })).rejects.toMatchObject({ code: 5 });
    await expect(receive(client, { "dir-name": "context", "exclude-patterns": "!" })).rejects.toMatchObject({ code: 3 });
  });

  it("fails the call, and the session's errors, when the local directory is gone", async () => {
    const { client, session } = await open({ locals: { context: { dir: join(tmp, "gone") } } });
    await expect(receive(client, { "dir-name": "context" })).rejects.toThrow(/gone/);
    await expect(session.errors).rejects.toThrow(/local source .*gone/);
  });
});

describe("an exported path", () => {
  it("must be relative, clean, without .. or NUL", () => {
    for (const ok of ["a", "a/b", "a..b", ".hidden", "a/...", "é/ü"]) expect(() => checkExportPath(ok), ok).not.toThrow();
    for (const bad of ["", ".", "..", "../a", "a/../../b", "a/..", "/etc/passwd", "./a", "a//b", "a/", "a/./b", "a\0b"]) {
      expect(() => checkExportPath(bad), JSON.stringify(bad)).toThrow(/refusing exported path/);
    }
  });
});

describe("FileSend.DiffCopy into a directory", () => {
  it("writes directories, files, symlinks and hard links with their modes and times", async () => {
    const out = fresh("out");
    const { client } = await open({ export: { type: "dir", dir: out } });
    await export_(
      client,
      [dirStat("bin", 0o750), fileStat("bin/tool", 4, 0o755), { path: "bin/t2", mode: 0o755, linkname: "bin/tool" }, { path: "link", mode: (GoMode.symlink | 0o777) >>> 0, linkname: "/etc/passwd" }, fileStat("empty", 0)],
      { "bin/tool": "tool" },
    );
    expect(readFileSync(join(out, "bin/tool"), "utf8")).toBe("tool");
    expect(statSync(join(out, "bin/tool")).mode & 0o7777).toBe(0o755);
    expect(statSync(join(out, "bin")).mode & 0o7777).toBe(0o750);
    expect(statSync(join(out, "bin")).mtimeMs).toBe(1000);
    expect(statSync(join(out, "bin/tool")).mtimeMs).toBe(2500);
    expect(statSync(join(out, "bin/t2")).ino).toBe(statSync(join(out, "bin/tool")).ino);
    expect(lstatSync(join(out, "link")).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(out, "empty"), "utf8")).toBe("");
  });

  const hostile: [string, PacketInit["stat"][]][] = [
    ["a path climbing out", [fileStat("../escaped", 1)]],
    ["an absolute path", [fileStat(join(tmp, "escaped"), 1)]],
    ["an unclean path", [dirStat("d"), fileStat("d/./../escaped", 1)]],
    ["a path under a directory never sent", [fileStat("nodir/escaped", 1)]],
    ["a path through a symlink", [{ path: "l", mode: (GoMode.symlink | 0o777) >>> 0, linkname: tmp }, fileStat("l/escaped", 1)]],
    ["a hard link to a file outside", [{ path: "h", mode: 0o644, linkname: "../escaped" }]],
    ["a hard link to a file never sent", [{ path: "h", mode: 0o644, linkname: "other" }]],
    ["a path sent twice", [dirStat("d"), dirStat("d")]],
  ];
  for (const [what, entries] of hostile) {
    it(`refuses ${what}, writing nothing outside the target`, async () => {
      const parent = fresh("host");
      const out = join(parent, "out");
      mkdirSync(out);
      const { client, session } = await open({ export: { type: "dir", dir: out } });
      await expect(export_(client, entries, { "../escaped": "x", "nodir/escaped": "x", "l/escaped": "x", "d/./../escaped": "x" })).rejects.toThrow(/refusing exported path/);
      await expect(session.errors).rejects.toThrow(/refusing exported path/);
      expect(readdirSync(parent)).toEqual(["out"]);
      expect(existsSync(join(tmp, "escaped"))).toBe(false);
    });
  }

  it("refuses data for a file it did not ask for", async () => {
    const out = fresh("unasked");
    const { client } = await open({ export: { type: "dir", dir: out } });
    const call = client.open(asPackets);
    call.send({ type: T.PACKET_STAT, stat: dirStat("d") });
    call.send({ type: T.PACKET_DATA, ID: 0, data: Buffer.from("x") });
    const drain = async () => {
      for await (const _ of call.messages) void _;
    };
    await expect(drain()).rejects.toThrow(/invalid file request 0/);
  });
});

describe("FileSend.DiffCopy into a tar stream", () => {
  it("writes the bytes in order and ends the stream", async () => {
    const chunks: Buffer[] = [];
    let ended = false;
    const sink = new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c);
        cb();
      },
      final(cb) {
        ended = true;
        cb();
      },
    });
    const { client } = await open({ export: { type: "tar", open: () => sink } });
    const call = client.bidi(FileSend.method.diffCopy, { metadata: { "buildkit-attachable-exporter-id": "0" } });
    for (let i = 0; i < 50; i++) call.send({ data: Buffer.alloc(10_000, i) });
    call.end();
    for await (const _ of call.messages) void _;
    const all = Buffer.concat(chunks);
    expect(all).toHaveLength(500_000);
    expect(all[499_999]).toBe(49);
    expect(ended).toBe(true);
  });

  it("sends each exporter's stream to its own target, by the exporter's index in the request", async () => {
    const got: Record<number, Buffer[]> = { 0: [], 2: [] };
    const sink = (i: number) => new Writable({
      write(c: Buffer, _e, cb) {
        got[i]!.push(c);
        cb();
      },
    });
    const { client } = await open({ export: { 0: { type: "tar", open: () => sink(0) }, 2: { type: "tar", open: () => sink(2) } } });
    for (const [id, byte] of [["2", 7], ["0", 9]] as const) {
      const call = client.bidi(FileSend.method.diffCopy, { metadata: { "buildkit-attachable-exporter-id": id } });
      call.send({ data: Buffer.alloc(100, byte) });
      call.end();
      for await (const _ of call.messages) void _;
    }
    expect(Buffer.concat(got[0]!)).toEqual(Buffer.alloc(100, 9));
    expect(Buffer.concat(got[2]!)).toEqual(Buffer.alloc(100, 7));
    // An exporter no output was asked for (index 1: an image exporter) never streams; if it did, it is refused.
    const call = client.bidi(FileSend.method.diffCopy, { metadata: { "buildkit-attachable-exporter-id": "1" } });
    call.send({ data: Buffer.from("x") });
    call.end();
    const drain = async () => {
      for await (const _ of call.messages) void _;
    };
    await expect(drain()).rejects.toThrow(/no output was asked for/);
  });

  it("fails the call and the session's errors when the target cannot be opened", async () => {
    const { client, session } = await open({
      export: {
        type: "tar",
        open: () => {
          throw new Error("disk full");
        },
      },
    });
    const call = client.bidi(FileSend.method.diffCopy);
    call.send({ data: Buffer.from("x") });
    call.end();
    const drain = async () => {
      for await (const _ of call.messages) void _;
    };
    await expect(drain()).rejects.toThrow(/disk full/);
    await expect(session.errors).rejects.toThrow(/export to the output: disk full/);
  });
});
