import { create } from "@bufbuild/protobuf";
import { PlatformSchema, type Platform as PbPlatform } from "../gen/buildkit/pb/ops_pb.js";

/** An OCI platform as LLB carries it on exec ops and image sources. */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** `linux/arm64`, `linux/arm/v7`: the form BuildKit uses for platform ids. */
export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

export function toPbPlatform(p: Platform): PbPlatform {
  return create(PlatformSchema, { OS: p.os, Architecture: p.architecture, Variant: p.variant ?? "" });
}

export function samePlatform(a: Platform | undefined, b: Platform | undefined): boolean {
  if (!a || !b) return a === b;
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? "") === (b.variant ?? "");
}
