// The CVE ids a patch fixes, from what its file says about itself: the file
// name and the header before the first hunk (DEP-3 or git format-patch).
import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../bootstrap/index.js";
import type { ImageDefinition } from "../model/index.js";

const CVE = /CVE-\d{4}-\d{4,}/g;

/** The CVE ids named by a patch's file name and header, sorted and unique. */
export function patchCves(fileName: string, text: string | undefined): string[] {
  const header: string[] = [];
  for (const line of (text ?? "").split("\n")) {
    if (/^(diff |Index: |--- |\+\+\+ )/.test(line)) break;
    header.push(line);
  }
  return [...new Set([...fileName.matchAll(CVE), ...header.join("\n").matchAll(CVE)].map((m) => m[0]))].sort();
}

export interface PatchInfo {
  readonly stage: string;
  readonly source: string;
  readonly path: string;
  readonly sha256: string;
  readonly cves: readonly string[];
  /** The sources whose files the stage copied in, which the patch changes. */
  readonly appliedTo: readonly string[];
  /** Whether the header was read (from the source store, checked against the sha256); else only the file name was. */
  readonly headerRead: boolean;
}

/** Every patch of the definitions' stages with its CVE ids; patch files are read from the store's archives when it has them. */
export async function readPatches(defs: readonly ImageDefinition[], store: string | undefined): Promise<PatchInfo[]> {
  const out: PatchInfo[] = [];
  for (const def of defs) {
    for (const stage of def.stages) {
      for (const p of stage.patches) {
        const src = def.sources.find((s) => s.name === p.from);
        let text: string | undefined;
        if (store && src?.kind === "http" && src.extract) {
          const dir = join(store, src.sha256);
          const file = (await readdir(dir).catch(() => [] as string[]))[0];
          if (file) {
            const member = p.path.replace(/^\/+/, "");
            const bytes = await run("tar", ["-xOf", join(dir, file), member]).catch(() => run("tar", ["-xOf", join(dir, file), `./${member}`]).catch(() => undefined));
            if (bytes && createHash("sha256").update(bytes).digest("hex") === p.sha256) text = bytes.toString("utf8");
          }
        }
        const name = p.path.slice(p.path.lastIndexOf("/") + 1);
        const appliedTo = stage.copy.filter((c) => c.fromKind === "source").map((c) => c.from);
        out.push({ stage: stage.name, source: p.from, appliedTo, path: p.path, sha256: p.sha256, cves: patchCves(name, text), headerRead: text !== undefined });
      }
    }
  }
  return out;
}
