// The client's pure parts: builder addresses and their failures, the
// SolveRequest, the plain progress shape, failures mapped to the definition.
import { create, toJsonString } from "@bufbuild/protobuf";
import { AnySchema, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { BuilderError, connectBuilder, exporterFor, formatFailure, parseCacheSpec, progressDisplay, resolveAddress, solveRequest } from "../../src/client/index.js";
import { explainConnectError } from "../../src/client/endpoint.js";
import { StatusResponseSchema } from "../../src/gen/buildkit/control/control_pb.js";
import { SourceSchema } from "../../src/gen/buildkit/errdefs/errdefs_pb.js";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";

describe("builder addresses", () => {
  it("docker is DOCKER_HOST's engine (the unix socket by default), TLS from DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set", () => {
    expect(resolveAddress({ env: {} })).toMatchObject({ kind: "docker", unix: "/var/run/docker.sock" });
    expect(resolveAddress({ env: { CAISSON_BUILDER: "unix:///run/buildkit/buildkitd.sock" } })).toMatchObject({ kind: "probe", unix: "/run/buildkit/buildkitd.sock" });
    const certs = mkdtempSync(join(tmpdir(), "caisson-certs-"));
    for (const f of ["ca.pem", "cert.pem", "key.pem"]) writeFileSync(join(certs, f), "PEM");
    const a = resolveAddress({ env: { DOCKER_HOST: "tcp://10.0.0.1:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: certs } });
    expect(a).toMatchObject({ kind: "docker", host: "10.0.0.1", port: 2376, tls: { insecure: false } });
    expect(a.tls?.ca?.toString()).toBe("PEM");
    expect(() => resolveAddress({ env: { DOCKER_HOST: "tcp://10.0.0.1:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: join(certs, "nope") } })).toThrow(
      /cannot read the CA certificate .*nope\/ca\.pem: no such file \(give a readable PEM file with DOCKER_CERT_PATH\)/,
    );
  });

  it("refuses --tls-* files it cannot read, and --tls-* for a builder that is not tcp://", () => {
    const dir = mkdtempSync(join(tmpdir(), "caisson-certs-"));
    expect(() => resolveAddress({ builder: "tcp://h:1", tls: { ca: dir }, env: {} })).toThrow(/cannot read the CA certificate .*: it is a directory \(give a readable PEM file with --tls-ca\)/);
    expect(() => resolveAddress({ builder: "tcp://h:1", tls: { cert: join(dir, "no.pem"), key: join(dir, "no.key") }, env: {} })).toThrow(/client certificate .*no\.pem: no such file/);
    // The docker builder takes its TLS from DOCKER_CERT_PATH: the flags would be ignored.
    expect(() => resolveAddress({ tls: { ca: dir }, env: {} })).toThrow(/apply to a tcp:\/\/ builder only; the docker builder takes its TLS files from DOCKER_CERT_PATH/);
    expect(() => resolveAddress({ builder: "docker", tls: { cert: "/x", key: "/y" }, env: {} })).toThrow(BuilderError);
  });

  it("refuses what it cannot use, saying what to write instead", () => {
    const bad: [Parameters<typeof resolveAddress>[0], RegExp][] = [
      [{ builder: "ssh://host", env: {} }, /--builder ssh:\/\/host: unknown builder \(use docker, unix:\/\/\/path\/to\/socket or tcp:\/\/HOST:PORT\)/],
      [{ builder: "tcp://host", env: {} }, /give the port, e.g. tcp:\/\/host:1234/],
      [{ builder: "unix://relative.sock", env: {} }, /needs an absolute path/],
      [{ env: { DOCKER_HOST: "ssh://me@host" } }, /DOCKER_HOST=ssh:\/\/me@host: caisson reaches a Docker engine over unix:\/\/ or tcp:\/\/ only/],
      [{ builder: "tcp://h:1", tls: { cert: "/x" }, env: {} }, /--tls-cert and --tls-key go together/],
      [{ builder: "unix:///s", tls: { ca: "/x" }, env: {} }, /--tls-ca, --tls-cert and --tls-key apply to tcp:\/\/ builders only/],
      [{ env: { CAISSON_BUILDER: "nope" } }, /^CAISSON_BUILDER nope: unknown builder/],
    ];
    for (const [spec, msg] of bad) expect(() => resolveAddress(spec)).toThrow(msg);
    expect(() => resolveAddress({ builder: "nope", env: {} })).toThrow(BuilderError);
  });

  it("names connection failures with the fix", () => {
    const docker = resolveAddress({ env: {} });
    const tcp = { ...resolveAddress({ builder: "tcp://127.0.0.1:1234", env: {} }), tls: { insecure: false } };
    const e = (code: string, message = code) => Object.assign(new Error(message), { code });
    expect(explainConnectError(e("ENOENT"), docker).message).toBe(
      "cannot reach the Docker engine at unix:///var/run/docker.sock: nothing listens there (ENOENT); start the engine (hack/engine.sh) or point DOCKER_HOST at a running one",
    );
    expect(explainConnectError(e("ECONNREFUSED"), tcp).message).toMatch(/nothing listens there \(ECONNREFUSED\); start it or give another --builder/);
    expect(explainConnectError(e("EACCES"), docker).message).toMatch(/permission denied on the socket/);
    expect(explainConnectError(e("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", "certificate required"), tcp).message).toMatch(/it requires a client certificate/);
    expect(explainConnectError(e("ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE", "bad certificate"), tcp).message).toMatch(/rejected the client certificate/);
    expect(explainConnectError(e("DEPTH_ZERO_SELF_SIGNED_CERT", "self signed"), tcp).message).toMatch(/server certificate .* is not trusted .*--tls-ca/);
    expect(explainConnectError(e("ERR_SSL_WRONG_VERSION_NUMBER", "wrong version number"), tcp).message).toMatch(/does not speak TLS/);
  });
});

describe("the SolveRequest", () => {
  it("sends every exporter, the first again in the legacy fields, and cache imports as frontend attrs for a frontend", () => {
    const req = solveRequest(
      {
        builder: undefined as never,
        frontend: "gateway.v0",
        frontendAttrs: { source: "caisson/frontend:0.1.0" },
        exporters: [{ type: "oci", attrs: {} }, { type: "image", attrs: { name: "x/y:1", push: "true" } }],
        cacheImports: [{ type: "registry", attrs: { ref: "r/c:1" } }],
        cacheExports: [{ type: "local", attrs: { dest: "/c" } }],
        noCache: true,
      },
      "ref1",
      "sess1",
    );
    expect(req).toMatchObject({ Ref: "ref1", Session: "sess1", Frontend: "gateway.v0", ExporterDeprecated: "oci", ExporterAttrsDeprecated: {} });
    expect(req.Exporters).toEqual([{ Type: "oci", Attrs: {} }, { Type: "image", Attrs: { name: "x/y:1", push: "true" } }]);
    expect(req.FrontendAttrs).toEqual({ source: "caisson/frontend:0.1.0", "cache-imports": '[{"Type":"registry","Attrs":{"ref":"r/c:1"}}]', "no-cache": "" });
    expect(req.Cache).toEqual({ Imports: [{ Type: "registry", Attrs: { ref: "r/c:1" } }], Exports: [{ Type: "local", Attrs: { dest: "/c" } }] });
    // The client's own gateway build: no frontend, no frontend attrs added.
    const own = solveRequest({ builder: undefined as never, exporters: [] }, "r", "s");
    expect(own).toMatchObject({ Frontend: "", FrontendAttrs: {} });
    expect(own.ExporterDeprecated).toBeUndefined();
  });
});

describe("json progress", () => {
  it("writes each status as one JSON object with type status (log bytes in base64)", () => {
    let text = "";
    const out = { write: (s: string) => ((text += s), true), isTTY: false } as unknown as NodeJS.WriteStream;
    const d = progressDisplay("json", out);
    d.update(create(StatusResponseSchema, { vertexes: [{ digest: "sha256:a", name: "make" }] }));
    d.update(create(StatusResponseSchema, { logs: [{ vertex: "sha256:a", msg: new TextEncoder().encode("hi") }] }));
    d.update(create(StatusResponseSchema, {}));
    d.done();
    const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { type: "status", vertexes: [{ digest: "sha256:a", name: "make" }] },
      { type: "status", logs: [{ vertex: "sha256:a", msg: "aGk=" }] },
      { type: "status" },
    ]);
  });
});

describe("plain progress", () => {
  it("has buildx's shape: #0 building with, #N name, logs with their time, statuses, DONE / CACHED / ERROR", () => {
    vi.useFakeTimers();
    let text = "";
    const out = { write: (s: string) => ((text += s), true), isTTY: false } as unknown as NodeJS.WriteStream;
    const d = progressDisplay("plain", out, "the Docker engine at unix:///var/run/docker.sock");
    const t = (ms: number) => timestampFromMs(1_700_000_000_000 + ms);
    const msg = (m: Parameters<typeof create<typeof StatusResponseSchema>>[1]) => d.update(create(StatusResponseSchema, m));
    msg({ vertexes: [{ digest: "sha256:a", name: "[linux/amd64] build 1/2: make", started: t(0) }] });
    msg({ logs: [{ vertex: "sha256:a", timestamp: t(120), stream: 1n, msg: new TextEncoder().encode("compiling\nlinking") }] });
    msg({ logs: [{ vertex: "sha256:a", timestamp: t(300), stream: 1n, msg: new TextEncoder().encode(" done\n") }] });
    msg({ vertexes: [{ digest: "sha256:b", name: "toolchain: install", cached: true, started: t(0), completed: t(0) }] });
    msg({ vertexes: [{ digest: "sha256:a", name: "[linux/amd64] build 1/2: make", started: t(0), completed: t(1500) }] });
    vi.advanceTimersByTime(300); // a DONE is printed once no error followed it
    msg({ vertexes: [{ digest: "sha256:c", name: "exporting to image", started: t(1500) }], statuses: [{ ID: "exporting layers", vertex: "sha256:c", started: t(1500), completed: t(1600) }] });
    // Reported complete, then failed: only the ERROR is printed.
    msg({ vertexes: [{ digest: "sha256:c", name: "exporting to image", started: t(1500), completed: t(1700) }] });
    msg({ vertexes: [{ digest: "sha256:c", name: "exporting to image", started: t(1500), completed: t(1700), error: "boom" }] });
    d.done();
    expect(text).toBe(
      [
        "#0 building with the Docker engine at unix:///var/run/docker.sock",
        "",
        "#1 [linux/amd64] build 1/2: make",
        "#1 0.120 compiling",
        "#1 0.300 linking done",
        "",
        "#2 toolchain: install",
        "#2 CACHED",
        "",
        "#1 [linux/amd64] build 1/2: make",
        "#1 DONE 1.5s",
        "",
        "#3 exporting to image",
        "#3 exporting layers 0.1s done",
        "#3 ERROR: boom",
        "",
        "",
      ].join("\n"),
    );
    expect(d.state.failed()).toEqual({ name: "exporting to image", error: "boom", logs: [] });
    vi.useRealTimers();
  });
});

describe("a failed solve, told in the definition's terms", () => {
  it("prints file:line:col with the code frame from the errdefs.Source detail, then the step's last output", () => {
    const text = "name: x\nstages:\n  s:\n    run:\n      - exit 3\n";
    const src = create(SourceSchema, {
      info: { filename: "images/x/image.yaml", data: new TextEncoder().encode(text), language: "yaml" },
      ranges: [{ start: { line: 5, character: 8 }, end: { line: 5, character: 14 } }],
    });
    const status = create(StatusSchema, {
      code: 2,
      message: 'failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3',
      details: [create(AnySchema, { typeUrl: "github.com/moby/buildkit/errdefs.Source+json", value: new TextEncoder().encode(toJsonString(SourceSchema, src)) })],
    });
    expect(formatFailure(status, { logs: ["a", "b\x1b[31m"] })).toBe(
      [
        'images/x/image.yaml:5:9: error[build_failed]: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3',
        "   |",
        " 5 |       - exit 3",
        "   |         ^^^^^^",
        "last 2 lines of its output:",
        "  a",
        "  b\\x1b[31m",
        "",
      ].join("\n"),
    );
    // No location: the message alone.
    expect(formatFailure(create(StatusSchema, { code: 2, message: "failed to solve: no" }))).toBe("error: no\n");
  });
});

describe("cache specs and exporters", () => {
  it("takes buildx's cache specs and refuses others with the form to use", () => {
    expect(parseCacheSpec("type=registry,ref=r.example/app:cache,mode=max", "--cache-to")).toEqual({ type: "registry", attrs: { ref: "r.example/app:cache", mode: "max" } });
    expect(() => parseCacheSpec("r.example/app:cache", "--cache-from")).toThrow(/--cache-from r\.example\/app:cache: want key=value pairs, e\.g\. type=registry,ref=/);
    expect(() => parseCacheSpec("type=floppy", "--cache-to")).toThrow(/give type=registry,ref=NAME \(the only cache caisson build supports\)/);
    expect(() => parseCacheSpec("type=registry", "--cache-to")).toThrow(/type=registry needs ref=NAME/);
    // A local cache goes through a content store in the client's session, which caisson does not serve.
    expect(() => parseCacheSpec("type=local,dest=/tmp/c", "--cache-to")).toThrow(/type=local is not supported by caisson build .*; use type=registry,ref=NAME/);
    expect(() => parseCacheSpec("type=local,src=/nonexistent", "--cache-from")).toThrow(/--cache-from type=local,src=\/nonexistent: type=local is not supported/);
  });

  it("exports into Docker's image store with its own exporter, elsewhere with the image exporter, all with OCI media types", () => {
    const oci = { "oci-mediatypes": "true" };
    expect(exporterFor({ type: "docker", name: "a/b:1" }, "docker")).toEqual({ type: "moby", attrs: { name: "a/b:1", ...oci } });
    expect(exporterFor({ type: "docker", name: "a/b:1" }, "buildkitd")).toEqual({ type: "image", attrs: { name: "a/b:1", ...oci } });
    // Pushed, not also named in the engine's image store.
    expect(exporterFor({ type: "push", name: "r/b:1" }, "docker")).toEqual({ type: "image", attrs: { name: "r/b:1", push: "true", store: "false", ...oci } });
    expect(exporterFor({ type: "oci", dest: "x.tar" }, "docker")).toEqual({ type: "oci", attrs: oci });
  });
});

describe("what the engine answers to GET /_ping", () => {
  // A loopback HTTP server standing in for an engine's API endpoint (only /_ping is asked).
  const withPing = async (headers: Record<string, string>, body: (env: NodeJS.ProcessEnv) => Promise<void>) => {
    const server = createServer((_req, res) => {
      res.writeHead(200, headers);
      res.end("OK");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      await body({ DOCKER_HOST: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}` });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  };

  it("names an engine too old, one with BuildKit off, and something that is not a Docker engine", async () => {
    await withPing({ "API-Version": "1.41" }, async (env) => {
      await expect(connectBuilder({ env })).rejects.toThrow(/is too old: Docker API 1\.41, caisson needs 1\.42 or newer \(Docker 23\+\); upgrade the engine/);
    });
    await withPing({ "API-Version": "1.45", "Builder-Version": "1" }, async (env) => {
      await expect(connectBuilder({ env })).rejects.toThrow(/has BuildKit turned off .*"features": \{"buildkit": true\}/);
    });
    await withPing({}, async (env) => {
      await expect(connectBuilder({ env })).rejects.toThrow(/answered HTTP 200 without an API version: it is not a Docker engine/);
    });
  });
});
