// `caisson inspect`: what a definition declares, as JSON, for scripts
// (hack/build.sh) that would otherwise parse YAML themselves: its name,
// version and platforms, and every http source of it and of the definitions
// it imports (sha256, file name, URL or Debian source package).
import type { Command } from "commander";
import { formatPlatform } from "../llb/index.js";
import { resolveImports } from "../resolve/index.js";
import { checkDefinition } from "../validate/index.js";
import { readContextFile, readText, report, writeStdout } from "./io.js";
import { contextDir } from "./build.js";

export interface InspectedSource {
  /** The definition that declares it (the file given, or an import's context-relative path). */
  readonly definition: string;
  readonly name: string;
  readonly sha256: string;
  readonly filename: string;
  readonly url?: string;
  /** `package=version` of the Debian source package the file belongs to. */
  readonly debian?: string;
}

export function registerInspectCommand(cli: Command, failed: () => Error): void {
  cli
    .command("inspect")
    .description("print a definition's name, version, platforms and every http source (imports included) as JSON, for scripts")
    .argument("<file>", "definition file")
    .option("--context <dir>", "build context root: imports are relative to it", ".")
    .action(async (file: string, opts: { context: string }) => {
      const context = contextDir(opts.context);
      const text = await readText(file);
      const { definition, diagnostics } = checkDefinition(file, text);
      if (report(diagnostics, new Map([[file, text]]), "text") || !definition) throw failed();
      const resolved = await resolveImports(definition, (path) => readContextFile(context, path));
      if (report(resolved.diagnostics.filter((d) => d.severity === "error"), new Map([[file, text], ...resolved.texts]), "text")) throw failed();
      const sources: InspectedSource[] = [];
      for (const [path, def] of [[file, definition] as const, ...resolved.definitions]) {
        for (const s of def.sources) {
          if (s.kind !== "http") continue;
          sources.push({ definition: path, name: s.name, sha256: s.sha256, filename: s.filename, ...(s.url ? { url: s.url } : {}), ...(s.debian ? { debian: s.debian } : {}) });
        }
      }
      const out = { name: definition.name, ...(definition.version ? { version: definition.version } : {}), platforms: definition.platforms.map(formatPlatform), sources };
      await writeStdout(JSON.stringify(out, null, 2) + "\n");
    });
}
