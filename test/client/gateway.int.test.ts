// The client on the machine's engine: the buildctl way (frontend gateway.v0
// with source=caisson/frontend:<version> and the context and dockerfile
// locals) gives the same image digest as the direct LLB path; the session
// also works through the Control.Session tunnel (a buildkitd's only way in).
import { createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildNative, connectBuilder, solve, type Builder } from "../../src/client/index.js";
import { createSession } from "../../src/client/session/index.js";
import { compileDefinition, hostPlatform } from "../../src/compile/index.js";
import { caissonVersion, ensureFrontendImage, FRONTEND_REPO } from "../../src/engine/index.js";
import { engineError, IN_CI } from "../e2e/helpers.js";

const DEF = `name: same-digest
platforms: [linux/amd64, linux/arm64]
sources:
  app: { path: ., exclude: ["*.yaml"] }
stages:
  build:
    from: caisson/debian:bookworm@sha256:d757fb0e12b1304ed12095dfc93b37afc7f33623a62f45707945b94262f96032
    mounts: { /src: app }
    run: ['mkdir -p /out && cp /src/data.txt /out/data.txt && echo "$TARGETARCH @NONCE@" > /out/arch']
image:
  from: scratch
  copy: [{ from: build, src: /out, dest: /out }]
  entrypoint: [/out/none]
`;

describe.skipIf(engineError !== undefined && !IN_CI)("the client on the machine's engine", () => {
  let ctx: string;
  let builder: Builder;
  const text = DEF.replace("@NONCE@", `${process.pid}-${Date.now()}`);

  beforeAll(async () => {
    if (engineError) throw new Error(`the Docker engine is required: ${engineError}`);
    ctx = mkdtempSync(join(tmpdir(), "caisson-client-gw-"));
    writeFileSync(join(ctx, "image.yaml"), text);
    writeFileSync(join(ctx, "data.txt"), "same bytes either way\n");
    builder = await connectBuilder({ builder: "docker" });
  }, 60_000);
  afterAll(async () => {
    await builder?.close();
    if (ctx) rmSync(ctx, { recursive: true, force: true });
  });

  const compiled = async () => {
    const c = await compileDefinition("image.yaml", text, { buildPlatform: hostPlatform() });
    expect(c.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    return c.results ?? [];
  };

  it("solving with frontend gateway.v0 and source=caisson/frontend:<version> (buildctl's request) gives the direct path's image digest", async () => {
    const img = await ensureFrontendImage({});
    const source = `${FRONTEND_REPO}:${caissonVersion()}`;
    expect(img.ref.startsWith(`${FRONTEND_REPO}:`)).toBe(true);

    const direct = await buildNative({ platforms: await compiled(), contextDir: ctx, outputs: [{ type: "oci", dest: join(ctx, "direct.tar") }], connection: builder, progress: "quiet" });
    expect(direct.imageDigest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const session = createSession({ locals: { context: { dir: ctx }, dockerfile: { dir: ctx } }, export: { type: "tar", open: () => createWriteStream(join(ctx, "gateway.tar")) } });
    try {
      const res = await solve({
        builder,
        session,
        frontend: "gateway.v0",
        frontendAttrs: { source, filename: "image.yaml", "build-arg:SOURCE_DATE_EPOCH": "0" },
        exporters: [{ type: "oci", attrs: {} }],
      });
      expect(res.exporterResponse["containerimage.digest"]).toBe(direct.imageDigest);
    } finally {
      await session.close();
    }
    expect(statSync(join(ctx, "gateway.tar")).size).toBe(statSync(join(ctx, "direct.tar")).size);
  }, 600_000);

  it("serves the session through the Control.Session tunnel (how a buildkitd is reached), with the same result", async () => {
    const tunnel: Builder = { ...builder, attach: (s) => builder.attach(s, "tunnel") };
    const a = await buildNative({ platforms: await compiled(), contextDir: ctx, outputs: [{ type: "local", dest: join(ctx, "via-tunnel") }], connection: tunnel, progress: "quiet" });
    const b = await buildNative({ platforms: await compiled(), contextDir: ctx, outputs: [{ type: "oci", dest: join(ctx, "via-upgrade.tar") }], connection: builder, progress: "quiet" });
    expect(statSync(join(ctx, "via-tunnel/linux_arm64/out/data.txt")).size).toBe(22);
    expect(a.definitions).toEqual(b.definitions);
  }, 600_000);
});
