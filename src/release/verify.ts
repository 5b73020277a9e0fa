// Comparing two releases of the same definition: the first differing file
// (or config) of the first platform that differs.
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import type { TarRecord } from "../check/index.js";
import type { Release } from "./assemble.js";
import { flatten } from "./assemble.js";
import type { Index, Manifest } from "./layout.js";

function describe(r: TarRecord | undefined): string {
  if (!r) return "absent";
  const sum = r.type === "file" ? ` sha256 ${createHash("sha256").update(r.data).digest("hex").slice(0, 16)}…` : r.linkTarget !== undefined ? ` → ${r.linkTarget}` : "";
  return `${r.type} ${r.mode.toString(8)} ${r.uid}:${r.gid}${sum}`;
}

/** Undefined when both have the same index digest; else where they first differ, in words. */
export async function compareReleases(a: Release, b: Release): Promise<string | undefined> {
  if (a.index.digest === b.index.digest) return undefined;
  const ia = a.blobs.json<Index>(a.index.digest);
  const ib = b.blobs.json<Index>(b.index.digest);
  for (let i = 0; i < Math.max(ia.manifests.length, ib.manifests.length); i++) {
    const da = ia.manifests[i];
    const db = ib.manifests[i];
    if (!da || !db) return `the indexes list ${ia.manifests.length} and ${ib.manifests.length} manifests`;
    if (da.digest === db.digest) continue;
    const where = da.platform ? `${da.platform.os}/${da.platform.architecture}` : `manifest ${i + 1}`;
    const ma = a.blobs.json<Manifest>(da.digest);
    const mb = b.blobs.json<Manifest>(db.digest);
    const fa = await flatten(ma.layers.map((l) => gunzipSync(a.blobs.get(l.digest))));
    const fb = await flatten(mb.layers.map((l) => gunzipSync(b.blobs.get(l.digest))));
    for (const p of [...new Set([...fa.keys(), ...fb.keys()])].sort()) {
      const x = describe(fa.get(p));
      const y = describe(fb.get(p));
      if (x !== y) return `${where}: /${p} (${x} in the first build, ${y} in the second)`;
    }
    if (ma.config.digest !== mb.config.digest) {
      const ca = a.blobs.json<Record<string, unknown>>(ma.config.digest);
      const cb = b.blobs.json<Record<string, unknown>>(mb.config.digest);
      const key = [...new Set([...Object.keys(ca), ...Object.keys(cb)])].find((k) => JSON.stringify(ca[k]) !== JSON.stringify(cb[k]));
      return `${where}: the image config's "${key ?? "?"}"`;
    }
    return `${where}: the manifest ${da.digest} vs ${db.digest} (same files and config: the attestations differ)`;
  }
  return "the index annotations";
}
