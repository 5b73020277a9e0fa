// A deterministic OCI image layout archive from root file system tarballs:
// one layer per architecture (gzip, no name or time in the header), configs
// whose `created` is SOURCE_DATE_EPOCH, an index of one manifest per
// architecture, and a top-level index.json that names the image for
// `docker load` (containerd image store). Every byte is a function of the
// tarballs, the reference, the epoch and the history text — given the zlib
// that Node bundles (see GZIP_LEVEL).
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { BootstrapError } from "./exec.js";
import { writeTar, type TarSource } from "./tar.js";

export const MEDIA_INDEX = "application/vnd.oci.image.index.v1+json";
export const MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json";
export const MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";

/**
 * gzip level of the layers. zlib's output for a given input and level is
 * fixed for a given zlib build and Node always writes mtime 0 and no file
 * name in the header, so the layer digests are stable; a Node upgrade that
 * changes `process.versions.zlib` may change them (the diff_ids, which are
 * of the uncompressed tarballs, never do).
 */
export const GZIP_LEVEL = 6;

export const DEFAULT_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

export interface OciRootfs {
  /** OCI / dpkg architecture (`amd64`, `arm64`). */
  readonly arch: string;
  /** Path of the uncompressed root file system tarball. */
  readonly tar: string;
  /** `created_by` of this layer's history entry; default the archive's `history`. */
  readonly history?: string;
}

export interface OciArchiveOptions {
  readonly rootfs: readonly OciRootfs[];
  /** Fully qualified reference, e.g. `docker.io/caisson/debian:bookworm`. */
  readonly ref: string;
  readonly sourceDateEpoch: number;
  /** `created_by` of each layer's history entry. */
  readonly history: string;
  /** Where to write the archive (through a temporary sibling and a rename). */
  readonly out: string;
  /** Image config: default Env PATH=… and Cmd ["bash"]. */
  readonly config?: { readonly Env?: readonly string[]; readonly Cmd?: readonly string[] };
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

export interface OciArchiveResult {
  readonly archive: string;
  /** Digest of the image index: what the engine reports as the image ID after `docker load`. */
  readonly digest: string;
  readonly manifests: ReadonlyArray<Descriptor & { readonly arch: string; readonly config: Descriptor; readonly layer: Descriptor; readonly diffId: string }>;
}

/** `2025-01-01T00:00:00Z` */
export function rfc3339(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The tag of a reference (`bookworm` of `docker.io/caisson/debian:bookworm`), or undefined. */
export function tagOf(ref: string): string | undefined {
  const at = ref.indexOf("@");
  const name = at === -1 ? ref : ref.slice(0, at);
  const colon = name.lastIndexOf(":");
  return colon > name.lastIndexOf("/") ? name.slice(colon + 1) : undefined;
}

function sha256(b: Uint8Array): string {
  return `sha256:${createHash("sha256").update(b).digest("hex")}`;
}

class Hasher extends Transform {
  readonly hash = createHash("sha256");
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

/** Compresses `src` into `dest` (gzip, GZIP_LEVEL); returns the diff_id of `src` and the blob's descriptor. */
export async function gzipLayer(src: string, dest: string): Promise<{ diffId: string; digest: string; size: number }> {
  const before = new Hasher();
  const after = new Hasher();
  await pipeline(createReadStream(src, { highWaterMark: 1 << 20 }), before, createGzip({ level: GZIP_LEVEL }), after, createWriteStream(dest));
  return { diffId: `sha256:${before.hash.digest("hex")}`, digest: `sha256:${after.hash.digest("hex")}`, size: after.size };
}

/** Writes the OCI archive; returns its path and the image (index) digest. */
export async function ociArchive(opts: OciArchiveOptions): Promise<OciArchiveResult> {
  if (opts.rootfs.length === 0) throw new BootstrapError("ociArchive: no root file systems");
  const arches = opts.rootfs.map((r) => r.arch);
  if (new Set(arches).size !== arches.length) throw new BootstrapError(`ociArchive: an architecture twice: ${arches.join(", ")}`);
  const tag = tagOf(opts.ref);
  if (!tag) throw new BootstrapError(`ociArchive: ${opts.ref} has no tag`);
  const out = resolve(opts.out);
  const tmpDir = join(dirname(out), `.${basename(out)}.blobs.${process.pid}`);
  const tmpOut = `${out}.tmp.${process.pid}`;
  await rm(tmpDir, { recursive: true, force: true });
  await mkdir(tmpDir, { recursive: true });
  try {
    const created = rfc3339(opts.sourceDateEpoch);
    const blobs = new Map<string, TarSource>();
    const put = (digest: string, entry: { data: Uint8Array } | { file: string; size: number }): void => {
      const path = `blobs/sha256/${digest.slice("sha256:".length)}`;
      blobs.set(path, { type: "file", path, ...entry });
    };
    const manifests: Array<OciArchiveResult["manifests"][number]> = [];
    for (const r of opts.rootfs) {
      const layerFile = join(tmpDir, `layer-${r.arch}`);
      const layer = await gzipLayer(r.tar, layerFile);
      put(layer.digest, { file: layerFile, size: layer.size });
      const config = Buffer.from(
        JSON.stringify({
          architecture: r.arch,
          os: "linux",
          created,
          config: { Env: opts.config?.Env ?? DEFAULT_ENV, Cmd: opts.config?.Cmd ?? ["bash"] },
          rootfs: { type: "layers", diff_ids: [layer.diffId] },
          history: [{ created, created_by: r.history ?? opts.history }],
        }),
      );
      const configDesc: Descriptor = { mediaType: MEDIA_CONFIG, digest: sha256(config), size: config.length };
      put(configDesc.digest, { data: config });
      const layerDesc: Descriptor = { mediaType: MEDIA_LAYER_GZIP, digest: layer.digest, size: layer.size };
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_MANIFEST, config: configDesc, layers: [layerDesc] }));
      const digest = sha256(manifest);
      put(digest, { data: manifest });
      manifests.push({ mediaType: MEDIA_MANIFEST, digest, size: manifest.length, arch: r.arch, config: configDesc, layer: layerDesc, diffId: layer.diffId });
    }
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_INDEX,
        manifests: manifests.map((m) => ({
          mediaType: m.mediaType,
          digest: m.digest,
          size: m.size,
          platform: { architecture: m.arch, os: "linux" },
        })),
      }),
    );
    const digest = sha256(index);
    put(digest, { data: index });
    const top = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_INDEX,
        manifests: [
          {
            mediaType: MEDIA_INDEX,
            digest,
            size: index.length,
            annotations: { "io.containerd.image.name": opts.ref, "org.opencontainers.image.ref.name": tag },
          },
        ],
      }) + "\n",
    );
    const entries: TarSource[] = [
      { type: "file", path: "oci-layout", data: Buffer.from('{"imageLayoutVersion":"1.0.0"}\n') },
      { type: "file", path: "index.json", data: top },
      { type: "dir", path: "blobs" },
      { type: "dir", path: "blobs/sha256" },
      ...[...blobs.keys()].sort().map((k) => blobs.get(k)!),
    ];
    const ws = createWriteStream(tmpOut);
    const done = new Promise<void>((res, rej) => {
      ws.on("finish", res);
      ws.on("error", rej);
    });
    await writeTar(ws, entries, opts.sourceDateEpoch);
    ws.end();
    await done;
    await rename(tmpOut, out);
    return { archive: out, digest, manifests };
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
    await rm(tmpOut, { force: true });
  }
}
