// The registry client against registries that misbehave (test/support/hostile-registry.ts):
// credentials never leave the registry's origin, nothing waits forever or reads without
// bound, a digest the registry misreports fails the push, and every failure says what.
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { isLoopback, parseRepoRef, Registry, RegistryError } from "../../src/release/index.js";
import { HostileRegistry, PASSWORD, SIGNATURE, USER, type HostileMode } from "../support/hostile-registry.js";
import { shownUrl } from "../../src/release/registry.js";
import { TestRegistry } from "../support/registry.js";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const credentials = { username: USER, password: PASSWORD, from: "test" };
const blob = Buffer.from("a layer");
const digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`;

let reg: HostileRegistry | undefined;
afterEach(async () => {
  await reg?.stop();
  reg = undefined;
});

async function client(mode: HostileMode, o: { creds?: boolean; idleTimeoutMs?: number; signal?: AbortSignal } = {}) {
  reg = await HostileRegistry.start(mode);
  return new Registry(parseRepoRef(`${reg.host}/caisson/x`), {
    ...(o.creds === false ? {} : { credentials }),
    ...(o.idleTimeoutMs ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
}

async function failure(p: Promise<unknown>): Promise<RegistryError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RegistryError);
  return e as RegistryError;
}

describe("Registry against a hostile registry", () => {
  it("pushes to a well-behaved plain-HTTP loopback registry (HTTPS tried first, as docker does)", async () => {
    const r = await client("ok");
    expect(await r.pushBlob(digest, blob)).toBe(true);
    expect(await r.pushBlob(digest, blob)).toBe(false);
    await r.putManifest("1.0.0", "application/vnd.oci.image.index.v1+json", Buffer.from("{}"));
    expect(await r.manifestDigest("1.0.0")).toBe(`sha256:${createHash("sha256").update("{}").digest("hex")}`);
  });

  it("sends no Authorization to an upload Location on another origin", async () => {
    const r = await client("location");
    expect(await r.pushBlob(digest, blob)).toBe(true);
    expect(reg!.elsewhere.map((x) => x.method)).toEqual(["PUT"]);
    expect(reg!.elsewhere[0]!.authorization).toBeUndefined();
    expect(reg!.blobs.get(digest)?.equals(blob)).toBe(true);
  });

  it("follows 307 redirects for blob HEAD and PUT, without credentials", async () => {
    const r = await client("redirect");
    expect(await r.pushBlob(digest, blob)).toBe(true);
    expect(reg!.elsewhere.map((x) => x.method)).toEqual(["HEAD", "PUT"]);
    expect(reg!.elsewhere.every((x) => x.authorization === undefined)).toBe(true);
    expect(await r.hasBlob(digest)).toBe(true);
  });

  it("fails a PUT whose returned digest is not the one sent", async () => {
    const r = await client("wrong-digest");
    const e = await failure(r.pushBlob(digest, blob));
    expect(e.message).toContain(`registry stored sha256:${"0".repeat(64)} for ${digest}`);
    expect(e.message).toContain("nothing was tagged");
    const m = await failure(r.putManifest("1.0.0", "application/vnd.oci.image.index.v1+json", Buffer.from("{}")));
    expect(m.message).toMatch(/registry stored sha256:0{64} for sha256:44136fa3/);
  });

  it("gives up on a registry that never answers, and stops when cancelled", async () => {
    const r = await client("hang", { idleTimeoutMs: 300 });
    const e = await failure(r.hasBlob(digest));
    expect(e.kind).toBe("unreachable");
    expect(e.message).toMatch(/HEAD https?:\/\/127\.0\.0\.1:\d+\/v2\/caisson\/x\/blobs\/sha256:\w+: no answer for 0.3 s/);
    const abort = new AbortController();
    const r2 = new Registry(r.ref, { signal: abort.signal });
    setTimeout(() => abort.abort(), 100);
    expect((await failure(r2.hasBlob(digest))).kind).toBe("interrupted");
  });

  it.each([
    ["token-json", /token service at http:\/\/127\.0\.0\.1:\d+\/token answered with malformed JSON/],
    ["token-null", /token service at http:\/\/127\.0\.0\.1:\d+\/token answered without a token: null/],
    ["token-endless", /GET http:\/\/127\.0\.0\.1:\d+\/token\?.* answered with a body of more than 4 MiB/],
  ] as const)("reports a token service that answers %s clearly", async (mode, message) => {
    const r = await client(mode);
    const e = await failure(r.hasBlob(digest));
    expect(e.message).toMatch(message);
  });

  it("says a server speaking malformed HTTP does so (it is not unreachable)", async () => {
    const r = await client("bad-http");
    const e = await failure(r.hasBlob(digest));
    expect(e.message).toMatch(/answered with malformed HTTP \(HPE_/);
    expect(e.message).not.toContain("unreachable");
  });

  it("names a missing digest header, the URL of a 500 with an empty body, and missing credentials", async () => {
    let r = await client("no-digest");
    await r.putManifest("1.0.0", "application/vnd.oci.image.index.v1+json", Buffer.from("{}"));
    expect((await failure(r.manifestDigest("1.0.0"))).message).toMatch(/answered 200 without a valid Docker-Content-Digest header/);
    await reg!.stop();
    r = await client("empty-500");
    const e = await failure(r.pushBlob(digest, blob));
    expect(e.message).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/v2\/caisson\/x\/blobs\/uploads\/ answered 500 \(an empty body: the registry's own log says why\)/);
    await reg!.stop();
    r = await client("ok", { creds: false });
    const a = await failure(r.hasBlob(digest));
    expect(a.message).toContain(`no credentials found for ${reg!.host}; set them with \`docker login ${reg!.host}\``);
    expect(a.message).toContain("CAISSON_REGISTRY_USER");
  });
});

describe("what the registry says reaches a message escaped, clipped, and without secrets", () => {
  // C0 (ESC, BEL), DEL and C1 (CSI 0x9b) control characters: none may reach the terminal raw.
  const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

  it("escapes an error body full of terminal escapes, and clips it", async () => {
    const r = await client("ansi-body");
    const e = await failure(r.pushBlob(digest, blob));
    expect(e.message).not.toMatch(RAW_CONTROL);
    expect(e.message).toContain("\\x1b[2J\\x1b[31mPWNED\\x07 \\x1b]0;title\\x07 \\x9b2J");
    expect(e.message).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/v2\/caisson\/x\/blobs\/uploads\/ answered 400: .*xxx…$/);
    expect(e.message.length).toBeLessThan(600);
  });

  it.each([
    ["ansi-challenge", /bearer challenge without a usable realm URL: Bearer realm="\\x9b2J\\x9b31mPWNED"$/],
    ["token-ansi", /token service at http:\/\/127\.0\.0\.1:\d+\/token answered 500: .*\\x1b\[2J\\x1b\[31mPWNED\\x07/],
    ["ansi-digest", /registry stored sha256:\\x9b2J for sha256:/],
  ] as const)("escapes what %s sends", async (mode, message) => {
    const r = await client(mode);
    const e = await failure(r.pushBlob(digest, blob));
    expect(e.message).not.toMatch(RAW_CONTROL);
    expect(e.message).toMatch(message);
  });

  it("names a malformed Location (upload or redirect) as the registry's protocol error, not an internal one", async () => {
    let r = await client("bad-location");
    let e = await failure(r.pushBlob(digest, blob));
    expect(e.kind).toBe("protocol");
    expect(e.message).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/v2\/caisson\/x\/blobs\/uploads\/ answered 202 with a malformed Location header \(http:\/\/\[::1\); that is not a registry answer/);
    await reg!.stop();
    r = await client("bad-redirect");
    e = await failure(r.hasBlob(digest));
    expect(e.kind).toBe("protocol");
    expect(e.message).toMatch(/^HEAD http:\/\/127\.0\.0\.1:\d+\/v2\/caisson\/x\/blobs\/sha256:\w+ answered 307 with a malformed Location header/);
  });

  it("prints a signed upload URL without its query or userinfo", async () => {
    const r = await client("signed");
    const e = await failure(r.pushBlob(digest, blob));
    expect(e.message).toMatch(/PUT http:\/\/127\.0\.0\.1:\d+\/v2\/upload\/1\?… answered 400: \{"errors":\[\{"code":"DENIED"\}\]\}/);
    expect(e.message).not.toContain(SIGNATURE.slice(0, 20));
    expect(e.message).not.toMatch(/AKIA|locpass|digest=/);
  });

  it("cuts userinfo and query from URLs in messages, parsable or not", () => {
    expect(shownUrl("https://u:pw@r.example:5000/v2/x/blobs/uploads/1?X-Amz-Signature=abc#f")).toBe("https://r.example:5000/v2/x/blobs/uploads/1?…");
    expect(shownUrl("https://r.example/v2/")).toBe("https://r.example/v2/");
    expect(shownUrl("http://u:pw@[::1/up?sig=abc")).toBe("http://[::1/up?…");
    expect(shownUrl("http://[::1/\u001b[2J")).toBe("http://[::1/\\x1b[2J");
  });

  it("refuses a plain-HTTP token realm off loopback without sending anything there, and takes one on loopback", async () => {
    const r = await client("http-realm");
    const e = await failure(r.hasBlob(digest));
    expect(e.kind).toBe("protocol");
    expect(e.message).toBe(
      `${reg!.host}: its bearer challenge names a token service over plain HTTP (http://auth.example/token); caisson sends credentials to a token service only over HTTPS (plain HTTP on loopback only), so nothing was sent. Give the registry an https:// auth realm`,
    );
    await reg!.stop();
    // The token modes' realm is http://127.0.0.1:PORT/token: loopback, so it is asked.
    const ok = await client("token-pull");
    expect(await ok.hasBlob(digest)).toBe(false);
  });
});

describe("parseRepoRef and isLoopback", () => {
  it("refuses a port out of range and knows loopback hosts", () => {
    expect(() => parseRepoRef("127.0.0.1:99999/x")).toThrow(/port 99999 is out of range/);
    expect(["127.0.0.1:5000", "127.1.2.3", "localhost:5000", "[::1]:5000"].map(isLoopback)).toEqual([true, true, true, true]);
    expect(["10.0.0.1:5000", "registry.example:5000", "localhost.example"].map(isLoopback)).toEqual([false, false, false]);
  });
});

describe("Registry.preflight (what `caisson release --to` checks before building)", () => {
  const as = (user: string, password: string) => ({ username: user, password, from: "the test" });

  it("reaches a TLS registry with htpasswd through its CA, and takes right credentials and refuses wrong ones by name", async () => {
    const tls = await TestRegistry.start();
    try {
      const ca = readFileSync(tls.caFile, "utf8");
      const ref = parseRepoRef(`${tls.host}/caisson/x`);
      await new Registry(ref, { credentials: as(tls.user, tls.password), ca, caFrom: tls.caFile }).preflight();
      const wrong = await failure(new Registry(ref, { credentials: as(tls.user, "wrong"), ca }).preflight());
      expect(wrong.kind).toBe("auth");
      expect(wrong.message).toMatch(new RegExp(`^${tls.host}: authentication failed \\(401\\) as "${tls.user}" \\(credentials from the test\\)`));
      const none = await failure(new Registry(ref, { ca }).preflight());
      expect(none.message).toContain(`no credentials found for ${tls.host}`);
      // Without its CA (no certs.d entry, no --ca-cert): a TLS failure saying where the CA goes, never plain HTTP.
      const untrusted = await failure(new Registry(ref, { credentials: as(tls.user, tls.password), certsDir: "/nonexistent" }).preflight());
      expect(untrusted.kind).toBe("tls");
      expect(untrusted.message).toContain(`/etc/docker/certs.d/${tls.host}/ca.crt`);
    } finally {
      await tls.remove();
    }
  }, 60_000);

  it("gets a push token from a registry's token service, and says when it refuses the credentials", async () => {
    const tok = await TestRegistry.start({ token: true });
    try {
      const ca = readFileSync(tok.caFile, "utf8");
      const ref = parseRepoRef(`${tok.host}/caisson/x`);
      await new Registry(ref, { credentials: as(tok.user, tok.password), ca }).preflight();
      const wrong = await failure(new Registry(ref, { credentials: as(tok.user, "wrong"), ca }).preflight());
      expect(wrong.kind).toBe("auth");
      expect(wrong.message).toMatch(/authentication failed \(401\) as "caisson" \(credentials from the test\): its token service at http:\/\/127\.0\.0\.1:\d+\/token refused the credentials/);
    } finally {
      await tok.remove();
    }
  }, 60_000);

  it("does not judge push by a token asked for the scope a /v2/ challenge names (another repository's pull)", async () => {
    const r = await client("token-scoped");
    await r.preflight();
    expect(reg!.tokenScopes).toEqual(["repository:user/image:pull"]);
  });

  it("refuses a token that grants no push, and names an unreachable registry's URL", async () => {
    const r = await client("token-pull");
    const e = await failure(r.preflight());
    expect(e.kind).toBe("auth");
    expect(e.message).toBe(`${reg!.host}: its token service gives "${USER}" (credentials from test) no push on caisson/x (only pull); nothing was built. Use an account that may push there, or another repository`);
    await reg!.stop();
    const ok = await client("ok");
    await ok.preflight();
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const gone = await failure(new Registry(parseRepoRef(`127.0.0.1:${port}/caisson/x`), { credentials }).preflight());
    expect(gone.kind).toBe("unreachable");
    expect(gone.message).toMatch(new RegExp(`^127\\.0\\.0\\.1:${port} is unreachable \\(ECONNREFUSED\\) on GET https://127\\.0\\.0\\.1:${port}/v2/; .*Start the registry \\(or check the address\\)`));
  });
});
