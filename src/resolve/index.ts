// resolve: the pipeline's only I/O. Reads the definitions a definition
// imports (paths relative to the build context root), recursively, through a
// reader the caller supplies: the file system for the CLI, the build
// context's session for the BuildKit frontend.
import { error, type Diagnostic } from "../diag/index.js";
import type { ImageDefinition } from "../model/index.js";
import { checkDefinition } from "../validate/index.js";

/** Reads a file of the build context by its context-relative path; rejects when it cannot. */
export type ContextReader = (path: string) => Promise<string>;

export interface Resolved {
  /** Every imported definition, validated, by context-relative path. */
  readonly definitions: ReadonlyMap<string, ImageDefinition>;
  /** Texts of every file read, for printing diagnostics. */
  readonly texts: ReadonlyMap<string, string>;
  readonly diagnostics: readonly Diagnostic[];
}

/** Loads and validates, depth first, every definition `root` imports. */
export async function resolveImports(root: ImageDefinition, read: ContextReader): Promise<Resolved> {
  const definitions = new Map<string, ImageDefinition>();
  const texts = new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  const visit = async (def: ImageDefinition, chain: readonly string[]): Promise<void> => {
    for (const imp of def.imports) {
      if (chain.includes(imp.path)) {
        diagnostics.push(
          error("import_cycle", `import "${imp.name}" makes a cycle: ${[...chain, imp.path].join(" → ")}`, imp.span, {
            hint: "a definition cannot import itself, directly or through others",
          }),
        );
        continue;
      }
      if (definitions.has(imp.path)) continue;
      let text: string;
      try {
        text = await read(imp.path);
      } catch (e) {
        diagnostics.push(
          error("unreadable_import", `cannot read ${imp.path} from the build context: ${(e as Error).message}`, imp.span, {
            hint: "import paths are relative to the build context root (the directory given to the build), e.g. images/builder/image.yaml",
          }),
        );
        continue;
      }
      texts.set(imp.path, text);
      const checked = checkDefinition(imp.path, text);
      diagnostics.push(...checked.diagnostics);
      if (checked.definition) {
        definitions.set(imp.path, checked.definition);
        await visit(checked.definition, [...chain, imp.path]);
      }
    }
  };
  await visit(root, [root.file]);
  return { definitions, texts, diagnostics };
}
