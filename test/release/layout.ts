// A one-platform (linux/amd64) OCI layout as a build's exporter writes it,
// one gzip layer of the given entries, for the release's unit tests.
import { gzipSync } from "node:zlib";
import { tar, type TarEntry } from "../../src/engine/tar.js";
import { Blobs, MEDIA_INDEX, MEDIA_MANIFEST } from "../../src/release/index.js";

export function oneLayerLayout(entries: TarEntry[], o: { nested?: boolean } = {}): { index: { schemaVersion: 2; mediaType: string; manifests: never[] }; blobs: Blobs } {
  const blobs = new Blobs();
  const l = blobs.put("application/vnd.oci.image.layer.v1.tar+gzip", gzipSync(tar(entries, 1_700_000_000)));
  const c = blobs.putJson("application/vnd.oci.image.config.v1+json", { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: ["sha256:x"] } });
  const m = blobs.putJson(MEDIA_MANIFEST, { schemaVersion: 2, mediaType: MEDIA_MANIFEST, config: c, layers: [l] }, { platform: { os: "linux", architecture: "amd64" } });
  // BuildKit's OCI exporter nests the image index in the layout's index.json.
  const top = o.nested ? blobs.putJson(MEDIA_INDEX, { schemaVersion: 2, mediaType: MEDIA_INDEX, manifests: [m] }) : m;
  return { index: { schemaVersion: 2, mediaType: MEDIA_INDEX, manifests: [top] as never[] }, blobs };
}
