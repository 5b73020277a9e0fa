// docs/format.md ("Using #Hardened in another project"): a project with its
// own CUE module gets caisson's schema and template by copying schema/ and
// images/hardened into cue.mod/pkg/caisson.local/, and its definitions then
// import "caisson.local/images/hardened" exactly as this repository's do.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readDefinition } from "../../src/cli/definition.js";
import { checkDefinition } from "../../src/validate/index.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const project = mkdtempSync(join(tmpdir(), "caisson-cue-project-"));
afterAll(() => rmSync(project, { recursive: true, force: true }));

mkdirSync(join(project, "cue.mod/pkg/caisson.local/images"), { recursive: true });
mkdirSync(join(project, "app"));
writeFileSync(join(project, "cue.mod/module.cue"), 'module: "example.com/app"\n');
cpSync(join(ROOT, "schema"), join(project, "cue.mod/pkg/caisson.local/schema"), { recursive: true });
cpSync(join(ROOT, "images/hardened"), join(project, "cue.mod/pkg/caisson.local/images/hardened"), { recursive: true });

const definition = (image: string): string => `package app

import "caisson.local/images/hardened"

hardened.#Hardened & {
	name: "hello"
	platforms: ["linux/amd64", "linux/arm64"]
	sources: app: path: "app"
	stages: build: {
		from: "caisson/debian:bookworm@sha256:${"d".repeat(64)}"
		toolchain: cc: "gcc"
		mounts: "/src": "app"
		run: ["mkdir -p /out && $CC $CFLAGS $LDFLAGS -o /out/hello /src/hello.c"]
	}
	image: {
		copy: [{from: "build", src: "/out/hello", dest: "/hello", libraries: true}]
		entrypoint: ["/hello"]
		${image}
	}
}
`;

describe("#Hardened outside this repository", () => {
  it("a definition over the copied template validates, with the template's user and hardening", async () => {
    const file = join(project, "app/image.cue");
    writeFileSync(file, definition('healthcheck: test: ["/hello"]'));
    const source = await readDefinition(file);
    expect(source.diagnostics).toEqual([]);
    const checked = checkDefinition(source.file, source.text as string);
    expect(checked.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(checked.definition?.image.user).toMatchObject({ uid: 65532 });
    expect(JSON.parse(source.text as string).stages.build.toolchain.hardening).toBe("strict");
  }, 60_000);

  it("the template still binds: a root user conflicts, at the project's line and the copied template's", async () => {
    const file = join(project, "app/root.cue");
    writeFileSync(file, definition('healthcheck: test: ["/hello"]\n\t\tuser: "0:0"'));
    const source = await readDefinition(file);
    const conflict = source.diagnostics.find((d) => d.code === "cue_conflict");
    expect(conflict?.span.file).toBe(file);
    expect(JSON.stringify(conflict)).toContain("cue.mod/pkg/caisson.local/images/hardened/hardened.cue");
  }, 60_000);
});
