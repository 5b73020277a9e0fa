// An OCI image layout held in memory: blobs by digest, and the descriptors
// and documents that link them. Read from (and written to) an OCI archive,
// whichever build path produced it.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { readTar } from "../check/index.js";
import { tar, type TarEntry } from "../engine/tar.js";

import { MEDIA_CONFIG, MEDIA_INDEX, MEDIA_LAYER_GZIP, MEDIA_MANIFEST } from "../bootstrap/index.js";

export { MEDIA_CONFIG, MEDIA_INDEX, MEDIA_LAYER_GZIP, MEDIA_MANIFEST };
export const MEDIA_IN_TOTO = "application/vnd.in-toto+json";

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: { readonly os: string; readonly architecture: string; readonly variant?: string };
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface Manifest {
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface Index {
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly manifests: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export function sha256(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** Content-addressed blobs; `put` returns the descriptor of what it stored. */
export class Blobs {
  readonly map = new Map<string, Uint8Array>();

  put(mediaType: string, data: Uint8Array, extra: Partial<Descriptor> = {}): Descriptor {
    const digest = sha256(data);
    this.map.set(digest, data);
    return { mediaType, digest, size: data.length, ...extra };
  }

  /** Stores a JSON document (serialized once, as is, so its digest is of these bytes). */
  putJson(mediaType: string, doc: unknown, extra: Partial<Descriptor> = {}): Descriptor {
    return this.put(mediaType, Buffer.from(JSON.stringify(doc)), extra);
  }

  get(digest: string): Uint8Array {
    const b = this.map.get(digest);
    if (!b) throw new Error(`blob ${digest} is not in the layout`);
    return b;
  }

  json<T>(digest: string): T {
    return JSON.parse(Buffer.from(this.get(digest)).toString("utf8")) as T;
  }
}

/** An OCI archive (tar of an image layout, optionally gzipped): its top index and blobs. */
export async function readLayout(path: string): Promise<{ index: Index; blobs: Blobs }> {
  let buf: Uint8Array = await readFile(path);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const blobs = new Blobs();
  let index: Index | undefined;
  for (const r of readTar(buf)) {
    if (r.type !== "file") continue;
    if (r.path === "index.json") index = JSON.parse(Buffer.from(r.data).toString("utf8")) as Index;
    const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(r.path);
    if (m) blobs.map.set(`sha256:${m[1]}`, r.data);
  }
  if (!index) throw new Error(`${path} is not an OCI image layout archive (no index.json)`);
  return { index, blobs };
}

/** The OCI archive of `index` and the blobs it reaches (deterministic: sorted, fixed dates). */
export function layoutArchive(index: Descriptor, blobs: Blobs): Buffer {
  const entries: TarEntry[] = [
    { type: "file", path: "oci-layout", data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { type: "file", path: "index.json", data: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_INDEX, manifests: [index] })) },
    { type: "dir", path: "blobs" },
    { type: "dir", path: "blobs/sha256" },
  ];
  for (const d of [...blobs.map.keys()].sort()) entries.push({ type: "file", path: `blobs/sha256/${d.slice(7)}`, data: blobs.get(d) });
  return tar(entries);
}
