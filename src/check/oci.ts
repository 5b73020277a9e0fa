// Image sources: an OCI layout (tar archive or directory) or a `docker save`
// archive, resolved to one manifest per platform with its config and layers.

import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { gunzip, gunzipSync } from "node:zlib";
import { promisify } from "node:util";
import { readTar } from "./tar.js";

const gunzipAsync = promisify(gunzip);

export interface OciPlatform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** The parts of an OCI image config the checks read. */
export interface OciImageConfig {
  readonly architecture?: string;
  readonly os?: string;
  readonly variant?: string;
  readonly config?: {
    readonly User?: string;
    readonly Env?: readonly string[] | null;
    readonly Entrypoint?: readonly string[] | null;
    readonly Cmd?: readonly string[] | null;
    readonly WorkingDir?: string;
    readonly Volumes?: Readonly<Record<string, unknown>> | null;
    readonly Labels?: Readonly<Record<string, string>> | null;
    readonly Healthcheck?: { readonly Test?: readonly string[] | null } | null;
    readonly ExposedPorts?: Readonly<Record<string, unknown>> | null;
  };
}

export interface LayerRef {
  readonly digest: string;
  readonly mediaType: string;
  /** The layer's uncompressed tar. */
  read(): Promise<Uint8Array>;
}

export interface PlatformImage {
  readonly platform: OciPlatform;
  readonly manifestDigest?: string;
  readonly config: OciImageConfig;
  readonly layers: readonly LayerRef[];
}

export interface ImageSource {
  readonly images: readonly PlatformImage[];
  /** Notes on what was skipped (attestations, missing blobs). */
  readonly notes: readonly string[];
}

export class ImageReadError extends Error {
  override readonly name = "ImageReadError";
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

const INDEX_TYPES = new Set(["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"]);
const MANIFEST_TYPES = new Set(["application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"]);

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}
function isZstd(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd;
}

/** Decompresses a layer blob by its magic bytes (gzip or none; zstd when this Node has it). */
export async function decompressLayer(blob: Uint8Array, what: string): Promise<Uint8Array> {
  if (isGzip(blob)) return new Uint8Array(await gunzipAsync(blob));
  if (isZstd(blob)) {
    const z = (await import("node:zlib")) as unknown as { zstdDecompress?: (b: Uint8Array, cb: (e: Error | null, r: Buffer) => void) => void };
    if (!z.zstdDecompress) throw new ImageReadError(`${what} is zstd-compressed; this Node.js (${process.version}) cannot decompress zstd`);
    const f = z.zstdDecompress;
    return new Uint8Array(await promisify(f)(blob));
  }
  return blob;
}

type BlobGetter = (digest: string) => Promise<Uint8Array | undefined>;

function parseJson<T>(bytes: Uint8Array, what: string): T {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8")) as T;
  } catch (e) {
    throw new ImageReadError(`${what} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function isAttestation(d: Descriptor): boolean {
  return (
    d.annotations?.["vnd.docker.reference.type"] === "attestation-manifest" ||
    (d.platform?.os === "unknown" && d.platform.architecture === "unknown")
  );
}

/** Walks an OCI layout (index.json and blobs) down to the per-platform manifests. */
async function fromLayout(indexJson: Uint8Array, getBlob: BlobGetter, where: string): Promise<ImageSource> {
  const cache = new Map<string, Promise<Uint8Array | undefined>>();
  const blob: BlobGetter = (d) => {
    let p = cache.get(d);
    if (!p) cache.set(d, (p = getBlob(d)));
    return p;
  };
  const notes: string[] = [];
  const images: PlatformImage[] = [];
  const seen = new Set<string>();
  const need = async (digest: string, what: string): Promise<Uint8Array | undefined> => {
    const b = await blob(digest);
    if (!b) notes.push(`${what} ${digest} is not in ${where}`);
    return b;
  };
  const visit = async (d: Descriptor, depth: number): Promise<void> => {
    if (depth > 8) throw new ImageReadError(`${where}: image indexes nested deeper than 8`);
    if (isAttestation(d)) {
      notes.push(`skipped attestation manifest ${d.digest}`);
      return;
    }
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    const bytes = await need(d.digest, d.mediaType && INDEX_TYPES.has(d.mediaType) ? "index" : "manifest");
    if (!bytes) return;
    const doc = parseJson<{ mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] }>(bytes, `blob ${d.digest}`);
    const mt = d.mediaType ?? doc.mediaType ?? (doc.manifests ? "application/vnd.oci.image.index.v1+json" : "application/vnd.oci.image.manifest.v1+json");
    if (INDEX_TYPES.has(mt) || doc.manifests) {
      for (const m of doc.manifests ?? []) await visit(m, depth + 1);
      return;
    }
    if (!MANIFEST_TYPES.has(mt) && !doc.config) {
      notes.push(`skipped ${d.digest} of media type ${mt}`);
      return;
    }
    if (!doc.config) throw new ImageReadError(`${where}: manifest ${d.digest} has no config`);
    const cfgBytes = await need(doc.config.digest, "config");
    if (!cfgBytes) return;
    const config = parseJson<OciImageConfig>(cfgBytes, `config ${doc.config.digest}`);
    const platform: OciPlatform = {
      os: d.platform?.os ?? config.os ?? "linux",
      architecture: d.platform?.architecture ?? config.architecture ?? "unknown",
      ...((d.platform?.variant ?? config.variant) ? { variant: (d.platform?.variant ?? config.variant)! } : {}),
    };
    if (platform.os === "unknown" && platform.architecture === "unknown") {
      notes.push(`skipped ${d.digest}: platform unknown/unknown`);
      return;
    }
    const layers = (doc.layers ?? []).map((l): LayerRef => ({
      digest: l.digest,
      mediaType: l.mediaType ?? "",
      read: async () => {
        const b = await blob(l.digest);
        if (!b) throw new ImageReadError(`layer ${l.digest} of ${platformString(platform)} is not in ${where}`);
        return decompressLayer(b, `layer ${l.digest}`);
      },
    }));
    // Layers that are missing make the platform unreadable (docker save of a partially pulled index).
    for (const l of doc.layers ?? []) {
      if (!(await blob(l.digest))) {
        notes.push(`${platformString(platform)}: layer ${l.digest} is not in ${where}; platform skipped`);
        return;
      }
    }
    images.push({ platform, manifestDigest: d.digest, config, layers });
  };
  const index = parseJson<{ manifests?: Descriptor[] }>(indexJson, `${where}: index.json`);
  for (const m of index.manifests ?? []) await visit(m, 0);
  return { images, notes };
}

/** A `docker save` archive of the classic image store: manifest.json with Config and Layers paths. */
async function fromDockerArchive(manifestJson: Uint8Array, file: (p: string) => Uint8Array | undefined, where: string): Promise<ImageSource> {
  const list = parseJson<{ Config: string; Layers: string[] }[]>(manifestJson, `${where}: manifest.json`);
  const images: PlatformImage[] = [];
  for (const m of list) {
    const cfg = file(m.Config);
    if (!cfg) throw new ImageReadError(`${where}: ${m.Config} missing`);
    const config = parseJson<OciImageConfig>(cfg, m.Config);
    const platform: OciPlatform = { os: config.os ?? "linux", architecture: config.architecture ?? "unknown", ...(config.variant ? { variant: config.variant } : {}) };
    images.push({
      platform,
      config,
      layers: m.Layers.map((p) => ({
        digest: p,
        mediaType: "",
        read: async () => {
          const b = file(p);
          if (!b) throw new ImageReadError(`${where}: layer ${p} missing`);
          return decompressLayer(b, `layer ${p}`);
        },
      })),
    });
  }
  return { images, notes: [] };
}

function blobPath(digest: string): string {
  const m = /^([a-z0-9+._-]+):([a-zA-Z0-9=_-]+)$/.exec(digest);
  if (!m) throw new ImageReadError(`malformed digest ${JSON.stringify(digest)}`);
  return `blobs/${m[1]}/${m[2]}`;
}

/** An OCI layout or `docker save` archive (optionally gzipped) read into memory. */
export async function readOciArchive(path: string): Promise<ImageSource> {
  let buf: Uint8Array = await readFile(path);
  if (isGzip(buf)) buf = gunzipSync(buf);
  const files = new Map<string, Uint8Array>();
  for (const r of readTar(buf)) if (r.type === "file") files.set(r.path, r.data);
  const file = (p: string): Uint8Array | undefined => files.get(p.replace(/^\.?\//, ""));
  const index = files.get("index.json");
  if (index) return fromLayout(index, async (d) => file(blobPath(d)), path);
  const manifest = files.get("manifest.json");
  if (manifest) return fromDockerArchive(manifest, file, path);
  throw new ImageReadError(`${path} is neither an OCI layout (no index.json) nor a docker save archive (no manifest.json)`);
}

/** An OCI layout directory (index.json, oci-layout, blobs/). */
export async function readOciLayoutDir(dir: string): Promise<ImageSource> {
  const index = await readFile(join(dir, "index.json"));
  return fromLayout(
    index,
    async (d) => {
      const p = join(dir, blobPath(d));
      try {
        if (!(await stat(p)).isFile()) return undefined;
        return await readFile(p);
      } catch {
        return undefined;
      }
    },
    dir,
  );
}

export function platformString(p: OciPlatform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}
