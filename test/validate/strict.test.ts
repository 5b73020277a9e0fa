// Strict values: every value that reaches the image config or the LLB is
// checked, with the error at the node that holds it and the fix.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileModel } from "../../src/compile/index.js";
import { hasErrors } from "../../src/diag/index.js";
import { checkDefinition } from "../../src/validate/index.js";
import { checkGitRef, checkGitUrl, checkHttpUrl, parseSignal, parseUserSpec } from "../../src/validate/refs.js";

const C = "0123456789abcdef0123456789abcdef01234567";
const H = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/** A valid definition with `stage` lines added to its stage, `image` lines to its image and `source` as its source. */
function def(o: { stage?: string; image?: string; source?: string } = {}): string {
  return `name: t
platforms: [linux/amd64]
sources:
  s: ${o.source ?? "{ path: . }"}
stages:
  b:
    from: scratch
    run: [make]
    mounts: { /src: s }
${o.stage ?? ""}image:
  copy: [{ from: b, src: /x, dest: /x }]
${o.image ?? ""}`;
}

interface Expect {
  code: string;
  /** The source text the error underlines. */
  at: string;
  message: RegExp;
  hint?: RegExp;
}

function errorsOf(text: string) {
  const r = checkDefinition("t.yaml", text);
  return { r, errors: r.diagnostics.filter((d) => d.severity === "error").map((d) => ({ ...d, at: text.slice(d.span.start, d.span.end) })) };
}

function expectOne(text: string, e: Expect): void {
  const { r, errors } = errorsOf(text);
  expect(r.definition).toBeUndefined();
  expect(errors.map((d) => `${d.code} ${d.at}`)).toEqual([`${e.code} ${e.at}`]);
  const d = errors[0]!;
  expect(d.message).toMatch(e.message);
  if (e.hint) expect(d.hint ?? "").toMatch(e.hint);
}

function expectValid(text: string) {
  const { r, errors } = errorsOf(text);
  expect(errors).toEqual([]);
  expect(r.definition).toBeDefined();
  return r.definition!;
}

describe("user", () => {
  it.each([
    ['"-1"', "invalid_user", /uid "-1" has a sign/, /written without a sign/],
    ['"65532:"', "invalid_user", /group after ':' .* is empty/, /write "65532" alone/],
    ['":65532"', "invalid_user", /user before ':' .* is empty/, /<uid>:65532/],
    ['"1:2:3"', "invalid_user", /more than one ':'/, /name or uid, optionally :group or :gid/],
    ['"root; rm -rf /"', "invalid_user", /"root; rm -rf \/" is not a user name or id/, /\[a-z_\]|lower-case/],
    ["4294967296", "out_of_range", /uid 4294967296 is out of range/, /0–4294967294/],
    ['"1:4294967295"', "out_of_range", /gid 4294967295 is out of range/, /0–4294967294/],
    ['""', "invalid_user", /the user is empty/, /e\.g\. 65532:65532/],
    ["1e100", "invalid_user", /"1e100" is not a user name or id/, /ids are/],
    ['"Root"', "invalid_user", /"Root" is not a user name/, /lower-case/],
    [`"${"a".repeat(33)}"`, "invalid_user", /is not a user name/, /at most 32/],
  ])("stage user %s", (value, code, message, hint) => {
    expectOne(def({ stage: `    user: ${value}\n` }), { code, at: value, message, hint });
  });

  it.each(["app", "app:app", "_svc:staff", "1000", "1000:1000", "0", "4294967294:0", "www-data", "app:100"])("stage user %s is accepted", (u) => {
    expect(expectValid(def({ stage: `    user: "${u}"\n` })).stages[0]?.user).toBe(u);
  });

  it("stopSignal 1.5 is the schema's: not an integer", () => {
    expectOne(def({ image: "  stopSignal: 1.5\n" }), { code: "wrong_type", at: "1.5", message: /a string or an integer/ });
  });

  it("a numeric stage user is kept as written", () => {
    expect(expectValid(def({ stage: "    user: 1000\n" })).stages[0]?.user).toBe("1000");
  });

  it.each([
    ['"-1"', "invalid_user", /has a sign/],
    ["-1", "invalid_user", /has a sign/],
    ["4294967296", "out_of_range", /out of range/],
    ["1e100", "invalid_user", /not a user name or id/],
    ['""', "invalid_user", /empty/],
    ['"65532:"', "invalid_user", /empty/],
    ['"1:2:3"', "invalid_user", /more than one/],
  ])("image user %s", (value, code, message) => {
    expectOne(def({ image: `  user: ${value}\n` }), { code, at: value, message });
  });

  it("an image user is numeric: a name says how to write it", () => {
    expectOne(def({ image: "  user: nobody\n" }), { code: "invalid_user", at: "nobody", message: /numeric uid\[:gid\]/, hint: /user: \{ uid: <uid>, gid: <gid>, name: nobody \}/ });
  });

  it("an image user uid:gid, a bare uid and the written-out form are accepted", () => {
    expect(expectValid(def({ image: '  user: "1000:2000"\n' })).image.user).toMatchObject({ uid: 1000, gid: 2000 });
    expect(expectValid(def({ image: "  user: 4294967294\n" })).image.user).toMatchObject({ uid: 4294967294, gid: 4294967294 });
    expect(expectValid(def({ image: "  user: { uid: 10, gid: 20, name: app }\n" })).image.user).toMatchObject({ uid: 10, gid: 20, name: "app" });
  });
});

describe("stopSignal", () => {
  it.each([
    ["SIGTERM", "SIGTERM"],
    ["SIGQUIT", "SIGQUIT"],
    ["SIGRTMIN+3", "SIGRTMIN+3"],
    ["SIGRTMAX-2", "SIGRTMAX-2"],
    ["15", "15"],
    ['"9"', "9"],
    ["64", "64"],
  ])("%s is accepted", (value, stored) => {
    expect(expectValid(def({ image: `  stopSignal: ${value}\n` })).image.stopSignal).toBe(stored);
  });

  it.each([
    ["0", /signal 0 is out of range/, /1–64/],
    ["65", /signal 65 is out of range/, /1–64/],
    ["-1", /not a Linux signal/, /SIGTERM/],
    ["SIGFOO", /"SIGFOO" is not a Linux signal/, /SIGTERM/],
    ["TERM", /must be written SIGTERM/, /write SIGTERM/],
    ["sigterm", /must be written SIGTERM/, /write SIGTERM/],
    ["SIGRTMIN+31", /out of range/, /34–64/],
    ["SIGRTMAX+1", /out of range/, /34–64/],
  ])("%s is refused", (value, message, hint) => {
    expectOne(def({ image: `  stopSignal: ${value}\n` }), { code: "invalid_signal", at: value, message, hint });
  });
});

describe("control characters", () => {
  it.each([
    ["entrypoint", '  entrypoint: ["/app\\0"]\n', '"/app\\0"', /image\.entrypoint\[0\] contains the control character U\+0000 NUL at character 5/, /NUL cannot be passed/],
    ["cmd", '  cmd: [--x, "\\e[31m"]\n', '"\\e[31m"', /image\.cmd\[1\] .* U\+001B ESC at character 1/, /only tabs and newlines/],
    ["env value", '  env: { A: "x\\0" }\n', '"x\\0"', /image\.env\.A .* NUL/, /NUL/],
    ["env value CR", '  env: { A: "x\\r" }\n', '"x\\r"', /U\+000D CR/, /only tabs and newlines/],
    ["label value", '  labels: { a: "\\x07" }\n', '"\\x07"', /image\.labels\.a .* U\+0007 BEL/, /only tabs and newlines/],
    ["label key", '  labels: { "a\\eb": x }\n', '"a\\eb"', /a key in image\.labels .* ESC/, /printable text/],
    ["workdir", '  workdir: "/a\\tb"\n', '"/a\\tb"', /image\.workdir .* U\+0009 TAB/, /printable text/],
    ["volume", '  volumes: ["/data\\n"]\n', '"/data\\n"', /image\.volumes\[0\] .* LF/, /printable text/],
    ["healthcheck", '  healthcheck: { test: ["/x\\u0085"] }\n', '"/x\\u0085"', /image\.healthcheck\.test\[0\] .* U\+0085/, /only tabs/],
    ["C1 in a label", '  labels: { a: "\\u009b31m" }\n', '"\\u009b31m"', /U\+009B/, /only tabs/],
    ["DEL", '  labels: { a: "\\x7f" }\n', '"\\x7f"', /U\+007F DEL/, /only tabs/],
  ])("%s", (_, image, at, message, hint) => {
    expectOne(def({ image }), { code: "control_character", at, message, hint });
  });

  it("in a stage: run, env, workdir, a copy path", () => {
    expectOne(def({ stage: '    env: { A: "\\0" }\n' }), { code: "control_character", at: '"\\0"', message: /stages\.b\.env\.A/ });
    expectOne(def({ stage: '    workdir: "/w\\e"\n' }), { code: "control_character", at: '"/w\\e"', message: /stages\.b\.workdir/ });
    const { errors } = errorsOf(def({ stage: '    copy: [{ from: s, src: "/a\\0", dest: /b }]\n' }));
    expect(errors.map((e) => `${e.code} ${e.at}`)).toEqual(['control_character "/a\\0"']);
    const run = errorsOf(def({}).replace("run: [make]", 'run: ["make\\0"]'));
    expect(run.errors.map((e) => `${e.code} ${e.at}`)).toEqual(['control_character "make\\0"']);
  });

  it("tabs and newlines are text in commands, arguments, env and label values", () => {
    const d = expectValid(
      def({ image: '  cmd: ["a\\tb", "line1\\nline2"]\n  env: { A: "x\\ty" }\n  labels: { a: "one\\ntwo" }\n' }).replace("run: [make]", 'run: ["make \\\\\\n  all"]'),
    );
    expect(d.image.cmd).toEqual(["a\tb", "line1\nline2"]);
  });

  it("a value the schema refuses is not reported twice", () => {
    const { errors } = errorsOf(def().replace("name: t", 'name: "t\\e[31m"'));
    expect(errors.map((e) => `${e.code} ${e.at}`)).toEqual(['invalid_name "t\\e[31m"']);
  });

  it("unusual but printable text is accepted", () => {
    const d = expectValid(def({ image: '  labels: { "org.opencontainers.image.title": "Ünïcødé ✓ 漢字" }\n  cmd: ["--name=ü"]\n' }));
    expect(d.image.labels).toEqual([["org.opencontainers.image.title", "Ünïcødé ✓ 漢字"]]);
  });
});

describe("volumes", () => {
  it("/ is refused", () => {
    expectOne(def({ image: "  volumes: [/]\n" }), { code: "invalid_path", at: "/", message: /cannot be \//, hint: /e\.g\. \/data/ });
  });
  it("relative and .. volumes are refused with the fix", () => {
    expectOne(def({ image: "  volumes: [data]\n" }), { code: "invalid_path", at: "data", message: /must be absolute/, hint: /write "\/data"/ });
    expectOne(def({ image: "  volumes: [/var/../data]\n" }), { code: "invalid_path", at: "/var/../data", message: /not normalised/, hint: /write "\/data"/ });
    expectOne(def({ image: "  volumes: [/..]\n" }), { code: "invalid_path", at: "/..", message: /not normalised/, hint: /write "\/"/ });
  });
});

describe("healthcheck", () => {
  it.each([
    ["interval: 9999999999h", "9999999999h", /healthcheck\.interval: duration "9999999999h" is too long/, /2400h/],
    ["timeout: 2401h", "2401h", /healthcheck\.timeout is longer than 100 days/, /2400h/],
    ["startPeriod: 0s", "0s", /healthcheck\.startPeriod must be at least 1ms/, undefined],
    ["interval: 0.0001ms", "0.0001ms", /at least 1ms/, undefined],
  ])("%s", (field, at, message, hint) => {
    expectOne(def({ image: `  healthcheck: { test: [/x], ${field} }\n` }), { code: "invalid_duration", at, message, ...(hint ? { hint } : {}) });
  });

  it.each([
    ["1e100", "out_of_range"],
    ["2147483648", "out_of_range"],
    ["-1", "out_of_range"],
    ["1.5", "wrong_type"],
  ])("retries: %s", (value, code) => {
    expectOne(def({ image: `  healthcheck: { test: [/x], retries: ${value} }\n` }), { code, at: value, message: /retries/ });
  });

  it("2400h and 1ms are the limits", () => {
    const d = expectValid(def({ image: "  healthcheck: { test: [/x], interval: 2400h, timeout: 1ms, retries: 2147483647 }\n" }));
    expect(d.image.healthcheck).toMatchObject({ interval: 2400 * 3600e9, timeout: 1e6, retries: 2147483647 });
  });
});

describe("http URLs", () => {
  it.each([
    ['"http:///x.tar.gz"', "invalid_url", /has no host/, /http:\/\/<host>\/<path>/],
    ['"https://:80/x.tar.gz"', "invalid_url", /has no host/, /https:\/\/<host>/],
    ['"https://user:pass@h.example/x.tar.gz"', "url_credentials", /credentials in it/, /mirror|source store/],
    ['"https://token@h.example/x.tar.gz"', "url_credentials", /credentials in it/, /source store/],
    ['"ftp://h.example/x.tar.gz"', "invalid_url", /http:\/\/ or https:\/\//, undefined],
  ])("url %s", (url, code, message, hint) => {
    expectOne(def({ source: `{ url: ${url}, sha256: ${H} }` }), { code, at: url, message, ...(hint ? { hint } : {}) });
  });

  it("credentials are not repeated in the message", () => {
    const { errors } = errorsOf(def({ source: `{ url: "https://user:s3cret@h.example/x.tar.gz", sha256: ${H} }` }));
    expect(errors[0]?.message).not.toContain("s3cret");
    expect(errors[0]?.message).toContain("<credentials>@h.example");
  });

  it("a release listing is checked the same way", () => {
    const src = `{ url: "https://h.example/x-1.tar.gz", sha256: ${H}, release: { listing: "https://u:p@h.example/", pattern: "x-([0-9]+)" } }`;
    expectOne(def({ source: src }), { code: "url_credentials", at: '"https://u:p@h.example/"', message: /release listing/ });
  });

  it("ports, queries and IPv6 hosts are fine", () => {
    for (const u of ["https://h.example:8443/x.tar.gz", "http://127.0.0.1:8080/a/x.tar.gz?b=1", "http://[::1]:8080/x.tar.gz"]) {
      expectValid(def({ source: `{ url: "${u}", sha256: ${H} }` }));
    }
  });
});

describe("git URLs", () => {
  it.each([
    ['"ext::sh -c touch% /tmp/pwned"', "invalid_url", /remote helper \("ext::"\)/],
    ['"fd::17"', "invalid_url", /remote helper/],
    ['"--upload-pack=touch /tmp/x"', "invalid_url", /starts with '-'/],
    ['"-oProxyCommand=x"', "invalid_url", /starts with '-'/],
    ['"file:///srv/repo"', "invalid_url", /local repository/],
    ['"/srv/repo"', "invalid_url", /local path/],
    ['"../repo"', "invalid_url", /local path/],
    ['"./repo"', "invalid_url", /local path/],
    ['"repo"', "invalid_url", /local path/],
    ['"~/repo"', "invalid_url", /local path/],
    ['"rsync://h.example/r.git"', "invalid_url", /unsupported scheme "rsync"/],
    ['"https:///r.git"', "invalid_url", /has no host/],
    ['"https://h.example"', "invalid_url", /names no repository/],
    ['"h.example:-r"', "invalid_url", /names no repository/],
    ['"https://x:tok@h.example/r.git"', "url_credentials", /credentials/],
    ['"https://tok@h.example/r.git"', "url_credentials", /credentials/],
    ['"ssh://git:pw@h.example/r.git"', "url_credentials", /credentials/],
    ['"git:pw@h.example:org/r.git"', "url_credentials", /password/],
    ['"ssh://[::1/r.git"', "invalid_url", /not a valid URL/],
    ['"https://h.example:99999/r.git"', "invalid_url", /not a valid URL/],
  ])("%s", (url, code, message) => {
    expectOne(def({ source: `{ git: ${url}, commit: ${C} }` }), { code, at: url, message, hint: code === "url_credentials" ? /ssh key/ : /https:\/\/(<host>|host)|local repository/ });
  });

  it.each(["https://h.example/r.git", "http://h.example/r", "git://h.example/r.git", "ssh://git@h.example/r.git", "ssh://h.example:2222/r.git", "git@h.example:org/r.git", "h.example:org/r.git"])(
    "%s is accepted",
    (url) => {
      expect(expectValid(def({ source: `{ git: "${url}", commit: ${C} }` })).sources[0]).toMatchObject({ kind: "git", url });
    },
  );

  it("a bad URL is reported even when the source is not pinned either", () => {
    const { errors } = errorsOf(def({ source: '{ git: "ext::x" }' }));
    expect(errors.map((e) => e.code).sort()).toEqual(["invalid_url", "unpinned_source"]);
  });

  it.each([
    ['"--upload-pack=x"', /starts with '-'/],
    ['"a..b"', /not a valid git ref/],
    ['"a b"', /character git does not allow/],
    ['"v1^"', /character git does not allow/],
    ['"main.lock"', /not a valid git ref/],
  ])("ref %s is refused", (ref, message) => {
    expectOne(def({ source: `{ git: "https://h.example/r.git", ref: ${ref} }` }), { code: "invalid_ref", at: ref, message, hint: /branch or tag/ });
  });

  it("refs like release/1.2 and v1.2.3 are accepted", () => {
    for (const ref of ["release/1.2", "v1.2.3", "main"]) expectValid(def({ source: `{ git: "https://h.example/r.git", ref: "${ref}" }` }));
  });
});

describe("never valid without a model", () => {
  it("every rejected value is an error someone can read", () => {
    for (const image of ["  user: 1e100\n", "  stopSignal: 1e100\n", "  healthcheck: { test: [/x], interval: 99999999999999999999h }\n", "  volumes: [/]\n"]) {
      const r = checkDefinition("t.yaml", def({ image }));
      expect(r.definition).toBeUndefined();
      expect(hasErrors(r.diagnostics)).toBe(true);
    }
  });
});

describe("parsers", () => {
  it("parseUserSpec", () => {
    expect(parseUserSpec("app:staff")).toEqual({ ok: true, value: { user: "app", group: "staff" } });
    expect(parseUserSpec("0")).toEqual({ ok: true, value: { user: "0" } });
    expect(parseUserSpec("00000000000").ok).toBe(false);
    expect(parseUserSpec("+1")).toMatchObject({ ok: false, code: "invalid_user" });
  });
  it("parseSignal", () => {
    expect(parseSignal("SIGRTMIN")).toEqual({ ok: true, value: "SIGRTMIN" });
    expect(parseSignal("SIGRTMIN+0")).toEqual({ ok: true, value: "SIGRTMIN+0" });
    expect(parseSignal("SIGRTMIN-1").ok).toBe(false);
    expect(parseSignal("SIG__proto__").ok).toBe(false);
    expect(parseSignal("064")).toEqual({ ok: false, message: expect.stringMatching(/out of range/), hint: expect.any(String) });
    expect(parseSignal("1")).toEqual({ ok: true, value: "1" });
  });
  it("checkHttpUrl, checkGitUrl, checkGitRef", () => {
    expect(checkHttpUrl("https://h.example/x").ok).toBe(true);
    expect(checkGitUrl("git@h.example:r.git").ok).toBe(true);
    expect(checkGitRef("refs/tags/v1").ok).toBe(true);
    expect(checkGitRef("@").ok).toBe(false);
  });
});

describe("any value", () => {
  // Whatever is written in these fields: validate either refuses it with an error or gives a model that compiles.
  const fields: [string, (v: string) => string][] = [
    ["stage user", (v) => def({ stage: `    user: ${JSON.stringify(v)}\n` })],
    ["image user", (v) => def({ image: `  user: ${JSON.stringify(v)}\n` })],
    ["stopSignal", (v) => def({ image: `  stopSignal: ${JSON.stringify(v)}\n` })],
    ["volume", (v) => def({ image: `  volumes: [${JSON.stringify(v)}]\n` })],
    ["label", (v) => def({ image: `  labels: { ${JSON.stringify(v)}: ${JSON.stringify(v)} }\n` })],
    ["interval", (v) => def({ image: `  healthcheck: { test: [/x], interval: ${JSON.stringify(v)} }\n` })],
    ["url", (v) => def({ source: `{ url: ${JSON.stringify(v)}, sha256: ${H} }` })],
    ["git", (v) => def({ source: `{ git: ${JSON.stringify(v)}, commit: ${C} }` })],
    ["ref", (v) => def({ source: `{ git: "https://h.example/r.git", commit: ${C}, ref: ${JSON.stringify(v)} }` })],
  ];
  const interesting = fc.oneof(
    fc.string(),
    fc.string({ unit: "binary" }),
    fc.constantFrom("git@h:r", "ssh://[::1]/r", "https://h/r", "-x", "ext::x", "1:2", "SIGRTMIN+30", "/", "//", "1e3ms", "0.5s", "http://[::1]:0/x"),
    fc.tuple(fc.constantFrom("https://", "ssh://", "git://", "http://", ""), fc.string(), fc.constantFrom("@", ":", "/", ""), fc.string()).map((p) => p.join("")),
  );
  it.each(fields)("%s", (_, make) => {
    fc.assert(
      fc.property(interesting, (v) => {
        const r = checkDefinition("t.yaml", make(v));
        if (!r.definition) return hasErrors(r.diagnostics);
        compileModel(r.definition, { buildPlatform: { os: "linux", architecture: "amd64" } });
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

describe("healthcheck, durations and release tags", () => {
  it.each(['[""]', '["  ", x]'])("an empty command %s is invalid_healthcheck", (test) => {
    expectOne(def({ image: `  healthcheck: { test: ${test} }\n` }), { code: "invalid_healthcheck", at: test.slice(1).split(",")[0]!.replace("]", ""), message: /empty command/, hint: /program to run/ });
  });

  it("takes Go's duration syntax: leading-dot and trailing-dot fractions, µs and μs", () => {
    const d = expectValid(def({ image: "  healthcheck: { test: [/x], timeout: .5s, interval: 5.s, startPeriod: 2000μs }\n" }));
    expect(d.image.healthcheck).toMatchObject({ timeout: 5e8, interval: 5e9, startPeriod: 2e6 });
  });

  it("a release tag over 128 characters is one diagnostic, not two", () => {
    const tag = "x".repeat(200);
    const text = def().replace("platforms:", `version: 1.2.3\nrelease: { tags: [${tag}] }\nplatforms:`);
    expect(errorsOf(text).errors.map((e) => e.code)).toEqual(["out_of_range"]);
  });
});
