// `caisson build` of a CUE package that imports its module's template, on the
// real engine: the CLI reads the module (the frontend alone could not), so a
// definition written over a shared template builds like any other. Under
// CI=true a missing engine fails, never skips.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { caisson, engineError, ensureDist, IN_CI, requireEngine } from "../e2e/helpers.js";

const BASE = "caisson/debian:bookworm@sha256:d757fb0e12b1304ed12095dfc93b37afc7f33623a62f45707945b94262f96032";

const FILES: Record<string, string> = {
  "cue.mod/module.cue": 'module: "example.local"\n',
  "tpl/tpl.cue": `package tpl

// Every image of this module: both platforms, a non-root user, one greeting file.
#Base: {
	name: string
	platforms: ["linux/amd64", "linux/arm64"]
	stages: build: {
		from: "${BASE}"
		run: ["mkdir -p /out && echo \\"\\(name) for $TARGETPLATFORM\\" > /out/greeting"]
	}
	image: {
		copy: [{from: "build", src: "/out/greeting", dest: "/greeting"}]
		user: *"65532:65532" | string
		cmd: ["/greeting"]
	}
}
`,
  "app/app.cue": 'package app\n\nimport "example.local/tpl"\n\ntpl.#Base & {name: "greeter"}\n',
};

describe.skipIf(engineError !== undefined && !IN_CI)("caisson build of a CUE package importing its module's template", () => {
  const ctx = mkdtempSync(join(tmpdir(), "caisson-cue-build-"));
  afterAll(() => rmSync(ctx, { recursive: true, force: true }));

  it("builds both platforms from the package directory", async () => {
    requireEngine();
    ensureDist();
    for (const [name, text] of Object.entries(FILES)) {
      mkdirSync(dirname(join(ctx, name)), { recursive: true });
      writeFileSync(join(ctx, name), text);
    }
    const out = join(ctx, "..", `${ctx.split("/").pop()}-out`);
    try {
      const r = await caisson(["build", join(ctx, "app"), "--context", ctx, "-o", `local=${out}`, "--progress", "plain", "--no-check"]);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(join(out, "linux_amd64", "greeting"), "utf8")).toBe("greeter for linux/amd64\n");
      expect(readFileSync(join(out, "linux_arm64", "greeting"), "utf8")).toBe("greeter for linux/arm64\n");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
