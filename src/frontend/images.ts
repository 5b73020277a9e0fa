// Makes digest-pinned image sources usable on an engine that got the image
// with `docker load` and never resolved it since.
//
// BuildKit v0.13 (Docker 26) serves `docker-image://name:tag@sha256:<index>`
// from its content store only when the index carries a
// `containerd.io/distribution.source.<host>` label naming the repository;
// `docker load` writes none, and the image store is looked up by exact name,
// which a reference with a digest never matches. Everything else goes to the
// registry, which an offline engine cannot reach. Resolving the tag-only name
// in "local" mode (LLBBridge.ResolveImageConfig) finds the loaded image by
// name and records that label on the index, the platform's manifest and its
// config; the digest it returns is checked against the pin, so a build never
// runs on another image than the one pinned.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ResolveImageConfigRequestSchema, ResolveImageConfigResponse } from "../gen/buildkit/gateway/gateway_pb.js";
import type { Definition, Platform as PbPlatform } from "../gen/buildkit/pb/ops_pb.js";
import { checkStructure } from "../llb/index.js";

export const IMAGE_PREFIX = "docker-image://";

/** One image a definition uses for one platform. */
export interface ImageUse {
  /** The SourceOp's reference, without `docker-image://`. */
  readonly ref: string;
  /** `host/path:tag`, when the reference has a tag. */
  readonly tagged?: string;
  /** `sha256:…`, when the reference is pinned. */
  readonly digest?: string;
  readonly platform?: { readonly os: string; readonly architecture: string; readonly variant?: string };
}

/** Splits a normalised `host/path[:tag][@sha256:…]` reference. */
export function splitImageRef(ref: string): { tagged?: string; digest?: string; name: string } {
  const at = ref.indexOf("@");
  const name = at >= 0 ? ref.slice(0, at) : ref;
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const slash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  const hasTag = colon > slash;
  return {
    name: hasTag ? name.slice(0, colon) : name,
    ...(hasTag ? { tagged: name } : {}),
    ...(digest ? { digest } : {}),
  };
}

function platformOf(p: PbPlatform | undefined): ImageUse["platform"] {
  if (!p || !p.OS || !p.Architecture) return undefined;
  return p.Variant ? { os: p.OS, architecture: p.Architecture, variant: p.Variant } : { os: p.OS, architecture: p.Architecture };
}

function platformId(p: ImageUse["platform"]): string {
  if (!p) return "default platform";
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** Every distinct (image reference, platform) the definitions' SourceOps use, in order of appearance. */
export function imageUses(definitions: readonly Definition[]): ImageUse[] {
  const seen = new Set<string>();
  const out: ImageUse[] = [];
  for (const def of definitions) {
    for (const { op } of checkStructure(def)) {
      if (op.op.case !== "source" || !op.op.value.identifier.startsWith(IMAGE_PREFIX)) continue;
      const ref = op.op.value.identifier.slice(IMAGE_PREFIX.length);
      const platform = platformOf(op.platform);
      const key = `${ref} ${platformId(platform)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const { tagged, digest } = splitImageRef(ref);
      out.push({ ref, ...(tagged ? { tagged } : {}), ...(digest ? { digest } : {}), ...(platform ? { platform } : {}) });
    }
  }
  return out;
}

/** The one bridge call this needs. */
export type ResolveImageConfig = (req: MessageInitShape<typeof ResolveImageConfigRequestSchema>) => Promise<ResolveImageConfigResponse>;

/** The engine's image differs from the definition's pin, or cannot be found by name. */
export class ImagePinError extends Error {
  override readonly name = "ImagePinError";
}

/**
 * For every digest-pinned image with a tag: resolve `host/path:tag` in the
 * engine's image store ("local" mode) for the platform, and require the
 * digest it reports to be the pinned one. Tag-only references need nothing
 * (BuildKit finds them by name in "local" mode); digest-only ones have no name
 * to look up and are left to BuildKit (they resolve once the content has been
 * resolved by tag, e.g. by hack/lib.sh's prime_local_image).
 */
export async function resolvePinnedImages(resolve: ResolveImageConfig, uses: readonly ImageUse[], log: (line: string) => void): Promise<number> {
  let n = 0;
  for (const u of uses) {
    if (!u.digest) continue;
    if (!u.tagged) {
      log(`caisson frontend: ${u.ref} has no tag to look up in the engine's image store; left to BuildKit`);
      continue;
    }
    const where = platformId(u.platform);
    let res: ResolveImageConfigResponse;
    try {
      res = await resolve({
        Ref: u.tagged,
        ...(u.platform ? { Platform: { OS: u.platform.os, Architecture: u.platform.architecture, Variant: u.platform.variant ?? "" } } : {}),
        ResolveMode: "local",
        LogName: `[internal] load metadata for ${u.tagged} (${where})`,
      });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new ImagePinError(
        `image ${u.ref}: the engine has no image ${u.tagged} for ${where} (${msg}); ` +
          `load the pinned image into the engine first (docker load; hack/base-image.sh for caisson/debian)`,
      );
    }
    if (res.Digest !== u.digest) {
      throw new ImagePinError(
        `image ${u.ref}: the engine's image differs from the pin: ${u.tagged} is ${res.Digest || "(no digest)"} in the engine, ` +
          `the definition pins ${u.digest}; load the pinned image, or re-pin with caisson lock`,
      );
    }
    n++;
  }
  return n;
}
