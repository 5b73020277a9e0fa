// Pushing a release: blobs, then image and attestation manifests, then the
// index by digest, then its tags. A version tag that already points at
// another digest is refused (before anything is sent) unless forced.
import type { Release } from "./assemble.js";
import { MEDIA_INDEX, type Index, type Manifest } from "./layout.js";
import { Registry, RegistryError } from "./registry.js";

export interface PushOptions {
  readonly tags: readonly string[];
  /** Tags that must not move to another digest (the version), unless `force`. */
  readonly immutable: readonly string[];
  readonly force?: boolean;
  readonly log?: (line: string) => void;
  /** Called after each blob or manifest is pushed (the tests stop the registry from here). */
  readonly onPushed?: (what: string) => void | Promise<void>;
}

export interface PushResult {
  readonly digest: string;
  readonly tags: readonly string[];
  readonly blobsSent: number;
  readonly blobsSkipped: number;
}

export async function pushRelease(registry: Registry, release: Release, o: PushOptions): Promise<PushResult> {
  const log = o.log ?? (() => {});
  const where = `${registry.ref.host}/${registry.ref.repo}`;
  for (const tag of o.immutable) {
    const current = await registry.manifestDigest(tag);
    if (current && current !== release.index.digest && !o.force) {
      throw new RegistryError(
        `${where}:${tag} already points at ${current}, not at this release's ${release.index.digest}; a version tag is not moved. Bump the version, or give --force to move it`,
        "refused",
      );
    }
  }
  const index = release.blobs.json<Index>(release.index.digest);
  let sent = 0;
  let skipped = 0;
  for (const m of index.manifests) {
    const manifest = release.blobs.json<Manifest>(m.digest);
    for (const b of [manifest.config, ...manifest.layers]) {
      if (await registry.pushBlob(b.digest, release.blobs.get(b.digest))) sent++;
      else skipped++;
      await o.onPushed?.(`blob ${b.digest}`);
    }
  }
  for (const m of index.manifests) {
    await registry.putManifest(m.digest, m.mediaType, release.blobs.get(m.digest));
    await o.onPushed?.(`manifest ${m.digest}`);
  }
  const bytes = release.blobs.get(release.index.digest);
  await registry.putManifest(release.index.digest, MEDIA_INDEX, bytes);
  for (const tag of o.tags) await registry.putManifest(tag, MEDIA_INDEX, bytes);
  log(`pushed ${where}@${release.index.digest} (${sent} blobs sent, ${skipped} already there), tags ${o.tags.join(", ")}`);
  return { digest: release.index.digest, tags: o.tags, blobsSent: sent, blobsSkipped: skipped };
}
